"""nn.Embedding and F.embedding: rows by index, gradients scattered back, as PyTorch."""

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn
from tinygrad_ann.errors import DTypeError, LabelError

INDICES = np.array([[1, 2, 1, 0], [4, 1, 1, 3]])  # 1 repeated, and the padding row


def test_lookup_has_the_indices_shape_and_the_table_rows():
    table = nn.Embedding(5, 3)
    out = table(INDICES)
    assert out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out.data, table.weight.data[INDICES])


def test_repeated_indices_add_their_gradients_and_the_padding_row_gets_none():
    table = nn.Embedding(5, 2, padding_idx=1)
    upstream = np.arange(16.0).reshape(2, 4, 2)
    (table(INDICES) * upstream).sum().backward()
    expected = np.zeros((5, 2))
    for position, index in np.ndenumerate(INDICES):
        expected[index] += upstream[position]
    expected[1] = 0
    np.testing.assert_array_equal(table.weight.grad.data, expected)


def test_initialisation_is_standard_normal_with_a_zero_padding_row():
    tg.manual_seed(0)
    table = nn.Embedding(2000, 50, padding_idx=-1)
    assert table.padding_idx == 1999
    np.testing.assert_array_equal(table.weight.data[1999], 0)
    assert abs(table.weight.data.mean()) < 0.01 and abs(table.weight.data.std() - 1) < 0.01
    assert list(table.state_dict()) == ["weight"]
    assert repr(table) == "Embedding(2000, 50, padding_idx=1999)"


@pytest.mark.parametrize("bad", [5, -1])
def test_an_index_outside_the_table_names_the_layer_the_index_and_the_range(bad):
    table = nn.Embedding(5, 3)
    with pytest.raises(LabelError, match=rf"Embedding\(5, 3\): index {bad} .* 0 to 4"):
        table(np.array([0, bad]))


def test_non_integer_indices_are_refused():
    with pytest.raises(DTypeError, match=r"Embedding.*integers.*float64"):
        nn.Embedding(5, 3)(np.array([0.0, 1.0]))
    with pytest.raises(DTypeError, match=r"embedding.*integers"):
        F.embedding(np.array([0.5]), tg.ones(3, 2))


def test_bad_sizes_and_padding_index_are_refused():
    with pytest.raises(ValueError, match="padding_idx 5 must be within num_embeddings"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 3)


def test_a_compiled_lookup_checks_the_indices_of_every_call():
    weight = tg.randn(4, 2, requires_grad=True)
    compiled = tg.compile(lambda w, i: F.embedding(i, w).sum())
    compiled(weight, np.array([0, 3]))
    with pytest.raises(LabelError, match="index 4"):
        compiled(weight, np.array([0, 4]))


def test_second_order_through_the_lookup():
    weight = tg.tensor(np.linspace(-1, 1, 10).reshape(5, 2), requires_grad=True)
    assert tg.gradgradcheck(lambda w: (F.embedding(INDICES, w) ** 3).sum(), [weight])


@pytest.mark.parametrize("padding_idx", [None, 1, -2])
def test_agrees_with_pytorch(padding_idx):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    weights = np.random.default_rng(0).standard_normal((5, 3))
    upstream = np.random.default_rng(1).standard_normal((2, 4, 3))
    ours = nn.Embedding(5, 3, padding_idx=padding_idx, dtype=np.float64)
    theirs = torch.nn.Embedding(5, 3, padding_idx=padding_idx, dtype=torch.float64)
    ours.weight.data[...] = weights
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weights))
    out, expected = ours(INDICES), theirs(torch.tensor(INDICES))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    (out * upstream).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-12)
    functional = torch.nn.functional.embedding(torch.tensor(INDICES), torch.tensor(weights))
    np.testing.assert_array_equal(F.embedding(INDICES, tg.tensor(weights)).data, functional.numpy())
