"""tg.save / tg.load and optimizer state dicts: exact round trips, standard files, clear errors."""

import json
import os
import stat
import struct

import numpy as np
import pytest
import safetensors.numpy

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim
from tinygrad_ann.checkpoint import STRUCTURE_KEY


def make_model(seed: int = 0) -> nn.Module:
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def batch():
    rng = np.random.default_rng(1)
    return tg.tensor(rng.normal(size=(16, 4))), rng.integers(0, 3, size=16)


def train(model, optimizer, steps):
    inputs, labels = batch()
    for _ in range(steps):
        loss = F.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def weights(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


# ------------------------------------------------------------------ files
def test_a_state_dict_is_a_plain_safetensors_file_keyed_by_the_state_dict_names(tmp_path):
    model = make_model()
    path = tg.save(model.state_dict(), tmp_path / "model.safetensors")
    read = safetensors.numpy.load_file(str(path))
    assert sorted(read) == sorted(name for name, _ in model.named_parameters())
    for name, parameter in model.named_parameters():
        assert read[name].dtype == parameter.dtype and read[name].shape == parameter.shape
        np.testing.assert_array_equal(read[name], parameter.data)


def test_state_dict_round_trip_restores_the_model_exactly(tmp_path):
    model, other = make_model(0), make_model(1)
    path = tg.save(model.state_dict(), tmp_path / "model.safetensors")
    loaded = tg.load(path)
    assert all(isinstance(value, tg.Tensor) for value in loaded.values())
    other.load_state_dict(loaded)
    for name, array in weights(model).items():
        assert weights(other)[name].tobytes() == array.tobytes()


def test_a_nested_checkpoint_comes_back_with_its_structure_and_types(tmp_path):
    model = make_model()
    checkpoint = {
        "model": model.state_dict(),
        "epoch": 7,
        "note": "lr 0.05",
        "best": 0.125,
        "finished": False,
        "resumed_from": None,
        "history": [1.5, 0.75, float("inf")],
        "shape": (3, 4),
        "by_index": {0: np.arange(3), 2: "two"},
        "arrays": [np.ones((2, 2), dtype=np.float32), {"$tensor": "not an array"}],
    }
    loaded = tg.load(tg.save(checkpoint, tmp_path / "run.safetensors"))
    assert loaded["epoch"] == 7 and type(loaded["epoch"]) is int
    assert loaded["note"] == "lr 0.05"
    assert loaded["best"] == 0.125 and type(loaded["best"]) is float
    assert loaded["finished"] is False and loaded["resumed_from"] is None
    assert loaded["history"] == [1.5, 0.75, float("inf")]
    assert loaded["shape"] == (3, 4) and type(loaded["shape"]) is tuple
    assert set(loaded["by_index"]) == {0, 2} and loaded["by_index"][2] == "two"
    np.testing.assert_array_equal(loaded["by_index"][0].data, np.arange(3))
    assert loaded["arrays"][0].dtype == np.float32
    assert loaded["arrays"][1] == {"$tensor": "not an array"}
    assert sorted(loaded["model"]) == sorted(model.state_dict())


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8, np.bool_]
)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4)], ids=str)
def test_arrays_keep_dtype_shape_and_bytes(tmp_path, dtype, shape):
    array = np.asarray(np.random.default_rng(2).normal(size=shape) * 10).astype(dtype)
    loaded = tg.load(tg.save({"x": array}, tmp_path / "x.safetensors"))["x"]
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    assert loaded.data.tobytes() == array.tobytes()
    loaded.data[...] = 0  # ours to write: not a view of the file's bytes


def test_non_contiguous_arrays_are_saved_by_value(tmp_path):
    array = np.arange(12.0).reshape(3, 4).T
    loaded = tg.load(tg.save({"x": array}, tmp_path / "x.safetensors"))["x"]
    np.testing.assert_array_equal(loaded.data, array)


def test_a_file_from_elsewhere_loads_as_a_flat_dict_of_tensors(tmp_path):
    model = make_model()
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({k: v.data for k, v in model.state_dict().items()}, str(path))
    loaded = tg.load(path)
    other = make_model(3)
    other.load_state_dict(loaded)
    for name, array in weights(model).items():
        np.testing.assert_array_equal(weights(other)[name], array)


