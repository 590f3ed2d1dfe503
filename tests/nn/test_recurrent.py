"""RNN, LSTM, GRU and their cells: PyTorch's layout, shapes and numbers, and every order."""

import itertools

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn
from tinygrad_ann.errors import ShapeError

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


def flat(result):
    """Every tensor (ours or PyTorch's) of ``(output, h_n)``, ``(output, (h_n, c_n))``,
    ``(h, c)`` or ``h``."""
    if not isinstance(result, tuple | list):
        return [result]
    return [t for part in result for t in flat(part)]


def test_parameter_names_follow_pytorch_layer_by_layer_and_direction_by_direction():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [
        f"{kind}_l{layer}{suffix}"
        for layer in range(2)
        for suffix in ("", "_reverse")
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    assert list(lstm.state_dict()) == names
    assert lstm.weight_ih_l0.shape == (16, 3) and lstm.weight_ih_l1_reverse.shape == (16, 8)
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == [
        "weight_ih_l0",
        "weight_hh_l0",
    ]
    assert [n for n, _ in nn.GRUCell(3, 4).named_parameters()] == [
        "weight_ih",
        "weight_hh",
        "bias_ih",
        "bias_hh",
    ]
    assert nn.GRUCell(3, 4).weight_hh.shape == (12, 4)


@pytest.mark.parametrize("make", [lambda: nn.LSTM(3, 25, num_layers=2), lambda: nn.GRUCell(3, 25)])
def test_every_parameter_starts_uniform_within_one_over_root_hidden_size(make):
    tg.manual_seed(0)
    bound = 1 / np.sqrt(25)
    for name, parameter in make().named_parameters():
        values = parameter.data
        assert values.min() >= -bound and values.max() <= bound, name
        assert values.max() - values.min() > 1.5 * bound, name  # spread over the range


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes_of_outputs_and_final_states(name, batch_first):
    layer = LAYERS[name](3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = tg.ones(5, 7, 3)  # (batch, time) or (time, batch)
    output, state = layer(x)
    assert output.shape == (5, 7, 8)
    batch = 5 if batch_first else 7
    for final in state if name == "LSTM" else (state,):
        assert final.shape == (4, batch, 4)
    unbatched_output, unbatched_state = layer(tg.ones(6, 3))
    assert unbatched_output.shape == (6, 8)
    assert flat(unbatched_state)[0].shape == (4, 4)


def test_the_last_step_of_the_output_is_h_n_forward_and_the_first_is_h_n_backward():
    gru = nn.GRU(2, 3, bidirectional=True)
    output, h_n = gru(tg.randn(4, 2, 2))
    np.testing.assert_array_equal(output.data[-1, :, :3], h_n.data[0])
    np.testing.assert_array_equal(output.data[0, :, 3:], h_n.data[1])


def test_wrong_shapes_are_named_clearly():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match=r"LSTM\(3, 4, num_layers=2\).* 5 features .*input_size=3"):
        lstm(tg.ones(2, 6, 5))
    with pytest.raises(ShapeError, match="expected h_0 of shape \\(2, 6, 4\\), got \\(1, 6, 4\\)"):
        lstm(tg.ones(2, 6, 3), (tg.zeros(1, 6, 4), tg.zeros(2, 6, 4)))
    with pytest.raises(ShapeError, match="expected input of shape"):
        lstm(tg.ones(3))
    with pytest.raises(ShapeError, match="batch_first"):  # (batch, time, features) without it
        nn.GRU(3, 4)(tg.ones(2, 3, 5))
    with pytest.raises(ShapeError, match=r"got \(1, 2, 4\); hx fits .* is batch_first=False right"):
        nn.GRU(3, 4)(tg.ones(2, 5, 3), tg.zeros(1, 2, 4))  # (batch, time, features)
    with pytest.raises(ShapeError, match="expected hx of shape \\(2, 4\\)"):
        nn.RNNCell(3, 4)(tg.ones(2, 3), tg.zeros(3, 4))
    with pytest.raises(ShapeError, match="input_size=3"):
        nn.GRUCell(3, 4)(tg.ones(2, 2))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_dropout_acts_between_layers_in_training_only_and_follows_the_seed():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = tg.randn(5, 2, 3)
    tg.manual_seed(1)
    first = lstm(x)[0].data
    tg.manual_seed(1)
    np.testing.assert_array_equal(lstm(x)[0].data, first)
    tg.manual_seed(2)
    assert not np.array_equal(lstm(x)[0].data, first)
    lstm.eval()
    plain = nn.LSTM(3, 4, num_layers=2)
    plain.load_state_dict(lstm.state_dict())
    np.testing.assert_array_equal(lstm(x)[0].data, plain(x)[0].data)
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.GRU(3, 4, dropout=0.2)


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_of_first_and_second_order_through_time(name):
    tg.manual_seed(0)
    layer = LAYERS[name](2, 2, num_layers=2, bidirectional=True)
    x = tg.randn(3, 1, 2, requires_grad=True)
    h0 = tg.randn(4, 1, 2, requires_grad=True)
    state = (h0, h0 * 0.5) if name == "LSTM" else h0

    def run(x, h0):
        output, _ = layer(x, (h0, h0 * 0.5) if name == "LSTM" else h0)
        return output

    assert tg.gradcheck(run, [x, h0], atol=1e-7, rtol=1e-6)
    assert tg.gradgradcheck(run, [x, h0])
    assert flat(layer(x, state))[0].requires_grad


@pytest.mark.parametrize("name", CELLS)
def test_cells_take_one_step_of_the_layer(name):
    tg.manual_seed(0)
    cell = CELLS[name](3, 4)
    layer = LAYERS[name.removesuffix("Cell")](3, 4)
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(layer, kind + "_l0").data[...] = getattr(cell, kind).data
    x = tg.randn(2, 3)
    stepped = flat(cell(x))
    output, _ = layer(x.reshape(1, 2, 3))
    np.testing.assert_allclose(output.data[0], stepped[0].data, atol=1e-15)
    unbatched = flat(cell(tg.ones(3), None if name != "LSTMCell" else (tg.zeros(4), tg.zeros(4))))
    assert all(t.shape == (4,) for t in unbatched)


def _copy(ours, theirs):
    state = theirs.state_dict()
    assert list(state) == [n for n, _ in ours.named_parameters()]
    for name, parameter in ours.named_parameters():
        parameter.data[...] = state[name].numpy()


def _compare(torch, ours, theirs, x, hx, lstm):
    def given(library, value):
        return library.tensor(value, requires_grad=True)

    ox, tx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if hx is None:
        ohx = thx = None
    elif lstm:
        ohx, thx = tuple(given(tg, h) for h in hx), tuple(given(torch, h) for h in hx)
    else:
        ohx, thx = given(tg, hx), given(torch, hx)
    mine, theirs_out = flat(ours(ox, ohx)), flat(theirs(tx, thx))
    weights = [np.random.default_rng(7).standard_normal(t.shape) for t in theirs_out]
    for got, expected in zip(mine, theirs_out, strict=True):
        assert got.shape == tuple(expected.shape)
        np.testing.assert_allclose(got.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    sum((t * w).sum() for t, w in zip(mine, weights)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs_out, weights)).backward()
    reference = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        expected = reference[name].grad.numpy()
        np.testing.assert_allclose(parameter.grad.data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    for got, expected in zip(
        flat(ohx) if hx is not None else [], flat(thx) if hx is not None else []
    ):
        np.testing.assert_allclose(got.grad.data, expected.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_cells_agree_with_pytorch(name, bias, batched, given_state):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    ours = CELLS[name](3, 4, bias=bias, dtype=np.float64)
    theirs = getattr(torch.nn, name)(3, 4, bias=bias, dtype=torch.float64)
    _copy(ours, theirs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3) if batched else (3,))
    shape = (2, 4) if batched else (4,)
    lstm = name == "LSTMCell"
    hx = (
        (rng.standard_normal(shape), rng.standard_normal(shape))
        if lstm
        else rng.standard_normal(shape)
    )
    _compare(torch, ours, theirs, x, hx if given_state else None, lstm)


CONFIGURATIONS = list(
    itertools.product(
        ["RNN", "RNN_relu", "LSTM", "GRU"], [1, 2], [False, True], [False, True], [True, False]
    )
)


@pytest.mark.parametrize(
    ("name", "num_layers", "batch_first", "bidirectional", "bias"), CONFIGURATIONS
)
def test_layers_agree_with_pytorch(name, num_layers, batch_first, bidirectional, bias):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    options = dict(
        num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional, bias=bias
    )
    if name == "RNN_relu":
        name, options["nonlinearity"] = "RNN", "relu"
    ours = LAYERS[name](3, 4, dtype=np.float64, **options)
    theirs = getattr(torch.nn, name)(3, 4, dtype=torch.float64, **options)
    _copy(ours, theirs)
    rng = np.random.default_rng(num_layers)
    lstm = name == "LSTM"
    states = num_layers * (2 if bidirectional else 1)
    for batched in (True, False):
        x = rng.standard_normal(((2, 5, 3) if batch_first else (5, 2, 3)) if batched else (5, 3))
        shape = (states, 2, 4) if batched else (states, 4)
        hx = (
            (rng.standard_normal(shape), rng.standard_normal(shape))
            if lstm
            else rng.standard_normal(shape)
        )
        for given in (hx, None):
            ours.zero_grad()
            theirs.zero_grad()
            _compare(torch, ours, theirs, x, given, lstm)
