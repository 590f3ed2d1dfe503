"""apply, requires_grad_, named Sequential, Identity, padding="same" and gradient clipping."""

import math
import re
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn


def test_apply_visits_children_first_then_self_and_returns_self():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 1)))
    seen = []
    assert model.apply(lambda module: seen.append(type(module).__name__)) is model
    assert seen == ["Linear", "Tanh", "Linear", "Sequential", "Sequential"]


def test_requires_grad_sets_every_parameter_and_returns_self():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    assert model[0].requires_grad_(False) is model[0]
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match=r"^Sequential\.requires_grad_: expected True or False"):
        model.requires_grad_("no")


def test_sequential_from_an_ordered_dict_names_its_layers():
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 3)), ("out", nn.Linear(3, 1))]))
    assert list(model.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert model[1] is model.out and len(model) == 2
    model.append(nn.Tanh())
    assert [name for name, _ in model.named_children()] == ["hidden", "out", "2"]
    assert model(tg.ones(4, 2)).shape == (4, 1)
    with pytest.raises(TypeError, match=r"collections\.OrderedDict, as PyTorch requires"):
        nn.Sequential({"hidden": nn.Linear(2, 3)})
    with pytest.raises(TypeError, match=r"^Sequential: layer 'x' is a int, not a Module$"):
        nn.Sequential(OrderedDict(x=3))
    with pytest.raises(KeyError, match=r"without '\.'"):
        nn.Sequential(OrderedDict([("a.b", nn.Tanh())]))


def test_identity_ignores_its_arguments_and_returns_the_input():
    x = tg.ones(2, 3)
    assert nn.Identity(3, 4, bias=False)(x) is x
    assert list(nn.Identity().parameters()) == []


def test_same_padding_with_stride_is_refused_as_pytorch_refuses_it():
    message = (
        "padding='same' is not supported for strided convolutions (stride=(2, 2)), as in "
        "PyTorch; use stride=1, or give the padding as numbers"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=re.escape(message)):
        F.conv2d(tg.ones(1, 1, 5, 5), tg.ones(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding must be an int, a \(height, width\) pair, "):
        F.conv2d(tg.ones(1, 1, 5, 5), tg.ones(1, 1, 3, 3), padding="full")


def test_clip_grad_norm_with_a_non_finite_norm():
    w = nn.Parameter(np.zeros(2))
    w.grad = tg.tensor([np.inf, 1.0])
    with pytest.raises(
        RuntimeError, match=r"^clip_grad_norm_: the total norm of order 2\.0 .* inf"
    ):
        nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(w.grad.numpy(), [np.inf, 1.0])  # unchanged
    assert math.isinf(nn.utils.clip_grad_norm_([w], 1.0).item())


def test_clipping_skips_parameters_without_gradients():
    w = nn.Parameter(np.zeros(2))
    assert nn.utils.clip_grad_norm_(w, 1.0).item() == 0.0
    nn.utils.clip_grad_value_([w], 1.0)
    assert w.grad is None
    with pytest.raises(ValueError, match=r"^clip_grad_value_: clip_value must be a number >= 0"):
        nn.utils.clip_grad_value_([w], -1.0)


# ------------------------------------------------------------------ against PyTorch
@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch is an optional reference")


@pytest.mark.parametrize(
    ("kernel", "dilation"), [(3, 1), (4, 1), ((2, 5), 1), ((4, 3), (2, 1)), (1, 1)]
)
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_string_padding_matches_pytorch_forward_and_backward(torch, kernel, dilation, padding):
    tg.manual_seed(0)
    ours = nn.Conv2d(2, 3, kernel, padding=padding, dilation=dilation, dtype=np.float64)
    theirs = torch.nn.Conv2d(2, 3, kernel, padding=padding, dilation=dilation, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    values = np.random.default_rng(1).normal(size=(2, 2, 7, 8))
    x, x_torch = tg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    y, y_torch = ours(x), theirs(x_torch)
    assert y.shape == tuple(y_torch.shape)
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=1e-12, atol=1e-12)
    (y * y).sum().backward()
    (y_torch * y_torch).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12
    )
    unbatched = F.conv2d(x[0], ours.weight, ours.bias, padding=padding, dilation=dilation)
    np.testing.assert_allclose(unbatched.numpy(), y.numpy()[0], rtol=1e-12, atol=1e-12)
    assert repr(ours).endswith(repr(theirs)[len("Conv2d") :])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(torch, norm_type, max_norm):
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for mine, their, grad in zip(ours, theirs, grads):
        mine.grad, their.grad = tg.tensor(grad), torch.tensor(grad)
    extra = nn.Parameter(np.zeros(2))  # no gradient: skipped by both
    total = nn.utils.clip_grad_norm_([*ours, extra], max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, tg.Tensor) and total.dtype == np.float64
    assert total.item() == pytest.approx(expected.item(), rel=1e-14)
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=1e-14)


def test_clip_grad_value_matches_pytorch(torch):
    grad = np.random.default_rng(3).normal(size=(4, 3))
    mine, their = nn.Parameter(np.zeros((4, 3))), torch.nn.Parameter(torch.zeros(4, 3).double())
    mine.grad, their.grad = tg.tensor(grad), torch.tensor(grad)
    assert nn.utils.clip_grad_value_(mine, 0.5) is None
    torch.nn.utils.clip_grad_value_(their, 0.5)
    np.testing.assert_array_equal(mine.grad.numpy(), their.grad.numpy())


def test_named_sequential_state_dict_keys_are_pytorchs(torch):
    ours = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU(), skip=nn.Identity()))
    theirs = torch.nn.Sequential(
        OrderedDict(conv=torch.nn.Conv2d(1, 2, 3), act=torch.nn.ReLU(), skip=torch.nn.Identity())
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
