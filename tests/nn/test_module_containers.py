"""Module containers and the assignments a Module refuses.

``nn.ModuleList``, ``nn.ModuleDict``, ``nn.ParameterList`` and ``nn.ParameterDict`` with
PyTorch's names and state-dict keys; a plain value over a parameter (PyTorch's rule);
modules and parameters hidden in plain lists, tuples and dicts (refused, unlike PyTorch);
devices given to ``Module.to``.

The rules are also stated exactly: the whole text of each error a user meets when a Module or
Parameter is hidden in a plain container, when ``to()`` is given something other than one
dtype, and when ``register_parameter`` refuses a name; and which names ``state_dict`` holds
for a Parameter shared by two layers.
"""

import copy
import re

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, optim


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


class Stack(nn.Module):
    """Two hidden layers in a ModuleList, then an output layer."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 3)])
        self.out = nn.Linear(3, 1)

    def forward(self, x):
        for layer in self.hidden:
            x = layer(x).tanh()
        return self.out(x)


class TwoHeads(nn.Module):
    """A shared body and two heads in a ModuleDict."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(2, 4)
        self.heads = nn.ModuleDict({"label": nn.Linear(4, 3), "box": nn.Linear(4, 2)})

    def forward(self, x):
        features = self.body(x).relu()
        return {name: head(features) for name, head in self.heads.items()}


STACK_KEYS = [
    "hidden.0.weight",
    "hidden.0.bias",
    "hidden.1.weight",
    "hidden.1.bias",
    "out.weight",
    "out.bias",
]
HEADS_KEYS = [
    "body.weight",
    "body.bias",
    "heads.label.weight",
    "heads.label.bias",
    "heads.box.weight",
    "heads.box.bias",
]


# ------------------------------------------------------------------ assigning over a parameter
PARAMETER_MESSAGE = (
    "Linear: cannot assign {kind} to 'weight', which is a parameter (a Parameter or None "
    "expected). To replace the parameter, wrap the value: module.weight = nn.Parameter(value) "
    "(an optimizer made before still holds the old one). To change its values, update them in "
    "place: with tg.no_grad(): module.weight -= lr * module.weight.grad, or "
    "module.weight.data[...] = values"
)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (lambda w: w - 0.1 * tg.ones_like(w), "a Tensor"),
        (lambda w: w.numpy() * 2.0, "a NumPy array"),
        (lambda w: 0.5, "a float"),
        (lambda w: 3, "an int"),
        (lambda w: "weights", "a str"),
    ],
)
def test_a_plain_value_over_a_parameter_is_refused_and_the_parameter_kept(value, kind):
    layer = nn.Linear(2, 2)
    weight = layer.weight
    before = weight.numpy().copy()
    with pytest.raises(TypeError, match=exactly(PARAMETER_MESSAGE.format(kind=kind))):
        layer.weight = value(weight)
    assert layer.weight is weight
    np.testing.assert_array_equal(layer.weight.numpy(), before)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_the_same_parameter_assigned_back_is_accepted_silently():
    layer = nn.Linear(2, 2)
    weight = layer.weight
    weight.data -= 1.0
    layer.weight = weight
    assert layer.weight is weight
    layer(tg.ones(1, 2)).sum().backward()
    with tg.no_grad():  # the in-place operator gives back the same Parameter, which is assigned
        layer.weight -= 0.5 * layer.weight.grad
    assert layer.weight is weight and next(iter(layer.parameters())) is weight
    np.testing.assert_array_equal(layer.weight.numpy(), weight.numpy())


