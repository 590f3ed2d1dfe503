"""TensorDataset and DataLoader: batches, shuffling, reproducibility, training, errors."""

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn
from tinygrad_ann.data import DataLoader, TensorDataset


def dataset(count=10):
    features = np.arange(count * 2, dtype=np.float64).reshape(count, 2)
    labels = np.arange(count) % 3
    return TensorDataset(features, labels)


def rows(loader):
    """The first feature of each sample, per batch (it identifies the sample: 2 · index)."""
    return [(x.numpy()[:, 0] // 2).astype(int).tolist() for x, _ in loader]


# ---------------------------------------------------------------- TensorDataset
def test_tensor_dataset_items_are_tuples_of_rows():
    data = dataset(4)
    assert len(data) == 4
    x, y = data[2]
    assert isinstance(x, tg.Tensor) and x.tolist() == [4.0, 5.0] and y.item() == 2
    assert repr(data) == "TensorDataset((4, 2), (4,))"


def test_tensor_dataset_keeps_arrays_and_tensors_without_copying():
    features = np.zeros((3, 2))
    labels = tg.tensor([1, 0, 1])
    data = TensorDataset(features, labels)
    assert data.tensors[0].data is features and data.tensors[1] is labels
    assert TensorDataset([[1.0], [2.0]]).tensors[0].dtype == tg.get_default_dtype()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((np.zeros((4, 2)), np.zeros(3)), r"different numbers of samples \[4, 3\]"),
        ((), "at least one"),
        ((np.zeros((4, 2)), np.float64(1.0)), "argument 1 is 0-d"),
    ],
)
def test_tensor_dataset_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        TensorDataset(*arguments)


# ---------------------------------------------------------------- batches
def test_batches_in_order_with_a_short_last_batch():
    loader = DataLoader(dataset(10), batch_size=4)
    assert len(loader) == 3
    assert rows(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader))
    assert isinstance(x, tg.Tensor) and isinstance(y, tg.Tensor)
    assert x.shape == (4, 2) and y.dtype == np.int64 and y.tolist() == [0, 1, 2, 0]


def test_drop_last_drops_the_short_batch():
    loader = DataLoader(dataset(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and rows(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(dataset(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(dataset(3), batch_size=4, drop_last=True)) == 0
    assert len(DataLoader(dataset(3), batch_size=4)) == 1
    assert len(DataLoader(dataset(10))) == 10  # batch_size 1 by default


def test_batches_are_copies():
    data = dataset(4)
    x, _ = next(iter(DataLoader(data, batch_size=2)))
    x.data[...] = -1.0
    assert data.tensors[0].numpy().min() == 0.0


def test_each_pass_visits_every_sample_once_in_a_fresh_order():
    loader = DataLoader(dataset(20), batch_size=6, shuffle=True, seed=0)
    passes = [[i for batch in rows(loader) for i in batch] for _ in range(3)]
    for order in passes:
        assert sorted(order) == list(range(20))
    assert passes[0] != passes[1] != passes[2]
    assert passes[0] != list(range(20))


def test_a_seed_reproduces_the_passes():
    first = DataLoader(dataset(20), batch_size=5, shuffle=True, seed=3)
    second = DataLoader(dataset(20), batch_size=5, shuffle=True, seed=3)
    assert [rows(first) for _ in range(3)] == [rows(second) for _ in range(3)]
    other = DataLoader(dataset(20), batch_size=5, shuffle=True, seed=4)
    assert rows(other) != rows(DataLoader(dataset(20), batch_size=5, shuffle=True, seed=3))


def test_without_a_seed_manual_seed_reproduces_the_passes():
    loader = DataLoader(dataset(20), batch_size=5, shuffle=True)
    tg.manual_seed(11)
    first = [rows(loader) for _ in range(2)]
    tg.manual_seed(11)
    assert [rows(loader) for _ in range(2)] == first


def test_labels_from_the_loader_are_targets_the_losses_accept():
    X, y = tg.data.two_moons(120, noise=0.1, seed=0)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = tg.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, seed=0)
    for _ in range(15):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert (model(tg.tensor(X)).argmax(axis=1).numpy() == y).mean() > 0.9
    xb, yb = next(iter(DataLoader(TensorDataset(X, X[:, :1]), batch_size=8)))
    assert F.mse_loss(xb[:, :1], yb).item() == 0.0


# ---------------------------------------------------------------- other datasets
class Squares:
    """A dataset that is not a TensorDataset: a sample is (x, x², label)."""

    def __len__(self):
        return 5

    def __getitem__(self, index):
        return np.array([index, -index], dtype=np.float64), float(index**2), index % 2


def test_samples_of_any_dataset_are_stacked_field_by_field():
    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    x, squares, labels = batches[1]
    assert x.tolist() == [[2.0, -2.0], [3.0, -3.0]]
    assert squares.tolist() == [4.0, 9.0] and labels.tolist() == [0, 1]
    assert labels.dtype.kind == "i"


def test_single_value_samples_give_one_tensor_per_batch():
    batches = list(DataLoader(list(range(5)), batch_size=2))
    assert [batch.tolist() for batch in batches] == [[0, 1], [2, 3], [4]]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("batch_size", "error", "message"),
    [
        (0, ValueError, "batch_size must be at least 1, got 0"),
        (-2, ValueError, "at least 1, got -2"),
        (1.5, TypeError, "batch_size must be an int"),
        (True, TypeError, "batch_size must be an int"),
    ],
)
def test_bad_batch_sizes_are_errors(batch_size, error, message):
    with pytest.raises(error, match=message):
        DataLoader(dataset(4), batch_size=batch_size)


def test_a_dataset_without_len_is_an_error():
    with pytest.raises(TypeError, match=r"support len\(\) and indexing.*TensorDataset"):
        DataLoader(iter([1, 2, 3]), batch_size=2)


def test_repr():
    loader = DataLoader(dataset(10), batch_size=4, shuffle=True)
    assert repr(loader) == (
        "DataLoader(TensorDataset of 10 samples, batch_size=4, shuffle=True, drop_last=False)"
    )
