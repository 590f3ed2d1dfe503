"""The op table's gradients at the tight tolerance of op_specs.GRADIENT_TOLERANCE.

Each drawn case is checked twice from one pair of Jacobians: the VJP agrees with
central differences within the tolerance, and the same VJP scaled by 1 + 1e-4 would
not, so the tolerance is proven able to see a wrong factor in every op.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import CAUGHT_RELATIVE_ERROR, GRADIENT_TOLERANCE, SPECS
from test_op_gradients import op_inputs

import tinygrad_ann as tg
from tinygrad_ann.gradcheck import Jacobians, compute_jacobians, excess_error
from tinygrad_ann.testing import assert_gradients_match

ATOL, RTOL = GRADIENT_TOLERANCE["atol"], GRADIENT_TOLERANCE["rtol"]
# Below this size an entry's 1e-4 error is inside atol + rtol * |g| and cannot be seen.
VISIBLE = 1.1 * ATOL / (CAUGHT_RELATIVE_ERROR - RTOL)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
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
