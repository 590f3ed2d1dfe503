"""Parameter groups, state dicts, newer update rules and schedules, side by side with PyTorch."""

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, optim
from tinygrad_ann.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="PyTorch is an optional reference")

SHAPES = [(3, 2), (3,), (1, 3), (1,)]


def twin_parameters(seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=shape) for shape in SHAPES]
    ours = [nn.Parameter(value.copy()) for value in values]
    theirs = [torch.nn.Parameter(torch.tensor(value)) for value in values]
    return ours, theirs


def gradients(step):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=shape) for shape in SHAPES]


def set_gradients(ours, theirs, step):
    for mine, their, grad in zip(ours, theirs, gradients(step)):
        mine.grad = tg.tensor(grad)
        their.grad = torch.tensor(grad)


def assert_same(ours, theirs):
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), their.detach().numpy(), rtol=0, atol=1e-12)


def step_both(mine, their, ours, theirs, steps, before_step=lambda step: None):
    """Give both the same gradients and step both, checking the weights after each step."""
    for step in steps:
        before_step(step)
        set_gradients(ours, theirs, step)
        mine.step()
        their.step()
        assert_same(ours, theirs)


def grouped(params, extra):
    return [{"params": params[:2], **extra}, {"params": params[2:]}]


UPDATE_RULES = {
    "sgd-dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    "sgd-nesterov": ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    "adam-amsgrad": ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    "adamw": ("AdamW", {"lr": 0.05}),
    "adamw-amsgrad": ("AdamW", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}),
}


@pytest.mark.parametrize("rule", UPDATE_RULES)
def test_update_rules_match_pytorch_over_several_steps_with_two_groups(rule):
    name, settings = UPDATE_RULES[rule]
    ours, theirs = twin_parameters()
    group_settings = {"lr": 0.01, "weight_decay": 0.3}
    mine = getattr(optim, name)(grouped(ours, group_settings), **settings)
    their = getattr(torch.optim, name)(grouped(theirs, group_settings), **settings)
    step_both(mine, their, ours, theirs, range(8))


def test_adamw_defaults_are_pytorchs():
    mine = optim.AdamW([nn.Parameter(np.zeros(1))])
    their = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    for key, value in mine.param_groups[0].items():
        if key != "params":
            assert their.param_groups[0][key] == value, key


def test_editing_a_groups_lr_takes_effect_on_the_next_step():
    ours, theirs = twin_parameters()
    mine = optim.SGD(grouped(ours, {"lr": 0.5}), lr=0.1, momentum=0.9)
    their = torch.optim.SGD(grouped(theirs, {"lr": 0.5}), lr=0.1, momentum=0.9)

    def edit(step):
        if step == 2:
            mine.param_groups[1]["lr"] = their.param_groups[1]["lr"] = 0.02
            mine.param_groups[0]["momentum"] = their.param_groups[0]["momentum"] = 0.5

    step_both(mine, their, ours, theirs, range(4), edit)


def test_plain_sgd_with_groups_matches_pytorch():
    ours, theirs = twin_parameters()
    mine = optim.SGD(grouped(ours, {"lr": 0.5}), lr=0.1)
    their = torch.optim.SGD(grouped(theirs, {"lr": 0.5}), lr=0.1)
    step_both(mine, their, ours, theirs, range(3))


def test_add_param_group_matches_pytorch():
    ours, theirs = twin_parameters()
    mine = optim.Adam(ours[:2], lr=0.1)
    their = torch.optim.Adam(theirs[:2], lr=0.1)

    def add_groups(step):
        if step == 2:
            mine.add_param_group({"params": ours[2:], "lr": 0.01, "amsgrad": True})
            their.add_param_group({"params": theirs[2:], "lr": 0.01, "amsgrad": True})

    step_both(mine, their, ours, theirs, range(4), add_groups)
    assert [len(group["params"]) for group in mine.param_groups] == [2, 2]


def converted(value, kind, make):
    """A state dict with each tensor of ``kind`` remade by ``make`` from its array."""
    if isinstance(value, kind):
        return make(value.numpy())
    if isinstance(value, dict):
        return {key: converted(item, kind, make) for key, item in value.items()}
    if isinstance(value, list):
        return [converted(item, kind, make) for item in value]
    return value


def to_torch(value):
    return converted(value, tg.Tensor, torch.tensor)


def to_ours(value):
    return converted(value, torch.Tensor, tg.tensor)


STATEFUL = {
    "sgd": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {"lr": 0.05, "amsgrad": True}),
    "adamw": ("AdamW", {"lr": 0.05}),
}


