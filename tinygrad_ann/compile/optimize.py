"""Simplifying a plan's straight-line code: what is known when the plan is made, folded.

Each op's inlined lines are written for any call: they read which inputs need a
gradient from a tuple, test ``if bias is not None``, wrap a VJP's result in a tuple
when it is not one, and name each value twice (``x__0 = a0``). In a plan all of that
is known: ``needs_input_grad`` and the constants were recorded, and an op's inputs are
the earlier ops' results. These passes rewrite one generated function until nothing
changes:

- **constants**: a name bound once to a literal (a recorded ``needs_input_grad`` flag,
  ``None``, a number or string option) is replaced by its value, and tests on literals
  are decided: ``x if True else None`` is ``x``, an ``if`` whose test is known keeps
  one branch;
- **copies**: ``a = b`` with both names bound once makes every ``a`` read ``b``;
- **tuples**: a tuple bound once and only indexed or unpacked becomes one name per
  element, so the elements nobody reads can go;
- **dead stores**: an assignment nobody reads whose value has no effect (names,
  literals, operators; never a call) is left out.

None of these changes a NumPy call or its order, so the code computes the same bits.
Only the Python around the calls goes, and the code reads as one would write it by hand.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from typing import Any

# CPython 3.11 and 3.12 keep the depth of the syntax tree being built in one place for
# all threads, and a thread switch inside ast.parse (a collection running a __del__ can
# cause one) makes it raise "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). Plans made in several threads parse one at a time.
_PARSING = threading.RLock()


def parsed(source: str) -> ast.Module:
    """``ast.parse(source)``, one thread at a time (see ``_PARSING``)."""
    with _PARSING:
        return ast.parse(source)


_LITERALS = (bool, int, float, str, type(None))
#: The plan's own names: arguments, parameters, constants, results and their gradients.
_PLAN_NAME = re.compile(r"[aekt][0-9]+|g_[aet][0-9]+")
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_PURE_NODES = (
    ast.Constant,
    ast.Name,
    ast.Tuple,
    ast.List,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
    ast.expr_context,
)


def is_literal(value: Any) -> bool:
    """Whether ``value`` can be written into code as it is (a tuple of such values too)."""
    if type(value) is float:
        return math.isfinite(value)
    if type(value) in _LITERALS:
        return True
    return type(value) is tuple and all(is_literal(item) for item in value)


def simplify(source: str, constants: Mapping[str, Any], arrays: Set[str] = frozenset()) -> str:
    """``source`` (one function definition) with the passes above applied until none
    changes anything. ``constants`` are the module globals the code may read whose
    values are literals (see :func:`is_literal`); ``arrays`` names values that are never
    None (arrays, bound once), so ``x is None`` is decided for them."""
    tree = parsed(source)
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    size = _size(function)
    for _ in range(8):  # a round rarely leaves work for more than two more
        _Pass(function, constants, arrays).run()
        size, before = _size(function), size
        if size == before:  # every pass that changes something adds or removes nodes
            break
    return ast.unparse(tree) + "\n"


def constant_items(
    function_source: str, names: Iterable[str]
) -> dict[str, tuple[int, dict[int, Any]]]:
    """For each of ``names``: the length of the tuple display it is first bound to in
    ``function_source`` (0: none) and its literal items by position: what a plan's
    backward can take as known instead of reading it from the stash. (The lines after an
    op's own, which convert a NumPy scalar result to an array or guard what the op saved,
    replace arrays in that tuple, never a literal.) One parse and one walk serve every
    name: a plan has one saved tuple per op, and thousands of ops."""
    function = parsed(function_source).body[0]
    assert isinstance(function, ast.FunctionDef)
    # Bound inside a block: maybe to another tuple on some path.
    in_blocks = {
        node.id
        for statement in function.body
        if not isinstance(statement, ast.Assign) and not _converts_result(statement)
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    displays: dict[str, list[list[ast.expr]]] = {}
    for node in function.body:
        name = _tuple_binding(node)
        if (
            name is not None
            and isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Tuple)
            and node.value.elts
            and not all(_item_of(item, name) for item in node.value.elts)  # a guard's copy
        ):
            displays.setdefault(name, []).append(node.value.elts)
    known: dict[str, tuple[int, dict[int, Any]]] = {}
    for name in names:
        found = displays.get(name, [])
        if name in in_blocks or len(found) != 1:
            known[name] = (0, {})
            continue
        (items,) = found
        known[name] = (
            len(items),
            {
                position: item.value
                for position, item in enumerate(items)
                if isinstance(item, ast.Constant) and is_literal(item.value)
            },
        )
    return known


def _item_of(node: ast.expr, name: str) -> bool:
    """``name[i]`` or ``name[i].copy()``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "copy"
        and not node.args
    ):
        node = node.func.value
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
        and isinstance(node.slice, ast.Constant)
    )


