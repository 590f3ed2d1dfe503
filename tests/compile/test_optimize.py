"""The simplification of a plan's straight-line code: each pass on its own, and random
programs that must compute the same values and make the same calls once simplified."""

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_ann.compile.optimize import constant_items, is_literal, simplify


def run(source: str, **arguments):
    """Call the function ``source`` defines, with a ``log`` that records every call."""
    calls: list = []
    namespace = {"log": lambda value: calls.append(value) or value, **arguments.pop("env", {})}
    exec(source, namespace)
    function = next(value for name, value in namespace.items() if name.startswith("f"))
    return function(**arguments), calls


def simplified(source: str, constants=None, arrays=frozenset()) -> str:
    return simplify(textwrap.dedent(source), constants or {}, arrays)


def test_recorded_needs_are_folded_and_the_branches_they_decide_cut():
    source = """
    def f(a, b):
        needs_a__0, needs_b__0 = needs__0
        saved__0 = (a if needs_b__0 else None, b if needs_a__0 else None)
        x, y = saved__0
        if needs_a__0:
            g = log(x)
        else:
            g = log(y)
        return g
    """
    for needs, call in [((True, True), "log(a)"), ((True, False), "log(None)")]:
        result = simplified(source, {"needs__0": needs})
        assert "needs" not in result and "else" not in result and "if" not in result
        assert call in result
        expected = run(textwrap.dedent(source), a=3, b=4, env={"needs__0": needs})
        assert run(result, a=3, b=4) == expected


def test_calls_stay_even_when_their_result_is_unused_and_pure_dead_stores_go():
    result = simplified(
        """
        def f(a):
            unused = a * 2
            ignored = log(a)
            overwritten = ()
            overwritten = (a,)
            return overwritten
        """
    )
    assert "unused" not in result and "log(a)" in result and "()" not in result
    assert run(result, a=5) == (((5,)), [5])


def test_a_copy_of_a_name_bound_again_later_is_kept():
    source = textwrap.dedent(
        """
        def f(a):
            b = a
            a = a + 1
            return b + a
        """
    )
    assert run(simplify(source, {}), a=1) == run(source, a=1) == (3, [])


def test_plan_names_win_over_an_inlined_ops_locals():
    result = simplified(
        """
        def f(a0):
            out__1 = a0 * 2
            result__1 = out__1
            t1 = result__1
            return t1
        """
    )
    assert result.splitlines()[1].strip() == "t1 = a0 * 2"


def test_x_is_none_is_decided_only_for_names_known_to_be_arrays():
    source = """
    def f(a0, b):
        if a0 is not None:
            c = log(a0)
        if b is None:
            c = log(b)
        return c
    """
    result = simplified(source, arrays={"a0"})
    assert "a0 is not None" not in result and "b is None" in result


def test_a_tuple_indexed_out_of_range_is_not_split():
    source = """
    def f(a):
        t = (a, a)
        return t[0], t[2]
    """
    result = simplified(source)
    with pytest.raises(IndexError):
        run(result, a=1)


def test_literal_items_of_a_saved_tuple_are_known_unless_bound_in_a_block():
    source = "def f(a):\n    s = (a, None, 0.5)\n    u = (None,)\n    return s\n"
    assert constant_items(source, ["s", "u", "missing"]) == {
        "s": (3, {1: None, 2: 0.5}),
        "u": (1, {0: None}),
        "missing": (0, {}),
    }
    guarded = "def f(a):\n    s = (a, None)\n    s = (s[0].copy(), s[1])\n    return s\n"
    assert constant_items(guarded, ["s"]) == {"s": (2, {1: None})}
    in_block = "def f(a, c):\n    s = (a, None)\n    if c:\n        s = (None, a)\n    return s\n"
    assert constant_items(in_block, ["s"]) == {"s": (0, {})}
    twice = "def f(a):\n    s = (a, None)\n    s = (None, a)\n    return s\n"
    assert constant_items(twice, ["s"]) == {"s": (0, {})}


def test_only_finite_python_literals_are_written_into_code():
    assert is_literal((True, None, 1, 0.5, "sum"))
    assert not is_literal(float("nan")) and not is_literal(float("inf"))
    import numpy as np

    assert not is_literal(np.float64(0.5)) and not is_literal(np.ones(2))


