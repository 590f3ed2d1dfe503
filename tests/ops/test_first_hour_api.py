"""The Tensor API a PyTorch user types in the first hour, side by side with PyTorch.

Each name is checked against PyTorch in float64: values and gradients (under one
random upstream gradient) to 1e-12. Bad input gets a clear error, tested below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tests.op_specs import SPECS
from tinygrad_ann import nn
from tinygrad_ann.errors import DTypeError, LabelError, ShapeError

TOLERANCE = {"rtol": 1e-12, "atol": 1e-12}


def torch_module() -> Any:
    return pytest.importorskip("torch", reason="PyTorch is an optional reference")


def side_by_side(
    ours: Callable[..., Any], theirs: Callable[..., Any], *arrays: np.ndarray, seed: int = 0
) -> None:
    """``ours`` on Tensors and ``theirs`` on torch tensors: the same values and gradients."""
    torch = torch_module()
    leaves = [tg.tensor(a, requires_grad=True) for a in arrays]
    references = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours(*leaves)
    expected = theirs(*references)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE)
    assert out.shape == tuple(expected.shape)
    if not expected.requires_grad:
        return
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for leaf, reference in zip(leaves, references):
        want = np.zeros(leaf.shape) if reference.grad is None else reference.grad.numpy()
        got = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy()
        np.testing.assert_allclose(got, want, **TOLERANCE)


RNG = np.random.default_rng(1)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
CUBE = RNG.standard_normal((2, 3, 4))
POSITIVE = RNG.uniform(0.2, 2.0, (3, 4))

# (id, ours, theirs, inputs): both functions take the inputs as tensors of their library.
CASES: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[np.ndarray, ...]]] = [
    ("pow", lambda a, b: a.pow(b), lambda a, b: a.pow(b), (POSITIVE, Y)),
    ("pow_scalar", lambda a: a.pow(3), lambda a: a.pow(3), (X,)),
    ("var", lambda a: a.var(), lambda a: a.var(), (X,)),
    ("var_dim", lambda a: a.var(dim=1), lambda a: a.var(dim=1), (X,)),
    ("var_positional", lambda a: a.var(0, True, True), lambda a: a.var(0, True, True), (X,)),
    ("var_correction_0", lambda a: a.var(correction=0), lambda a: a.var(correction=0), (X,)),
    ("var_correction_2", lambda a: a.var(1, correction=2), lambda a: a.var(1, correction=2), (X,)),
    (
        "var_unbiased_false",
        lambda a: a.var(unbiased=False),
        lambda a: a.var(unbiased=False),
        (X,),
    ),
    ("var_only_unbiased", lambda a: a.var(False), lambda a: a.var(False), (X,)),
    ("var_dims", lambda a: a.var(dim=(0, 2)), lambda a: a.var(dim=(0, 2)), (CUBE,)),
    ("std", lambda a: a.std(), lambda a: a.std(), (X,)),
    (
        "std_dim_keepdim",
        lambda a: a.std(dim=-1, keepdim=True),
        lambda a: a.std(dim=-1, keepdim=True),
        (CUBE,),
    ),
    ("std_correction_0", lambda a: a.std(0, correction=0), lambda a: a.std(0, correction=0), (X,)),
    ("log1p", lambda a: a.log1p(), lambda a: a.log1p(), (POSITIVE - 0.5,)),
    ("log1p_function", tg.log1p, lambda a: a.log1p(), (np.array([1e-20, 0.3]),)),
    ("expm1", lambda a: a.expm1(), lambda a: a.expm1(), (X,)),
    ("expm1_function", tg.expm1, lambda a: a.expm1(), (np.array([1e-20, -0.3]),)),
    ("sin", lambda a: a.sin(), lambda a: a.sin(), (X,)),
    ("cos", tg.cos, lambda a: a.cos(), (X,)),
    ("norm", lambda a: a.norm(), lambda a: a.norm(), (X,)),
    ("norm_fro", lambda a: a.norm("fro"), lambda a: a.norm("fro"), (X,)),
    ("norm_dim", lambda a: a.norm(dim=1), lambda a: a.norm(dim=1), (X,)),
    (
        "norm_dim_keepdim",
        lambda a: a.norm(2, dim=(0, 2), keepdim=True),
        lambda a: a.norm(2, dim=(0, 2), keepdim=True),
        (CUBE,),
    ),
    ("norm_p1", lambda a: a.norm(p=1, dim=0), lambda a: a.norm(p=1, dim=0), (X,)),
    ("norm_inf", lambda a: a.norm(p=np.inf), lambda a: a.norm(p=float("inf")), (X,)),
    (
        "norm_inf_ties",
        lambda a: a.norm(p=np.inf, dim=1),
        lambda a: a.norm(p=float("inf"), dim=1),
        (np.array([[2.0, -2.0, 1.0], [0.0, 0.0, 0.0]]),),
    ),
    ("norm_zero", lambda a: a.norm(), lambda a: a.norm(), (np.zeros((2, 2)),)),
    ("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1), (X,)),
    ("cumsum_dim", lambda a: a.cumsum(dim=0), lambda a: a.cumsum(dim=0), (CUBE,)),
    ("cumsum_function", lambda a: tg.cumsum(a, -1), lambda a: a.cumsum(-1), (CUBE,)),
    ("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), (X,)),
    (
        "logsumexp_keepdim",
        lambda a: a.logsumexp(dim=(0, 2), keepdim=True),
        lambda a: a.logsumexp(dim=(0, 2), keepdim=True),
        (CUBE,),
    ),
    (
        "logsumexp_large",
        lambda a: tg.logsumexp(a, 0),
        lambda a: a.logsumexp(0),
        (np.array([1e4, -1e4, 1e4 - 1.0]),),
    ),
    ("clone", lambda a: a.clone() * 2, lambda a: a.clone() * 2, (X,)),
    ("double", lambda a: a.double() * a, lambda a: a.double() * a, (X,)),
    ("round", lambda a: a.round() * a, lambda a: a.round() * a, (X * 3,)),
    (
        "round_half_even",
        lambda a: a.round(),
        lambda a: a.round(),
        (np.array([0.5, 1.5, 2.5, -0.5]),),
    ),
    ("round_decimals", lambda a: a.round(decimals=2), lambda a: a.round(decimals=2), (X,)),
    ("abs", abs, abs, (X,)),
    ("remainder", lambda a, b: a % b, lambda a, b: a % b, (X * 5, POSITIVE - 1.1)),
    ("remainder_scalar", lambda a: a % 0.7, lambda a: a % 0.7, (X * 5,)),
    (
        # PyTorch's number % tensor has no derivative: the values only (its gradient, in SPECS).
        "remainder_reflected",
        lambda a: (2.5 % a).detach(),
        lambda a: (2.5 % a).detach(),
        (POSITIVE - 1.1,),
    ),
    (
        "floor_divide",
        lambda a, b: a // b,
        # PyTorch's a // b has no derivative; div(rounding_mode="floor") is it with gradient 0.
        lambda a, b: a.div(b, rounding_mode="floor"),
        (X * 5, POSITIVE - 1.1),
    ),
    ("floor_divide_values", lambda a: a // 0.7, lambda a: (a // 0.7).detach(), (X * 5,)),
    ("floor_divide_reflected", lambda a: 2.5 // a, lambda a: (2.5 // a).detach(), (X,)),
    ("unsqueeze", lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1), (X,)),
    ("unsqueeze_last", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), (X,)),
    ("squeeze_all", lambda a: a.squeeze(), lambda a: a.squeeze(), (X.reshape(3, 1, 4, 1),)),
    ("squeeze_dim", lambda a: a.squeeze(1), lambda a: a.squeeze(1), (X.reshape(3, 1, 4),)),
    ("squeeze_not_one", lambda a: a.squeeze(0), lambda a: a.squeeze(0), (X,)),
    (
        "squeeze_dims",
        lambda a: a.squeeze((1, 2)),
        lambda a: a.squeeze((1, 2)),
        (X.reshape(3, 1, 4, 1),),
    ),
    ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), (CUBE,)),
    ("permute_tuple", lambda a: a.permute((1, 0)), lambda a: a.permute((1, 0)), (X,)),
    ("repeat", lambda a: a.repeat(2, 3), lambda a: a.repeat(2, 3), (X,)),
    ("repeat_new_axes", lambda a: a.repeat(2, 1, 2), lambda a: a.repeat(2, 1, 2), (X,)),
    ("expand", lambda a: a.expand(3, -1), lambda a: a.expand(3, -1), (X[:1],)),
    ("expand_new_axes", lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), (X[:, :1],)),
    ("expand_tuple", lambda a: a.expand((2, -1, -1)), lambda a: a.expand((2, -1, -1)), (X,)),
    (
        "masked_fill",
        lambda a: a.masked_fill(tg.tensor(X > 0), -1.5),
        lambda a: a.masked_fill(a.detach() > 0, -1.5),
        (X,),
    ),
    (
        "masked_fill_broadcast",
        lambda a: a.masked_fill(np.array([True, False, False, True]), 0.0),
        lambda a: a.masked_fill(a.new_tensor([True, False, False, True]).bool(), 0.0),
        (X,),
    ),
    (
        "masked_fill_tensor_value",
        lambda a, v: a.masked_fill(X > 0, v.sum()),
        lambda a, v: a.masked_fill(a.new_tensor(X > 0).bool(), v.sum()),
        (X, np.array([0.5, 1.0])),
    ),
    (
        "gather",
        lambda a: a.gather(1, np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])),
        lambda a: a.gather(1, a.new_tensor([[0, 0, 3], [1, 2, 1], [3, 3, 3]]).long()),
        (X,),
    ),
    (
        "gather_dim0_smaller",
        lambda a: tg.gather(a, 0, tg.tensor([[2, 0], [2, 2]])),
        lambda a: a.gather(0, a.new_tensor([[2, 0], [2, 2]]).long()),
        (X,),
    ),
    ("tril", lambda a: a.tril(), lambda a: a.tril(), (X,)),
    ("tril_diagonal", lambda a: tg.tril(a, diagonal=-1), lambda a: a.tril(diagonal=-1), (CUBE,)),
    ("triu", lambda a: tg.triu(a), lambda a: a.triu(), (X,)),
    ("triu_diagonal", lambda a: a.triu(diagonal=2), lambda a: a.triu(diagonal=2), (CUBE,)),
    ("cat", lambda a, b: tg.cat([a, b], dim=1), lambda a, b: _torch_cat([a, b], 1), (X, Y)),
    ("cat_default", lambda a, b: tg.cat([a, b]), lambda a, b: _torch_cat([a, b], 0), (X, Y)),
    ("sum_dim", lambda a: a.sum(dim=1, keepdim=True), lambda a: a.sum(dim=1, keepdim=True), (X,)),
    ("mean_dims", lambda a: a.mean(dim=(0, 2)), lambda a: a.mean(dim=(0, 2)), (CUBE,)),
    ("max_dim", lambda a: a.max(dim=1)[0], lambda a: a.max(dim=1)[0], (X,)),
    (
        "min_dim",
        lambda a: a.min(dim=0, keepdim=True)[0],
        lambda a: a.min(dim=0, keepdim=True)[0],
        (X,),
    ),
]


def _torch_cat(tensors: list[Any], dim: int) -> Any:
    return torch_module().cat(tensors, dim=dim)


@pytest.mark.parametrize(
    ("ours", "theirs", "arrays"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matches_pytorch(ours, theirs, arrays):
    side_by_side(ours, theirs, *arrays)


def test_float_and_numel_and_the_builtins():
    torch = torch_module()
    x = tg.tensor(X, requires_grad=True)
    single = x.float()
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single.numpy(), torch.tensor(X).float().numpy())
    (single * 2).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), np.full(X.shape, 2.0))
    assert x.numel() == torch.tensor(X).numel() == 12
    assert tg.tensor(3.0).numel() == 1
    assert x.clone().data is not x.data
    assert not np.shares_memory(x.clone().data, x.data)
    np.testing.assert_array_equal(
        (np.ones(4) % tg.tensor([3.0, 0.7, 2.0, 1.5])).numpy(), np.ones(4) % [3.0, 0.7, 2.0, 1.5]
    )
    np.testing.assert_array_equal((np.ones(2) // tg.tensor([0.3, 2.0])).numpy(), [3.0, 0.0])


def test_logsumexp_of_large_values_does_not_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = tg.tensor([1e4, -1e4 + 1.0, 1e4]).logsumexp(0)
        out_neg = tg.tensor([-1e4, -1e4]).logsumexp(0)
    assert out.item() == pytest.approx(1e4 + np.log(2.0), rel=1e-15)
    assert out_neg.item() == pytest.approx(-1e4 + np.log(2.0), rel=1e-15)


# ------------------------------------------------------------------ creation and modes
def test_creation_functions_match_pytorch():
    torch = torch_module()
    np.testing.assert_array_equal(
        tg.full((2, 3), 1.5).numpy(), torch.full((2, 3), 1.5).double().numpy()
    )
    assert tg.full((2,), 1.5).dtype == tg.get_default_dtype()
    assert tg.full((2,), 3).dtype == np.int64 and tg.full(2, True).dtype == np.bool_
    assert tg.full((2,), 3, dtype=np.float32).dtype == np.float32
    assert tg.full((2,), 1.0, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tg.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(tg.eye(2, 4).numpy(), torch.eye(2, 4).numpy())
    np.testing.assert_allclose(
        tg.linspace(-1, 2, 7).numpy(),
        torch.linspace(-1, 2, 7, dtype=torch.float64).numpy(),
        rtol=1e-15,
    )
    assert tg.linspace(0, 1, 1).tolist() == [0.0]
    assert tg.linspace(0, 1, 0).shape == (0,)


def test_set_grad_enabled_as_a_function_and_as_a_context_manager():
    w = tg.ones(2, requires_grad=True)
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
        assert not (w * 2).requires_grad
        with tg.set_grad_enabled(True):
            assert (w * 2).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled() and not (w * 2).requires_grad
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()
    with tg.no_grad(), tg.set_grad_enabled(True):
        assert (w * 2).requires_grad


def test_set_grad_enabled_as_a_decorator_sets_the_mode_only_inside():
    @tg.set_grad_enabled(False)
    def doubled(t):
        return t * 2

    w = tg.ones(2, requires_grad=True)
    assert tg.is_grad_enabled()
    assert not doubled(w).requires_grad
    assert tg.is_grad_enabled()


def test_set_grad_enabled_is_per_thread():
    seen = []
    try:
        tg.set_grad_enabled(False)
        thread = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        thread.start()
        thread.join()
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert seen == [True]


def test_backward_with_inputs_accumulates_only_into_them():
    torch = torch_module()
    a, b = (tg.tensor(v, requires_grad=True) for v in (X, Y))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (X, Y))
    hidden, t_hidden = a * b, ta * tb
    hidden.retain_grad()
    t_hidden.retain_grad()
    (hidden.sin() * b).sum().backward(inputs=[b, hidden])
    (t_hidden.sin() * tb).sum().backward(inputs=[tb, t_hidden])
    assert a.grad is None and ta.grad is None
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), **TOLERANCE)
    np.testing.assert_allclose(hidden.grad.numpy(), t_hidden.grad.numpy(), **TOLERANCE)
    # It accumulates, a single tensor is accepted, and an unused input keeps no gradient.
    unused = tg.tensor(1.0, requires_grad=True)
    (a * b).sum().backward(inputs=b)
    (a * b).sum().backward(inputs=[b, unused])
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy() + 2 * X, **TOLERANCE)
    assert unused.grad is None and a.grad is None


def test_backward_with_inputs_and_create_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(inputs=[x], create_graph=True)
    assert x.grad is not None and x.grad.requires_grad
    (second,) = tg.grad(x.grad.sum(), x)
    np.testing.assert_array_equal(second.numpy(), [6.0, 12.0])


# ------------------------------------------------------------------ losses
WEIGHT = np.array([0.3, 1.0, 2.5, 0.7])
LOGITS = RNG.standard_normal((6, 4))
LABELS = np.array([0, 3, 2, 2, 1, 3])
SPATIAL = RNG.standard_normal((2, 4, 3, 2))
SPATIAL_LABELS = RNG.integers(0, 4, (2, 3, 2))
SPATIAL_LABELS[0, 0, 0] = 1
PROBS = RNG.uniform(0.1, 1.0, (6, 4))
PROBS /= PROBS.sum(axis=1, keepdims=True)
LOSS_OPTIONS = [
    {},
    {"weight": WEIGHT},
    {"ignore_index": 2},
    {"ignore_index": 3, "weight": WEIGHT},
    {"label_smoothing": 0.1},
    {"label_smoothing": 0.25, "weight": WEIGHT, "ignore_index": 1},
]


def _torch_options(options: dict[str, Any]) -> dict[str, Any]:
    torch = torch_module()
    return {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}


TARGETS = {
    "indices": (LOGITS, LABELS),
    "spatial": (SPATIAL, SPATIAL_LABELS),
    "probabilities": (LOGITS, PROBS),
    "one_sample": (LOGITS[0], LABELS[0]),
}
# ignore_index applies to class indices only (with probabilities it is refused, tested apart).
LOSS_CASES = [
    pytest.param(*TARGETS[kind], options, id=f"{kind}-{'-'.join(options) or 'plain'}")
    for kind in TARGETS
    for options in LOSS_OPTIONS
    if not (kind == "probabilities" and "ignore_index" in options)
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("logits", "target", "options"), LOSS_CASES)
def test_cross_entropy_matches_pytorch(logits, target, options, reduction):
    torch = torch_module()
    side_by_side(
        lambda x: F.cross_entropy(x, target, reduction=reduction, **options),
        lambda x: torch.nn.functional.cross_entropy(
            x, torch.tensor(target), reduction=reduction, **_torch_options(options)
        ),
        logits,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [o for o in LOSS_OPTIONS if "label_smoothing" not in o],
    ids=lambda o: "-".join(o) or "plain",
)
@pytest.mark.parametrize(
    ("scores", "target"),
    [(LOGITS, LABELS), (SPATIAL, SPATIAL_LABELS)],
    ids=["indices", "spatial"],
)
def test_nll_loss_matches_pytorch(scores, target, options, reduction):
    torch = torch_module()
    side_by_side(
        lambda x: F.nll_loss(x.log_softmax(1), target, reduction=reduction, **options),
        lambda x: torch.nn.functional.nll_loss(
            x.log_softmax(1), torch.tensor(target), reduction=reduction, **_torch_options(options)
        ),
        scores,
    )


def test_loss_modules_pass_the_options_on():
    torch = torch_module()
    ours = nn.CrossEntropyLoss(weight=WEIGHT, ignore_index=2, label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(WEIGHT), ignore_index=2, label_smoothing=0.1
    )
    side_by_side(lambda x: ours(x, LABELS), lambda x: theirs(x, torch.tensor(LABELS)), LOGITS)
    ours_nll = nn.NLLLoss(reduction="sum", weight=WEIGHT, ignore_index=0)
    theirs_nll = torch.nn.NLLLoss(reduction="sum", weight=torch.tensor(WEIGHT), ignore_index=0)
    side_by_side(
        lambda x: ours_nll(x, LABELS), lambda x: theirs_nll(x, torch.tensor(LABELS)), LOGITS
    )


def test_every_label_ignored_gives_nan_as_pytorch():
    with np.errstate(all="ignore"):
        loss = F.cross_entropy(tg.tensor(LOGITS[:2]), np.array([1, 1]), ignore_index=1)
    assert np.isnan(loss.item())
    assert (
        F.cross_entropy(
            tg.tensor(LOGITS[:2]), np.array([1, 1]), ignore_index=1, reduction="sum"
        ).item()
        == 0.0
    )


# ------------------------------------------------------------------ clear errors
def test_gather_errors():
    x = tg.tensor(X)
    with pytest.raises(ShapeError, match=r"^gather: index of shape \(3,\) must have as many axes"):
        x.gather(1, np.array([0, 1, 2]))
    with pytest.raises(IndexError, match=r"^gather: index 4 is out of bounds for axis 1 of size 4"):
        x.gather(1, np.array([[0, 4]]))
    with pytest.raises(IndexError, match=r"^gather: index -1 is out of bounds"):
        x.gather(0, np.array([[-1]]))
    with pytest.raises(ShapeError, match=r"^gather: index of shape \(4, 1\) is larger"):
        x.gather(1, np.zeros((4, 1), dtype=int))
    with pytest.raises(DTypeError, match=r"^gather: index must hold integers"):
        x.gather(1, np.zeros((1, 1)))
    with pytest.raises(IndexError, match=r"^gather: dim=2 is out of range"):
        x.gather(2, np.zeros((1, 1), dtype=int))


def test_masked_fill_errors():
    x = tg.tensor(X)
    with pytest.raises(
        DTypeError, match=r"^masked_fill: the mask must be boolean, got dtype int64"
    ):
        x.masked_fill(np.ones((3, 4), dtype=np.int64), 0.0)
    with pytest.raises(ShapeError, match=r"^masked_fill: a mask of shape \(2, 3, 4\) does not"):
        x.masked_fill(np.ones((2, 3, 4), dtype=bool), 0.0)
    with pytest.raises(ShapeError, match=r"^masked_fill: a mask of shape \(3,\) does not"):
        x.masked_fill(np.ones(3, dtype=bool), 0.0)
    with pytest.raises(ShapeError, match=r"^masked_fill: value must be a number or a 0-d tensor"):
        x.masked_fill(X > 0, tg.ones(2))


def test_var_and_std_argument_errors():
    x = tg.tensor(X)
    with pytest.raises(TypeError, match=r"^var: give unbiased= or correction=, not both"):
        x.var(unbiased=True, correction=1)
    with pytest.raises(TypeError, match=r"^std: correction must be a number"):
        x.std(correction="1")
    with pytest.raises(IndexError, match=r"^var: dim=2 is out of range for a tensor of shape"):
        x.var(dim=2)
    with pytest.raises(TypeError, match=r"^var: give axis= \(NumPy's name\) or dim="):
        x.var(dim=0, axis=0)
    with pytest.raises(ValueError, match=r"^logsumexp: dim \(0, -2\) names an axis twice"):
        x.logsumexp(dim=(0, -2))


def test_negative_correction_is_allowed_as_in_pytorch():
    side_by_side(lambda a: a.var(correction=-1), lambda a: a.var(correction=-1), X)


def test_shape_method_errors():
    x = tg.tensor(X)
    with pytest.raises(IndexError, match=r"^unsqueeze: dim=3 is out of range .* \(from -3 to 2\)"):
        x.unsqueeze(3)
    with pytest.raises(ShapeError, match=r"^permute: dims \(0, 0\) must name each"):
        x.permute(0, 0)
    with pytest.raises(ShapeError, match=r"^permute: dims \(1,\) must name each"):
        x.permute(1)
    with pytest.raises(ShapeError, match=r"^expand: cannot expand shape \(3, 4\) to \(3, 5\)"):
        x.expand(3, 5)
    with pytest.raises(ShapeError, match=r"^expand: 1 sizes \(4,\) for a tensor of shape"):
        x.expand(4)
    with pytest.raises(ShapeError, match=r"-1 only keeps an existing axis"):
        x.expand(-1, 3, 4)
    with pytest.raises(ShapeError, match=r"^repeat: sizes \(2,\) for a tensor of shape \(3, 4\)"):
        x.repeat(2)
    with pytest.raises(ShapeError, match=r"^tril: needs at least 2 axes"):
        tg.tril(tg.ones(3))
    with pytest.raises(ShapeError, match=r"^triu: needs at least 2 axes"):
        tg.ones(3).triu()
    with pytest.raises(ValueError, match=r"^norm: p must be 1, 2, inf or 'fro', got 3"):
        x.norm(p=3)
    with pytest.raises(TypeError, match=r"^cumsum: give the axis"):
        x.cumsum()
    with pytest.raises(IndexError, match=r"^cumsum: dim=-3 is out of range"):
        x.cumsum(-3)


def test_mode_and_creation_errors():
    with pytest.raises(TypeError, match=r"^set_grad_enabled: mode must be True or False, got 1"):
        tg.set_grad_enabled(1)  # type: ignore[arg-type]
    assert tg.is_grad_enabled()
    with pytest.raises(ValueError, match=r"^linspace: steps must be a non-negative int"):
        tg.linspace(0, 1, -1)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^backward\(\): inputs= is empty"):
        (x * 2).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match=r"^backward\(\): inputs\[0\] does not require grad"):
        (x * 2).sum().backward(inputs=[tg.tensor(1.0)])


def test_loss_errors():
    logits = tg.tensor(LOGITS)
    with pytest.raises(LabelError, match=r"^cross_entropy: target holds class index 4, outside"):
        F.cross_entropy(logits, np.array([0, 1, 2, 4, 1, 1]), ignore_index=1)
    with pytest.raises(LabelError, match=r"^cross_entropy: target holds class index -100"):
        F.cross_entropy(logits, np.array([0, 1, 2, -100, 1, 1]), ignore_index=1)
    with pytest.raises(LabelError, match=r"^nll_loss: target holds class index 7"):
        F.nll_loss(logits, np.array([0, 7, 2, 0, 1, 1]), weight=WEIGHT)
    # An ignored label may lie outside the classes, as PyTorch's default -100 does.
    assert np.isfinite(F.cross_entropy(logits, np.array([0, -100, 2, -100, 1, 1])).item())
    assert np.isfinite(F.nll_loss(logits, np.array([0, 9, 2, 9, 1, 1]), ignore_index=9).item())
    with pytest.raises(ShapeError, match=r"^cross_entropy: weight must hold one number per class"):
        F.cross_entropy(logits, LABELS, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"^cross_entropy: label_smoothing must lie in \[0, 1\]"):
        F.cross_entropy(logits, LABELS, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"^cross_entropy: ignore_index applies to class-index"):
        F.cross_entropy(logits, PROBS, ignore_index=0)
    with pytest.raises(ShapeError, match=r"^cross_entropy: scores of shape \(2, 4, 3, 2\) need"):
        F.cross_entropy(tg.tensor(SPATIAL), SPATIAL_LABELS[:, :2])


# ------------------------------------------------------------------ coverage
FIRST_HOUR_OPS = (
    "pow",
    "log1p",
    "expm1",
    "sin",
    "cos",
    "var",
    "std",
    "logsumexp",
    "norm",
    "cumsum",
    "clone",
    "double",
    "round",
    "abs",
    "remainder",
    "floor",
    "unsqueeze",
    "squeeze",
    "permute",
    "repeat",
    "expand",
    "masked",
    "gather",
    "tril",
    "triu",
    "cross",
    "nll",
)


def test_every_first_hour_differentiable_function_has_a_spec():
    names = {spec.name.split("_")[0] for spec in SPECS}
    assert [name for name in FIRST_HOUR_OPS if name not in names] == []
    specs = {spec.name for spec in SPECS}
    for options in ("weight_ignore_smoothing", "spatial"):
        assert f"cross_entropy_{options}" in specs
    assert "nll_loss_weight_ignore" in specs


def test_every_new_name_is_public():
    for name in ("full", "eye", "linspace", "cat", "tril", "triu", "gather", "set_grad_enabled"):
        assert name in tg.__all__ and callable(getattr(tg, name))
    for method in (
        "pow std var log1p expm1 sin cos norm cumsum logsumexp clone float double numel round "
        "unsqueeze squeeze permute repeat expand masked_fill gather tril triu __abs__ __mod__ "
        "__rmod__ __floordiv__ __rfloordiv__"
    ).split():
        assert callable(getattr(tg.Tensor, method)), method
    assert {case[0].split("_")[0] for case in CASES} >= {"var", "std", "norm", "gather", "cat"}


def test_the_functions_take_dim_and_keepdim_too():
    x = tg.tensor(X)
    assert tg.sum(x, dim=1, keepdim=True).shape == (3, 1)
    np.testing.assert_array_equal(tg.mean(x, dim=0).numpy(), X.mean(axis=0))
    values, indices = tg.max(x, dim=1)
    np.testing.assert_array_equal(values.numpy(), X.max(axis=1))
    np.testing.assert_array_equal(indices.numpy(), X.argmax(axis=1))
    assert tg.min(x, dim=0, keepdim=True).values.shape == (1, 4)
    assert tg.max(x, axis=1).shape == (3,)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_mean_over_only_ignored_targets_is_nan_without_a_warning(loss):
    """As PyTorch: the loss and its gradient are NaN, and NumPy prints nothing."""
    import warnings

    scores = tg.tensor([[1.0, 2.0], [0.5, 0.1]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = getattr(F, loss)(scores, np.array([-100, -100]))
        value.backward()
    assert np.isnan(value.item()) and np.isnan(scores.grad.numpy()).all()


def test_transpose_of_two_axes_swaps_them_as_pytorch_does():
    """x.transpose(1, 2) on a 3-d tensor is torch.transpose's swap; NumPy's full
    permutations and the 2-d case mean what they did."""
    data = np.arange(24.0).reshape(2, 3, 4)
    x = tg.tensor(data, requires_grad=True)
    swapped = x.transpose(1, 2)
    np.testing.assert_array_equal(swapped.numpy(), np.swapaxes(data, 1, 2))
    np.testing.assert_array_equal(x.transpose(-1, 0).numpy(), np.swapaxes(data, -1, 0))
    np.testing.assert_array_equal(x.transpose(0, 2, 1).numpy(), data.transpose(0, 2, 1))
    np.testing.assert_array_equal(tg.transpose(x, 2, 0).numpy(), np.swapaxes(data, 2, 0))
    (swapped * np.arange(24.0).reshape(2, 4, 3)).sum().backward()
    np.testing.assert_array_equal(
        x.grad.numpy(), np.swapaxes(np.arange(24.0).reshape(2, 4, 3), 1, 2)
    )
    with pytest.raises(
        IndexError, match="transpose: axis 3 is out of range for a tensor with 3 axes"
    ):
        x.transpose(0, 3)


def test_ignore_index_with_probability_targets_is_refused():
    with pytest.raises(ValueError, match="ignore_index applies to class-index targets"):
        F.cross_entropy(tg.tensor(LOGITS), PROBS, ignore_index=1)


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_and_any_are_pytorchs_and_replay_compiled(name):
    """Bool Tensors over dim= or axis=, with keepdim; an op, so tg.compile replays them."""
    data = np.array([[1.0, -2.0, 0.0], [3.0, 4.0, 5.0]])
    for kwargs, numpy_kwargs in [
        ({}, {}),
        ({"dim": 1}, {"axis": 1}),
        ({"dim": 0, "keepdim": True}, {"axis": 0, "keepdims": True}),
        ({"axis": (0, 1)}, {"axis": (0, 1)}),
    ]:
        result = getattr(tg.tensor(data) > 0, name)(**kwargs)
        expected = getattr(np, name)(data > 0, **numpy_kwargs)
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), expected)
    step = tg.compile(lambda t: getattr(t > 0, name)(dim=1))
    for seed in range(3):  # the first call records, the others replay
        values = np.random.default_rng(seed).standard_normal((4, 3))
        np.testing.assert_array_equal(
            step(tg.tensor(values)).numpy(), getattr(np, name)(values > 0, axis=1)
        )


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_and_any_match_pytorch(name):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    data = np.array([[1.0, -2.0, 0.0], [3.0, 4.0, 5.0]])
    for kwargs in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
        theirs = getattr(torch.tensor(data) > 0, name)(**kwargs)
        ours = getattr(tg.tensor(data) > 0, name)(**kwargs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