def test_a_new_parameter_replaces_the_old_one():
    layer = nn.Linear(2, 2)
    layer.weight = nn.Parameter(np.zeros((2, 2)))
    assert layer.weight.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_none_over_a_parameter_keeps_the_name_a_parameter_as_in_pytorch():
    layer = nn.Linear(2, 2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"]
    assert layer(tg.ones(1, 2)).shape == (1, 2)
    message = PARAMETER_MESSAGE.format(kind="a Tensor").replace("'weight'", "'bias'")
    message = message.replace("module.weight", "module.bias")
    with pytest.raises(TypeError, match=exactly(message)):
        layer.bias = tg.zeros(2)
    assert layer.bias is None
    layer.bias = nn.Parameter(np.zeros(2))
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_register_parameter_follows_pytorch():
    module = nn.Module()
    module.register_parameter("scale", None)
    assert module.scale is None and list(module.parameters()) == []
    with pytest.raises(
        TypeError, match=r"^Module: cannot assign a NumPy array to 'scale', which is"
    ):
        module.scale = np.ones(2)
    module.register_parameter("scale", nn.Parameter(np.ones(2)))
    assert [name for name, _ in module.named_parameters()] == ["scale"]
    with pytest.raises(
        TypeError,
        match=exactly(
            "Module.register_parameter: expected a Parameter or None for 'shift', got a Tensor; "
            "wrap it: nn.Parameter(value)"
        ),
    ):
        module.register_parameter("shift", tg.ones(2))
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        module.register_parameter("training", None)
    with pytest.raises(KeyError, match=re.escape("non-empty and without '.'")):
        module.register_parameter("a.b", None)


def test_del_frees_a_parameter_or_buffer_name_as_in_pytorch():
    layer = nn.Linear(2, 2)
    del layer.bias
    layer.bias = tg.zeros(2)  # now a plain attribute, as after ``del`` in PyTorch
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    module = nn.Module()
    module.register_buffer("steps", np.array(0))
    del module.steps
    module.steps = tg.tensor(5)
    assert module.state_dict() == {} and list(module.buffers()) == []


def test_a_module_may_replace_a_parameter_as_in_pytorch():
    module = nn.Module()
    module.gate = nn.Parameter(np.ones(1))
    module.gate = nn.Linear(1, 1)
    assert list(module.state_dict()) == ["gate.weight", "gate.bias"]


def test_buffers_take_tensors_and_stay_buffers_as_in_pytorch():
    module = nn.Module()
    module.register_buffer("mean", np.zeros(2))
    module.mean = module.mean + 1.0  # a plain Tensor over a buffer: the buffer's new value
    assert list(module.state_dict()) == ["mean"]
    assert module.state_dict()["mean"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="buffer 'mean' cannot hold a Parameter"):
        module.mean = nn.Parameter(np.zeros(2))


def test_a_plain_value_over_a_sub_module_is_refused_as_in_pytorch():
    model = Stack()
    with pytest.raises(
        TypeError,
        match=exactly(
            "Stack: cannot assign a Tensor to 'out', which is a sub-module (a Module or None "
            "expected); assign a Module to replace it, or None to remove it"
        ),
    ):
        model.out = tg.ones(3)
    model.out = nn.Linear(3, 2)
    model.out = None
    assert list(model.state_dict()) == STACK_KEYS[:4]


# ------------------------------------------------------------------ ModuleList
def test_module_list_registers_its_modules_under_their_indices():
    model = Stack()
    assert list(model.state_dict()) == STACK_KEYS
    assert [name for name, _ in model.named_parameters()] == STACK_KEYS
    assert len(list(model.parameters())) == 6
    assert sum(p.size for p in model.parameters()) == 6 + 3 + 9 + 3 + 3 + 1
    assert [name for name, _ in model.named_modules()] == [
        "",
        "hidden",
        "hidden.0",
        "hidden.1",
        "out",
    ]
    assert [type(child).__name__ for child in model.children()] == ["ModuleList", "Linear"]
    assert [type(module).__name__ for module in model.modules()] == [
        "Stack",
        "ModuleList",
        "Linear",
        "Linear",
        "Linear",
    ]
    assert model(tg.ones(5, 2)).shape == (5, 1)


def test_module_list_is_a_list():
    a, b, c, d = (nn.Linear(1, 1) for _ in range(4))
    layers = nn.ModuleList([a, b])
    layers.append(c)
    assert layers.append(d) is layers  # PyTorch returns the list, so calls chain
    assert len(layers) == 4 and list(layers) == [a, b, c, d]
    assert layers[0] is a and layers[-1] is d and layers[-4] is a
    assert isinstance(layers[1:3], nn.ModuleList) and list(layers[1:3]) == [b, c]
    assert list(layers[::-1]) == [d, c, b, a]
    del layers[1]
    assert list(layers) == [a, c, d]
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2"]
    layers.insert(1, b)
    assert list(layers) == [a, b, c, d]
    layers.insert(-1, nn.ReLU())
    assert [type(m).__name__ for m in layers] == ["Linear"] * 3 + ["ReLU", "Linear"]
    del layers[-2]
    layers[0] = d
    layers[-1] = a
    assert list(layers) == [d, b, c, a]
    del layers[1:3]
    assert list(layers) == [d, a]
    assert layers.pop(0) is d and list(layers) == [a]
    layers.extend([b, c])
    layers += [d]
    assert list(layers) == [a, b, c, d]
    joined = layers + nn.ModuleList([a])
    assert isinstance(joined, nn.ModuleList) and len(joined) == 5 and len(layers) == 4
    assert list(layers.state_dict()) == [
        f"{i}.{name}" for i in range(4) for name in ("weight", "bias")
    ]
    assert len(nn.ModuleList()) == 0 and not nn.ModuleList()
    assert list(nn.ModuleList(nn.Linear(1, 1) for _ in range(2)).state_dict()) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
    ]


