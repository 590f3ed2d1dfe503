"""Habits users bring from PyTorch and micrograd: each works the same here or is refused clearly.

The training loops people already know (in-place updates under ``no_grad``,
``zero_grad`` or ``grad = None``, micrograd's ``p.data -= lr * grad``, layers in a
``ModuleList``) train the two-moons network to exactly the loss ``optim.SGD``
reaches; the everyday traps around them raise at once, saying what to write.
"""

import copy
import json
import pickle
import struct

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim
from tinygrad_ann.errors import CheckpointError, DTypeError, ShapeError

STEPS = 60
LEARNING_RATE = 0.5
POINTS, LABELS = tg.data.two_moons(n_samples=120, noise=0.15, seed=3)


def two_moons_net():
    tg.manual_seed(7)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))


class ListedLayers(nn.Module):
    """The same network, its layers kept in a ModuleList."""

    def __init__(self):
        super().__init__()
        tg.manual_seed(7)
        self.layers = nn.ModuleList([nn.Linear(2, 16), nn.Linear(16, 2)])

    def forward(self, x):
        return self.layers[1](self.layers[0](x).tanh())


def loss_of(model):
    return F.cross_entropy(model(tg.tensor(POINTS)), LABELS)


def train_with_sgd():
    model = two_moons_net()
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE)
    for _ in range(STEPS):
        loss = loss_of(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss_of(model).item()


def train_pytorch_style_grad_none(model):
    for _ in range(STEPS):
        loss = loss_of(model)
        for parameter in model.parameters():
            parameter.grad = None
        loss.backward()
        with tg.no_grad():
            for parameter in model.parameters():
                parameter -= LEARNING_RATE * parameter.grad
    return loss_of(model).item()


def train_pytorch_style_zero_(model):
    loss_of(model).backward()  # gradients exist from here on, zeroed in place each step
    for _ in range(STEPS):
        for parameter in model.parameters():
            parameter.grad.zero_()
        loss = loss_of(model)
        loss.backward()
        with tg.no_grad():
            for parameter in model.parameters():
                parameter.add_(parameter.grad, alpha=-LEARNING_RATE)
    return loss_of(model).item()


def train_micrograd_style(model):
    for _ in range(STEPS):
        loss = loss_of(model)
        model.zero_grad()
        loss.backward()
        for parameter in model.parameters():
            parameter.data -= LEARNING_RATE * parameter.grad.data
    return loss_of(model).item()


@pytest.fixture(scope="module")
def sgd_loss():
    loss = train_with_sgd()
    assert loss < 0.35  # it did train: the untrained net is near log 2 = 0.69
    return loss


@pytest.mark.parametrize(
    "train",
    [train_pytorch_style_grad_none, train_pytorch_style_zero_, train_micrograd_style],
    ids=["grad = None, p -= lr * grad", "grad.zero_(), p.add_(grad, alpha)", "micrograd"],
)
@pytest.mark.parametrize(
    "make_model", [two_moons_net, ListedLayers], ids=["Sequential", "ModuleList"]
)
def test_familiar_training_loops_reach_the_same_loss_as_sgd(train, make_model, sgd_loss):
    model = make_model()
    assert len(list(model.parameters())) == 4
    assert train(model) == pytest.approx(sgd_loss, rel=1e-12, abs=0)


def test_the_update_loop_with_grad_mode_on_is_refused_and_says_to_use_no_grad():
    model = two_moons_net()
    loss_of(model).backward()
    with pytest.raises(RuntimeError, match=r"^-=: a leaf tensor that requires grad") as raised:
        for parameter in model.parameters():
            parameter -= 0.1 * parameter.grad
    assert "with tg.no_grad(): w -= lr * w.grad" in str(raised.value)


# ---------------------------------------------------------------- .grad assignment
@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (0.0, TypeError, "got float 0.0; to reset a gradient write t.grad = None"),
        (0, TypeError, "got int 0; to reset"),
        (np.zeros((2, 3)), TypeError, "got an array of dtype float64 and shape (2, 3); wrap"),
        (tg.zeros(3), ShapeError, "a gradient of shape (3,) cannot be assigned to a tensor of"),
        (tg.zeros(2, 3, dtype=np.float32), DTypeError, "of dtype float32 cannot be assigned"),
    ],
    ids=["micrograd's 0.0", "0", "array", "shape", "dtype"],
)
def test_grad_assignment_is_checked_at_once(value, error, words):
    weight = tg.zeros(2, 3, requires_grad=True)
    with pytest.raises(error) as raised:
        weight.grad = value
    assert words in str(raised.value)
    assert weight.grad is None


