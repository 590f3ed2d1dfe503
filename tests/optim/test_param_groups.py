"""Parameter groups: construction, editing, saving, and what each refuses, with exact messages."""

import re

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, optim
from tinygrad_ann.optim import lr_scheduler


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def params(count=3):
    return [nn.Parameter(np.full(2, float(index))) for index in range(count)]


def two_groups():
    a, b, c = params()
    return optim.SGD([{"params": [a, b], "lr": 0.5}, {"params": c}], lr=0.1, momentum=0.9)


def test_groups_take_the_constructors_settings_unless_they_set_their_own():
    opt = two_groups()
    assert [group["lr"] for group in opt.param_groups] == [0.5, 0.1]
    assert [group["momentum"] for group in opt.param_groups] == [0.9, 0.9]
    assert [len(group["params"]) for group in opt.param_groups] == [2, 1]
    assert opt.defaults["lr"] == 0.1
    assert len(opt.params) == len(opt.state) == 3


def test_one_group_keeps_the_setting_attributes():
    opt = optim.SGD(params(), lr=0.1)
    opt.lr = 0.25
    assert opt.param_groups[0]["lr"] == 0.25 == opt.lr
    with pytest.raises(ValueError, match=exactly("SGD: lr must be a finite number >= 0, got -1")):
        opt.lr = -1
    assert opt.lr == 0.25


def test_several_groups_refuse_the_shortcut_attributes():
    opt = two_groups()
    message = "SGD has 2 parameter groups, each with its own lr: use opt.param_groups[i]['lr']"
    with pytest.raises(AttributeError, match=exactly(message)):
        opt.lr  # noqa: B018
    with pytest.raises(AttributeError, match=r"set opt\.param_groups\[i\]\['momentum'\]$"):
        opt.momentum = 0.5


def test_an_unknown_group_key_is_refused_naming_the_known_ones():
    a, b = params(2)
    with pytest.raises(
        ValueError,
        match=exactly(
            "Adam: parameter group 1 has unknown keys ['learning_rate']; a group takes 'params' "
            "and any of ['lr', 'betas', 'eps', 'weight_decay', 'amsgrad']"
        ),
    ):
        optim.Adam([{"params": [a]}, {"params": [b], "learning_rate": 0.1}])
    with pytest.raises(ValueError, match=r"^SGD: parameter group 0 has no 'params' entry; "):
        optim.SGD([{"lr": 0.1}], lr=0.1)


def test_a_parameter_in_two_groups_is_refused_as_pytorch_refuses_it():
    a, b, c = params()
    message = (
        "SGD: parameter 2 (shape (2,)), in parameter group 1, is already in parameter group 0 "
        "as parameter 0; a parameter can belong to one group only, as in PyTorch"
    )
    with pytest.raises(ValueError, match=exactly(message)):
        optim.SGD([{"params": [a, b]}, {"params": [a]}], lr=0.1)
    opt = optim.SGD([{"params": [a, b]}], lr=0.1)
    with pytest.raises(ValueError, match=exactly(message)):
        opt.add_param_group({"params": [a]})
    assert len(opt.param_groups) == 1 and len(opt.state) == 2  # the failed add changed nothing
    opt.add_param_group({"params": c})
    assert opt.params == [a, b, c]


def test_group_errors_name_the_problem():
    a, b = params(2)
    with pytest.raises(TypeError, match=r"^SGD: got a mix of Tensors and dicts; "):
        optim.SGD([a, {"params": [b]}], lr=0.1)
    with pytest.raises(TypeError, match=r"^SGD: parameter group 0's 'params' must be a Tensor or"):
        optim.SGD([{"params": {a}}], lr=0.1)
    with pytest.raises(ValueError, match=exactly("SGD: lr must be a finite number >= 0, got -2")):
        optim.SGD([{"params": [a], "lr": -2}], lr=0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda ps: optim.SGD(ps, lr=0.1, nesterov=True),
            "SGD: nesterov=True needs a momentum > 0 and dampening 0, got momentum=0.0 and "
            "dampening=0.0",
        ),
        (
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
            "SGD: nesterov=True needs a momentum > 0 and dampening 0, got momentum=0.9 and "
            "dampening=0.1",
        ),
        (lambda ps: optim.SGD(ps, nesterov=1), "SGD: nesterov must be True or False, got 1"),
        (
            lambda ps: optim.Adam(ps, amsgrad="yes"),
            "Adam: amsgrad must be True or False, got 'yes'",
        ),
        (
            lambda ps: optim.AdamW(ps, weight_decay=-0.1),
            "AdamW: weight_decay must be a finite number >= 0, got -0.1",
        ),
    ],
)
def test_update_rule_settings_are_checked(make, message):
    with pytest.raises(ValueError, match=exactly(message)):
        make(params(1))


