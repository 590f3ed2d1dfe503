"""What optimizers accept as parameters: each once, frozen ones skipped, leaves only."""

import re

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, optim
from tinygrad_ann.optim import lr_scheduler

OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "Adam": lambda params: optim.Adam(params, lr=0.1),
}


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def two_models_sharing_a_layer():
    tg.manual_seed(0)
    shared = nn.Linear(2, 3)
    return nn.Sequential(shared, nn.Tanh()), nn.Sequential(shared, nn.Linear(3, 1))


# ------------------------------------------------------------------ each parameter once
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_parameter_given_twice_is_refused_naming_both_positions_and_the_shape(name):
    a, b = two_models_sharing_a_layer()
    params = list(a.parameters()) + list(b.parameters())
    assert len(params) == 6
    with pytest.raises(
        ValueError,
        match=exactly(
            f"{name}: parameter 2 is the same Tensor as parameter 0 (shape (3, 2)); give each "
            "parameter once, or step() would update it twice. For models that share a layer, "
            "collect them in one module, whose parameters() lists a shared parameter once: "
            "nn.ModuleList([a, b]).parameters()"
        ),
    ):
        OPTIMIZERS[name](params)


def test_the_suggested_fix_lists_the_shared_layer_once():
    a, b = two_models_sharing_a_layer()
    params = list(nn.ModuleList([a, b]).parameters())
    assert len(params) == 4
    opt = optim.SGD(params, lr=1.0)
    shared = a[0].weight
    before = shared.numpy().copy()
    shared.grad = tg.ones(3, 2)
    opt.step()
    np.testing.assert_array_equal(shared.numpy(), before - 1.0)  # once, not twice


def test_a_duplicate_later_in_the_list_names_its_own_positions():
    w, v = nn.Parameter(np.zeros((2, 4))), nn.Parameter(np.zeros(1))
    with pytest.raises(
        ValueError, match=r"^SGD: parameter 3 is the same Tensor as parameter 1 \(shape \(2, 4\)\)"
    ):
        optim.SGD([v, w, nn.Parameter(np.zeros(1)), w], lr=0.1)


# ------------------------------------------------------------------ frozen parameters
def frozen_first_layer():
    tg.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    for parameter in model[0].parameters():
        parameter.requires_grad = False
    return model


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameters_that_do_not_require_grad_are_accepted_and_left_alone(name):
    model = frozen_first_layer()
    opt = OPTIMIZERS[name](model.parameters())
    assert len(opt.params) == 4
    frozen = [p.numpy().copy() for p in model[0].parameters()]
    trained = [p.numpy().copy() for p in model[2].parameters()]
    for _ in range(2):
        opt.zero_grad()
        model(tg.ones(5, 2)).sum().backward()
        assert all(p.grad is None for p in model[0].parameters())
        opt.step()
    for parameter, before in zip(model[0].parameters(), frozen):
        np.testing.assert_array_equal(parameter.numpy(), before)
    for parameter, before in zip(model[2].parameters(), trained):
        assert not np.array_equal(parameter.numpy(), before)
    assert sorted(opt.state_dict()["state"]) == [2, 3]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_frozen_parameter_with_a_gradient_is_still_skipped_until_unfrozen(name):
    frozen = nn.Parameter(np.ones(2), requires_grad=False)
    frozen.grad = tg.ones(2)
    opt = OPTIMIZERS[name]([frozen])
    opt.step()
    assert frozen.numpy().tolist() == [1.0, 1.0] and opt.state_dict()["state"] == {}
    frozen.requires_grad = True
    opt.step()
    assert frozen.numpy()[0] < 1.0


def test_a_plain_tensor_without_requires_grad_is_accepted_too():
    opt = optim.Adam([nn.Parameter(np.ones(1)), tg.tensor([1.0, 2.0])])
    assert len(opt.params) == 2
    opt.step()


def test_state_dicts_and_schedulers_work_with_frozen_parameters():
    model = frozen_first_layer()
    opt = optim.Adam(model.parameters(), lr=0.1)
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    model(tg.ones(5, 2)).sum().backward()
    opt.step()
    scheduler.step()
    assert opt.lr == 0.05
    state = opt.state_dict()
    assert sorted(state["state"]) == [2, 3] and state["param_groups"][0]["params"] == [0, 1, 2, 3]
    resumed = optim.Adam(frozen_first_layer().parameters(), lr=0.1)
    resumed.load_state_dict(state)
    assert resumed.lr == 0.05 and resumed.state[2]["step"] == 1 and resumed.state[0] == {}


def test_parameters_without_a_gradient_are_skipped_and_zero_grad_clears_every_gradient():
    used, unused = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    frozen = nn.Parameter(np.ones(2), requires_grad=False)
    frozen.grad = tg.ones(2)
    opt = optim.SGD([used, unused, frozen], lr=0.5)
    (used * 3.0).sum().backward()
    opt.step()
    assert used.numpy().tolist() == [-0.5, -0.5]
    assert unused.numpy().tolist() == [1.0, 1.0] and unused.grad is None
    opt.zero_grad()
    assert used.grad is None and unused.grad is None and frozen.grad is None


# ------------------------------------------------------------------ what is not a parameter
def test_a_tensor_computed_by_an_operation_is_refused():
    weight = nn.Parameter(np.ones(2))
    scaled = weight * 2.0
    with pytest.raises(
        ValueError,
        match=exactly(
            "SGD: parameter 1 (shape (2,)) is not a leaf tensor: it was computed by an "
            "operation, so backward leaves its .grad None and step() could never change it; "
            "pass the tensors it was computed from, or make it a leaf with "
            "x.detach().requires_grad_()"
        ),
    ):
        optim.SGD([weight, scaled], lr=0.1)


def test_modules_instead_of_their_parameters_are_refused_saying_what_to_pass():
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(
        TypeError,
        match=exactly(
            "Adam: parameter 0 is a module (Linear), not a Tensor; pass model.parameters()"
        ),
    ):
        optim.Adam(model)
    with pytest.raises(
        TypeError,
        match=exactly(
            "SGD: expected an iterable of Tensors such as model.parameters(), got a method"
        ),
    ):
        optim.SGD(model.parameters, lr=0.1)
    with pytest.raises(
        TypeError,
        match=exactly(
            "SGD: expected an iterable of Tensors such as model.parameters(), got a single "
            "Parameter; wrap it in a list: SGD([w], ...)"
        ),
    ):
        optim.SGD(nn.Parameter(np.ones((2, 2))), lr=0.1)

    class Options:  # not iterable; its name starts with a capital vowel
        pass

    for value, described in ((3, "an int"), (1.5, "a float"), (Options(), "an Options")):
        with pytest.raises(
            TypeError,
            match=exactly(
                f"SGD: expected an iterable of Tensors such as model.parameters(), got {described}"
            ),
        ):
            optim.SGD(value, lr=0.1)
    with pytest.raises(TypeError, match=r"^SGD: parameter 1 is a ndarray, not a Tensor$"):
        optim.SGD([nn.Parameter(np.ones(1)), np.zeros(2)], lr=0.1)
