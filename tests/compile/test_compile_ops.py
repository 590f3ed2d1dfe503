"""Every row of the op table, compiled: a replay's value and gradients equal eager's bit for
bit, on new values of the same shapes (so nothing of the recording's values is kept)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_specs import LAYER_SPECS
from op_specs import SPECS as CORE_SPECS
from op_specs import op_inputs
from plan_kinds import plan_kind  # noqa: F401 - every test runs with both forms

import tinygrad_ann as tg

SPECS = CORE_SPECS + LAYER_SPECS


def weighted_sum(spec, weights):
    """The op's result folded to one number with fixed weights, so every element's
    gradient differs."""
    op = WITH_TENSOR_OPS.get(spec.name, spec.op)

    def function(*arguments):
        return (op(*arguments) * weights).sum()

    return function


def eager_value_and_grads(function, inputs, extra):
    fresh = [tg.tensor(t.data.copy(), requires_grad=True) for t in inputs]
    value = function(*fresh, *extra)
    value.backward()
    return value.data, [t.grad.data if t.grad is not None else None for t in fresh]


# Rows whose function computes with raw NumPy on .data, which a plan keeps as recorded,
# and the same op written with Tensor ops (a Tensor comparison is an op).
WITH_TENSOR_OPS = {"where": lambda a, b: tg.where(a > 0, a, b)}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_a_replay_equals_eager_for_every_op(spec, data):
    inputs, extra = data.draw(op_inputs(spec))
    shape = spec.op(*inputs, *extra).shape
    weights = np.random.default_rng(0).uniform(0.5, 1.5, size=shape)
    function = weighted_sum(spec, weights)
    compiled = tg.compile(function)
    calls = [inputs]
    # The same shapes with the values reversed: still in the op's domain, still distinct.
    calls.append([tg.tensor(np.flip(t.data).copy(), requires_grad=True) for t in inputs])
    calls.append([tg.tensor(t.data.copy(), requires_grad=True) for t in inputs])
    for arguments in calls:
        arguments = [tg.tensor(t.data.copy(), requires_grad=True) for t in arguments]
        expected_value, expected_grads = eager_value_and_grads(function, arguments, extra)
        value = compiled(*arguments, *extra)
        value.backward()
        assert value.data.dtype == expected_value.dtype
        assert np.array_equal(value.data, expected_value, equal_nan=True)
        for argument, expected in zip(arguments, expected_grads):
            got = None if argument.grad is None else argument.grad.data
            assert (got is None) == (expected is None)
            if got is not None:
                assert got.dtype == expected.dtype and np.array_equal(got, expected, equal_nan=True)
    assert compiled.recordings == 1


def test_check_names_the_op_of_a_row_that_reads_data():
    (spec,) = [spec for spec in SPECS if spec.name == "where"]
    compiled = tg.compile(lambda a, b: spec.op(a, b).sum(), check=True)
    compiled(tg.tensor([1.0, -1.0]), tg.tensor([5.0, 5.0]))
    with pytest.raises(tg.CompileError, match=r"op \d+ \(where"):
        compiled(tg.tensor([-1.0, 1.0]), tg.tensor([5.0, 5.0]))
