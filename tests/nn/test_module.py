"""Modules, layers, losses, optimizers (closed-form updates), gradcheck, and XOR training."""

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 4)
        self.out = nn.Sequential(nn.Tanh(), nn.Linear(4, 3))

    def forward(self, x):
        return self.out(self.hidden(x))


# ---------------------------------------------------------------- modules


def test_named_parameters_are_dotted_and_in_assignment_order():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["hidden.weight", "hidden.bias", "out.1.weight", "out.1.bias"]
    assert len(list(model.parameters())) == 4
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())


def test_train_eval_zero_grad_and_repr():
    model = TwoLayer()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    F.cross_entropy(model(tg.ones(5, 2)), np.zeros(5, dtype=int)).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    text = repr(model)
    assert "(hidden): Linear(in_features=2, out_features=4, bias=True)" in text
    assert "(1): Linear(in_features=4, out_features=3, bias=True)" in text


def test_state_dict_is_a_copy_and_round_trips():
    model, other = TwoLayer(), TwoLayer()
    state = model.state_dict()
    state["hidden.weight"].data[...] = 0.0
    assert not np.all(model.hidden.weight.data == 0.0)  # a copy, not a view
    other.load_state_dict(model.state_dict())
    for (name, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("out.1.bias"), "missing"),
        (lambda s: s.update(extra=np.zeros(1)), "unexpected"),
        (lambda s: s.update({"hidden.weight": np.zeros((2, 4))}), r"\(4, 2\)"),
    ],
)
def test_bad_state_dict_is_rejected_and_the_model_is_unchanged(change, message):
    model = TwoLayer()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    state = {name: np.full_like(value, 7.0) for name, value in before.items()}
    change(state)
    with pytest.raises(nn.StateDictError, match=message):
        model.load_state_dict(state)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name], err_msg=name)


def test_non_strict_load_skips_missing_keys():
    model = TwoLayer()
    model.load_state_dict({"hidden.bias": np.ones(4)}, strict=False)
    assert model.hidden.bias.data.tolist() == [1.0] * 4


def test_linear_shapes_init_forward_and_feature_error():
    tg.manual_seed(0)
    layer = nn.Linear(50, 7)
    assert layer.weight.shape == (7, 50) and layer.bias.shape == (7,)
    bound = 1 / np.sqrt(50)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound  # uniform over the whole range
    x = np.random.default_rng(1).normal(size=(3, 50))
    np.testing.assert_allclose(layer(tg.tensor(x)).data, x @ layer.weight.data.T + layer.bias.data)
    assert nn.Linear(3, 2, bias=False).bias is None
    with pytest.raises(tg.ShapeError, match="in_features=50"):
        layer(tg.ones(3, 49))
    tg.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(50, 7).weight.data, layer.weight.data)


def test_module_to_converts_dtype():
    model = TwoLayer().to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model(tg.tensor(np.ones((1, 2), dtype=np.float32))).dtype == np.float32


def test_activation_and_loss_modules_match_functions():
    x = tg.tensor([[-1.0, 0.5, 2.0]])
    target = np.array([[0.0, 1.0, 1.0]])
    assert np.allclose(nn.Sigmoid()(x).data, F.sigmoid(x).data)
    assert np.allclose(nn.Tanh()(x).data, np.tanh(x.data))
    assert np.allclose(nn.ReLU()(x).data, [[0.0, 0.5, 2.0]])
    assert np.allclose(nn.Softmax(axis=1)(x).data.sum(), 1.0)
    assert nn.MSELoss()(x, target).item() == pytest.approx(np.mean((x.data - target) ** 2))
    assert nn.CrossEntropyLoss()(x, np.array([2])).item() == pytest.approx(
        F.cross_entropy(x, np.array([2])).item()
    )
    probs = F.sigmoid(x)
    assert nn.BCELoss()(probs, target).item() == pytest.approx(
        nn.BCEWithLogitsLoss()(x, target).item()
    )


def test_init_functions():
    tg.manual_seed(3)
    w = nn.Parameter(np.empty((200, 300)))
    nn.init.xavier_uniform_(w)
    bound = np.sqrt(6 / (200 + 300))
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    nn.init.normal_(w, mean=1.0, std=0.5)
    assert w.data.mean() == pytest.approx(1.0, abs=0.01)
    assert w.data.std() == pytest.approx(0.5, abs=0.01)
    nn.init.kaiming_uniform_(w)
    assert np.abs(w.data).max() <= np.sqrt(6 / 300)
    nn.init.zeros_(w)
    assert not w.data.any()


# ---------------------------------------------------------------- losses


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    logits = tg.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)
    labels = np.array([1, 2])
    F.cross_entropy(logits, labels).backward()
    p = np.exp(logits.data) / np.exp(logits.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad.data, (p - np.eye(3)[labels]) / 2, atol=1e-15)


