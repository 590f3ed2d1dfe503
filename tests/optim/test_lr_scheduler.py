"""Learning-rate schedules: closed forms over 30 epochs, the optimizer's lr, state dicts, errors."""

import math

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, optim
from tinygrad_ann.optim import lr_scheduler

EPOCHS = 30


def sgd(lr=0.1):
    return optim.SGD([tg.zeros(2, requires_grad=True)], lr=lr)


def sequence(scheduler, epochs=EPOCHS):
    """The rate of each epoch: read before the epoch's ``step()``, as a training loop would."""
    rates = []
    for _ in range(epochs):
        rates.append(scheduler.get_last_lr()[0])
        assert scheduler.optimizer.lr == rates[-1]
        scheduler.step()
    return rates


def cosine(epoch, base, eta_min, period):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / period)) / 2


@pytest.mark.parametrize(("step_size", "gamma"), [(7, 0.1), (3, 0.5), (1, 0.9)])
def test_step_lr_is_base_times_gamma_to_the_completed_periods(step_size, gamma):
    rates = sequence(lr_scheduler.StepLR(sgd(0.1), step_size=step_size, gamma=gamma))
    expected = [0.1 * gamma ** (epoch // step_size) for epoch in range(EPOCHS)]
    np.testing.assert_allclose(rates, expected, rtol=1e-13, atol=0)


def test_exponential_lr_is_base_times_gamma_to_the_epoch():
    rates = sequence(lr_scheduler.ExponentialLR(sgd(0.1), gamma=0.9))
    np.testing.assert_allclose(rates, [0.1 * 0.9**e for e in range(EPOCHS)], rtol=1e-13, atol=0)


@pytest.mark.parametrize(("period", "eta_min"), [(10, 0.0), (7, 0.01), (1, 0.0)])
def test_cosine_annealing_follows_the_cosine_down_and_back_up(period, eta_min):
    rates = sequence(lr_scheduler.CosineAnnealingLR(sgd(0.1), T_max=period, eta_min=eta_min))
    expected = [cosine(epoch, 0.1, eta_min, period) for epoch in range(EPOCHS)]
    np.testing.assert_allclose(rates, expected, rtol=0, atol=1e-15)
    assert rates[period] == pytest.approx(eta_min, abs=1e-15)  # the trough at T_max


def test_the_optimizer_steps_with_the_scheduled_rate():
    w = tg.zeros(1, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = tg.ones(1)  # a gradient of 1: each step moves w by -lr
        opt.step()
        scheduler.step()
    assert w.item() == -(1.0 + 0.5 + 0.25)


def test_construction_is_the_first_step_and_get_last_lr_is_a_list_copy():
    scheduler = lr_scheduler.ExponentialLR(sgd(0.2), gamma=0.5)
    assert scheduler.last_epoch == 0 and scheduler.base_lrs == [0.2]
    rates = scheduler.get_last_lr()
    assert rates == [0.2]
    rates.append(1.0)
    assert scheduler.get_last_lr() == [0.2]
    scheduler.step()
    assert scheduler.last_epoch == 1 and scheduler.get_last_lr() == [0.1]
    assert repr(scheduler) == "ExponentialLR(gamma=0.5, last_epoch=1)"


def test_state_dict_has_pytorchs_keys_and_resumes_the_sequence(tmp_path):
    straight = sequence(lr_scheduler.CosineAnnealingLR(sgd(0.1), T_max=6), epochs=20)
    opt = sgd(0.1)
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    first = sequence(scheduler, epochs=8)
    state = scheduler.state_dict()
    assert list(state) == ["T_max", "eta_min", "base_lrs", "last_epoch", "_step_count", "_last_lr"]
    path = tg.save({"optimizer": opt.state_dict(), "scheduler": state}, tmp_path / "ckpt")
    checkpoint = tg.load(path)
    resumed_opt = sgd(0.5)
    resumed = lr_scheduler.CosineAnnealingLR(resumed_opt, T_max=99)
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    assert resumed.T_max == 6 and resumed.last_epoch == 8 and resumed.base_lrs == [0.1]
    assert first + sequence(resumed, epochs=12) == straight


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: {k: v for k, v in s.items() if k != "gamma"}, "expected the keys"),
        (lambda s: {**s, "step_size": 0}, "step_size must be an int >= 1"),
        (lambda s: {**s, "gamma": -1.0}, "gamma must be a finite number"),
        (lambda s: {**s, "base_lrs": [0.1, 0.2]}, "base_lrs must be a list of one"),
        (lambda s: {**s, "last_epoch": 1.5}, "last_epoch must be an int"),
    ],
)
def test_a_bad_state_dict_changes_nothing(edit, message):
    scheduler = lr_scheduler.StepLR(sgd(), step_size=2)
    scheduler.step()
    before = scheduler.state_dict()
    with pytest.raises(nn.StateDictError, match=message) as error:
        scheduler.load_state_dict(edit(before))
    assert "not changed" in str(error.value)
    assert scheduler.state_dict() == before


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size must be an int"),
        (lambda o: lr_scheduler.StepLR(o, 2.5), ValueError, "step_size must be an int"),
        (lambda o: lr_scheduler.StepLR(o, 2, gamma=-0.5), ValueError, "gamma must be"),
        (lambda o: lr_scheduler.ExponentialLR(o, math.inf), ValueError, "finite number"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, 5, eta_min=-1), ValueError, "eta_min"),
        (lambda o: lr_scheduler.StepLR(o.params, 2), TypeError, "expected an optimizer"),
    ],
)
def test_bad_arguments_are_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(sgd())


def test_pytorchs_import_path_works():
    from tinygrad_ann.optim.lr_scheduler import StepLR

    assert StepLR is tg.optim.lr_scheduler.StepLR is lr_scheduler.StepLR
    assert lr_scheduler.__name__ == "tinygrad_ann.optim.lr_scheduler"


def test_schedules_work_with_adam():
    model = nn.Linear(2, 1)
    opt = optim.Adam(model.parameters(), lr=0.01)
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(4):
        scheduler.step()
    assert opt.lr == pytest.approx(1e-4) and opt.state_dict()["param_groups"][0]["lr"] == opt.lr