def test_files_get_the_permissions_open_would_give(tmp_path):
    previous = os.umask(0o022)
    try:
        path = tg.save({"x": np.zeros(2)}, tmp_path / "x.safetensors")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


# ------------------------------------------------------------------ what cannot be saved
@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        ({"x": np.zeros(2, dtype=np.complex128)}, "complex128"),
        ({"x": np.array(["a"])}, "cannot store"),
        ({"x": object()}, "object"),
        ({"x": {1.5: 2}}, "keys must be strings or ints"),
        ({"x": {(1, 2): 2}}, "keys must be strings or ints"),
    ],
)
def test_unsupported_values_are_refused_and_the_old_file_kept(tmp_path, checkpoint, message):
    path = tg.save({"old": np.ones(3)}, tmp_path / "c.safetensors")
    before = path.read_bytes()
    with pytest.raises(TypeError, match=message):
        tg.save(checkpoint, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]


def test_two_entries_under_one_key_are_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"'a\.b'"):
        tg.save({"a.b": np.zeros(1), "a": {"b": np.ones(1)}}, tmp_path / "c.safetensors")


def test_the_root_must_be_a_dict(tmp_path):
    with pytest.raises(TypeError, match="expected a dict"):
        tg.save(np.zeros(3), tmp_path / "c.safetensors")


# ------------------------------------------------------------------ what cannot be loaded
def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.safetensors"):
        tg.load(tmp_path / "nothing.safetensors")


@pytest.mark.parametrize(
    "damage",
    [
        lambda content: content[: len(content) // 2],  # truncated
        lambda content: content[:5],  # shorter than the length field
        lambda content: b"",  # empty
        lambda content: b"PK\x03\x04 this is a zip file, not safetensors" * 4,
        lambda content: struct.pack("<Q", 10) + b"not json!!" + content[18:],
    ],
    ids=["truncated", "stub", "empty", "other-format", "bad-header"],
)
def test_damaged_files_raise_checkpoint_error_naming_the_path(tmp_path, damage):
    path = tg.save(make_model().state_dict(), tmp_path / "model.safetensors")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(tg.CheckpointError, match=r"model\.safetensors"):
        tg.load(path)


def rewrite_structure(path, edit):
    """Write the same arrays with an edited structure (a damaged checkpoint)."""
    arrays = safetensors.numpy.load_file(str(path))
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    structure = json.loads(header["__metadata__"][STRUCTURE_KEY])
    safetensors.numpy.save_file(arrays, str(path), metadata={STRUCTURE_KEY: edit(structure)})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: "{not json", "damaged"),
        (lambda s: json.dumps({**s, "version": 99}), "version"),
        (lambda s: json.dumps({**s, "structure": {"w": {"$tensor": "gone"}}}), "gone"),
        (lambda s: json.dumps({**s, "structure": {}}), "does not mention"),
    ],
    ids=["not-json", "version", "missing-array", "unmentioned-array"],
)
def test_a_damaged_structure_is_an_error(tmp_path, edit, message):
    path = tg.save({"w": np.ones(2), "step": 3}, tmp_path / "c.safetensors")
    rewrite_structure(path, edit)
    with pytest.raises(tg.CheckpointError, match=message):
        tg.load(path)


def test_a_checkpoint_that_does_not_fit_leaves_the_model_untouched(tmp_path):
    model = make_model()
    before = weights(model)
    tg.manual_seed(4)
    wider = nn.Sequential(nn.Linear(4, 9), nn.Tanh(), nn.Linear(9, 3))
    path = tg.save(wider.state_dict(), tmp_path / "wider.safetensors")
    with pytest.raises(nn.StateDictError, match=r"0\.weight"):
        model.load_state_dict(tg.load(path))
    for name, array in before.items():
        np.testing.assert_array_equal(weights(model)[name], array)


