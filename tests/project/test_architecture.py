"""The layout docs/architecture.md describes, checked: layers, private names, the one circle.

Imports are read from the source with ``ast`` (no module is imported), so a rule broken
inside a function that never runs is still caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tinygrad_ann"

# docs/architecture.md, "Layers": a module imports only modules of its own layer or below.
LAYERS = ("engine", "ops", "library", "tools", "teaching")
ENGINE = {
    "tensor",
    "arrays",
    "in_place",
    "reductions",
    "tensor_methods",
    "ufuncs",
    "errors",
    "autograd",
    "autograd.grad_mode",
    "autograd.anomaly",
    "autograd.saved",
    "autograd.function",
    "autograd.hooks",
    "autograd.engine",
    "autograd.graph",
    "autograd.derivatives",
    "autograd.forward_mode",
    "autograd.capture",
}
OPS = {"ops", "conv_ops", "norm_ops", "sequence_ops", "vjp_math", "routines", "factories"}
TOOLS = {"viz", "testing", "autograd.gradcheck", "autograd.localize", "autograd.numerical"}
TEACHING = {"teaching"}

# The two edges that go up on purpose (docs/architecture.md says why).
UPWARD = {
    ("tinygrad_ann.tensor", "tinygrad_ann.ops"),  # a Tensor's operators are the op table's door
    ("tinygrad_ann.ufuncs", "tinygrad_ann.ops"),  # np.add(array, tensor) goes through the same door
    ("tinygrad_ann.reductions", "tinygrad_ann.ops"),  # max(dim=)'s indices: Tensor's methods too
    ("tinygrad_ann.tensor_methods", "tinygrad_ann.ops"),  # Tensor's base class: its methods too
    ("tinygrad_ann.tensor", "tinygrad_ann.viz"),  # a notebook's picture of a Tensor, on request
}
# Tensor ↔ Function: Tensor's side (the class and the helpers it was split into) and
# Function's (the engine's modules that need Tensor, and the op table Tensor calls).
CIRCLE = {
    "tinygrad_ann.tensor",
    "tinygrad_ann.arrays",
    "tinygrad_ann.in_place",
    "tinygrad_ann.reductions",
    "tinygrad_ann.tensor_methods",
    "tinygrad_ann.ufuncs",
    "tinygrad_ann.ops",
    "tinygrad_ann.autograd",
    "tinygrad_ann.autograd.function",
    "tinygrad_ann.autograd.hooks",
    "tinygrad_ann.autograd.engine",
    "tinygrad_ann.autograd.graph",
    "tinygrad_ann.autograd.anomaly",
    "tinygrad_ann.autograd.derivatives",
    "tinygrad_ann.autograd.forward_mode",
}
# The op tables may be long: one class per op, side by side, is what makes them readable.
OP_TABLES = {"tinygrad_ann.ops", "tinygrad_ann.conv_ops"}
MAX_LINES = 650


def find_modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = find_modules()


def layer_of(module: str) -> str:
    inside = module.removeprefix("tinygrad_ann").removeprefix(".")
    for name in (inside, inside.split(".")[0]):
        for layer, members in zip(LAYERS, (ENGINE, OPS, set(), TOOLS, TEACHING)):
            if name in members:
                return layer
    return "library"  # functional, nn, optim, data, checkpoint, files, onnx, ...


def package_of(module: str) -> str:
    parts = module.split(".")
    return (
        ".".join(parts[:2])
        if (PACKAGE / parts[1] if len(parts) > 1 else PACKAGE).is_dir()
        else "tinygrad_ann"
    )


def imports_of(module: str, at_run_time: bool = False) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for every import of the package.

    ``at_run_time`` leaves out imports for type checkers only (``if TYPE_CHECKING:``).
    """
    path = MODULES[module]
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for_type_checkers = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        if at_run_time and id(node) in for_type_checkers:
            continue
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            if source.split(".")[0] != "tinygrad_ann":
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append((submodule, None) if submodule in MODULES else (source, alias.name))
        elif isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.startswith("tinygrad_ann")]
    return found


def test_the_checker_reads_imports_of_every_kind():
    assert ("tinygrad_ann.ops", None) in imports_of("tinygrad_ann.tensor")  # at the end
    assert ("tinygrad_ann.viz", None) in imports_of("tinygrad_ann.tensor")  # inside a method
    assert ("tinygrad_ann.autograd.saved", "_guard") in imports_of("tinygrad_ann.autograd.function")
    explainer = ("tinygrad_ann.viz.explainer", "BackpropTrace")  # under TYPE_CHECKING
    assert explainer in imports_of("tinygrad_ann.viz.page")
    assert explainer not in imports_of("tinygrad_ann.viz.page", at_run_time=True)
    assert layer_of("tinygrad_ann.autograd.function") == "engine"
    assert layer_of("tinygrad_ann.autograd.gradcheck") == "tools"
    assert layer_of("tinygrad_ann.nn.conv") == "library"
    assert layer_of("tinygrad_ann.viz.page") == "tools"
    assert package_of("tinygrad_ann.nn.conv") == "tinygrad_ann.nn"
    assert package_of("tinygrad_ann.conv_ops") == "tinygrad_ann"


def test_no_module_imports_from_a_layer_above_its_own():
    wrong = []
    for module in MODULES:
        if module in ("tinygrad_ann", "tinygrad_ann.__main__"):
            continue  # the front door and the command line gather every layer
        for source, _ in imports_of(module):
            up = LAYERS.index(layer_of(source)) > LAYERS.index(layer_of(module))
            if up and (module, source) not in UPWARD:
                wrong.append(f"{module} ({layer_of(module)}) imports {source} ({layer_of(source)})")
    assert wrong == []


def test_no_private_name_is_imported_from_another_package():
    wrong = [
        f"{module} imports {name} from {source}"
        for module in MODULES
        for source, name in imports_of(module)
        if name
        and name.startswith("_")
        and not name.startswith("__")
        and package_of(source) != package_of(module)
    ]
    assert wrong == []


def test_the_only_import_circle_is_tensor_and_function():
    graph = {m: {s for s, _ in imports_of(m, True) if s in MODULES and s != m} for m in MODULES}
    graph["tinygrad_ann"] = set()  # everything imports the package itself first
    # Drawing a Tensor in a notebook imports viz at display time, never at import time.
    graph["tinygrad_ann.tensor"].discard("tinygrad_ann.viz")
    circles = set()
    for start in graph:
        stack = [(start, (start,))]
        while stack:
            node, trail = stack.pop()
            for following in graph[node]:
                if following == start:
                    circles.add(frozenset(trail))
                elif following not in trail:
                    stack.append((following, (*trail, following)))
    assert circles  # Tensor ↔ Function is there: the search works
    assert [sorted(circle) for circle in circles if not circle <= CIRCLE] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_longer_than_a_reader_holds(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert module in OP_TABLES or lines <= MAX_LINES
