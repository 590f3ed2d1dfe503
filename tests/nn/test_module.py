"""nn.Module: named parameters, train and eval, state dicts, dtype conversion, reprs, buffer
errors, forward hooks and keyword arguments, and a two-layer net that learns XOR."""

import re

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


def test_module_to_converts_dtype():
    model = TwoLayer().to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model(tg.tensor(np.ones((1, 2), dtype=np.float32))).dtype == np.float32


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


# ---------------------------------------------------------------- Module
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(2, 2)
        self.scale = nn.Parameter(np.ones(1))
        self.register_buffer("count", np.array(0))
        self.register_buffer("scratch", np.zeros(2), persistent=False)

    def forward(self, x):
        return self.inner(x) * self.scale


def test_names_take_a_prefix_and_shared_parts_appear_once():
    block = Block()
    model = nn.Sequential(block, nn.Tanh(), block)
    assert [name for name, _ in model.named_modules()] == ["", "0", "0.inner", "1"]
    assert [name for name, _ in model.named_modules("net")] == [
        "net",
        "net.0",
        "net.0.inner",
        "net.1",
    ]
    assert [name for name, _ in block.named_parameters("b")] == [
        "b.scale",
        "b.inner.weight",
        "b.inner.bias",
    ]
    assert [name for name, _ in model.named_buffers()] == ["0.count", "0.scratch"]
    assert [name for name, _ in block.named_buffers("b")] == ["b.count", "b.scratch"]
    assert list(block.state_dict()) == ["scale", "count", "inner.weight", "inner.bias"]
    assert len(model) == 3 and model[1].short_repr() == "Tanh()" and list(model)[2] is block


def test_nested_repr():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU()))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "  )\n"
        ")"
    )
    # The one-line label of a graph drawing's cluster.
    assert nn.Linear(2, 3).short_repr() == "Linear(2 -> 3)"
    assert nn.Linear(2, 3, bias=False).short_repr() == "Linear(2 -> 3, no bias)"
    assert repr(nn.Parameter(np.array([1.0, 2.0]))) == "Parameter([1., 2.], requires_grad=True)"


def test_load_state_dict_names_every_problem_and_changes_nothing():
    model = Block()
    before = {name: value.numpy().copy() for name, value in model.state_dict().items()}
    state = model.state_dict()
    state["inner.weight"] = np.zeros((3, 2))
    state["count"] = np.array(1.5)
    del state["scale"]
    state["extra"] = np.zeros(1)
    with pytest.raises(nn.StateDictError) as error:
        model.load_state_dict(state)
    assert str(error.value) == (
        "load_state_dict into Block: missing keys ['scale']; unexpected keys ['extra']; "
        "count: dtype float64 in the state dict, int64 in the model; inner.weight: shape "
        "(3, 2) in the state dict, (2, 2) in the model (the model was not changed)"
    )
    with pytest.raises(nn.StateDictError) as error:
        model.load_state_dict(state, strict=False)
    assert "missing" not in str(error.value) and "unexpected" not in str(error.value)
    assert "count: dtype float64" in str(error.value)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[name])
    partial = {"scale": tg.tensor([3.0]), "count": np.array(4)}
    model.load_state_dict(partial, strict=False)
    assert model.scale.numpy().tolist() == [3.0] and model.count.item() == 4


def test_buffer_registration_errors():
    block = Block()
    with pytest.raises(TypeError, match=r"^Block.register_buffer: the name must be a str, got 3$"):
        block.register_buffer(3, np.zeros(1))
    for name in ["", "a.b"]:
        message = "Block.register_buffer: the name must be non-empty and without '.'"
        with pytest.raises(KeyError, match=re.escape(message)):
            block.register_buffer(name, np.zeros(1))
    with pytest.raises(KeyError, match="attribute 'scale' already exists"):
        block.register_buffer("scale", np.zeros(1))
    with pytest.raises(TypeError, match="buffer 'p' cannot hold a Parameter"):
        block.register_buffer("p", nn.Parameter(np.zeros(1)))
    with pytest.raises(
        TypeError, match="buffer 's' must be a Tensor, an array, a number or None, got str"
    ):
        block.register_buffer("s", "text")
    with pytest.raises(TypeError, match="buffer 'c' must hold booleans, integers or floats"):
        block.register_buffer("c", np.array([1j]))
    block.register_buffer("listed", [1.0, 2.0])
    assert block.listed.numpy().tolist() == [1.0, 2.0]
    block.register_buffer("count", None)  # re-registering replaces; None is allowed
    assert "count" not in block.state_dict()


def test_to_converts_parameters_and_float_buffers_only():
    block = Block()
    block.scale.grad = tg.ones(1)
    assert block.to(np.float32) is block
    assert {p.dtype for p in block.parameters()} == {np.dtype(np.float32)}
    assert block.scale.grad is None
    assert block.scratch.dtype == np.float32 and block.count.dtype == np.int64
    with pytest.raises(TypeError, match=r"^Module.to: expected a floating dtype, got int32$"):
        block.to(np.int32)