@pytest.mark.parametrize("rule", STATEFUL)
@pytest.mark.parametrize("direction", ["pytorch-to-ours", "ours-to-pytorch"])
def test_a_state_dict_with_two_groups_moves_between_pytorch_and_here(rule, direction):
    """Train 3 steps in one framework, save, load in the other, train 3 more: same weights."""
    name, settings = STATEFUL[rule]
    ours, theirs = twin_parameters()
    mine = getattr(optim, name)(grouped(ours, {"lr": 0.01}), **settings)
    their = getattr(torch.optim, name)(grouped(theirs, {"lr": 0.01}), **settings)
    if direction == "pytorch-to-ours":
        source, target, convert = their, mine, to_ours
    else:
        source, target, convert = mine, their, to_torch
    for step in range(3):
        set_gradients(ours, theirs, step)
        source.step()
    # Both start the second half from the source's weights.
    for mine_param, their_param in zip(ours, theirs):
        if source is their:
            mine_param.data = their_param.detach().numpy().copy()
        else:
            with torch.no_grad():
                their_param.copy_(torch.tensor(mine_param.numpy()))
    target.load_state_dict(convert(source.state_dict()))
    step_both(mine, their, ours, theirs, range(3, 6))


def test_a_state_dict_saved_by_pytorch_after_one_cycle_keeps_the_schedules_keys():
    ours, theirs = twin_parameters()
    their = torch.optim.SGD(grouped(theirs, {"lr": 0.01}), lr=0.1, momentum=0.9)
    torch.optim.lr_scheduler.OneCycleLR(their, max_lr=[1.0, 0.5], total_steps=10)
    mine = optim.SGD(grouped(ours, {"lr": 0.01}), lr=0.1, momentum=0.9)
    mine.load_state_dict(to_ours(their.state_dict()))
    for group, saved in zip(mine.param_groups, their.param_groups):
        for key in ("lr", "momentum", "initial_lr", "max_lr", "min_lr", "base_momentum"):
            assert group[key] == saved[key], key


# ------------------------------------------------------------------ schedules
def run_schedules(make_ours, make_theirs, optimizer="SGD", steps=12, **settings):
    ours, theirs = twin_parameters()
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    mine = getattr(optim, optimizer)(grouped(ours, {"lr": 0.5}), lr=0.1, **extra)
    their = getattr(torch.optim, optimizer)(grouped(theirs, {"lr": 0.5}), lr=0.1, **extra)
    schedule, reference = make_ours(mine), make_theirs(their)
    assert schedule.base_lrs == reference.base_lrs
    for step in range(steps):
        assert schedule.get_last_lr() == reference.get_last_lr(), step
        for group, saved in zip(mine.param_groups, their.param_groups):
            for key in ("lr", "momentum", "betas"):
                if key in group:
                    assert group[key] == pytest.approx(saved[key], rel=0, abs=1e-15), (step, key)
        set_gradients(ours, theirs, step)
        mine.step()
        their.step()
        schedule.step()
        reference.step()
    assert_same(ours, theirs)


SCHEDULES = {
    "step": (lambda o: lr_scheduler.StepLR(o, 3, 0.5), "StepLR", (3, 0.5), {}),
    "exponential": (lambda o: lr_scheduler.ExponentialLR(o, 0.9), "ExponentialLR", (0.9,), {}),
    "cosine": (lambda o: lr_scheduler.CosineAnnealingLR(o, 5), "CosineAnnealingLR", (5,), {}),
    "linear": (
        lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=6),
        "LinearLR",
        (),
        {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 6},
    ),
    "linear-defaults": (lambda o: lr_scheduler.LinearLR(o), "LinearLR", (), {}),
}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_follow_every_group_as_pytorch(schedule):
    make, name, args, kwargs = SCHEDULES[schedule]
    run_schedules(make, lambda o: getattr(torch.optim.lr_scheduler, name)(o, *args, **kwargs))


ONE_CYCLE = {
    "cos": {"max_lr": [1.0, 0.3], "total_steps": 12},
    "linear": {"max_lr": 0.8, "total_steps": 12, "anneal_strategy": "linear", "pct_start": 0.25},
    "epochs": {"max_lr": 0.8, "epochs": 3, "steps_per_epoch": 4, "div_factor": 10.0},
    "no-momentum": {"max_lr": 0.8, "total_steps": 12, "cycle_momentum": False},
    "three-phase": {"max_lr": 0.8, "total_steps": 12, "three_phase": True, "final_div_factor": 1e2},
    "momenta": {"max_lr": 0.8, "total_steps": 12, "base_momentum": [0.7, 0.8], "max_momentum": 0.9},
}


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("case", ONE_CYCLE)
def test_one_cycle_matches_pytorch_rates_momenta_and_weights(case, optimizer):
    settings = ONE_CYCLE[case]
    run_schedules(
        lambda o: lr_scheduler.OneCycleLR(o, **settings),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, **settings),
        optimizer=optimizer,
        steps=12,
    )


def test_a_second_scheduler_starts_from_the_groups_initial_lr_as_pytorch():
    run_schedules(
        lambda o: (lr_scheduler.StepLR(o, 2, 0.5), lr_scheduler.LinearLR(o, 0.5, total_iters=3))[1],
        lambda o: (
            torch.optim.lr_scheduler.StepLR(o, 2, 0.5),
            torch.optim.lr_scheduler.LinearLR(o, 0.5, total_iters=3),
        )[1],
    )