def test_grad_accepts_none_and_a_matching_tensor():
    weight = tg.zeros(2, requires_grad=True)
    gradient = tg.tensor([1.0, 2.0])
    weight.grad = gradient
    assert weight.grad is gradient
    weight.grad = None
    assert weight.grad is None


# ---------------------------------------------------------------- NumPy arrays meet Tensors
def test_micrograds_line_with_a_tensor_gradient_says_what_to_write():
    weight = tg.ones(3, requires_grad=True)
    (weight * 2.0).sum().backward()
    with pytest.raises(TypeError) as raised:
        weight.data += -0.1 * weight.grad
    message = str(raised.value)
    assert message.startswith("np.add of a NumPy array and a Tensor cannot write into the array")
    assert "p.data -= lr * p.grad.data" in message
    assert "with tg.no_grad(): p -= lr * p.grad" in message
    np.testing.assert_array_equal(weight.data, [1.0, 1.0, 1.0])


def test_numpy_functions_on_tensors_are_refused_and_operators_are_recorded():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"^np\.exp was called on a Tensor: NumPy's functions"):
        np.exp(x)
    total = np.array([3.0, 4.0]) * x + np.float64(2.0) ** x - np.ones(2) / x
    assert isinstance(total, tg.Tensor) and total.requires_grad
    total.sum().backward()
    expected = np.array([3.0, 4.0]) + 2.0**x.data * np.log(2.0) + 1.0 / x.data**2
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-15)
    assert (np.array([0.5, 5.0]) < x).tolist() == [True, False]


# ---------------------------------------------------------------- making tensors
def test_a_list_of_tensors_that_require_grad_is_refused_not_cut_from_the_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Use tg\.stack\(\[\.\.\.\]\)"):
        tg.tensor([x * 2, x])
    with pytest.raises(RuntimeError, match="would silently cut it from the graph"):
        tg.Tensor([[x[0], 1.0]])
    stacked = tg.stack([x * 2, x])
    stacked.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    with tg.no_grad():
        copied = tg.tensor([x * 2, x])  # values only: nothing is recorded here anyway
    np.testing.assert_array_equal(copied.data, [[2.0, 4.0], [1.0, 2.0]])
    assert tg.tensor([x.detach(), tg.tensor([5.0, 6.0])]).shape == (2, 2)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (None, "from NoneType None (NumPy gives dtype object)"),
        ("1.5", "from str '1.5' (NumPy gives dtype <U3)"),
        ([1 + 2j], "(complex numbers are not supported)"),
        (np.array([1, 2], dtype=object), "from an array of dtype object and shape (2,)"),
        ([[1.0, 2.0], [3.0]], "a tensor holds a rectangular array of numbers"),
        ({"a": 1}, "from dict {'a': 1}"),
    ],
    ids=["None", "string", "complex", "object array", "ragged", "dict"],
)
def test_data_that_is_not_numbers_is_refused(data, words):
    with pytest.raises(DTypeError) as raised:
        tg.tensor(data)
    assert str(raised.value).startswith("Tensor: cannot make a tensor from ")
    assert words in str(raised.value)


# ---------------------------------------------------------------- custom Functions
class ScaledSquare(tg.Function):
    """``beta * x**2``; backward returns a gradient for x only, however beta is passed."""

    @staticmethod
    def forward(ctx, x, beta=1.0):
        ctx.save_for_backward(x)
        ctx.beta = beta
        return beta * x**2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return 2 * ctx.beta * x * grad_output