def test_module_list_errors_say_what_was_wrong():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    with pytest.raises(
        IndexError, match=exactly("ModuleList index 1 is out of range for 1 module")
    ):
        layers[1]
    with pytest.raises(
        IndexError, match=exactly("ModuleList index -2 is out of range for 1 module")
    ):
        del layers[-2]
    with pytest.raises(
        TypeError, match=exactly("ModuleList indices must be integers or slices, not str")
    ):
        layers["0"]
    with pytest.raises(
        TypeError, match=exactly("ModuleList.append: expected a Module, got a Tensor")
    ):
        layers.append(tg.ones(1))
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleList: item 1: expected a Module, got a Parameter (parameters go in an "
            "nn.ParameterList)"
        ),
    ):
        nn.ModuleList([nn.ReLU(), nn.Parameter(np.ones(1))])
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleList: expected an iterable of modules (e.g. a list), got a Linear; wrap a "
            "single module in a list: nn.ModuleList([module])"
        ),
    ):
        nn.ModuleList(nn.Linear(1, 1))
    with pytest.raises(
        TypeError, match=r"^ModuleList.extend: item 0: expected a Module, got an int$"
    ):
        layers.extend([3])
    with pytest.raises(TypeError, match=r"^ModuleList\[0\] = \.\.\.: expected a Module, got None$"):
        layers[0] = None
    with pytest.raises(TypeError, match="assign one module at a time"):
        layers[0:1] = [nn.ReLU()]
    with pytest.raises(
        TypeError, match=r"^ModuleList: cannot add a ReLU as attribute 'act'; append"
    ):
        layers.act = nn.ReLU()
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleList: got a dict, whose iteration gives its keys; use an nn.ModuleDict for "
            "named modules, or pass list(items.values())"
        ),
    ):
        nn.ModuleList({"a": nn.ReLU()})
    assert len(layers) == 1  # nothing above changed the list
    two = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    delattr(two, "0")  # as ``del two[0]``: the rest move down
    assert [name for name, _ in two.named_children()] == ["0"] and isinstance(two[0], nn.Tanh)
    with pytest.raises(
        NotImplementedError,
        match=exactly(
            "ModuleList is a container, not a layer: it has no forward(). Call its modules in "
            "your forward (for layer in self.layers: x = layer(x)), or use nn.Sequential, which "
            "does"
        ),
    ):
        layers(tg.ones(1, 1))


