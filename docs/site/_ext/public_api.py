"""A Sphinx extension: every public name is documented, with a docstring.

The public API is the ``__all__`` of the modules in ``PUBLIC_MODULES`` (the modules a
user imports), and the public methods and properties of the classes among them. The
build warns, so ``make docs`` (warnings are errors) fails, for a name without a
docstring (an inherited one counts: ``forward`` overrides ``Module.forward``) and for
a name the reference pages do not document.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

PUBLIC_MODULES = (
    "tinygrad_ann",
    "tinygrad_ann.nn",
    "tinygrad_ann.nn.init",
    "tinygrad_ann.nn.utils",
    "tinygrad_ann.functional",
    "tinygrad_ann.optim",
    "tinygrad_ann.optim.lr_scheduler",
    "tinygrad_ann.data",
    "tinygrad_ann.testing",
    "tinygrad_ann.viz",
    "tinygrad_ann.onnx",
    "tinygrad_ann.vjp_math",
    "tinygrad_ann.teaching.articles",
)


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties of a class, its own and those of the package's
    classes it derives from (``Tensor`` gets most of its methods from a base class)."""
    seen = set()
    for owner in cls.__mro__:
        if owner.__module__.startswith("tinygrad_ann"):
            for name, value in vars(owner).items():
                if name not in seen:
                    seen.add(name)
                    yield from _public_member(cls, name, value)


def _public_member(cls: type, name: str, value: Any) -> Iterator[tuple[str, Any]]:
    if not name.startswith("_"):
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property) or inspect.isfunction(value):
            yield name, getattr(cls, name)


def public_names() -> Iterator[tuple[str, Any]]:
    """(dotted name, object) for every public function, class, method and property."""
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.ismodule(value) or not (inspect.isclass(value) or callable(value)):
                continue
            yield f"{module_name}.{name}", value
            if inspect.isclass(value) and value.__module__.startswith("tinygrad_ann"):
                for member, member_value in _members(value):
                    yield f"{module_name}.{name}.{member}", member_value


def problems(documented: set[str]) -> list[str]:
    """What the reference lacks, given the dotted names it documents: each public name
    without a docstring (an inherited method once) and each one the pages leave out."""
    found = []
    undocumented_seen = set()
    for dotted, value in public_names():
        # A method inherited by forty layers is one missing docstring, reported once.
        if not inspect.getdoc(value) and id(value) not in undocumented_seen:
            undocumented_seen.add(id(value))
            found.append(f"public name without a docstring: {dotted}")
        is_member = dotted.rpartition(".")[0] not in PUBLIC_MODULES
        if not is_member and dotted not in documented:
            found.append(f"public name missing from the API reference: {dotted}")
    return found


def _check(app: Sphinx, env: BuildEnvironment) -> None:
    for problem in problems(set(env.domains["py"].objects)):
        logger.warning(problem)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("env-check-consistency", _check)
    return {"version": "1", "parallel_read_safe": True}
