"""Module buffers: registration, state dicts in PyTorch's order, dtype conversion, checkpoints."""

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn


class Counter(nn.Module):
    """A buffer registered before the parameter: the state dict still lists parameters first."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("steps", np.array(0, dtype=np.int64))
        self.register_buffer("scale", np.full(3, 2.0))
        self.register_buffer("cache", np.zeros(3), persistent=False)
        self.weight = nn.Parameter(np.ones(3))

    def forward(self, x):
        self.steps = self.steps.data + 1
        return x * self.weight * self.scale


def make_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.ReLU(), Counter())


def test_buffers_are_named_listed_and_not_parameters():
    model = make_model()
    assert [name for name, _ in model.named_buffers()] == [
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
        "3.steps",
        "3.scale",
        "3.cache",
    ]
    assert len(list(model.buffers())) == 6
    parameter_ids = {id(p) for p in model.parameters()}
    assert not any(id(b) in parameter_ids for b in model.buffers())
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "3.weight",
    ]
    assert all(isinstance(b, tg.Tensor) and not b.requires_grad for b in model.buffers())
    assert next(model[1].named_buffers(prefix="bn"))[0] == "bn.running_mean"


def test_state_dict_order_is_pytorchs_parameters_then_persistent_buffers_per_module():
    assert list(make_model().state_dict()) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
        "3.weight",
        "3.steps",
        "3.scale",
    ]


def test_buffers_get_no_gradient_and_optimizers_do_not_see_them():
    model = make_model()
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    model(tg.ones(5, 3)).sum().backward()
    opt.step()
    assert all(b.grad is None for b in model.buffers())
    assert model[3].scale.tolist() == [2.0, 2.0, 2.0]
    assert model[3].steps.item() == 1 and model[1].num_batches_tracked.item() == 1


def test_state_dict_copies_buffers():
    model = make_model()
    state = model.state_dict()
    state["1.running_var"].data[...] = 5.0
    assert model[1].running_var.tolist() == [1.0] * 3


def test_none_buffers_are_skipped_and_assignment_keeps_a_buffer_a_tensor():
    module = nn.Module()
    module.register_buffer("mask", None)
    assert module.mask is None and list(module.named_buffers()) == []
    module.mask = np.array([True, False])  # an array becomes a Tensor
    assert isinstance(module.mask, tg.Tensor) and module.state_dict()["mask"].tolist() == [
        True,
        False,
    ]
    module.mask = None
    assert module.state_dict() == {}
    with pytest.raises(TypeError, match="buffer 'mask' must be a Tensor"):
        module.mask = "yes"
    with pytest.raises(TypeError, match="cannot hold a Parameter"):
        module.mask = nn.Parameter(np.zeros(2))


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("a.b", KeyError, "without '.'"),
        ("", KeyError, "non-empty"),
        ("training", KeyError, "'training' already exists"),
        ("forward", KeyError, "'forward' already exists"),
        (3, TypeError, "must be a str"),
    ],
)
def test_bad_buffer_names_are_rejected(name, error, message):
    with pytest.raises(error, match=message):
        nn.Module().register_buffer(name, np.zeros(1))


def test_register_buffer_rejects_values_that_are_not_arrays():
    with pytest.raises(TypeError, match="must hold booleans, integers or floats"):
        nn.Module().register_buffer("names", np.array(["a", "b"]))
    with pytest.raises(TypeError, match="got dict"):
        nn.Module().register_buffer("table", {"a": 1})


def test_to_converts_float_buffers_but_not_integer_ones():
    model = make_model().to(np.float32)
    bn, counter = model[1], model[3]
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert counter.scale.dtype == np.float32 and counter.cache.dtype == np.float32
    assert bn.num_batches_tracked.dtype == np.int64 and counter.steps.dtype == np.int64
    assert all(p.dtype == np.float32 for p in model.parameters())
    out = model(tg.tensor(np.ones((4, 3), dtype=np.float32)))
    assert out.dtype == np.float32 and bn.running_mean.dtype == np.float32


def trained(seed: int) -> nn.Sequential:
    tg.manual_seed(seed)
    model = make_model()
    for _ in range(3):
        model(tg.randn(6, 3))
    return model


def test_round_trip_through_a_checkpoint_into_a_fresh_model(tmp_path):
    model = trained(0)
    path = tg.save(model.state_dict(), tmp_path / "model.safetensors")
    loaded = tg.load(path)
    assert list(loaded) == list(model.state_dict())
    assert loaded["1.num_batches_tracked"].dtype == np.int64
    assert loaded["1.num_batches_tracked"].shape == ()
    fresh = make_model()
    fresh.load_state_dict(loaded)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert fresh[3].steps.item() == 3 and fresh[1].num_batches_tracked.item() == 3
    x = tg.randn(5, 3)
    model.eval()
    fresh.eval()
    np.testing.assert_array_equal(model(x).data, fresh(x).data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("1.running_var"), r"missing keys \['1.running_var'\]"),
        (lambda s: s.update({"1.running_mean": np.zeros(5)}), r"1.running_mean: shape \(5,\)"),
        (lambda s: s.update({"3.cache": np.zeros(3)}), r"unexpected keys \['3.cache'\]"),
        (
            lambda s: s.update({"1.num_batches_tracked": np.array(2.5)}),
            "1.num_batches_tracked: dtype float64 in the state dict, int64",
        ),
    ],
    ids=["missing-buffer", "buffer-shape", "non-persistent", "counter-dtype"],
)
def test_a_bad_state_dict_changes_neither_parameters_nor_buffers(edit, message):
    model = trained(1)
    before = {name: value.data.copy() for name, value in model.state_dict().items()}
    state = {name: value + 1 for name, value in trained(2).state_dict().items()}
    edit(state)
    with pytest.raises(nn.StateDictError, match=message):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[name], err_msg=name)


def test_non_strict_load_restores_buffers_it_is_given():
    model = make_model()
    model.load_state_dict({"1.running_mean": np.arange(3.0)}, strict=False)
    assert model[1].running_mean.tolist() == [0.0, 1.0, 2.0]
    assert model[1].running_var.tolist() == [1.0] * 3