def test_module_list_repr_groups_repeated_modules_as_pytorch_does():
    layers = nn.ModuleList(
        [nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    )
    assert repr(layers) == (
        "ModuleList(\n"
        "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (3): ReLU()\n"
        "  (4): Linear(in_features=2, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(nn.ModuleList()) == "ModuleList()"
    assert repr(Stack()) == (
        "Stack(\n"
        "  (hidden): ModuleList(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): Linear(in_features=3, out_features=3, bias=True)\n"
        "  )\n"
        "  (out): Linear(in_features=3, out_features=1, bias=True)\n"
        ")"
    )


# ------------------------------------------------------------------ ModuleDict
def test_module_dict_registers_its_modules_under_their_keys():
    model = TwoHeads()
    assert list(model.state_dict()) == HEADS_KEYS
    assert len(list(model.parameters())) == 6
    outputs = model(tg.ones(5, 2))
    assert outputs["label"].shape == (5, 3) and outputs["box"].shape == (5, 2)
    assert repr(model.heads) == (
        "ModuleDict(\n"
        "  (label): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (box): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )


def test_module_dict_is_a_dict():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    modules = nn.ModuleDict({"a": a})
    modules["b"] = b
    modules.update({"c": c})
    assert list(modules) == list(modules.keys()) == ["a", "b", "c"]
    assert list(modules.values()) == [a, b, c]
    assert list(modules.items()) == [("a", a), ("b", b), ("c", c)]
    assert len(modules) == 3 and "b" in modules and "z" not in modules and 3 not in modules
    assert modules["a"] is a and modules.a is a
    modules["a"] = c  # replacing keeps the key's place
    assert list(modules.keys()) == ["a", "b", "c"] and modules["a"] is c
    del modules["b"]
    assert modules.pop("a") is c and list(modules) == ["c"]
    modules.update([("d", a), ("e", b)])
    modules.update(nn.ModuleDict({"f": nn.Linear(2, 2)}))
    assert list(modules) == ["c", "d", "e", "f"]
    assert list(modules.state_dict()) == ["d.weight", "d.bias", "f.weight", "f.bias"]
    modules.clear()
    assert len(modules) == 0 and modules.state_dict() == {}
    assert list(nn.ModuleDict([("x", nn.ReLU())])) == ["x"]


def test_module_dict_errors_say_what_was_wrong():
    modules = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(KeyError, match=re.escape("ModuleDict has no key 'z'; its keys are ['a']")):
        modules["z"]
    with pytest.raises(KeyError, match=re.escape("ModuleDict has no key 'z'; its keys are ['a']")):
        modules.pop("z")
    with pytest.raises(KeyError, match=re.escape("ModuleDict has no key 'z'")):
        del modules["z"]
    with pytest.raises(TypeError, match=exactly("ModuleDict: keys must be strings, got 0 (int)")):
        modules[0] = nn.ReLU()
    with pytest.raises(
        KeyError, match=re.escape("ModuleDict: key 'a.b' must be non-empty and without '.'")
    ):
        modules["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match=re.escape("ModuleDict: key '' must be non-empty")):
        nn.ModuleDict({"": nn.ReLU()})
    for taken in ("training", "keys", "forward", "_buffers"):
        with pytest.raises(
            KeyError,
            match=re.escape(
                f"ModuleDict: key {taken!r} would hide the attribute ModuleDict.{taken}; "
                "choose another key"
            ),
        ):
            modules[taken] = nn.ReLU()
    with pytest.raises(
        TypeError, match=exactly("ModuleDict['b'] = ...: expected a Module, got a Tensor")
    ):
        modules["b"] = tg.ones(1)
    with pytest.raises(
        TypeError, match=r"^ModuleDict\['b'\] = \.\.\.: expected a Module, got None; to remove"
    ):
        modules["b"] = None
    with pytest.raises(
        TypeError, match=r"^ModuleDict.update: element 0 is not a \(key, module\) pair"
    ):
        modules.update([nn.ReLU()])
    with pytest.raises(TypeError, match=r"^ModuleDict.update: expected a dict of modules"):
        modules.update(nn.ReLU())
    with pytest.raises(
        TypeError, match=r"^ModuleDict\['b'\] = \.\.\.: expected a Module, got an int"
    ):
        modules.update({"b": 1})
    assert list(modules) == ["a"]  # nothing above changed the dict
    with pytest.raises(NotImplementedError, match=r"^ModuleDict is a container, not a layer"):
        modules(1.0)


# ------------------------------------------------------------------ ParameterList / ParameterDict
def test_parameter_list_and_dict_register_their_parameters():
    class Mixture(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = nn.ParameterList([nn.Parameter(np.ones(3)), np.zeros((2, 2))])
            self.scales = nn.ParameterDict({"low": nn.Parameter(np.ones(1))})

        def forward(self, x):
            return x * self.weights[0] * self.scales["low"]

    model = Mixture()
    assert list(model.state_dict()) == ["weights.0", "weights.1", "scales.low"]
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert len(model.weights) == 2 and len(model.scales) == 1
    model.weights.append(tg.ones(4))
    model.scales["high"] = nn.Parameter(np.full(1, 2.0))
    assert [name for name, _ in model.named_parameters()] == [
        "weights.0",
        "weights.1",
        "weights.2",
        "scales.low",
        "scales.high",
    ]
    assert list(model.scales.keys()) == ["low", "high"]
    assert repr(model.weights) == (
        "ParameterList(\n"
        "  (0): Parameter containing: [float64 of size 3]\n"
        "  (1): Parameter containing: [float64 of size 2x2]\n"
        "  (2): Parameter containing: [float64 of size 4]\n"
        ")"
    )
    assert repr(model.scales) == (
        "ParameterDict(\n"
        "  (low): Parameter containing: [float64 of size 1]\n"
        "  (high): Parameter containing: [float64 of size 1]\n"
        ")"
    )
    model(tg.ones(3)).sum().backward()
    opt = optim.SGD(model.parameters(), lr=0.5)
    opt.step()
    assert model.weights[0].numpy().tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterList.append: expected a Parameter (or a Tensor or array to make one), "
            "got a Linear"
        ),
    ):
        model.weights.append(nn.Linear(1, 1))


# ------------------------------------------------------------------ the containers as modules
def test_train_eval_to_and_hooks_reach_modules_in_containers():
    model = nn.Sequential(
        nn.ModuleList([nn.Dropout(0.5)]), nn.ModuleDict({"norm": nn.BatchNorm1d(2)})
    )
    model.eval()
    assert [module.training for module in model.modules()] == [False] * 5
    model.train()
    assert all(module.training for module in model.modules())
    stack = Stack().to(np.float32)
    assert {p.dtype for p in stack.parameters()} == {np.dtype(np.float32)}
    assert stack.hidden[1].weight.dtype == np.float32
    heads = TwoHeads()
    seen = []
    heads.heads["box"].register_forward_hook(
        lambda module, inputs, output: seen.append(output.shape)
    )
    heads(tg.ones(3, 2))
    assert seen == [(3, 2)]


def test_state_dicts_of_containers_round_trip_through_load_state_dict():
    tg.manual_seed(0)
    source, target = Stack(), Stack()
    target.load_state_dict(source.state_dict())
    x = tg.randn(4, 2)
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())
    short = Stack()
    short.hidden.pop()
    with pytest.raises(
        nn.StateDictError, match=re.escape("unexpected keys ['hidden.1.weight', 'hidden.1.bias']")
    ):
        short.load_state_dict(source.state_dict())


def test_checkpoints_of_models_with_containers_round_trip(tmp_path):
    tg.manual_seed(1)
    stack, heads = Stack(), TwoHeads()
    opt = optim.Adam([*stack.parameters(), *heads.parameters()], lr=0.01)
    x = tg.randn(3, 2)
    (stack(x).sum() + heads(x)["label"].sum()).backward()
    opt.step()
    path = tg.save(
        {"stack": stack.state_dict(), "heads": heads.state_dict(), "optimizer": opt.state_dict()},
        tmp_path / "run.safetensors",
    )
    restored = tg.load(path)
    assert list(restored["stack"]) == STACK_KEYS and list(restored["heads"]) == HEADS_KEYS
    stack_copy, heads_copy = Stack(), TwoHeads()
    stack_copy.load_state_dict(restored["stack"])
    heads_copy.load_state_dict(restored["heads"])
    optim.Adam([*stack_copy.parameters(), *heads_copy.parameters()], lr=0.01).load_state_dict(
        restored["optimizer"]
    )
    np.testing.assert_array_equal(stack_copy(x).numpy(), stack(x).numpy())
    np.testing.assert_array_equal(heads_copy(x)["box"].numpy(), heads(x)["box"].numpy())


def test_a_copied_model_keeps_its_containers():
    model = Stack()
    clone = copy.deepcopy(model)
    assert list(clone.state_dict()) == STACK_KEYS
    assert clone.hidden[0].weight is not model.hidden[0].weight
    clone.hidden.append(nn.Linear(3, 3))
    assert len(clone.hidden) == 3 and len(model.hidden) == 2


# ------------------------------------------------------------------ plain lists and dicts
def test_modules_in_a_plain_list_are_refused_naming_module_list():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 1)]

    with pytest.raises(
        TypeError,
        match=exactly(
            "Net: attribute 'layers' is a list holding a Module (a Linear at layers[0]); modules "
            "in a plain list, tuple or dict are not registered, so parameters(), state_dict(), "
            "train()/eval(), to() and optimizers would not see them. Use nn.ModuleList: "
            "self.layers = nn.ModuleList([...])"
        ),
    ):
        Net()