def _converts_result(statement: ast.stmt) -> bool:
    """``if type(t) is not nd: t, saved = ASI(t, saved)``: a plan's line that turns an op's
    NumPy scalar result into an array, also in the op's saved tuple."""
    return (
        isinstance(statement, ast.If)
        and len(statement.body) == 1
        and not statement.orelse
        and isinstance(statement.body[0], ast.Assign)
        and isinstance(statement.body[0].value, ast.Call)
        and isinstance(statement.body[0].value.func, ast.Name)
        and statement.body[0].value.func.id == "ASI"
    )


class _Pass:
    """One round of every simplification over one function."""

    def __init__(
        self, function: ast.FunctionDef, constants: Mapping[str, Any], arrays: Set[str]
    ) -> None:
        self.function = function
        self.stores = _store_counts(function)
        self.arrays = {name for name in arrays if self.stores[name] <= 1}
        self.known: dict[str, Any] = {
            name: value
            for name, value in constants.items()
            if self.stores[name] == 0 and is_literal(value)
        }
        #: Names bound once, at the top level, to a tuple display: their type is known.
        self.tuples: set[str] = set()

    def run(self) -> None:
        body = self.function.body
        for statement in body:
            name = _tuple_binding(statement)
            if name is not None and self.stores[name] == 1:
                self.tuples.add(name)
        self.function.body = self._block(body)
        self._propagate_copies()
        self._split_tuples()
        self._drop_dead_stores()

    # ------------------------------------------------------------------ constants
    def _block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        """The statements with known names replaced and decided tests cut away."""
        kept: list[ast.stmt] = []
        for statement in statements:
            statement = _Folder(self).visit(statement)
            if isinstance(statement, ast.If) and isinstance(statement.test, ast.Constant):
                kept.extend(
                    self._block(statement.body if statement.test.value else statement.orelse)
                )
                continue
            if isinstance(statement, ast.If):
                statement.body = self._block(statement.body) or [ast.Pass()]
                statement.orelse = self._block(statement.orelse)
            if self._binds_constants(statement):
                continue
            kept.append(statement)
        return kept

    def _binds_constants(self, statement: ast.stmt) -> bool:
        """Learn the literal a once-bound name gets here; True if the statement can go."""
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            return False
        target, value = statement.targets[0], statement.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            if self.stores[target.id] == 1 and is_literal(value.value):
                self.known[target.id] = value.value
                return True
        if (
            isinstance(target, ast.Tuple)
            and isinstance(value, ast.Constant)
            and type(value.value) is tuple
            and len(value.value) == len(target.elts)
            and all(
                isinstance(item, ast.Name) and self.stores[item.id] == 1 for item in target.elts
            )
        ):
            for item, literal in zip(target.elts, value.value):
                assert isinstance(item, ast.Name)
                self.known[item.id] = literal
            return True
        return False

    # ------------------------------------------------------------------ copies
    def _propagate_copies(self) -> None:
        """``a = b``, both bound once: one name for the value. The plan's own names (``t3``,
        ``g_t2``) win over an inlined op's locals (``out__3``)."""
        parameters = {argument.arg for argument in self.function.args.args}
        reads: dict[str, str] = {}  # a name whose reads become another's
        names: dict[str, str] = {}  # a local renamed everywhere, its binding included
        kept = []
        for statement in self.function.body:
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and isinstance(statement.value, ast.Name)
            ):
                target, source = statement.targets[0].id, statement.value.id
                source = names.get(reads.get(source, source), reads.get(source, source))
                # The source keeps its value from here on: bound once (before, as the code
                # runs in order), or a parameter or global never bound in the function.
                if self.stores[target] == 1 and target not in parameters:
                    if (
                        _PLAN_NAME.fullmatch(target)
                        and not _PLAN_NAME.fullmatch(source)
                        and self.stores[source] == 1
                        and source not in parameters
                    ):
                        names[source] = target
                        for name, value in reads.items():
                            if value == source:
                                reads[name] = target
                        continue
                    if self.stores[source] <= 1:
                        reads[target] = source
                        continue
            kept.append(statement)
        if reads or names:
            self.function.body = kept
            for node in ast.walk(self.function):
                if isinstance(node, ast.Name):
                    if isinstance(node.ctx, ast.Load):
                        node.id = reads.get(node.id, node.id)
                    node.id = names.get(node.id, node.id)

    # ------------------------------------------------------------------ tuples
    def _split_tuples(self) -> None:
        loads, taken = _loads_by_context(self.function)
        body: list[ast.stmt] = []
        split: dict[str, int] = {}
        for statement in self.function.body:
            name = _tuple_binding(statement)
            if name is not None and self.stores[name] == 1:
                assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Tuple)
                items = statement.value.elts
                if not _only_indexed(name, loads, len(items)):
                    body.append(statement)
                    continue
                fresh = [f"{name}_{position}" for position in range(len(items))]
                if not taken.intersection(fresh):
                    split[name] = len(items)
                    for item_name, item in zip(fresh, items):
                        body.append(_assign(item_name, item))
                    continue
            body.append(statement)
        if not split:
            return
        self.function.body = [
            replacement for statement in body for replacement in _unpacked(statement, split)
        ]
        _Indexer(split).visit(self.function)

    # ------------------------------------------------------------------ dead stores
    def _drop_dead_stores(self) -> None:
        """One pass backwards over the top level: a plain assignment of a value without
        effects goes when no later statement reads its names before binding them again.
        A statement inside a block counts as reading every name it mentions."""
        live: set[str] = set()
        kept: list[ast.stmt] = []
        for statement in reversed(self.function.body):
            if (
                isinstance(statement, ast.Assign)
                and all(isinstance(target, ast.Name) for target in statement.targets)
                and _pure(statement.value)
            ):
                names = {target.id for target in statement.targets}  # type: ignore[attr-defined]
                if live.isdisjoint(names):
                    continue
                live.difference_update(names)
                live.update(_mentioned(statement.value))
            elif isinstance(statement, ast.Assign) and all(
                isinstance(target, ast.Name | ast.Tuple) for target in statement.targets
            ):
                for target in statement.targets:
                    live.difference_update(_mentioned(target))
                live.update(_mentioned(statement.value))
            else:
                live.update(_mentioned(statement))
            kept.append(statement)
        kept.reverse()
        self.function.body = kept


