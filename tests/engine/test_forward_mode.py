"""Forward mode: tg.jvp, tg.vjp, Jacobians by columns, forward-over-reverse.

J·v comes from each op's one VJP, transposed (autograd/forward_mode.py), so every row
of the op table is checked here twice: against central differences along a random
direction, and against the reverse-mode Jacobian times that direction, which it must
equal to rounding. Then second order (the JVP of a gradient is tg.hvp), the API's
structures and modes, and every refusal.
"""

import numpy as np
import pytest
from custom_ops import Cube, Square
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_specs import LAYER_SPECS
from op_specs import GRADIENT_TOLERANCE, op_inputs
from op_specs import SPECS as CORE_SPECS

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn
from tinygrad_ann.autograd import derivatives
from tinygrad_ann.autograd.grad_mode import switches
from tinygrad_ann.errors import DTypeError, GradcheckError, ShapeError
from tinygrad_ann.testing import assert_gradients_match

SPECS = CORE_SPECS + LAYER_SPECS
EPS, ATOL, RTOL = GRADIENT_TOLERANCE["eps"], GRADIENT_TOLERANCE["atol"], GRADIENT_TOLERANCE["rtol"]


def directions(inputs, seed):
    generator = np.random.default_rng(seed)
    return tuple(generator.standard_normal(t.shape) for t in inputs)


def central_difference(fn, inputs, tangents):
    def at(step):
        moved = [tg.tensor(t.data + step * v, requires_grad=True) for t, v in zip(inputs, tangents)]
        return fn(*moved).data

    return (at(EPS) - at(-EPS)) / (2 * EPS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@settings(max_examples=10)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_jvp_of_every_op_matches_finite_differences_and_the_reverse_jacobian(spec, data, seed):
    inputs, extra = data.draw(op_inputs(spec))
    fn = lambda *tensors: spec.op(*tensors, *extra)  # noqa: E731
    tangents = directions(inputs, seed)
    value, product = tg.jvp(fn, tuple(inputs), tangents)
    np.testing.assert_array_equal(value.data, fn(*inputs).data)
    assert product.shape == value.shape and product.dtype == value.dtype
    assert not product.requires_grad and not value.requires_grad
    numeric = central_difference(fn, inputs, tangents)
    np.testing.assert_allclose(product.data, numeric, rtol=RTOL, atol=ATOL)
    # J v with J built by rows (reverse mode): the same linear map, up to rounding.
    jacobians = tg.jacobian(fn, tuple(inputs))
    by_rows = sum(
        (j.data.reshape(value.size, -1) @ v.ravel()).reshape(value.shape)
        for j, v in zip(jacobians, tangents)
    )
    np.testing.assert_allclose(product.data, by_rows, rtol=1e-10, atol=1e-12)
    assert all(t.grad is None for t in inputs)  # the caller's tensors are left alone


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@settings(max_examples=10)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_jvp_of_a_gradient_is_the_hessian_vector_product(spec, data, seed):
    """Second order, forward over reverse: d/dε ∇s(x + εv) = H v, for s = Σ w·op(x)."""
    inputs, extra = data.draw(op_inputs(spec))
    weights = np.random.default_rng(seed + 1).standard_normal(spec.op(*inputs, *extra).shape)

    def scalar(*tensors):
        return (spec.op(*tensors, *extra) * weights).sum()

    def gradient(*tensors):
        return tg.grad(scalar(*tensors), tensors, create_graph=True, allow_unused=True)

    tangents = directions(inputs, seed)
    _, products = tg.jvp(lambda *t: tuple(_filled(gradient(*t), t)), tuple(inputs), tangents)
    _, reverse = tg.hvp(scalar, tuple(inputs), tangents)
    _, forward = tg.hvp(scalar, tuple(inputs), tangents, mode="forward")
    for product, by_reverse, by_forward in zip(products, reverse, forward):
        np.testing.assert_allclose(product.data, by_reverse.data, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(by_forward.data, by_reverse.data, rtol=1e-9, atol=1e-10)
    for position, product in enumerate(products):  # and against differences of the gradient
        numeric = central_difference(
            lambda *t, p=position: _filled(gradient(*t), t)[p], inputs, tangents
        )
        np.testing.assert_allclose(product.data, numeric, rtol=1e-5, atol=1e-6)


def _filled(gradients, tensors):
    return [
        g if g is not None else tg.zeros(*t.shape, dtype=t.dtype)
        for g, t in zip(gradients, tensors)
    ]


# ------------------------------------------------------------------ structures and modes
def mlp(seed=0, n=3, width=5, m=4):
    generator = np.random.default_rng(seed)
    w1 = tg.tensor(generator.standard_normal((width, n)))
    w2 = tg.tensor(generator.standard_normal((m, width)))
    return lambda x: w2 @ (w1 @ x).tanh(), w1.data, w2.data


def closed_form_jacobian(w1, w2, x):
    hidden = np.tanh(w1 @ x)
    return w2 @ np.diag(1 - hidden**2) @ w1


def test_jvp_is_the_closed_form_jacobian_times_v():
    fn, w1, w2 = mlp()
    x, v = np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, -1.0])
    value, product = tg.jvp(fn, tg.tensor(x), tg.tensor(v))
    np.testing.assert_allclose(product.data, closed_form_jacobian(w1, w2, x) @ v, rtol=1e-13)
    np.testing.assert_allclose(value.data, w2 @ np.tanh(w1 @ x), rtol=1e-15)


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("n, m", [(3, 4), (6, 2), (1, 1)])
def test_jacobian_modes_all_give_the_closed_form(mode, n, m):
    fn, w1, w2 = mlp(n=n, m=m)
    x = np.linspace(-0.5, 0.7, n)
    jacobian = tg.jacobian(fn, tg.tensor(x), mode=mode)
    np.testing.assert_allclose(jacobian.data, closed_form_jacobian(w1, w2, x), rtol=1e-12)