@pytest.mark.parametrize(
    ("value", "where", "fix"),
    [
        ((nn.ReLU(),), "a tuple holding a Module (a ReLU at blocks[0])", "nn.ModuleList"),
        ({"enc": nn.ReLU()}, "a dict holding a Module (a ReLU at blocks['enc'])", "nn.ModuleDict"),
        (
            [1, {"enc": [nn.Tanh()]}],
            "a list holding a Module (a Tanh at blocks[1]['enc'][0])",
            "nn.ModuleList",
        ),
    ],
)
def test_modules_in_tuples_dicts_and_nested_containers_are_refused(value, where, fix):
    module = nn.Module()
    with pytest.raises(
        TypeError, match=r"^Module: attribute 'blocks' is " + re.escape(where)
    ) as error:
        module.blocks = value
    assert f"Use {fix}" in str(error.value)
    assert "blocks" not in vars(module)


def test_nested_containers_are_told_that_the_containers_nest():
    with pytest.raises(
        TypeError, match=re.escape("(they nest: nn.ModuleList([nn.ModuleDict({...})]))")
    ):
        nn.Module().blocks = [{"enc": nn.ReLU()}]


def test_parameters_in_a_plain_list_are_refused_naming_parameter_list():
    module = nn.Module()
    with pytest.raises(
        TypeError,
        match=exactly(
            "Module: attribute 'weights' is a list holding a Parameter (of shape (3,) at "
            "weights[0]); parameters in a plain list, tuple or dict are not registered, so "
            "parameters(), state_dict(), to() and optimizers would not see them. Use "
            "nn.ParameterList: self.weights = nn.ParameterList([...]), or assign each Parameter "
            "to an attribute of its own"
        ),
    ):
        module.weights = [nn.Parameter(np.ones(3))]
    with pytest.raises(TypeError, match=r"Use nn.ParameterDict: self.weights = nn.ParameterDict"):
        module.weights = {"w": nn.Parameter(np.ones(3))}


def test_a_plain_list_filled_after_assignment_is_refused_when_the_model_is_walked():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = []
            for _ in range(2):
                self.layers.append(nn.Linear(2, 2))

    model = nn.Sequential(Net())
    message = (
        "Net: attribute '0.layers' is a list holding a Module (a Linear at layers[0]); modules "
        "in a plain list"
    )
    for walk in (model.parameters, model.state_dict, model.eval, lambda: model.to(np.float32)):
        with pytest.raises(TypeError, match="^" + re.escape(message)):
            list(walk())
    with pytest.raises(TypeError, match=re.escape("Use nn.ModuleList")):
        optim.SGD(model.parameters(), lr=0.1)


def test_plain_containers_without_modules_or_parameters_are_fine():
    module = nn.Module()
    module.sizes = [2, 3, (4, 5)]
    module.config = {"act": "relu", "masks": [tg.ones(2)]}
    module.empty = []
    assert module.sizes == [2, 3, (4, 5)] and module.state_dict() == {}


# ------------------------------------------------------------------ devices
NO_DEVICES = (
    "tinygrad_ann has no devices (everything runs on the CPU, in NumPy), so there is nothing "
    "to move; leave the device out and pass a dtype only, e.g. model.to(np.float32)"
)


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda m: m.to("cpu"), "'cpu' is not a dtype"),
        (lambda m: m.to("cuda:0"), "'cuda:0' is not a dtype"),
        (lambda m: m.to("mps"), "'mps' is not a dtype"),
        (lambda m: m.to(device="cpu"), "device='cpu' given"),
        (lambda m: m.to(np.float32, device="cuda"), "device='cuda' given"),
        (lambda m: m.to("cpu", np.float32), "'cpu' is not a dtype"),
        (lambda m: m.to(np.float32, "cpu"), "'cpu' is not a dtype"),
    ],
)
def test_devices_are_refused_clearly(call, what):
    model = Stack()
    with pytest.raises(TypeError, match=exactly(f"Module.to: {what}: {NO_DEVICES}")):
        call(model)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}


