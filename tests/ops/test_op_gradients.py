"""Property tests over the op table: forward matches NumPy, gradients match finite differences.

Shapes and values come from ``tinygrad_ann.testing`` (0-d, size-1 and
broadcasting shapes included); the gradient check is ``assert_gradients_match``.

The op table's gradients are also held to the tight tolerance of op_specs.GRADIENT_TOLERANCE:
each drawn case is checked twice from one pair of Jacobians: the VJP agrees with central
differences within the tolerance, and the same VJP scaled by 1 + 1e-4 would not, so the
tolerance is proven able to see a wrong factor in every op.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_specs import LAYER_SPECS
from op_specs import CAUGHT_RELATIVE_ERROR, GRADIENT_TOLERANCE, op_inputs
from op_specs import SPECS as CORE_SPECS

import tinygrad_ann as tg
from tinygrad_ann.autograd.numerical import Jacobians, compute_jacobians, excess_error
from tinygrad_ann.testing import assert_gradients_match

SPECS = CORE_SPECS + LAYER_SPECS


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@given(data=st.data())
def test_forward_matches_numpy_reference(spec, data):
    inputs, extra = data.draw(op_inputs(spec))
    arrays = [t.data.copy() for t in inputs]
    result = spec.op(*inputs, *extra)
    expected = spec.reference(*arrays, *extra)
    assert result.shape == np.shape(expected)
    np.testing.assert_allclose(result.data, expected, rtol=1e-12, atol=1e-12)
    assert result.requires_grad


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@given(data=st.data())
def test_gradient_matches_finite_differences(spec, data):
    inputs, extra = data.draw(op_inputs(spec))
    assert_gradients_match(lambda *tensors: spec.op(*tensors, *extra), *inputs)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_second_derivative_matches_finite_differences(spec, data, seed):
    """Double backward: the recorded VJP's own derivatives against finite differences."""
    inputs, extra = data.draw(op_inputs(spec))
    assert tg.gradgradcheck(lambda *tensors: spec.op(*tensors, *extra), inputs, seed=seed)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@given(data=st.data())
def test_create_graph_gradient_equals_first_order_gradient(spec, data):
    inputs, extra = data.draw(op_inputs(spec))
    out = spec.op(*inputs, *extra)
    upstream = np.linspace(-1.0, 1.0, out.size).reshape(out.shape)
    plain = tg.grad(out, inputs, upstream, retain_graph=True)
    recorded = tg.grad(out, inputs, upstream, create_graph=True)
    for first, second in zip(plain, recorded):
        np.testing.assert_allclose(second.data, first.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@given(data=st.data())
def test_backward_keeps_inputs_and_gives_each_its_own_shape(spec, data):
    inputs, extra = data.draw(op_inputs(spec))
    before = [t.data.copy() for t in inputs]
    out = spec.op(*inputs, *extra)
    out.backward(np.ones(out.shape))
    for tensor, original in zip(inputs, before):
        np.testing.assert_array_equal(tensor.data, original)  # not mutated
        assert tensor.grad.shape == tensor.shape
        assert tensor.grad.dtype == tensor.dtype
        assert not np.shares_memory(tensor.grad.data, tensor.data)


def test_every_public_differentiable_function_has_a_spec():
    names = {spec.name.split("_")[0] for spec in SPECS}
    for function in (
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "neg",
        "matmul",
        "exp",
        "log",
        "sqrt",
        "abs",
        "clip",
        "relu",
        "leaky",
        "sigmoid",
        "tanh",
        "softmax",
        "log",
        "where",
        "sum",
        "mean",
        "max",
        "min",
        "maximum",
        "minimum",
        "reshape",
        "transpose",
        "flatten",
        "getitem",
        "concatenate",
        "stack",
        "mse",
        "cross",
        "nll",
        "binary",
        "linear",
    ):
        assert function in names, function


ATOL, RTOL = GRADIENT_TOLERANCE["atol"], GRADIENT_TOLERANCE["rtol"]


# Below this size an entry's 1e-4 error is inside atol + rtol * |g| and cannot be seen.
VISIBLE = 1.1 * ATOL / (CAUGHT_RELATIVE_ERROR - RTOL)


@pytest.mark.parametrize("spec", CORE_SPECS, ids=lambda spec: spec.name)
@settings(max_examples=10)
@given(data=st.data())
def test_gradient_meets_the_tight_tolerance_and_would_catch_a_1e4_error(spec, data):
    inputs, extra = data.draw(op_inputs(spec))

    def fn(*tensors):
        return spec.op(*tensors, *extra)

    jacobians = compute_jacobians(fn, inputs, GRADIENT_TOLERANCE["eps"])
    if any(np.any(excess_error(j, ATOL, RTOL) > 0) for j in jacobians):
        assert_gradients_match(fn, *inputs, **GRADIENT_TOLERANCE)  # raises, naming the entries
    for j in jacobians:
        if np.abs(j.analytic).max(initial=0.0) < VISIBLE:
            continue  # e.g. softmax over an axis of length 1: its gradient is exactly zero
        scaled = Jacobians(j.position, j.shape, j.analytic * (1 + CAUGHT_RELATIVE_ERROR), j.numeric)
        assert np.any(excess_error(scaled, ATOL, RTOL) > 0), f"input {j.position}"


def test_the_default_tolerance_of_assert_gradients_match_would_miss_a_1e4_error():
    # Why the op table states its own tolerance: the user-facing default is looser.
    x = tg.tensor(np.array([[0.3, -1.2, 2.0]]), requires_grad=True)
    target = np.array([2])
    good = tg.grad(tg.functional.cross_entropy(x, target, reduction="none"), [x], np.ones(1))[0]
    numeric = compute_jacobians(
        lambda t: tg.functional.cross_entropy(t, target, reduction="none"), [x]
    )[0]
    wrong = Jacobians(0, x.shape, good.numpy().reshape(1, -1) * 1.0001, numeric.numeric)
    assert not np.any(excess_error(wrong, 1e-5, 1e-3) > 0)
    assert np.any(excess_error(wrong, ATOL, RTOL) > 0)