# ------------------------------------------------------------------ optimizers
def test_optimizer_state_dict_has_pytorchs_layout():
    model = make_model()
    adam = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)
    assert adam.state_dict() == {
        "state": {},
        "param_groups": [
            {
                "lr": 0.01,
                "betas": (0.8, 0.9),
                "eps": 1e-8,
                "weight_decay": 0.1,
                "params": [0, 1, 2, 3],
            }
        ],
    }
    train(model, adam, 1)
    state = adam.state_dict()["state"]
    assert sorted(state) == [0, 1, 2, 3]
    assert set(state[0]) == {"step", "exp_avg", "exp_avg_sq"} and state[0]["step"] == 1
    assert state[0]["exp_avg"].shape == model[0].weight.shape
    state[0]["exp_avg"].data[...] = 0  # a copy: the optimizer's own state is untouched
    assert np.any(adam.state[0]["exp_avg"] != 0)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda params: optim.Adam(params, lr=0.01, weight_decay=0.01),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_resuming_from_a_checkpoint_is_bitwise_exact(tmp_path, make_optimizer):
    straight = make_model()
    straight_optimizer = make_optimizer(straight.parameters())
    train(straight, straight_optimizer, 20)

    first = make_model()
    first_optimizer = make_optimizer(first.parameters())
    train(first, first_optimizer, 10)
    path = tg.save(
        {"model": first.state_dict(), "optimizer": first_optimizer.state_dict(), "step": 10},
        tmp_path / "run.safetensors",
    )
    checkpoint = tg.load(path)
    resumed = make_model(seed=5)  # different initial weights, all overwritten
    resumed_optimizer = make_optimizer(resumed.parameters())
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    train(resumed, resumed_optimizer, 20 - checkpoint["step"])
    for name, array in weights(straight).items():
        assert weights(resumed)[name].tobytes() == array.tobytes(), name


def test_hyperparameters_come_back_with_the_state():
    model = make_model()
    source = optim.SGD(model.parameters(), lr=0.3, momentum=0.5)
    target = optim.SGD(model.parameters(), lr=0.1)
    target.load_state_dict(source.state_dict())
    assert (target.lr, target.momentum, target.weight_decay) == (0.3, 0.5, 0.0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: {"state": s["state"]}, "'param_groups'"),
        (lambda s: {**s, "param_groups": s["param_groups"] * 2}, "one parameter group"),
        (
            lambda s: {**s, "param_groups": [{**s["param_groups"][0], "params": [0, 1]}]},
            "for 2 parameters, this optimizer has 4",
        ),
        (lambda s: {**s, "param_groups": [{**s["param_groups"][0], "lr": -1.0}]}, "lr"),
        (
            lambda s: {**s, "param_groups": [{**s["param_groups"][0], "betas": (0.9,)}]},
            "betas",
        ),
        (lambda s: {**s, "state": {9: s["state"][0]}}, "9"),
        (lambda s: {**s, "state": {0: {**s["state"][0], "momentum": 1}}}, "momentum"),
        (
            lambda s: {**s, "state": {0: {**s["state"][0], "exp_avg": np.zeros(3)}}},
            "shape \\(3,\\)",
        ),
        (
            lambda s: {
                **s,
                "state": {
                    0: {**s["state"][0], "exp_avg": s["state"][0]["exp_avg"].data.astype("f4")}
                },
            },
            "float32",
        ),
        (lambda s: {**s, "state": {0: {**s["state"][0], "step": 1.5}}}, "step"),
    ],
    ids=[
        "no-groups",
        "two-groups",
        "param-count",
        "bad-lr",
        "bad-betas",
        "bad-index",
        "unknown-entry",
        "shape",
        "dtype",
        "step",
    ],
)
def test_a_state_dict_that_does_not_fit_changes_nothing(edit, message):
    model = make_model()
    adam = optim.Adam(model.parameters(), lr=0.01)
    train(model, adam, 2)
    saved = adam.state_dict()
    other = optim.Adam(model.parameters(), lr=0.05)
    train(model, other, 1)
    before = other.state_dict()
    with pytest.raises(nn.StateDictError, match=message) as error:
        other.load_state_dict(edit(saved))
    assert "not changed" in str(error.value)
    after = other.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entry in before["state"].items():
        assert after["state"][index]["step"] == entry["step"]
        np.testing.assert_array_equal(after["state"][index]["exp_avg"].data, entry["exp_avg"].data)