def test_to_takes_one_floating_dtype():
    model = Stack()
    assert model.to(dtype="float32") is model
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}
    assert model.to(np.float64) is model and model.out.bias.dtype == np.float64
    with pytest.raises(
        TypeError,
        match=exactly(
            "Module.to: unexpected argument non_blocking=True; to takes a dtype only, e.g. "
            "model.to(np.float32)"
        ),
    ):
        model.to(np.float32, non_blocking=True)
    with pytest.raises(
        TypeError, match=exactly("Module.to: expected a floating dtype, e.g. model.to(np.float32)")
    ):
        model.to()
    with pytest.raises(TypeError, match=r"^Module.to: expected a floating dtype, got int32$"):
        model.to(np.int32)
    with pytest.raises(TypeError, match=r"^Module.to: takes one dtype, got also float64"):
        model.to(np.float32, np.float64)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: nn.Linear(2, 3, bias=False), "bias"),
        (lambda: nn.Conv2d(1, 2, 3, bias=False), "bias"),
        (lambda: nn.BatchNorm1d(3, affine=False), "weight"),
        (lambda: nn.LayerNorm(3, elementwise_affine=False), "bias"),
    ],
    ids=["Linear", "Conv2d", "BatchNorm1d", "LayerNorm"],
)
def test_a_layer_without_a_bias_or_affine_keeps_the_name_a_parameter_slot(make, name):
    layer = make()
    assert getattr(layer, name) is None
    refusal = f"cannot assign a Tensor to '{name}', which is a parameter"
    with pytest.raises(TypeError, match=refusal):
        setattr(layer, name, tg.zeros(3))
    setattr(layer, name, nn.Parameter(np.zeros(3)))
    assert name in dict(layer.named_parameters())


def test_module_list_repr_counts_a_run_that_starts_later_and_indents_nested_modules():
    layers = nn.ModuleList(
        [nn.ReLU(), nn.Sequential(nn.Linear(1, 1)), nn.Sequential(nn.Linear(1, 1))]
    )
    assert repr(layers) == (
        "ModuleList(\n"
        "  (0): ReLU()\n"
        "  (1-2): 2 x Sequential(\n"
        "    (0): Linear(in_features=1, out_features=1, bias=True)\n"
        "  )\n"
        ")"
    )


def test_list_messages_name_the_operation_and_count_in_the_plural():
    layers = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    not_modules, not_parameters = [3], [np.ones(1), None]
    with pytest.raises(
        IndexError, match=exactly("ModuleList index 2 is out of range for 2 modules")
    ):
        layers[2]
    with pytest.raises(
        IndexError, match=exactly("ModuleList index 0 is out of range for 0 modules")
    ):
        nn.ModuleList()[0]
    with pytest.raises(
        IndexError, match=exactly("ParameterList index -3 is out of range for 2 parameters")
    ):
        nn.ParameterList([np.ones(1), np.ones(2)])[-3]
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleList: assign one module at a time (items[i] = module), not a slice; use "
            "del, insert() and extend() to change several"
        ),
    ):
        layers[0:1] = [nn.ReLU()]
    with pytest.raises(
        TypeError,
        match=exactly("ModuleList: expected an iterable of modules (e.g. a list), got an int"),
    ):
        nn.ModuleList(3)
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterList.extend: expected an iterable of parameters (e.g. a list), got a "
            "NumPy array"
        ),
    ):
        nn.ParameterList().extend(np.ones(2))
    with pytest.raises(
        TypeError, match=exactly("ModuleList + ...: item 0: expected a Module, got an int")
    ):
        layers + not_modules
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterList + ...: item 1: expected a Parameter (or a Tensor or array to make "
            "one), got None"
        ),
    ):
        nn.ParameterList() + not_parameters
    with pytest.raises(
        TypeError, match=exactly("ModuleList.insert: expected a Module, got an int")
    ):
        layers.insert(0, 3)
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterList.insert: expected a Parameter (or a Tensor or array to make one), "
            "got a str"
        ),
    ):
        nn.ParameterList().insert(0, "w")
    assert [type(m).__name__ for m in layers] == ["ReLU", "Tanh"]  # nothing above changed it


def test_deleting_a_plain_attribute_of_a_list_deletes_only_it():
    layers = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    layers.note = "two activations"
    del layers.note
    assert not hasattr(layers, "note")
    assert [type(m).__name__ for m in layers] == ["ReLU", "Tanh"]
    with pytest.raises(AttributeError):
        del layers.note
    weights = nn.ParameterList([np.ones(1)])
    weights.scale = 2.0
    delattr(weights, "scale")
    assert not hasattr(weights, "scale") and len(weights) == 1