def test_a_state_dict_keeps_each_groups_settings_and_positions():
    opt = two_groups()
    for param in opt.params:
        param.grad = tg.ones(2)
    opt.step()
    saved = opt.state_dict()
    assert [group["params"] for group in saved["param_groups"]] == [[0, 1], [2]]
    assert [group["lr"] for group in saved["param_groups"]] == [0.5, 0.1]
    other = optim.SGD([{"params": params(2)}, {"params": params(1)}], lr=0.3)
    other.load_state_dict(saved)
    assert [group["lr"] for group in other.param_groups] == [0.5, 0.1]
    assert other.param_groups[1]["momentum"] == 0.9
    np.testing.assert_array_equal(other.state[2]["momentum_buffer"], np.ones(2))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: {**s, "param_groups": s["param_groups"][:1]},
            "expected 2 parameter groups, got 1",
        ),
        (
            lambda s: {**s, "param_groups": [s["param_groups"][1], s["param_groups"][0]]},
            "parameter group 0 of the state dict is for 1 parameters, this optimizer's has 2",
        ),
        (
            lambda s: {
                **s,
                "param_groups": [s["param_groups"][0], {**s["param_groups"][1], "x": 1}],
            },
            "parameter group 1 must have the keys",
        ),
        (
            lambda s: {
                **s,
                "param_groups": [s["param_groups"][0], {**s["param_groups"][1], "lr": -1.0}],
            },
            "SGD: lr must be a finite number >= 0, got -1.0",
        ),
        (
            lambda s: {
                **s,
                "param_groups": [{**s["param_groups"][0], "maximize": True}, s["param_groups"][1]],
            },
            "parameter group 0 has maximize=True; SGD here implements maximize=False only",
        ),
    ],
)
def test_a_failed_load_leaves_every_group_and_the_state_untouched(edit, message):
    opt = two_groups()
    for param in opt.params:
        param.grad = tg.ones(2)
    opt.step()
    saved = opt.state_dict()
    opt.param_groups[0]["lr"] = 0.01
    with pytest.raises(nn.StateDictError, match=re.escape(message)):
        opt.load_state_dict(edit(saved))
    assert [group["lr"] for group in opt.param_groups] == [0.01, 0.1]
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], np.ones(2))


def test_adamw_refuses_an_adam_state_dict_from_pytorch():
    saved = optim.Adam(params(1)).state_dict()
    saved["param_groups"][0]["decoupled_weight_decay"] = False
    with pytest.raises(nn.StateDictError, match=r"decoupled_weight_decay=False; AdamW here"):
        optim.AdamW(params(1)).load_state_dict(saved)


def test_a_state_dict_saved_before_the_newer_settings_still_loads():
    opt = optim.SGD(params(1), lr=0.1, momentum=0.9)
    saved = opt.state_dict()
    for key in ("dampening", "nesterov"):
        del saved["param_groups"][0][key]
    opt.load_state_dict(saved)
    assert (opt.dampening, opt.nesterov) == (0.0, False)


# ------------------------------------------------------------------ schedules
def test_a_scheduler_sets_every_groups_rate_and_saves_one_per_group():
    opt = two_groups()
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    assert scheduler.base_lrs == [0.5, 0.1]
    scheduler.step()
    assert [group["lr"] for group in opt.param_groups] == [0.25, 0.05] == scheduler.get_last_lr()
    saved = scheduler.state_dict()
    assert saved["base_lrs"] == [0.5, 0.1]
    with pytest.raises(nn.StateDictError, match=r"base_lrs must be a list of 2 learning rates"):
        scheduler.load_state_dict({**saved, "base_lrs": [0.5]})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "OneCycleLR: give total_steps, or epochs and steps_per_epoch"),
        ({"epochs": 2}, "OneCycleLR: give total_steps, or epochs and steps_per_epoch"),
        ({"total_steps": 0}, "OneCycleLR: total_steps must be an int >= 1, got 0"),
        ({"epochs": 2, "steps_per_epoch": 0}, "steps_per_epoch must be an int >= 1, got 0"),
        ({"total_steps": 9, "pct_start": 1.5}, "pct_start must be a float in [0, 1], got 1.5"),
        (
            {"total_steps": 9, "anneal_strategy": "cosine"},
            "must be 'cos' or 'linear', got 'cosine'",
        ),
        ({"total_steps": 9, "max_lr": [1.0, 2.0, 3.0]}, "max_lr has 3 values for 2 parameter"),
        ({"total_steps": 9, "div_factor": 0}, "div_factor must be a finite number > 0, got 0"),
    ],
)
def test_one_cycle_arguments_are_checked(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        lr_scheduler.OneCycleLR(two_groups(), **{"max_lr": 1.0, **settings})


def test_one_cycle_needs_a_momentum_to_cycle_and_stops_at_total_steps():
    class Plain(optim.Optimizer):
        def _update(self, param, grad, state, group):
            param.data -= group["lr"] * grad

    with pytest.raises(ValueError, match=r"Plain has neither momentum nor betas; pass cycle_mo"):
        lr_scheduler.OneCycleLR(Plain(params(1), lr=0.1), max_lr=1.0, total_steps=3)
    scheduler = lr_scheduler.OneCycleLR(
        Plain(params(1), lr=0.1), max_lr=1.0, total_steps=3, cycle_momentum=False
    )
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match=r"^OneCycleLR: stepped 4 times, past total_steps=3"):
        scheduler.step()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"start_factor": 0}, "LinearLR: start_factor must be a finite number > 0, got 0"),
        ({"start_factor": 1.5}, "LinearLR: start_factor must be <= 1, got 1.5"),
        ({"end_factor": -0.5}, "LinearLR: end_factor must be a finite number >= 0, got -0.5"),
        ({"total_iters": 2.0}, "LinearLR: total_iters must be an int >= 0, got 2.0"),
    ],
)
def test_linear_lr_arguments_are_checked(settings, message):
    with pytest.raises(ValueError, match=exactly(message)):
        lr_scheduler.LinearLR(two_groups(), **settings)