class _Folder(ast.NodeTransformer):
    """Known names as literals, and the expressions on literals decided."""

    def __init__(self, owner: _Pass) -> None:
        self.owner = owner

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.owner.known:
            return ast.copy_location(ast.Constant(self.owner.known[node.id]), node)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Constant):
            return ast.Constant(not node.operand.value)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        decides = isinstance(node.op, ast.Or)  # the truth value that ends an `or` early
        values: list[ast.expr] = []
        last = len(node.values) - 1
        for position, value in enumerate(node.values):
            if isinstance(value, ast.Constant):
                if bool(value.value) is decides:
                    values.append(value)  # it ends the chain: what follows never runs
                    break
                if position < last:
                    continue  # `True and x` is x: it only passes on to the next operand
            values.append(value)
        return values[0] if len(values) == 1 else ast.BoolOp(node.op, values)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) != 1:
            return node
        left, right, kind = node.left, node.comparators[0], type(node.ops[0])
        if (
            isinstance(left, ast.Constant)
            and isinstance(right, ast.Constant)
            and kind in _COMPARISONS
        ):
            return ast.Constant(bool(_COMPARISONS[kind](left.value, right.value)))
        if (  # x is None, for an array
            kind in (ast.Is, ast.IsNot)
            and isinstance(left, ast.Name)
            and left.id in self.owner.arrays
            and isinstance(right, ast.Constant)
            and right.value is None
        ):
            return ast.Constant(kind is ast.IsNot)
        if (  # type(x) is tuple, for a tuple display bound once
            kind in (ast.Is, ast.IsNot)
            and isinstance(left, ast.Call)
            and isinstance(left.func, ast.Name)
            and left.func.id == "type"
            and len(left.args) == 1
            and isinstance(left.args[0], ast.Name)
            and left.args[0].id in self.owner.tuples
            and isinstance(right, ast.Name)
            and right.id == "tuple"
        ):
            return ast.Constant(kind is ast.Is)
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.value, ast.Constant)
            and type(node.value.value) is tuple
            and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) is int
            and -len(node.value.value) <= node.slice.value < len(node.value.value)
        ):
            return ast.Constant(node.value.value[node.slice.value])
        return node