class ScaledSquareEveryInput(ScaledSquare):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return 2 * ctx.beta * x * grad_output, None


def test_a_number_passed_by_position_or_by_keyword_needs_the_same_backward():
    for call in (
        lambda x: ScaledSquare.apply(x, 3.0),
        lambda x: ScaledSquare.apply(x, beta=3.0),
        lambda x: ScaledSquareEveryInput.apply(x, 3.0),
    ):
        x = tg.tensor([1.0, -2.0], requires_grad=True)
        call(x).sum().backward()
        np.testing.assert_array_equal(x.grad.data, [6.0, -12.0])
        assert tg.gradcheck(lambda t, call=call: call(t).sum(), [x])


def test_a_wrong_number_of_gradients_lists_the_inputs():
    x = tg.tensor([1.0, 2.0], requires_grad=True)

    class ThreeGradients(ScaledSquare):
        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, grad_output, grad_output

    with pytest.raises(TypeError) as raised:
        ThreeGradients.apply(x, 3.0).sum().backward()
    assert str(raised.value) == (
        "ThreeGradients.backward returned 3 gradient(s) but its forward took 2 positional "
        "input(s) (0: array of shape (2,), 1: float); return one per positional input, or one "
        "per Tensor or array input (1) leaving out plain values such as numbers; None stands "
        "for an input that needs no gradient"
    )


def test_a_gradient_with_fewer_axes_than_its_input_states_the_rule():
    class RowGradient(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):
            return np.ones(3)

    with pytest.raises(ShapeError) as raised:
        RowGradient.apply(tg.ones(2, 3, requires_grad=True)).sum().backward()
    assert str(raised.value) == (
        "RowGradient.backward returned a gradient of shape (3,) for an input of shape (2, 3): "
        "it has fewer axes than the input. A gradient must have the input's shape, or a shape "
        "the input broadcasts to (extra leading axes, or size-1 axes grown), which the engine "
        "sums back to the input's shape"
    )


# ---------------------------------------------------------------- smaller habits
def test_backward_after_explain_says_explain_ran_it(tmp_path):
    weight = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (weight * weight).sum()
    tg.viz.explain(loss, tmp_path / "steps.html")
    with pytest.raises(RuntimeError) as raised:
        loss.backward()
    assert str(raised.value) == (
        "backward through the graph a second time: it was already backpropagated by "
        "tg.viz.explain, which runs loss.backward() itself (sum's saved arrays are freed), so "
        "the gradients are in .grad already; pass retain_graph=True to it if you need to call "
        "backward again"
    )
    np.testing.assert_array_equal(weight.grad.data, [2.0, 4.0])  # explain's backward, once


def test_a_second_plain_backward_still_says_retain_graph():
    loss = (tg.tensor([1.0], requires_grad=True) * 2.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"\(sum was already backpropagated .*retain_graph=True"):
        loss.backward()


def test_format_specs_work_on_zero_dimensional_tensors():
    loss = tg.tensor([0.25, 0.5]).mean()
    assert f"{loss:.4f}" == "0.3750"
    assert f"{loss}" == str(loss)
    assert f"{tg.tensor(3):>4d}" == "   3"
    with pytest.raises(TypeError, match=r"applies to a single number, and this tensor has shape"):
        f"{tg.tensor([1.0, 2.0]):.2f}"


def test_max_and_min_take_pytorchs_dim_and_numpys_axis():
    scores = tg.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]], requires_grad=True)
    values, indices = scores.max(dim=1)
    np.testing.assert_array_equal(values.data, [3.0, 6.0])
    np.testing.assert_array_equal(indices.data, [1, 2])
    assert scores.max(dim=1).indices is not None and scores.min(dim=0).values.shape == (3,)
    lowest = scores.min(dim=0, keepdim=True)
    assert lowest.values.shape == (1, 3) and lowest.indices.tolist() == [[0, 0, 0]]
    np.testing.assert_array_equal(scores.max(axis=1).data, [3.0, 6.0])
    values.sum().backward()
    np.testing.assert_array_equal(scores.grad.data, [[0, 1, 0], [0, 0, 1]])
    assert scores.argmax(dim=1).tolist() == [1, 2]
    assert scores.sum(dim=0, keepdim=True).shape == (1, 3)
    assert scores.mean(dim=1).tolist() == [2.0, 5.0]