def test_dict_messages_name_the_container_and_the_mistake():
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleDict['w'] = ...: expected a Module, got a Parameter (parameters go in an "
            "nn.ParameterDict)"
        ),
    ):
        nn.ModuleDict({"w": nn.Parameter(np.ones(1))})
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleDict: expected a dict of modules or an iterable of (key, module) pairs, "
            "got an int"
        ),
    ):
        nn.ModuleDict(3)
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterDict: expected a dict of parameters or an iterable of (key, parameter) "
            "pairs, got a str"
        ),
    ):
        nn.ParameterDict("ab")
    with pytest.raises(
        TypeError,
        match=exactly(
            "ModuleDict.update: expected a dict of modules or an iterable of (key, module) "
            "pairs, got a ReLU"
        ),
    ):
        nn.ModuleDict().update(nn.ReLU())
    with pytest.raises(
        TypeError, match=exactly("ParameterDict: element 0 is not a (key, parameter) pair: 1")
    ):
        nn.ParameterDict([1])
    with pytest.raises(
        KeyError,
        match=exactly(
            "\"ModuleDict: key 'a.b' must be non-empty and without '.' (it becomes part of "
            'the state-dict names)"'
        ),
    ):
        nn.ModuleDict()["a.b"] = nn.ReLU()
    with pytest.raises(
        KeyError,
        match=exactly(
            "\"ParameterDict: key '' must be non-empty and without '.' (it becomes part of "
            'the state-dict names)"'
        ),
    ):
        nn.ParameterDict({"": np.ones(1)})
    scales = nn.ParameterDict()
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterDict['low'] = ...: expected a Parameter (or a Tensor or array to make "
            "one), got an int"
        ),
    ):
        scales["low"] = 1
    with pytest.raises(
        TypeError,
        match=exactly(
            "ParameterDict['low'] = ...: expected a Parameter (or a Tensor or array to make "
            "one), got a list"
        ),
    ):
        nn.ParameterDict({"low": [1.0]})
    assert len(scales) == 0


def test_containers_have_no_forward_and_say_how_to_use_them():
    with pytest.raises(
        NotImplementedError,
        match=exactly(
            "ModuleDict is a container, not a layer: it has no forward(). Call its modules by "
            "key in your forward (self.heads['name'](x))"
        ),
    ):
        nn.ModuleDict({"a": nn.ReLU()})(tg.ones(1))
    with pytest.raises(
        NotImplementedError,
        match=exactly(
            "ParameterList is a container, not a layer: it has no forward(). Use its "
            "parameters in your forward (self.weights[0])"
        ),
    ):
        nn.ParameterList([np.ones(1)])(tg.ones(1))
    with pytest.raises(
        NotImplementedError,
        match=exactly(
            "ParameterDict is a container, not a layer: it has no forward(). Use its "
            "parameters in your forward (self.scales['name'])"
        ),
    ):
        nn.ParameterDict({"low": np.ones(1)})(tg.ones(1))
    with pytest.raises(NotImplementedError):
        nn.ParameterList().forward()
    with pytest.raises(NotImplementedError):
        nn.ParameterDict().forward(x=1)


MODULES_UNSEEN = (
    "modules in a plain list, tuple or dict are not registered, so parameters(), "
    "state_dict(), train()/eval(), to() and optimizers would not see them."
)


PARAMETERS_UNSEEN = (
    "parameters in a plain list, tuple or dict are not registered, so parameters(), "
    "state_dict(), to() and optimizers would not see them."
)


class Holder(nn.Module):
    pass


def message(raised):
    return raised.value.args[0]


# ------------------------------------------------------------ hidden in plain containers
def test_a_list_filled_after_assignment_on_the_root_module_is_named_without_a_dot():
    model = Holder()
    model.items = []
    model.items.append(nn.Linear(1, 1))
    with pytest.raises(TypeError) as raised:
        list(model.parameters())
    assert message(raised) == (
        "Holder: attribute 'items' is a list holding a Module (a Linear at items[0]); "
        f"{MODULES_UNSEEN} Use nn.ModuleList: self.items = nn.ModuleList([...])"
    )


def test_a_list_filled_after_assignment_in_a_sub_module_is_named_by_its_path():
    model = nn.Sequential(Holder())
    model[0].items = []
    model[0].items.append(nn.Linear(1, 1))
    with pytest.raises(TypeError) as raised:
        model.state_dict()
    assert message(raised) == (
        "Holder: attribute '0.items' is a list holding a Module (a Linear at items[0]); "
        f"{MODULES_UNSEEN} Use nn.ModuleList: self.items = nn.ModuleList([...])"
    )


def test_a_module_in_a_dict_names_module_dict_with_braces():
    with pytest.raises(TypeError) as raised:
        Holder().blocks = {"a": nn.Linear(1, 1)}
    assert message(raised) == (
        "Holder: attribute 'blocks' is a dict holding a Module (a Linear at blocks['a']); "
        f"{MODULES_UNSEEN} Use nn.ModuleDict: self.blocks = nn.ModuleDict({{...}})"
    )


