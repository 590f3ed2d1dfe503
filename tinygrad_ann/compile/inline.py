"""Inlining: an op's own ``forward`` or ``backward``, as lines of a plan.

A plan that calls ``op.forward(ctx, ...)`` per op still pays a Python call, a
``ctx`` object and ``save_for_backward`` per op. Most ops' methods are a few NumPy
lines, so the plan takes those very lines instead. The method's source is
rewritten once: its local names get a suffix per op (``out`` becomes ``out__7``),
``ctx.save_for_backward(...)`` becomes an assignment to the op's saved tuple,
``ctx.saved`` and ``ctx.needs_input_grad`` become names, each ``return`` an
assignment to the op's result. The NumPy calls are the method's own, in its order,
so the plan computes the same bits, and there is still one derivative rule per
op. A method this rewriting does not understand (another use of ``ctx``, a nested
function, a ``return`` inside a loop) is called as it is instead.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import itertools
import textwrap
from collections.abc import Callable
from typing import Any

from .optimize import parsed

_PACKAGE = __name__.split(".")[0] + "."
_MARK = "__tgS"  # stands for the op's suffix in a template
_SAVED, _NEEDS, _RESULT = "saved" + _MARK, "needs" + _MARK, "result" + _MARK


class _NotInlinableError(Exception):
    """What the rewriting does not handle: the method is called instead."""


class Template:
    """One method, rewritten: the body's lines with ``_MARK`` where the suffix goes."""

    def __init__(self, parameters: list[str], lines: list[str], globals_used: dict[str, Any]):
        self.parameters = parameters
        self.lines = lines
        #: The module globals the body reads, by their names in the template.
        self.globals_used = globals_used

    def bind(self, suffix: str, arguments: list[str], fresh_saved: bool) -> list[str]:
        """The lines for one op: its parameters bound to ``arguments`` (expressions, in
        order), and for a forward (``fresh_saved``) its saved tuple emptied first."""
        lines = [f"{name}{suffix} = {value}" for name, value in zip(self.parameters, arguments)]
        if fresh_saved:
            lines.append(f"saved{suffix} = ()")
        lines.extend(line.replace(_MARK, suffix) for line in self.lines)
        return lines


_TEMPLATES: dict[Callable[..., Any], Template | None] = {}
_GLOBAL_KEYS: dict[int, int] = {}
_module_numbers = itertools.count()


def template_of(method: Callable[..., Any]) -> Template | None:
    """The rewritten ``method`` (a ``forward`` or ``backward``), or None if it cannot be.

    Only the package's own ops are rewritten: their module globals (NumPy, helpers) never
    change, while a user's op may read a global that does, which its call reads afresh.
    """
    if not getattr(method, "__module__", "").startswith(_PACKAGE):
        return None
    if method not in _TEMPLATES:
        try:
            _TEMPLATES[method] = _rewrite(method)
        except (_NotInlinableError, OSError, TypeError, SyntaxError):
            _TEMPLATES[method] = None
    return _TEMPLATES[method]


def _rewrite(method: Callable[..., Any]) -> Template:
    tree = parsed(textwrap.dedent(inspect.getsource(method)))
    function = tree.body[0]
    if not isinstance(function, ast.FunctionDef):
        raise _NotInlinableError
    arguments = function.args
    if arguments.vararg or arguments.kwarg or arguments.posonlyargs or arguments.kwonlyargs:
        raise _NotInlinableError
    names = [argument.arg for argument in arguments.args]
    if not names or names[0] != "ctx" or arguments.defaults:
        raise _NotInlinableError
    for node in ast.walk(function):
        if node is not function and isinstance(
            node,
            ast.FunctionDef
            | ast.AsyncFunctionDef
            | ast.Lambda
            | ast.ClassDef
            | ast.Global
            | ast.Nonlocal
            | ast.Yield
            | ast.YieldFrom
            | ast.Await,
        ):
            raise _NotInlinableError
    parameters = names[1:]
    local_names = set(parameters) | _assigned_names(function)
    module_globals = method.__globals__
    key = _GLOBAL_KEYS.setdefault(id(module_globals), next(_module_numbers))
    globals_used: dict[str, Any] = {}
    body = _Rewriter(local_names, module_globals, key, globals_used).rewrite(function.body)
    body = _without_returns(body)
    lines = ast.unparse(ast.Module(body=body, type_ignores=[])).splitlines()
    return Template(parameters, lines, globals_used)


def _assigned_names(function: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
    return names


class _Rewriter(ast.NodeTransformer):
    def __init__(
        self, local_names: set[str], module_globals: dict[str, Any], key: int, used: dict[str, Any]
    ) -> None:
        self.local_names = local_names
        self.module_globals = module_globals
        self.key = key
        self.used = used

    def rewrite(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [self.visit(statement) for statement in body]

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "ctx"
            and call.func.attr == "save_for_backward"
        ):
            if call.keywords or any(isinstance(arg, ast.Starred) for arg in call.args):
                raise _NotInlinableError
            values = [self.visit(arg) for arg in call.args]
            target = ast.Name(_SAVED, ast.Store())
            return ast.Assign([target], ast.Tuple(values, ast.Load()), lineno=0)
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "ctx":
            if node.attr == "saved":
                return ast.Name(_SAVED, node.ctx)
            if node.attr == "needs_input_grad" and isinstance(node.ctx, ast.Load):
                return ast.Name(_NEEDS, ast.Load())
            raise _NotInlinableError
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "ctx":
            raise _NotInlinableError  # ctx passed on, or used some other way
        if node.id in self.local_names:
            return ast.Name(node.id + _MARK, node.ctx)
        if node.id in self.module_globals:
            value = self.module_globals[node.id]
        elif hasattr(builtins, node.id):
            return node
        else:
            raise _NotInlinableError
        renamed = f"M{self.key}_{node.id}"
        self.used[renamed] = value
        return ast.Name(renamed, node.ctx)


def _without_returns(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` with each ``return x`` an assignment to the result, the statements after an
    ``if`` whose branch returns moved into its ``else``, so that control falls off the end."""
    out: list[ast.stmt] = []
    for index, statement in enumerate(body):
        rest = body[index + 1 :]
        if isinstance(statement, ast.Return):
            value = statement.value or ast.Constant(None)
            out.append(ast.Assign([ast.Name(_RESULT, ast.Store())], value, lineno=0))
            return out  # anything after a return never runs
        if isinstance(statement, ast.If) and (
            _returns(statement.body) or _returns(statement.orelse)
        ):
            branch = _without_returns(
                statement.body if _ends_in_return(statement.body) else statement.body + rest
            )
            other = _without_returns(
                statement.orelse if _ends_in_return(statement.orelse) else statement.orelse + rest
            )
            out.append(ast.If(statement.test, branch or [ast.Pass()], other or [ast.Pass()]))
            return out
        for node in ast.walk(statement):
            if isinstance(node, ast.Return):
                raise _NotInlinableError  # a return inside a loop, a with or a try
        out.append(statement)
    return out


def _returns(body: list[ast.stmt]) -> bool:
    return any(isinstance(node, ast.Return) for statement in body for node in ast.walk(statement))


def _ends_in_return(body: list[ast.stmt]) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _ends_in_return(last.body) and _ends_in_return(last.orelse)
    return False


def result_name(suffix: str) -> str:
    return _RESULT.replace(_MARK, suffix)


def saved_name(suffix: str) -> str:
    return _SAVED.replace(_MARK, suffix)


def needs_name(suffix: str) -> str:
    return _NEEDS.replace(_MARK, suffix)
