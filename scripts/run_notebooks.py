"""Execute the notebooks in a real Jupyter kernel, top to bottom, and keep their outputs.

    python scripts/run_notebooks.py                 # every notebooks/*.ipynb into build/notebooks/
    python scripts/run_notebooks.py --out DIR 01_perceptron_diabetes

A notebook fails, and the command exits 1 naming it, when a cell raises, when anything
is written to stderr (a warning, a log line), when a warning is raised at all (the kernel
turns every warning into an error before the first cell) or when the notebook runs past
its time limit. Assertions in the notebooks' own cells check their numbers, so a
notebook cannot pass while showing the wrong thing.

The notebooks are stored without outputs (``notebooks/*.ipynb``, paired by jupytext with
the ``.py`` files that are reviewed); the executed copies written here are for reading
and for the documentation site.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "notebooks"
# Seconds a whole notebook may take, its kernel's start included; each runs in under 10 s
# here, one BLAS thread, two at a time.
TIME_LIMIT = 60.0

# Run before the first cell and removed from the saved copy: every warning is an error,
# and figures render to SVG without a display.
PREAMBLE = """\
import warnings
_filters_outside_the_notebook = warnings.filters[:]
warnings.simplefilter("error")
import matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
"""
# Run after the last cell, also removed: the kernel's own shutdown code warns, and
# that is not the notebook's doing.
POSTAMBLE = "warnings.filters[:] = _filters_outside_the_notebook"


class NotebookError(Exception):
    """A notebook raised, wrote to stderr, warned or ran past its time limit."""


@dataclass
class Executed:
    seconds: float
    notebook: nbformat.NotebookNode


def _stderr_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    found = []
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append(f"cell {number}: {output.get('text', '').strip()[:500]}")
    return found


def execute(path: Path, time_limit: float = TIME_LIMIT) -> Executed:
    """Run one notebook in a fresh ``python3`` kernel, in its own folder; raise
    NotebookError with the cell and the reason when it does not run clean."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises JSON, schema and decoding errors alike
        raise NotebookError(f"{path.name}: not a readable notebook: {error}") from error
    preamble = nbformat.v4.new_code_cell(PREAMBLE)
    postamble = nbformat.v4.new_code_cell(POSTAMBLE)
    notebook.cells = [preamble, *notebook.cells, postamble]
    client = NotebookClient(
        notebook,
        timeout=time_limit,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    # One BLAS thread, as the test suite: two notebooks run at once on two cores.
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    # The kernel process's own log (transport notices, shutdown) is kept out of the
    # terminal and shown only when the kernel dies.
    with tempfile.TemporaryFile(mode="w+") as kernel_log:
        try:
            client.execute(env=environment, stderr=kernel_log)
        except CellTimeoutError as error:
            raise NotebookError(
                f"{path.name}: a cell ran over the time limit, {time_limit:.0f} s"
            ) from error
        except CellExecutionError as error:
            raise NotebookError(f"{path.name}: a cell raised:\n{error}") from error
        except DeadKernelError as error:
            kernel_log.seek(0)
            log = kernel_log.read()[-2000:]
            raise NotebookError(f"{path.name}: the kernel died: {error}\n{log}") from error
    seconds = time.perf_counter() - start
    notebook.cells = notebook.cells[1:-1]
    if seconds > time_limit:
        raise NotebookError(
            f"{path.name}: took {seconds:.1f} s, over the time limit, {time_limit:.0f} s"
        )
    stderr = _stderr_outputs(notebook)
    if stderr:
        raise NotebookError(f"{path.name}: wrote to stderr:\n" + "\n".join(stderr))
    return Executed(seconds, notebook)


def stored_notebooks(names: list[str] | None = None) -> list[Path]:
    """The stored notebooks, or those named (by file stem), in order."""
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return paths
    by_stem = {path.stem: path for path in paths}
    unknown = [name for name in names if Path(name).stem not in by_stem]
    if unknown:
        raise SystemExit(f"no notebook named {unknown}; there are {sorted(by_stem)}")
    return [by_stem[Path(name).stem] for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    args = parser.parse_args(argv)
    # Matplotlib builds its font cache on first import and logs that to stderr: do it
    # here, once, so no notebook's stderr carries it.
    import matplotlib.font_manager  # noqa: F401

    paths = stored_notebooks(args.names)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = []

    def run(path: Path) -> None:
        try:
            executed = execute(path, args.time_limit)
        except NotebookError as failure:
            failures.append(str(failure))
            print(f"FAILED {path.name}", flush=True)
            return
        nbformat.write(executed.notebook, args.out / path.name)
        print(f"{executed.seconds:6.1f} s  {path.name}", flush=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(run, paths))
    print(f"{len(paths)} notebooks in {time.perf_counter() - start:.1f} s -> {args.out}")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
