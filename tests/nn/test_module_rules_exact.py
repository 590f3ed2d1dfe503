"""Module's rules stated exactly: the whole text of each error a user meets when a Module or
Parameter is hidden in a plain container, when ``to()`` is given something other than one
dtype, and when ``register_parameter`` refuses a name; and which names ``state_dict`` holds
for a Parameter shared by two layers.
"""

import numpy as np
import pytest

from tinygrad_ann import nn

NO_DEVICES = (
    "tinygrad_ann has no devices (everything runs on the CPU, in NumPy), so there is nothing "
    "to move; leave the device out and pass a dtype only, e.g. model.to(np.float32)"
)
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
