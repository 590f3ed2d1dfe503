"""Build the documentation site into build/site/ (``make docs``).

The sources are staged into build/docs-src/ with the repository's own layout, so
every relative link means on the site what it means in the repository: README.md
(the home page), docs/, the executed notebooks from build/notebooks/ (``make
notebooks``), the README pages of examples/ and benchmarks/ with the files they link
to, and the API reference pages of docs/site/reference/. The explainer page and a
graph SVG are drawn fresh. Sphinx then runs with warnings as errors and nitpicky
references: a broken link, a reference to nothing, a notebook output on stderr or a
public name without a docstring or a reference entry fails the build.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from run_notebooks import DEFAULT_OUT as EXECUTED
from run_notebooks import stored_notebooks

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "docs-src"
SITE = ROOT / "build" / "site"
CONF = ROOT / "docs" / "site"

INDEX = """\
```{include} README.md
```

```{toctree}
:hidden:
:caption: Learn

docs/tutorial
docs/articles
docs/explainer
notebooks/README
```

```{toctree}
:hidden:
:caption: Notebooks
:glob:

notebooks/[0-9]*
```

```{toctree}
:hidden:
:caption: Guides

docs/api
docs/semantics
docs/training
docs/custom_ops
docs/higher_order
docs/forward_mode
docs/sequence_models
docs/checkpoints
docs/interop
docs/onnx
docs/compile
docs/testing
docs/edge_points
docs/architecture
```

```{toctree}
:hidden:
:caption: Reference

reference/index
```

```{toctree}
:hidden:
:caption: Project

examples/README
benchmarks/README
```
"""


def _copy(pattern: str) -> None:
    for source in sorted(ROOT.glob(pattern)):
        target = STAGE / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _draw_generated(extra: Path) -> None:
    """The explainer page and the graph SVG, drawn by the library as a user would."""
    import tinygrad_ann as tg
    from tinygrad_ann.teaching import demo

    extra.mkdir(parents=True)
    loss, params = demo.two_layer_example()
    tg.viz.save(loss, extra / "two_layer_graph.svg", params=params)
    tg.viz.explain(loss, extra / "backprop_two_layer.html", params=params)


def stage() -> None:
    stored = sorted(path.name for path in stored_notebooks())
    executed = sorted(path.name for path in EXECUTED.glob("*.ipynb"))
    if stored != executed:
        missing = sorted(set(stored) - set(executed))
        raise SystemExit(f"build/notebooks/ lacks {missing}: run `make notebooks` first")
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    for pattern in (
        "README.md",
        "docs/*.md",
        "docs/*.png",
        "notebooks/README.md",
        "examples/README.md",
        "examples/*.py",
        "benchmarks/README.md",
        "benchmarks/*.png",
        "benchmarks/*.py",
    ):
        _copy(pattern)
    for notebook in sorted(EXECUTED.glob("*.ipynb")):
        shutil.copy2(notebook, STAGE / "notebooks" / notebook.name)
    shutil.copytree(CONF / "reference", STAGE / "reference")
    (STAGE / "index.md").write_text(INDEX)
    _draw_generated(STAGE / "_extra")


def main() -> int:
    from sphinx.cmd.build import build_main

    start = time.perf_counter()
    stage()
    shutil.rmtree(SITE, ignore_errors=True)
    doctrees = ROOT / "build" / "docs-doctrees"
    # Warnings are errors (-W), every one reported (--keep-going), references nitpicky (-n).
    strict = ["-W", "--keep-going", "-n", "-q"]
    status = build_main(
        [*strict, "-b", "html", "-c", str(CONF), "-d", str(doctrees), str(STAGE), str(SITE)]
    )
    print(f"site {'built' if status == 0 else 'FAILED'} in {time.perf_counter() - start:.1f} s")
    if status == 0:
        print(f"-> {SITE / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