def test_train_and_eval_set_every_module_and_return_it():
    model = nn.Sequential(Block(), nn.Dropout(0.5))
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    assert model.train() is model
    assert all(module.training for module in model.modules())


def test_module_misuse_is_named():
    with pytest.raises(NotImplementedError, match=r"^Module must define forward"):
        nn.Module()(1.0)
    with pytest.raises(TypeError, match=r"^expected a function as the hook, got int$"):
        nn.Linear(2, 2).register_forward_hook(3)
    with pytest.raises(TypeError, match=r"^Sequential: argument 1 is a int, not a Module$"):
        nn.Sequential(nn.ReLU(), 3)
    message = (
        "Linear(in_features=3, out_features=2, bias=True): input of shape () has no features in "
        "its last axis, but the layer has in_features=3; pass inputs of shape (batch, 3)"
    )
    with pytest.raises(tg.ShapeError, match=f"^{re.escape(message)}$"):
        nn.Linear(3, 2)(tg.tensor(1.0))


def test_forward_hooks_may_replace_inputs_with_one_value_or_a_tuple():
    layer = nn.Linear(2, 2)
    x, doubled = tg.ones(1, 2), tg.ones(1, 2) * 2.0
    with layer.register_forward_pre_hook(lambda module, inputs: doubled):
        np.testing.assert_array_equal(layer(x).numpy(), layer.forward(doubled).numpy())
    with layer.register_forward_pre_hook(lambda module, inputs: (doubled,)):
        np.testing.assert_array_equal(layer(x).numpy(), layer.forward(doubled).numpy())
    seen = []
    with layer.register_forward_hook(lambda module, inputs, out: seen.append(inputs) or out * 0.0):
        assert not layer(x).numpy().any()
    assert seen == [(x,)]


class Scaled(nn.Module):
    def forward(self, x, scale=1.0):
        return x * scale


def test_keyword_arguments_reach_forward_with_and_without_hooks():
    module, x = Scaled(), tg.ones(2)
    assert module(x, scale=3.0).numpy().tolist() == [3.0, 3.0]
    seen = []
    first = module.register_forward_pre_hook(lambda m, inputs: seen.append(("pre", m)))
    module.register_forward_hook(lambda m, inputs, out: seen.append(("post", m)))
    assert module(x, scale=5.0).numpy().tolist() == [5.0, 5.0]
    assert seen == [("pre", module), ("post", module)]  # both hooks run: each has its own key
    first.remove()
    module(x)
    assert seen[-1] == ("post", module) and len(seen) == 3


def test_a_parameter_or_buffer_shared_by_two_modules_is_listed_once():
    shared_weight, shared_steps = nn.Parameter(np.ones(2)), tg.tensor([0])
    first, second = nn.Module(), nn.Module()
    first.weight, second.weight = shared_weight, shared_weight
    first.register_buffer("steps", shared_steps)
    second.register_buffer("steps", shared_steps)
    model = nn.Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight"]
    assert [name for name, _ in model.named_buffers()] == ["0.steps"]
    assert [name for name, _ in first.named_buffers()] == ["steps"]


def test_modules_after_a_shared_one_are_still_visited():
    block = Block()
    model = nn.Sequential(block, block, nn.ReLU())
    assert [name for name, _ in model.named_modules()] == ["", "0", "0.inner", "2"]


def test_load_state_dict_converts_to_the_models_dtype_and_skips_unknown_keys():
    layer = nn.Linear(2, 1)
    state = {
        "extra": np.zeros(1),
        "weight": np.array([[1.0, 2.0]], dtype=np.float32),
        "bias": [0.5],
    }
    layer.load_state_dict(state, strict=False)
    assert layer.weight.dtype == np.float64 and layer.weight.numpy().tolist() == [[1.0, 2.0]]
    assert layer.bias.numpy().tolist() == [0.5]


def test_eval_sets_training_to_false_itself():
    model = nn.Sequential(nn.Linear(1, 1)).eval()
    assert all(module.training is False for module in model.modules())


def test_a_parameter_as_buffer_error_says_what_to_do():
    message = (
        "Block: buffer 'p' cannot hold a Parameter; assign a Parameter to an attribute that is "
        "not a buffer to make it trainable"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        Block().register_buffer("p", nn.Parameter(np.zeros(1)))


def test_two_hooks_of_the_same_kind_both_run_in_order():
    module, calls = Scaled(), []
    module.register_forward_hook(lambda m, inputs, out: calls.append(1))
    module.register_forward_hook(lambda m, inputs, out: calls.append(2))
    module.register_forward_pre_hook(lambda m, inputs: calls.append(-1))
    module.register_forward_pre_hook(lambda m, inputs: calls.append(-2))
    module(tg.ones(1))
    assert calls == [-1, -2, 1, 2]