def test_auto_takes_forward_mode_when_the_inputs_are_fewer(monkeypatch):
    taken = []
    real_forward, real_reverse = derivatives._forward_blocks, derivatives._jacobian_blocks
    monkeypatch.setattr(
        derivatives, "_forward_blocks", lambda *a: taken.append("forward") or real_forward(*a)
    )
    monkeypatch.setattr(
        derivatives, "_jacobian_blocks", lambda *a: taken.append("reverse") or real_reverse(*a)
    )
    # Forward mode costs a recording (about 7 rows) and 1.3 rows per column.
    for n, m, expected in [
        (2, 20, "forward"),
        (5, 2, "reverse"),
        (10, 19, "reverse"),
        (10, 21, "forward"),
    ]:
        fn, _, _ = mlp(n=n, m=m)
        tg.jacobian(fn, tg.tensor(np.ones(n)), mode="auto")
        assert taken.pop() == expected, (n, m)


def test_forward_jacobian_makes_one_pass_per_input_element(monkeypatch):
    """The counts that decide the crossover: forward mode records the VJP once, then
    makes one pass per input element; reverse mode one pass per output element."""
    from tinygrad_ann.autograd import engine

    passes = []
    real = engine.run_backward
    monkeypatch.setattr(engine, "run_backward", lambda *a, **k: passes.append(1) or real(*a, **k))
    fn, _, _ = mlp(n=3, m=40)
    tg.jacobian(fn, tg.tensor(np.ones(3)), mode="forward")
    assert len(passes) == 1 + 3
    passes.clear()
    tg.jacobian(fn, tg.tensor(np.ones(3)), mode="reverse")
    assert len(passes) == 40


def test_several_inputs_and_outputs_keep_their_structure():
    x, y = tg.tensor([1.0, 2.0]), tg.tensor(3.0)
    values, products = tg.jvp(
        lambda a, b: (a * b, (a**2).sum()), (x, y), (tg.ones(2), tg.tensor(0.5))
    )
    assert isinstance(values, tuple) and isinstance(products, tuple)
    np.testing.assert_allclose(products[0].data, [1.0 * 3 + 1.0 * 0.5, 3 + 2 * 0.5])
    np.testing.assert_allclose(products[1].data, 2 * 1 + 2 * 2)
    (first,) = tg.jacobian(lambda a: a * 2, (x,))  # a tuple of one input gives a tuple
    np.testing.assert_array_equal(first.data, 2 * np.eye(2))


