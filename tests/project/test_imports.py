"""``import tinygrad_ann`` stays light: graphviz, the articles and numpy.random load on use."""

import subprocess
import sys


def modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(finished.stdout.split())


def test_import_leaves_the_heavy_parts_unloaded():
    loaded = modules_after("import tinygrad_ann")
    for heavy in ("graphviz", "tinygrad_ann.viz", "tinygrad_ann.teaching.articles", "numpy.random"):
        assert heavy not in loaded, heavy


def test_lazy_parts_load_on_first_use():
    loaded = modules_after(
        "import tinygrad_ann as tg\ntg.viz.draw_graph\ntg.articles.check_derivations\ntg.randn(2)"
    )
    assert {
        "graphviz",
        "tinygrad_ann.viz",
        "tinygrad_ann.teaching.articles",
        "numpy.random",
    } <= loaded


def test_unknown_attributes_are_still_errors():
    loaded = modules_after(
        "import tinygrad_ann as tg\n"
        "try:\n    tg.no_such_thing\nexcept AttributeError:\n    print('raised')"
    )
    assert "raised" in loaded


def test_every_public_import_path_works_in_a_fresh_interpreter():
    # The paths users and the docs type; the package's layout may change beneath them.
    code = (
        "import importlib\n"
        "import tinygrad_ann as tg\n"
        "for name in tg.__all__:\n"
        "    getattr(tg, name)\n"
        "for path in ('functional', 'nn', 'optim', 'optim.lr_scheduler', 'testing', 'viz',"
        " 'onnx', 'data', 'autograd', 'autograd.gradcheck'):\n"
        "    importlib.import_module('tinygrad_ann.' + path)\n"
        "from tinygrad_ann.optim.lr_scheduler import StepLR\n"
        "from tinygrad_ann.optim import SGD, Adam, lr_scheduler\n"
        "from tinygrad_ann import Function, gradcheck, no_grad\n"
        "assert StepLR.__module__ == 'tinygrad_ann.optim.lr_scheduler'\n"
        "assert SGD.__module__ == 'tinygrad_ann.optim.sgd'\n"
        "assert tg.optim.lr_scheduler is lr_scheduler and callable(gradcheck)\n"
        "assert tg.gradcheck is tg.autograd.gradcheck.gradcheck\n"
        "print('imported')"
    )
    assert "imported" in modules_after(code)