def _size(function: ast.FunctionDef) -> int:
    return sum(1 for _ in ast.walk(function))


def _store_counts(function: ast.FunctionDef) -> Counter[str]:
    counts: Counter[str] = Counter(argument.arg for argument in function.args.args)
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            counts[node.id] += 1
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            counts[node.target.id] += 1  # its target is also a Store: counted twice, never once
    return counts


def _tuple_binding(statement: ast.stmt) -> str | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Tuple)
    ):
        return statement.targets[0].id
    return None


def _loads_by_context(function: ast.FunctionDef) -> tuple[dict[str, list[str]], set[str]]:
    """For each name, how each of its reads uses it: "index i" (``t[i]``), "unpack"
    (``a, b = t`` at the top level) or "other"; and every name the function mentions."""
    uses: dict[str, list[str]] = {}
    names: set[str] = set()
    top_level = {id(statement) for statement in function.body}
    pending: list[tuple[ast.AST, ast.AST | None]] = [(function, None)]
    while pending:
        node, parent = pending.pop()
        pending.extend((child, node) for child in ast.iter_child_nodes(node))
        if not isinstance(node, ast.Name):
            continue
        names.add(node.id)
        if not isinstance(node.ctx, ast.Load):
            continue
        if (
            isinstance(parent, ast.Subscript)
            and parent.value is node
            and isinstance(parent.slice, ast.Constant)
            and type(parent.slice.value) is int
            and isinstance(parent.ctx, ast.Load)
        ):
            kind = f"index {parent.slice.value}"
        elif (
            isinstance(parent, ast.Assign)
            and id(parent) in top_level
            and len(parent.targets) == 1
            and isinstance(parent.targets[0], ast.Tuple)
            and all(isinstance(item, ast.Name) for item in parent.targets[0].elts)
        ):
            kind = "unpack"
        else:
            kind = "other"
        uses.setdefault(node.id, []).append(kind)
    return uses, names


def _only_indexed(name: str, loads: dict[str, list[str]], length: int) -> bool:
    """Whether every read of ``name`` takes one of its ``length`` items by a literal index
    or unpacks it at the top level."""
    indices = {f"index {position}" for position in range(length)}
    return all(kind == "unpack" or kind in indices for kind in loads.get(name, []))


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[ast.Name(name, ast.Store())], value=value, lineno=0)


def _unpacked(statement: ast.stmt, split: dict[str, int]) -> Iterator[ast.stmt]:
    """``a, b = t`` for a split tuple ``t``: ``a = t_0`` and ``b = t_1``."""
    if (
        isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Name)
        and statement.value.id in split
        and isinstance(statement.targets[0], ast.Tuple)
    ):
        name = statement.value.id
        targets = statement.targets[0].elts
        if len(targets) != split[name]:  # unpacking the wrong count raises, as it would have
            yield statement
            return
        for position, target in enumerate(targets):
            assert isinstance(target, ast.Name)
            yield _assign(target.id, ast.Name(f"{name}_{position}", ast.Load()))
        return
    yield statement


class _Indexer(ast.NodeTransformer):
    """``t[i]`` of a split tuple ``t`` as its element's name."""

    def __init__(self, split: dict[str, int]) -> None:
        self.split = split

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.split
            and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) is int
            and 0 <= node.slice.value < self.split[node.value.id]
        ):
            return ast.Name(f"{node.value.id}_{node.slice.value}", ast.Load())
        return node


def _pure(node: ast.AST) -> bool:
    """Whether evaluating ``node`` can do nothing but compute a value (no call)."""
    return all(isinstance(child, _PURE_NODES) for child in ast.walk(node))


def _mentioned(node: ast.AST) -> set[str]:
    """Every name ``node`` reads or binds."""
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}