def test_an_output_that_depends_on_no_input_gets_zeros_or_a_strict_error():
    x = tg.tensor([1.0, 2.0])
    _value, product = tg.jvp(lambda a, b: b * 2, (x, tg.tensor([3.0])), (tg.ones(2), tg.ones(1)))
    np.testing.assert_array_equal(product.data, [2.0])
    _, constant = tg.jvp(lambda a: tg.tensor([5.0, 6.0]), x, tg.ones(2))
    np.testing.assert_array_equal(constant.data, [0.0, 0.0])
    with pytest.raises(ValueError, match=r"jvp\(strict=True\): no output depends on input 0"):
        tg.jvp(lambda a, b: b * 2, (x, tg.tensor([3.0])), (tg.ones(2), tg.ones(1)), strict=True)
    with pytest.raises(ValueError, match=r"vjp\(strict=True\): no output depends on input 1"):
        tg.vjp(lambda a, b: a * 2, (x, tg.tensor([3.0])), strict=True)[1](tg.ones(2))
    with pytest.raises(ValueError, match=r"jacobian\(strict=True\): the output does not depend"):
        tg.jacobian(lambda a: tg.tensor([1.0]), x, strict=True)
    np.testing.assert_array_equal(tg.jacobian(lambda a: tg.tensor([1.0]), x).data, [[0.0, 0.0]])


def test_vjp_is_callable_many_times_and_matches_grad():
    fn, _, _ = mlp()
    x = tg.tensor([0.3, -0.2, 0.5], requires_grad=True)
    value, vjp_fn = tg.vjp(fn, x)
    for seed in range(3):
        cotangent = np.random.default_rng(seed).standard_normal(4)
        (expected,) = tg.grad(fn(x), x, cotangent)
        np.testing.assert_allclose(vjp_fn(cotangent).data, expected.data, rtol=1e-14)
    assert x.grad is None and not value.requires_grad


def test_create_graph_results_can_be_differentiated_again():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    v = tg.tensor([1.0, -1.0], requires_grad=True)
    _, product = tg.jvp(lambda a: a**3, x, v, create_graph=True)  # 3x²·v
    assert product.requires_grad
    by_x, by_v = tg.grad(product.sum(), (x, v))
    np.testing.assert_allclose(by_x.data, 6 * x.data * v.data)
    np.testing.assert_allclose(by_v.data, 3 * x.data**2)
    _, vjp_fn = tg.vjp(lambda a: a**3, x, create_graph=True)
    (second,) = tg.grad(vjp_fn(tg.ones(2)).sum(), x)
    np.testing.assert_allclose(second.data, 6 * x.data)
    for mode in ("reverse", "forward"):
        jacobian = tg.jacobian(lambda a: a**3, x, create_graph=True, mode=mode)
        (diagonal,) = tg.grad(jacobian.sum(), x)
        np.testing.assert_allclose(diagonal.data, 6 * x.data)


def test_both_modes_give_blocks_in_the_inputs_dtype():
    x = tg.tensor(np.array([0.5, -1.0], dtype=np.float32))
    widen = lambda t: t.astype(np.float64).tanh()  # noqa: E731 - a float64 output
    forward = tg.jacobian(widen, x, mode="forward")
    reverse = tg.jacobian(widen, x, mode="reverse")
    assert forward.dtype == reverse.dtype == np.float32
    np.testing.assert_array_equal(forward.data, reverse.data)


def test_float32_stays_float32_and_no_grad_outside_does_not_matter():
    x = tg.tensor(np.array([0.5, -1.0], dtype=np.float32))
    with tg.no_grad():
        _, product = tg.jvp(lambda a: a.tanh(), x, np.ones(2, dtype=np.float32))
    assert product.dtype == np.float32 and tg.is_grad_enabled()
    np.testing.assert_allclose(product.data, 1 - np.tanh(x.data) ** 2, rtol=1e-6)
    assert not switches().saved_as_constants


def test_modules_with_buffers_in_both_modes():
    torch_like = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
    torch_like.eval()
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    forward = tg.jacobian(torch_like, x, mode="forward")
    reverse = tg.jacobian(torch_like, x, mode="reverse")
    np.testing.assert_allclose(forward.data, reverse.data, rtol=1e-12, atol=1e-15)
    assert_gradients_match(lambda t: torch_like(t), x.requires_grad_(), check_forward=True)