# ------------------------------------------------------------------ random programs
@st.composite
def programs(draw):
    """A straight-line function of ints and pairs, with calls, copies, literals, tuples,
    unpacking, branches on known and unknown flags, and/or, and values nobody reads."""
    lines, ints, pairs = [], ["a", "b"], []
    flags = {"known": draw(st.booleans())}
    for number in range(draw(st.integers(3, 14))):
        name = f"v{number}"
        kind = draw(
            st.sampled_from(
                [
                    "literal",
                    "copy",
                    "add",
                    "pair",
                    "index",
                    "unpack",
                    "call",
                    "if",
                    "ifexp",
                    "boolop",
                ]
            )
        )
        pick = lambda: draw(st.sampled_from(ints))  # noqa: E731
        if kind == "literal":
            lines.append(f"{name} = {draw(st.integers(-3, 3))}")
        elif kind == "copy":
            lines.append(f"{name} = {pick()}")
        elif kind == "add":
            lines.append(f"{name} = {pick()} + {pick()}")
        elif kind == "pair":
            lines.append(f"{name} = ({pick()}, {pick()})")
            pairs.append(name)
            continue
        elif kind == "index" and pairs:
            lines.append(f"{name} = {draw(st.sampled_from(pairs))}[{draw(st.integers(0, 1))}]")
        elif kind == "unpack" and pairs:
            lines.append(f"{name}, {name}b = {draw(st.sampled_from(pairs))}")
            ints.append(f"{name}b")
        elif kind == "call":
            lines.append(f"{name} = log({pick()})")
        elif kind == "if":
            flag = draw(st.sampled_from(["known", "c"]))
            lines += [f"if {flag}:", f"    {name} = {pick()}", "else:", f"    {name} = {pick()}"]
        elif kind == "ifexp":
            lines.append(f"{name} = {pick()} if {draw(st.sampled_from(['known', 'c']))} else None")
            lines.append(f"{name} = {name} if {name} is not None else {pick()}")
        elif kind == "boolop":
            op = draw(st.sampled_from(["and", "or"]))
            first = draw(st.sampled_from(["known", "True", "False", pick()]))
            second = draw(st.sampled_from(["known", "True", "False", pick()]))
            lines.append(f"{name} = {first} {op} {second}")
        else:
            lines.append(f"{name} = {pick()}")
        ints.append(name)
    returned = draw(st.lists(st.sampled_from(ints + pairs), min_size=1, max_size=3))
    body = "\n".join(f"    {line}" for line in lines)
    return f"def f(a, b, c):\n{body}\n    return ({', '.join(returned)},)\n", flags


@settings(max_examples=300, deadline=None)
@given(programs(), st.integers(-5, 5), st.integers(-5, 5), st.booleans())
def test_a_simplified_program_returns_the_same_and_makes_the_same_calls(program, a, b, c):
    source, constants = program
    expected = run(source, a=a, b=b, c=c, env=constants)
    result = simplify(source, constants)
    assert repr(run(result, a=a, b=b, c=c)) == repr(expected), result  # True is not 1


def test_simplifying_a_longer_plan_parses_no_more_often(monkeypatch):
    """Simplification is linear in a plan's length: the parses (and walks) per round do
    not grow with the number of ops. Per op they did once, which took half a minute for
    a 1,000-op chain."""
    import ast

    import tinygrad_ann as tg

    def parses_to_simplify(links: int) -> int:
        def chain(x):
            for _ in range(links):
                x = (x * 1.0001).tanh()
            return x.sum()

        step = tg.compile(chain)
        step(tg.tensor([0.1, 0.2], requires_grad=True))
        plan = step.recorded()
        parses = []
        real_parse = ast.parse
        monkeypatch.setattr(ast, "parse", lambda *a, **k: parses.append(1) or real_parse(*a, **k))
        plan.upgrade(simplified=True)
        monkeypatch.setattr(ast, "parse", real_parse)
        return len(parses)

    assert parses_to_simplify(40) == parses_to_simplify(5) > 0


def test_plans_made_in_two_threads_parse_one_at_a_time(monkeypatch):
    """A thread switch inside ast.parse can make CPython 3.11 raise "AST constructor
    recursion depth mismatch" (python/cpython#106905): plans parse one at a time."""
    import ast
    import threading
    import time

    import tinygrad_ann as tg

    inside, most = [0], [0]
    real_parse = ast.parse

    def slow_parse(*arguments, **keywords):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.002)  # lets the other thread run, as a collection's __del__ may
        try:
            return real_parse(*arguments, **keywords)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(ast, "parse", slow_parse)
    errors = []

    def make_plans(scale):
        try:
            for links in range(1, 4):
                step = tg.compile(lambda x, links=links: (x * scale).tanh().sum() * links)
                step(tg.tensor([0.1, 0.2], requires_grad=True))
                step.plan(source=True)  # simplifies: parses the plan's code
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=make_plans, args=(scale,)) for scale in (2.0, 3.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and most[0] == 1
