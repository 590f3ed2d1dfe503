"""The notebooks: stored without outputs and paired with their .py files, and the runner
that executes them in a real kernel fails on each way a notebook can go wrong.

`make test` executes the notebooks themselves (`make notebooks`, before pytest); the
tests at the bottom read those executed copies in build/notebooks/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import run_notebooks  # noqa: E402

NOTEBOOKS = run_notebooks.stored_notebooks()
# One per article network, and one on autograd from the inside.
EXPECTED = [
    "01_perceptron_diabetes",
    "02_and_gate",
    "03_two_layer",
    "04_l_layer",
    "05_two_moons",
    "06_autograd_from_the_inside",
]


def test_one_notebook_per_article_and_one_from_the_inside():
    assert [path.stem for path in NOTEBOOKS] == EXPECTED
    for path in NOTEBOOKS:
        assert path.with_suffix(".py").exists(), f"{path.name} has no paired .py file"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {number} is stored with outputs"
            assert cell.execution_count is None, f"{path.name} cell {number} has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_paired_py_file_has_the_same_cells(path):
    stored = nbformat.read(path, as_version=4)
    paired = jupytext.read(path.with_suffix(".py"))
    assert [(cell.cell_type, cell.source) for cell in paired.cells] == [
        (cell.cell_type, cell.source) for cell in stored.cells
    ], f"{path.name} and its .py differ: run `jupytext --sync {path.with_suffix('.py')}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_one_title_and_no_latex(path):
    """The first cell's one `# ` heading is the page title on the site, and the site
    renders without MathJax (which would fetch from the network)."""
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    titles = [
        line
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("# ")
    ]
    assert len(titles) == 1 and first.source.startswith("# "), titles
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert "$" not in cell.source, f"{path.name}: LaTeX math in a Markdown cell"


def _notebook(tmp_path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "check.ipynb"
    nbformat.write(notebook, path)
    return path


def test_runner_keeps_outputs_of_a_clean_notebook(tmp_path):
    path = _notebook(tmp_path, "import os\nprint(21 * 2)", "os.getcwd()")
    executed = run_notebooks.execute(path, time_limit=60)
    printed, cwd = (cell.outputs[0] for cell in executed.notebook.cells)
    assert printed.text == "42\n"
    # The kernel runs in the notebook's own folder, so relative paths mean the same.
    assert cwd.data["text/plain"] == repr(str(tmp_path))
    assert len(executed.notebook.cells) == 2, "the runner's own cells are removed"


@pytest.mark.parametrize(
    "source, reason",
    [
        ("assert 1 + 1 == 3, 'the numbers are wrong'", "the numbers are wrong"),
        ("import warnings\nwarnings.warn('careful', DeprecationWarning)", "careful"),
        ("import numpy as np\nnp.log(np.zeros(1))", "divide by zero"),
        ("import sys\nprint('a log line', file=sys.stderr)", "wrote to stderr"),
        ("import time\ntime.sleep(60)", "over the time limit, 5 s"),
        ("import os\nos._exit(3)", "kernel died"),
    ],
    ids=["assertion", "warning", "numpy-warning", "stderr", "time-limit", "dead-kernel"],
)
def test_runner_fails_a_notebook_that_goes_wrong(tmp_path, source, reason):
    path = _notebook(tmp_path, "x = 1", source)
    # A loaded machine starts a kernel slowly: only the sleeping notebook gets a short limit.
    limit = 5 if "sleep" in source else 60
    with pytest.raises(run_notebooks.NotebookError, match=reason):
        run_notebooks.execute(path, time_limit=limit)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "",
        lambda text: text.replace('"cells"', '"cels"'),
        lambda text: text.replace('"nbformat": 4', '"nbformat": 99'),
        lambda text: text.replace('"source"', '"sauce"'),
        lambda text: "\x00" + text,
    ],
    ids=["truncated", "empty", "no-cells", "future-format", "cell-without-source", "nul"],
)
def test_runner_names_a_damaged_notebook(tmp_path, damage):
    path = _notebook(tmp_path, "x = 1")
    path.write_text(damage(path.read_text()))
    with pytest.raises(run_notebooks.NotebookError, match=r"check\.ipynb: not a readable notebook"):
        run_notebooks.execute(path, time_limit=3)


# The executed copies `make notebooks` writes (make test runs it before pytest).
EXECUTED = run_notebooks.DEFAULT_OUT


def _executed(path: Path) -> nbformat.NotebookNode:
    executed = EXECUTED / path.name
    if not executed.exists():
        message = f"{executed} is missing: run `make notebooks`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return nbformat.read(executed, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_executed_copy_shows_a_graph_a_figure_and_its_final_numbers(path):
    stored = nbformat.read(path, as_version=4)
    notebook = _executed(path)
    assert [cell.source for cell in notebook.cells] == [cell.source for cell in stored.cells], (
        f"build/notebooks/{path.name} is older than the notebook: run `make notebooks`"
    )
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    kinds = {kind for output in outputs for kind in output.get("data", {})}
    assert "image/svg+xml" in kinds, "no graph drawn inline"
    if path.stem != "06_autograd_from_the_inside":  # the article notebooks plot
        assert "image/png" in kinds, "no loss curve or decision boundary"
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "Final numbers:" in text