def test_an_op_whose_vjp_cannot_be_recorded_is_summed_from_rows():
    x = tg.tensor([0.5, 2.0])
    _, product = tg.jvp(Cube.apply, x, tg.tensor([1.0, 3.0]))
    np.testing.assert_allclose(product.data, 3 * x.data**2 * [1.0, 3.0])
    forward = tg.jacobian(Cube.apply, x, mode="forward")
    np.testing.assert_allclose(forward.data, np.diag(3 * x.data**2))
    with pytest.raises(RuntimeError, match=r"backward of Cube works on NumPy arrays only"):
        tg.jvp(Cube.apply, x, tg.ones(2), create_graph=True)
    _, recorded = tg.jvp(Square.apply, x, tg.ones(2))  # differentiable_backward: transposed
    np.testing.assert_allclose(recorded.data, 2 * x.data)


# ------------------------------------------------------------------ the checks
class TwiceOnTensors(Square):
    """x² whose recorded VJP (on Tensors) is off by a factor 3/2: reverse mode is right."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        factor = 3.0 if isinstance(grad, tg.Tensor) else 2.0
        return factor * x * grad


def test_gradcheck_check_forward_catches_a_vjp_that_differs_on_tensors():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert tg.gradcheck(TwiceOnTensors.apply, [x])  # reverse mode cannot see it
    with pytest.raises(GradcheckError, match=r"forward mode: direction 0 .* J·v analytic"):
        tg.gradcheck(TwiceOnTensors.apply, [x], check_forward=True)
    with pytest.raises(GradcheckError, match=r"J·v \(tg.jvp\) does not match"):
        assert_gradients_match(TwiceOnTensors.apply, x, check_forward=True)
    assert tg.gradcheck(Square.apply, [x], check_forward=True)


def test_check_forward_reports_a_jvp_that_is_not_finite():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(GradcheckError, match="not finite"):
        assert_gradients_match(lambda t: t.sqrt(), x, check_forward=True)


# ------------------------------------------------------------------ refusals
def test_bad_tangents_and_inputs_are_named():
    x, w = tg.tensor([1.0, 2.0]), tg.tensor([[1.0, 0.0], [0.0, 1.0]])
    fn = lambda a, b: b @ a  # noqa: E731
    with pytest.raises(
        ShapeError, match=r"jvp: tangent 1 has shape \(2,\) but input 1 has shape \(2, 2\)"
    ):
        tg.jvp(fn, (x, w), (tg.ones(2), tg.ones(2)))
    with pytest.raises(
        DTypeError, match="jvp: tangent has dtype float32 but the input has dtype float64"
    ):
        tg.jvp(lambda a: a * 2, x, np.ones(2, dtype=np.float32))
    with pytest.raises(DTypeError, match="jvp: tangent has dtype int64"):
        tg.jvp(lambda a: a * 2, x, np.ones(2, dtype=np.int64))
    with pytest.raises(DTypeError, match="jvp: input 0 has dtype int64; only floating-point"):
        tg.jvp(lambda a: a * 2, (tg.tensor([1, 2]),), (np.ones(2),))
    with pytest.raises(ValueError, match=r"2 inputs .* tangents must be a tuple of 2"):
        tg.jvp(fn, (x, w), tg.ones(2))
    with pytest.raises(ValueError, match=r"one input .* pass one tangent, not a tuple"):
        tg.jvp(lambda a: a, x, (tg.ones(2), tg.ones(2)))
    with pytest.raises(TypeError, match="jvp: input 0 has type list, not Tensor"):
        tg.jvp(lambda a: a, ([1.0],), ([1.0],))
    with pytest.raises(
        TypeError, match="fn must return a Tensor or a tuple of Tensors; its result is a float"
    ):
        tg.jvp(lambda a: 1.0, x, tg.ones(2))
    with pytest.raises(TypeError, match="tangent is a str"):
        tg.jvp(lambda a: a, x, "up")
    np.testing.assert_array_equal(tg.jvp(lambda a: a * 2, x, [1, 1])[1].data, [2.0, 2.0])


def test_bad_cotangents_and_modes_are_named():
    _, vjp_fn = tg.vjp(lambda a: (a * 2, a.sum()), tg.tensor([1.0, 2.0]))
    with pytest.raises(
        ShapeError, match=r"vjp: cotangent 1 has shape \(2,\) but output 1 has shape \(\)"
    ):
        vjp_fn((tg.ones(2), tg.ones(2)))
    with pytest.raises(ValueError, match=r"2 outputs .* cotangents must be a tuple of 2"):
        vjp_fn(tg.ones(2))
    with pytest.raises(
        ValueError, match="jacobian: mode must be one of 'reverse', 'forward', 'auto', got 'fwd'"
    ):
        tg.jacobian(lambda a: a, tg.tensor([1.0]), mode="fwd")
    with pytest.raises(
        ValueError, match="hvp: mode must be one of 'reverse', 'forward', got 'auto'"
    ):
        tg.hvp(lambda a: a.sum(), tg.tensor([1.0]), tg.ones(1), mode="auto")
    with pytest.raises(ValueError, match="hessian: mode must be one of"):
        tg.hessian(lambda a: a.sum(), tg.tensor([1.0]), mode="both")


# ------------------------------------------------------------------ PyTorch, side by side
LABELS = np.array([2, 0, 1, 2])
PROBABILITIES = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
BINARY = np.array([1.0, 0.0, 1.0, 1.0])
WHERE = np.array([True, False, True, False])


def _torch_labels(torch):
    return torch.tensor(LABELS)


# Every op of the op table, each once (its rows that differ only in options are covered by
# the finite differences above): ours, PyTorch's, input shapes, and the domain drawn from.
TORCH_CASES = [
    ("add", lambda a, b: a + b, lambda torch, a, b: a + b, [(3, 1), (4,)], "any"),
    ("sub", lambda a, b: a - b, lambda torch, a, b: a - b, [(3, 4), (4,)], "any"),
    ("mul", lambda a, b: a * b, lambda torch, a, b: a * b, [(3, 4), (3, 1)], "any"),
    ("div", lambda a, b: a / b, lambda torch, a, b: a / b, [(3,), (3,)], "positive"),
    ("pow", lambda a, b: a**b, lambda torch, a, b: a**b, [(3,), (3,)], "positive"),
    ("neg", lambda a: -a, lambda torch, a: -a, [(3,)], "any"),
    ("maximum", tg.maximum, lambda torch, a, b: torch.maximum(a, b), [(5,), (5,)], "any"),
    ("minimum", tg.minimum, lambda torch, a, b: torch.minimum(a, b), [(5,), (5,)], "any"),
    ("matmul", tg.matmul, lambda torch, a, b: a @ b, [(2, 3, 4), (4, 2)], "any"),
    (
        "linear",
        F.linear,
        lambda torch, x, w, b: torch.nn.functional.linear(x, w, b),
        [(5, 3), (2, 3), (2,)],
        "any",
    ),
    ("exp", tg.exp, lambda torch, a: torch.exp(a), [(4,)], "any"),
    ("log", tg.log, lambda torch, a: torch.log(a), [(4,)], "positive"),
    ("sqrt", tg.sqrt, lambda torch, a: torch.sqrt(a), [(4,)], "positive"),
    ("abs", tg.abs, lambda torch, a: torch.abs(a), [(4,)], "any"),
    (
        "clip",
        lambda a: tg.clip(a, -0.5, 0.5),
        lambda torch, a: torch.clamp(a, -0.5, 0.5),
        [(6,)],
        "any",
    ),
    ("relu", tg.relu, lambda torch, a: torch.relu(a), [(6,)], "any"),
    (
        "leaky_relu",
        lambda a: F.leaky_relu(a, 0.1),
        lambda torch, a: torch.nn.functional.leaky_relu(a, 0.1),
        [(6,)],
        "any",
    ),
    ("sigmoid", tg.sigmoid, lambda torch, t: torch.sigmoid(t), [(4,)], "any"),
    ("tanh", lambda t: t.tanh(), lambda torch, t: torch.tanh(t), [(3, 2)], "any"),
    (
        "softmax",
        lambda t: tg.softmax(t, axis=0),
        lambda torch, t: torch.softmax(t, 0),
        [(2, 5)],
        "any",
    ),
    ("log_softmax", tg.log_softmax, lambda torch, t: torch.log_softmax(t, -1), [(2, 5)], "any"),
    (
        "where",
        lambda a, b: tg.where(WHERE, a, b),
        lambda torch, a, b: torch.where(torch.tensor(WHERE), a, b),
        [(4,), (4,)],
        "any",
    ),
    ("sum", lambda t: t.sum(axis=(0, 2)), lambda torch, t: t.sum(dim=(0, 2)), [(2, 3, 4)], "any"),
    (
        "mean",
        lambda t: t.mean(axis=0, keepdims=True),
        lambda torch, t: t.mean(dim=0, keepdim=True),
        [(3, 3)],
        "any",
    ),
    ("max", lambda t: t.max(axis=1), lambda torch, t: t.amax(dim=1), [(3, 4)], "any"),
    ("min", lambda t: t.min(), lambda torch, t: t.amin(), [(3, 4)], "any"),
    ("reshape", lambda t: t.reshape(4, 3), lambda torch, t: t.reshape(4, 3), [(3, 4)], "any"),
    (
        "transpose",
        lambda t: t.transpose(1, 2, 0),
        lambda torch, t: t.permute(1, 2, 0),
        [(2, 3, 4)],
        "any",
    ),
    ("getitem", lambda t: t[[2, 0, 2], 1:], lambda torch, t: t[[2, 0, 2], 1:], [(3, 4)], "any"),
    (
        "concatenate",
        lambda a, b: tg.concatenate([a, b, a]),
        lambda torch, a, b: torch.cat([a, b, a]),
        [(2, 3), (1, 3)],
        "any",
    ),
    (
        "stack",
        lambda a, b: tg.stack([a, b], axis=1),
        lambda torch, a, b: torch.stack([a, b], 1),
        [(3, 2), (3, 2)],
        "any",
    ),
    (
        "mse",
        F.mse_loss,
        lambda torch, a, b: torch.nn.functional.mse_loss(a, b),
        [(5,), (5,)],
        "any",
    ),
    (
        "cross_entropy",
        lambda x: F.cross_entropy(x, LABELS),
        lambda torch, x: torch.nn.functional.cross_entropy(x, _torch_labels(torch)),
        [(4, 3)],
        "any",
    ),
    (
        "cross_entropy_probabilities",
        lambda x: F.cross_entropy(x, PROBABILITIES),
        lambda torch, x: torch.nn.functional.cross_entropy(x, torch.tensor(PROBABILITIES)),
        [(4, 3)],
        "any",
    ),
    (
        "nll_loss",
        lambda x: F.nll_loss(x, LABELS),
        lambda torch, x: torch.nn.functional.nll_loss(x, _torch_labels(torch)),
        [(4, 3)],
        "any",
    ),
    (
        "binary_cross_entropy",
        lambda p: F.binary_cross_entropy(p, BINARY),
        lambda torch, p: torch.nn.functional.binary_cross_entropy(p, torch.tensor(BINARY)),
        [(4,)],
        "probability",
    ),
    (
        "binary_cross_entropy_with_logits",
        lambda x: F.binary_cross_entropy_with_logits(x, BINARY),
        lambda torch, x: torch.nn.functional.binary_cross_entropy_with_logits(
            x, torch.tensor(BINARY)
        ),
        [(4,)],
        "any",
    ),
    (
        "conv2d",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        lambda torch, x, w, b: torch.nn.functional.conv2d(x, w, b, stride=2, padding=1),
        [(2, 2, 5, 5), (3, 2, 3, 3), (3,)],
        "any",
    ),
    (
        "max_pool2d",
        lambda x: F.max_pool2d(x, 2),
        lambda torch, x: torch.nn.functional.max_pool2d(x, 2),
        [(1, 2, 4, 4)],
        "any",
    ),
    (
        "avg_pool2d",
        lambda x: F.avg_pool2d(x, 2, padding=1),
        lambda torch, x: torch.nn.functional.avg_pool2d(x, 2, padding=1),
        [(1, 2, 4, 4)],
        "any",
    ),
    (
        "batch_norm",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda torch, x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
        [(4, 3), (3,), (3,)],
        "any",
    ),
    (
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, (3,), w, b),
        lambda torch, x, w, b: torch.nn.functional.layer_norm(x, (3,), w, b),
        [(4, 3), (3,), (3,)],
        "any",
    ),
]


def _drawn(generator, shape, domain):
    values = generator.standard_normal(shape)
    if domain == "positive":
        return np.abs(values) + 0.5
    if domain == "probability":
        return 1 / (1 + np.exp(-values))
    return values


@pytest.mark.parametrize(
    "ours, theirs, shapes, domain", [c[1:] for c in TORCH_CASES], ids=[c[0] for c in TORCH_CASES]
)
def test_jvp_agrees_with_torch_func_jvp(ours, theirs, shapes, domain):
    """First order (J·v) and second order (the JVP of the gradient of Σ w·op) against
    torch.func.jvp, which pushes dual numbers forward instead of transposing a VJP."""
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    generator = np.random.default_rng(7)
    arrays = [_drawn(generator, shape, domain) for shape in shapes]
    tangents = [generator.standard_normal(shape) for shape in shapes]
    _, product = tg.jvp(ours, tuple(tg.tensor(a) for a in arrays), tuple(tangents))
    _, expected = torch.func.jvp(
        lambda *t: theirs(torch, *t),
        tuple(torch.tensor(a) for a in arrays),
        tuple(torch.tensor(v) for v in tangents),
    )
    np.testing.assert_allclose(product.data, expected.numpy(), rtol=1e-12, atol=1e-14)
    weights = generator.standard_normal(product.shape)

    def our_gradient(*tensors):
        found = tg.grad(
            (ours(*tensors) * weights).sum(), tensors, create_graph=True, allow_unused=True
        )
        return tuple(_filled(found, tensors))

    def their_gradient(*tensors):
        return torch.func.grad(
            lambda *t: (theirs(torch, *t) * torch.tensor(weights)).sum(),
            argnums=tuple(range(len(tensors))),
        )(*tensors)

    _, ours_second = tg.jvp(our_gradient, tuple(tg.tensor(a) for a in arrays), tuple(tangents))
    _, theirs_second = torch.func.jvp(
        their_gradient,
        tuple(torch.tensor(a) for a in arrays),
        tuple(torch.tensor(v) for v in tangents),
    )
    for mine, reference in zip(ours_second, theirs_second):
        np.testing.assert_allclose(mine.data, reference.numpy(), rtol=1e-10, atol=1e-12)


def test_a_compiled_function_has_its_jvp_from_rows():
    """A replay's VJPs run on arrays, so J·v of a compiled step is summed from its rows:
    the same numbers as eager's on every call, and create_graph refused by name."""
    fn = lambda t: (t.tanh() * t).sum(keepdims=True) * t  # noqa: E731
    step = tg.compile(fn)
    x, v = tg.tensor([0.5, -1.0]), tg.tensor([1.0, 2.0])
    _, expected = tg.jvp(fn, x, v)
    for _ in range(3):  # the first call records, the others replay
        _, product = tg.jvp(step, x, v)
        np.testing.assert_allclose(product.data, expected.data, rtol=1e-14)
    with pytest.raises(tg.CompileError, match="create_graph=True through a compiled function"):
        tg.jvp(step, x, v, create_graph=True)


def test_threads_computing_jvps_and_second_derivatives_do_not_mix():
    """The switch that records a VJP with constants is per thread: another thread's
    create_graph gradient, at the same time, stays a full recording."""
    import threading

    x = tg.tensor(np.linspace(-1.0, 1.0, 50))
    failures = []

    def jvps():
        for _ in range(30):
            _, product = tg.jvp(lambda t: t.tanh() * t, x, tg.ones(50))
            expected = 1 - np.tanh(x.data) ** 2
            if not np.allclose(product.data, expected * x.data + np.tanh(x.data)):
                failures.append("jvp")

    def second_derivatives():
        for _ in range(30):
            leaf = tg.tensor(x.data, requires_grad=True)
            (slope,) = tg.grad((leaf**3).sum(), leaf, create_graph=True)
            (curvature,) = tg.grad(slope.sum(), leaf)
            if not np.allclose(curvature.data, 6 * x.data):
                failures.append("hessian")

    threads = [threading.Thread(target=f) for f in (jvps, second_derivatives, jvps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