def test_cross_entropy_label_errors():
    logits = tg.ones(3, 4)
    with pytest.raises(tg.LabelError, match=r"class index 4, outside \[0, 3\]"):
        F.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(tg.LabelError, match="class index -1"):
        F.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(tg.DTypeError, match="must be integers"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(tg.ShapeError, match=r"\(3,\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 2]), reduction="average")


def test_mse_and_bce_input_errors():
    with pytest.raises(tg.ShapeError, match=r"\(3, 1\).*\(3,\)"):
        F.mse_loss(tg.ones(3, 1), np.ones(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.binary_cross_entropy(tg.tensor([1.5]), np.array([1.0]))


# ---------------------------------------------------------------- optimizers


def _param_with_grad(value, grad):
    p = nn.Parameter(np.array(value, dtype=float))
    p.grad = tg.tensor(np.array(grad, dtype=float))
    return p


def test_sgd_step_is_p_minus_lr_g_with_weight_decay():
    p = _param_with_grad([1.0, -2.0], [0.5, 0.5])
    optim.SGD([p], lr=0.1, weight_decay=0.2).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * (0.5 + 0.2), -2.0 - 0.1 * (0.5 - 0.4)])


def test_sgd_momentum_follows_the_buffer_rule():
    p = _param_with_grad([1.0], [1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    expected, buffer = 1.0, None
    for grad in (1.0, 2.0, -1.0):
        p.grad = tg.tensor([grad])
        opt.step()
        buffer = grad if buffer is None else 0.9 * buffer + grad
        expected -= 0.1 * buffer
        assert p.data[0] == pytest.approx(expected)


def test_adam_matches_the_closed_form_over_three_steps():
    lr, beta1, beta2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    p = _param_with_grad([0.5, -1.0], [0.0, 0.0])
    opt = optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=wd)
    value, m, v = np.array([0.5, -1.0]), np.zeros(2), np.zeros(2)
    for step, grad in enumerate(([0.2, -0.3], [0.1, 0.4], [-0.5, 0.0]), start=1):
        p.grad = tg.tensor(grad)
        opt.step()
        g = np.array(grad) + wd * value
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        value = value - lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
        np.testing.assert_allclose(p.data, value, rtol=1e-13)
    # The first step moves every weight by about lr, whatever the gradient's size.
    fresh = _param_with_grad([0.0], [123.0])
    optim.Adam([fresh], lr=0.01).step()
    assert fresh.data[0] == pytest.approx(-0.01)


def test_optimizers_skip_parameters_without_gradient_and_zero_grad():
    p, q = _param_with_grad([1.0], [1.0]), nn.Parameter(np.array([5.0]))
    opt = optim.Adam([p, q], lr=0.1)
    opt.step()
    assert q.data[0] == 5.0 and p.data[0] != 1.0
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda p: optim.SGD(p, lr=-0.1), ValueError, "lr"),
        (lambda p: optim.SGD(p, lr=float("nan")), ValueError, "lr"),
        (lambda p: optim.Adam(p, lr=float("inf")), ValueError, "lr"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), ValueError, "beta"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-1), ValueError, "momentum"),
    ],
)
def test_optimizer_argument_errors(make, error, message):
    with pytest.raises(error, match=message):
        make([nn.Parameter(np.zeros(2))])


# ---------------------------------------------------------------- gradcheck


def test_gradcheck_passes_correct_functions_and_checks_float32_in_float64():
    a = tg.tensor(np.array([[0.3, -0.7]], dtype=np.float32), requires_grad=True)
    b = tg.tensor([[1.5], [2.0]], requires_grad=True)
    constant = tg.tensor([1.0, 2.0])
    assert tg.gradcheck(lambda x, y, c: ((x @ y).tanh() * c.sum()).sum(), [a, b, constant])


def test_gradcheck_names_input_element_and_values():
    class Wrong(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, grad_output):
            _, y = ctx.saved
            return grad_output * y, grad_output * y  # d/dy should be x, not y

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, 5.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError) as caught:
        tg.gradcheck(lambda a, b: Wrong.apply(a, b).sum(), [x, y])
    assert isinstance(caught.value, AssertionError)
    # The worst offender is named: element 1, off by 3.
    assert "input 1, element (1,): analytic 5 vs numeric 2" in str(caught.value)
    with pytest.raises(ValueError, match="nothing to check"):
        tg.gradcheck(lambda a: a.sum(), [tg.tensor([1.0])])


# ---------------------------------------------------------------- training


def test_two_layer_net_learns_xor_to_full_accuracy():
    tg.manual_seed(0)
    inputs = tg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    targets = np.array([[0.0], [1.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(300):
        loss = F.binary_cross_entropy_with_logits(model(inputs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    predictions = model(inputs).data > 0
    assert (predictions == (targets > 0.5)).all()
    assert losses[-1] < 0.05 < losses[0]
