"""The package ships its annotations (PEP 561) and they type-check."""

import subprocess
import sys
from pathlib import Path

import tinygrad_ann

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_package_is_marked_as_typed():
    # Without the marker, type checkers ignore the annotations of an installed package.
    assert (Path(tinygrad_ann.__file__).parent / "py.typed").is_file()


def test_mypy_finds_no_errors(tmp_path):
    # A fresh cache: no stale results, and no race with a mypy run outside the tests.
    finished = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), "tinygrad_ann"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # A missing mypy fails here too ("No module named mypy"), rather than skipping.
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Success: no issues found" in finished.stdout