def test_a_parameter_in_a_dict_names_parameter_dict_with_braces():
    with pytest.raises(TypeError) as raised:
        Holder().weights = {"w": nn.Parameter(np.zeros(3))}
    assert message(raised) == (
        "Holder: attribute 'weights' is a dict holding a Parameter (of shape (3,) at "
        f"weights['w']); {PARAMETERS_UNSEEN} Use nn.ParameterDict: self.weights = "
        "nn.ParameterDict({...}), or assign each Parameter to an attribute of its own"
    )


def test_a_parameter_nested_two_lists_deep_shows_how_the_containers_nest():
    with pytest.raises(TypeError) as raised:
        Holder().weights = [[nn.Parameter(np.zeros((2, 3)))]]
    assert message(raised) == (
        "Holder: attribute 'weights' is a list holding a Parameter (of shape (2, 3) at "
        f"weights[0][0]); {PARAMETERS_UNSEEN} Use nn.ParameterList: self.weights = "
        "nn.ParameterList([...]) (they nest: nn.ModuleList([nn.ParameterDict({...})])), "
        "or assign each Parameter to an attribute of its own"
    )


class CountedList(list):
    """A list that fails when it is walked more than ``limit`` times."""

    def __init__(self, *args, limit=2):
        super().__init__(*args)
        self.walks = 0
        self.limit = limit

    def __iter__(self):
        self.walks += 1
        if self.walks > self.limit:
            raise AssertionError("a container in a cycle was walked again")
        return super().__iter__()


def test_a_list_that_holds_itself_is_walked_once_and_the_search_goes_on():
    cycle = CountedList()
    cycle.append(cycle)
    # The cycle comes first: meeting it again must skip it, not end the search.
    blocks = [cycle, [nn.Linear(1, 1)]]
    with pytest.raises(TypeError) as raised:
        Holder().blocks = blocks
    assert message(raised) == (
        "Holder: attribute 'blocks' is a list holding a Module (a Linear at blocks[1][0]); "
        f"{MODULES_UNSEEN} Use nn.ModuleList: self.blocks = nn.ModuleList([...]) "
        "(they nest: nn.ModuleList([nn.ModuleDict({...})]))"
    )
    assert cycle.walks == 1


def test_a_list_that_holds_itself_and_nothing_to_register_is_accepted():
    cycle = CountedList([1.0])
    cycle.append(cycle)
    holder = Holder()
    holder.sizes = cycle
    assert holder.sizes is cycle
    assert cycle.walks == 2  # once to see it holds a list, once to search it
    cycle.walks = 0
    assert list(holder.parameters()) == []  # the walk of the model looks again, once
    assert cycle.walks == 2


# ------------------------------------------------------------ to()
class Device:
    def __repr__(self):
        return "device(type='cuda')"


Device.__name__ = "device"  # the name of torch's device class


def test_to_refuses_a_device_object_by_its_class_name():
    with pytest.raises(TypeError) as raised:
        nn.Linear(1, 1).to(Device())
    assert message(raised) == f"Module.to: device(type='cuda') is not a dtype: {NO_DEVICES}"


def test_to_names_every_extra_argument_as_a_dtype_or_its_repr():
    with pytest.raises(TypeError) as raised:
        nn.Linear(1, 1).to(np.float32, "float16", 3)
    assert message(raised) == "Module.to: takes one dtype, got also float16, 3"


def test_to_refuses_what_numpy_cannot_read_as_a_dtype():
    with pytest.raises(TypeError) as raised:
        nn.Linear(1, 1).to(3)
    assert message(raised) == (
        "Module.to: expected a floating dtype (np.float32, 'float64', ...), got 3"
    )


# ------------------------------------------------------------ register_parameter
def test_register_parameter_names_itself_when_the_name_has_a_dot():
    with pytest.raises(KeyError) as raised:
        Holder().register_parameter("a.b", None)
    assert message(raised) == (
        "Holder.register_parameter: the name must be non-empty and without '.', got 'a.b'"
    )


def test_register_parameter_refuses_a_name_the_class_defines():
    holder = Holder()
    with pytest.raises(KeyError) as raised:
        holder.register_parameter("forward", None)
    assert message(raised) == "Holder.register_parameter: attribute 'forward' already exists"
    assert "forward" not in vars(holder)


# ------------------------------------------------------------ state_dict
def test_a_parameter_shared_by_two_layers_is_saved_once_under_its_first_name():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    second.weight = first.weight
    model = nn.Sequential(first, second)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.bias"]
    model.load_state_dict({name: value for name, value in model.state_dict().items()})


def test_sequential_item_assignment_and_append_as_in_pytorch():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    replacement = nn.Linear(2, 3)
    model[0] = replacement
    model[-1] = nn.ReLU()
    assert model[0] is replacement and isinstance(model[1], nn.ReLU)
    assert model.append(nn.Linear(3, 1)) is model
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
    ]
    assert model(tg.ones(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError, match=r"index 3 is out of range for 3 layers \(from -3 to 2\)"):
        model[3] = nn.ReLU()
    with pytest.raises(TypeError, match="layer 0 must be a Module, got function"):
        model[0] = lambda x: x
    with pytest.raises(TypeError, match="expected a Module, got int"):
        model.append(3)