@pytest.mark.parametrize("method", ["max", "min"])
def test_a_positional_axis_to_max_or_min_never_unpacks_rows_silently(method):
    batch = tg.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]])
    with pytest.raises(TypeError) as raised:
        _values, _indices = getattr(batch, method)(1)
    assert str(raised.value) == (
        f"{method}(1): an axis given by position is ambiguous. Write {method}(axis=...) for "
        f"the values only (NumPy), or {method}(dim=...) for the pair (values, indices) (PyTorch)"
    )
    with pytest.raises(TypeError, match=r"give axis= .* or dim= .*, not both"):
        getattr(batch, method)(axis=0, dim=1)
    with pytest.raises(TypeError, match=r"dim= takes one axis \(an int\), got \(0, 1\)"):
        getattr(batch, method)(dim=(0, 1))
    with pytest.raises(IndexError, match=r"dim=2 is out of range for a tensor of shape \(2, 3\)"):
        getattr(batch, method)(dim=2)


@pytest.mark.parametrize("method", ["max", "min"])
def test_with_dim_the_gradient_goes_to_the_element_the_index_names_as_in_pytorch(method):
    tied = tg.tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 0.0], [1.0, 1.0, 1.0]], requires_grad=True)
    signed = tied if method == "max" else -tied
    values, indices = getattr(signed, method)(dim=1)
    assert indices.tolist() == [0, 0, 0]  # the first of tied elements, as NumPy and PyTorch
    (values * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    sign = 1.0 if method == "max" else -1.0
    np.testing.assert_array_equal(
        tied.grad.data, sign * np.array([[1, 0, 0], [2, 0, 0], [3, 0, 0]])
    )
    scalar = tg.tensor(2.5, requires_grad=True)
    values, indices = getattr(scalar, method)(dim=0)
    assert values.item() == 2.5 and indices.item() == 0


@pytest.mark.parametrize("restore", [pickle.loads, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_restored_model_keeps_training_and_its_arrays_stay_writable(restore):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 40), nn.Tanh(), nn.Linear(40, 1))
    restored = restore(pickle.dumps(model)) if restore is pickle.loads else restore(model)
    opt = optim.SGD(restored.parameters(), lr=0.05)
    inputs = tg.tensor(np.linspace(-1, 1, 200).reshape(5, 40))
    losses = []
    for _ in range(5):
        weight = restored[0].weight
        loss = (restored(inputs) ** 2).mean() + (weight * weight).sum() * 1e-3
        opt.zero_grad()
        loss.backward()
        arrays = [parameter.data for parameter in restored.parameters()]
        assert all(array.flags.writeable for array in arrays)  # the graph's locks are gone
        opt.step()
        assert all(p.data is a for p, a in zip(restored.parameters(), arrays))  # in place
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    weight = restored[0].weight
    weight.data[0, 0] = 1.5  # a direct write works after training
    with tg.no_grad():
        restored[0].weight *= 0.5
    assert restored[0].weight is weight and weight.data[0, 0] == 0.75


def test_a_pickled_array_is_copied_rather_than_locked_for_good():
    weight = pickle.loads(pickle.dumps(tg.tensor(np.ones(2000), requires_grad=True)))
    (weight * weight).sum().backward()
    weight.data[0] = 2.0  # read-only forever before: its memory was the pickle's bytes
    assert weight.data[0] == 2.0


def test_a_bfloat16_checkpoint_is_reported_as_an_unsupported_dtype(tmp_path):
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "from_hub.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    with pytest.raises(CheckpointError) as raised:
        tg.load(path)
    message = str(raised.value)
    assert "is a valid safetensors file, but its tensor 'w' has dtype BF16 (bfloat16)" in message
    assert "corrupt" not in message and "t.float()" in message


def test_assigning_data_takes_an_array_or_a_tensors_array_and_refuses_the_rest():
    weight = tg.tensor([1.0, 2.0], requires_grad=True)
    (weight * weight).sum().backward()
    weight.data = weight.data - 0.5 * weight.grad  # micrograd's line, with a Tensor on the right
    assert type(weight.data) is np.ndarray
    np.testing.assert_array_equal(weight.data, [0.0, 0.0])
    assert weight.is_leaf and weight.requires_grad
    weight.data = np.array([3.0, 4.0, 5.0])  # a new shape is allowed, as in PyTorch
    assert weight.shape == (3,)
    with pytest.raises(TypeError, match=r"^data: expected a NumPy array .*got float 5\.0"):
        weight.data = 5.0
    with pytest.raises(DTypeError, match=r"^data: this tensor requires grad, .*got dtype int64"):
        weight.data = np.arange(3)
    with pytest.raises(DTypeError, match=r"^data: a tensor holds numbers, got an array of dtype"):
        tg.tensor([1, 2]).data = np.array(["a", "b"])
    np.testing.assert_array_equal(weight.data, [3.0, 4.0, 5.0])


def _chained_in_place(x, o):
    h = x * 2
    h += x * 3
    h *= o
    h -= x**2
    h /= o * o + 1
    h **= 2
    return h


def _with_alpha(x, o):
    h = x * 1.0
    h.add_(o, alpha=-0.5)
    h.sub_(x, alpha=2.0)
    h.clamp_(min=-0.3, max=0.4)
    return h.mul_(o)


def _max_over_dim(x, o):
    values, _ = x.max(dim=1)
    lowest, _ = x.min(dim=0, keepdim=True)
    return values * o[:2] + (lowest * o).sum()


@pytest.mark.parametrize("function", [_chained_in_place, _with_alpha, _max_over_dim])
def test_in_place_changes_and_dim_reductions_match_pytorch(function):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(2, 3))
    x0[0, 2] = x0[0, 1]  # a tie for max(dim=1)
    o0 = rng.normal(size=3)
    x, o = tg.tensor(x0, requires_grad=True), tg.tensor(o0, requires_grad=True)
    x_torch = torch.tensor(x0, requires_grad=True)
    o_torch = torch.tensor(o0, requires_grad=True)
    ours, theirs = function(x, o), function(x_torch, o_torch)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(x.grad.data, x_torch.grad.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(o.grad.data, o_torch.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_size_is_numpys_count_and_called_pytorchs_shape():
    x = tg.zeros(2, 3, 4)
    assert x.size == 24 and x.size * 2 == 48 and np.zeros(x.size).shape == (24,)
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert tg.tensor(3.0).size == 1 and tg.tensor(3.0).size() == ()
    with pytest.raises(IndexError, match=r"dim 3 is out of range for .* shape \(2, 3, 4\)"):
        x.size(3)
    with pytest.raises(TypeError, match="dim must be an int"):
        x.size(1.0)


def test_slicing_a_sequential_gives_a_sequential_of_the_same_layers():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    body = model[:-1]
    assert isinstance(body, nn.Sequential) and body[0] is model[0]
    assert list(model[::2].state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert body(tg.ones(4, 2)).shape == (4, 3)
    assert model[-1] is model[2]
    with pytest.raises(IndexError, match="index 3 is out of range for 3 layers"):
        model[3]


def test_size_and_sequential_slices_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    ours, theirs = tg.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert ours.size() == tuple(theirs.size()) and ours.size(-2) == theirs.size(-2)
    ours_model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
    )
    for index in (slice(None, -1), slice(None, None, 2), slice(1, 3), slice(-2, None)):
        assert list(ours_model[index].state_dict()) == list(torch_model[index].state_dict())
        assert len(ours_model[index]) == len(torch_model[index])
