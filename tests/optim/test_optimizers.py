"""SGD and Adam against update values computed by hand, and their argument and state errors."""

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn, optim


def param(values, grad=None):
    p = nn.Parameter(np.array(values, dtype=np.float64))
    if grad is not None:
        p.grad = tg.tensor(np.array(grad, dtype=np.float64))
    return p


# ------------------------------------------------------------------ SGD
def test_sgd_momentum_and_weight_decay_first_and_second_step():
    p = param([1.0, -2.0], [0.5, 0.5])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.2)
    opt.step()
    # g = [0.5, 0.5] + 0.2 * [1, -2] = [0.7, 0.1]; the buffer starts as g.
    np.testing.assert_allclose(p.numpy(), [0.93, -2.01], rtol=1e-15)
    p.grad = tg.tensor([1.0, -1.0])
    opt.step()
    # g = [1, -1] + 0.2 * [0.93, -2.01] = [1.186, -1.402]; buffer = 0.9 * [0.7, 0.1] + g.
    np.testing.assert_allclose(p.numpy(), [0.93 - 0.1816, -2.01 + 0.1312], rtol=1e-14)


def test_sgd_momentum_buffer_does_not_alias_a_gradient_that_stays():
    p = param([0.0], [1.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    opt.step()
    opt.step()  # same gradient: buffer 1, then 0.5 * 1 + 1
    np.testing.assert_allclose(p.numpy(), [-2.5], rtol=1e-15)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0])


def test_sgd_without_momentum_keeps_no_state():
    p = param([1.0], [2.0])
    opt = optim.SGD([p], lr=0.25)
    opt.step()
    assert p.numpy()[0] == 0.5
    assert opt.state_dict()["state"] == {}


# ------------------------------------------------------------------ Adam
def test_adam_defaults_are_pytorchs():
    opt = optim.Adam([param([1.0])])
    assert opt.hyperparameters() == {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
    }
    sgd = optim.SGD([param([1.0])], lr=0.5)
    assert sgd.hyperparameters() == {
        "lr": 0.5,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
    }


def test_adam_first_and_second_step_with_bias_correction_and_eps():
    p = param([1.0], [2.0])
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.5)
    opt.step()
    # m = 0.5 * 2 = 1, v = 0.25 * 4 = 1; corrected m = 1 / 0.5 = 2, v = 1 / 0.25 = 4.
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.1 * 2 / (2 + 0.5)], rtol=1e-15)
    p.grad = tg.tensor([1.0])
    opt.step()
    # m = 0.5 + 0.5 = 1, v = 0.75 + 0.25 = 1; corrected by 1 - 0.25 and 1 - 0.5625.
    m_hat, v_hat = 1 / 0.75, 1 / 0.4375
    expected = 0.92 - 0.1 * m_hat / (np.sqrt(v_hat) + 0.5)
    np.testing.assert_allclose(p.numpy(), [expected], rtol=1e-14)
    state = opt.state_dict()["state"][0]
    assert state["step"] == 2
    np.testing.assert_allclose(state["exp_avg"].numpy(), [1.0], rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), [1.0], rtol=1e-15)


def test_adam_weight_decay_is_added_to_the_gradient():
    p = param([2.0], [0.0])
    optim.Adam([p], lr=0.1, betas=(0.0, 0.0), eps=0.0, weight_decay=0.5).step()
    # g = 0 + 0.5 * 2 = 1; with both betas 0 the step is lr * g / |g|.
    np.testing.assert_allclose(p.numpy(), [1.9], rtol=1e-15)


def test_optimizers_update_a_parameter_a_live_graph_holds_read_only():
    # Above SavedArrays.copy_limit a saved array is locked, not copied: the step must
    # still move the parameter, and the graph must keep the values it was built on.
    size = 2048
    for make in (lambda ps: optim.SGD(ps, lr=0.5), lambda ps: optim.Adam(ps, lr=0.5)):
        w = param(np.ones(size))
        loss = (w * w).sum()
        loss.backward(retain_graph=True)
        make([w]).step()
        assert np.all(w.numpy() < 1.0)
        w.grad = None
        loss.backward()
        np.testing.assert_array_equal(w.grad.numpy(), np.full(size, 2.0))


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD(p, lr=-0.5), r"^SGD: lr must be a finite number >= 0, got -0\.5$"),
        (lambda p: optim.SGD(p, lr="0.1"), r"^SGD: lr must be a finite number >= 0, got '0\.1'$"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=float("inf")), r"^SGD: momentum must be a finite"),
        (
            lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-9),
            r"^SGD: weight_decay must be a finite",
        ),
        (lambda p: optim.Adam(p, lr=-1), r"^Adam: lr must be a finite number >= 0, got -1$"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.5)), r"^Adam: betas\[0\] must be < 1\.0, got 1\.0$"),
        (lambda p: optim.Adam(p, betas=(0.5, 1.5)), r"^Adam: betas\[1\] must be < 1\.0, got 1\.5$"),
        (lambda p: optim.Adam(p, betas=(-0.1, 0.5)), r"^Adam: betas\[0\] must be a finite number"),
        (lambda p: optim.Adam(p, eps=float("nan")), r"^Adam: eps must be a finite number >= 0"),
        (lambda p: optim.Adam(p, weight_decay=-1.0), r"^Adam: weight_decay must be a finite"),
    ],
)
def test_hyperparameter_errors_name_the_optimizer_the_setting_and_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make([param([1.0])])


def test_boundary_hyperparameters_are_accepted():
    p = [param([1.0])]
    sgd = optim.SGD(p, lr=0, momentum=0.0, weight_decay=np.float32(0.5))
    assert (sgd.lr, sgd.weight_decay) == (0.0, 0.5)
    assert type(sgd.lr) is float
    adam = optim.Adam(p, lr=1, betas=(0.0, 0.0), eps=0.0)
    assert adam.betas == (0.0, 0.0)


def test_parameter_list_errors_name_the_optimizer_and_the_parameter():
    with pytest.raises(
        ValueError,
        match=r"^Adam: got an empty parameter list; pass model\.parameters\(\) of a model that has "
        r"parameters$",
    ):
        optim.Adam(iter([]))
    with pytest.raises(TypeError, match=r"^SGD: parameter 1 is a ndarray, not a Tensor$"):
        optim.SGD([param([1.0]), np.zeros(2)], lr=0.1)
    # A tensor that does not require grad is accepted (and skipped by step), as in PyTorch.
    assert len(optim.Adam([param([1.0]), tg.tensor([1.0, 2.0])]).params) == 2
    opt = optim.SGD((p for p in [param([1.0]), param([2.0])]), lr=0.1)
    assert len(opt.params) == 2


# ------------------------------------------------------------------ state dicts
def trained_sgd():
    p = param([1.0, 2.0], [0.5, -0.5])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    return opt


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: [s], r"keys 'state' and 'param_groups', got <class 'list'>"),
        (lambda s: {**s, "extra": 1}, r"keys 'state' and 'param_groups', got \['state', 'param"),
        (lambda s: {**s, "param_groups": "lr"}, r"expected one parameter group, got str"),
        (lambda s: {**s, "param_groups": []}, r"expected one parameter group, got 0"),
        (
            lambda s: {**s, "param_groups": [{"lr": 0.1, "params": [0]}]},
            r"the parameter group must have the keys \['lr', 'momentum', 'dampening', "
            r"'weight_decay', 'nesterov', 'params'\], got \['lr', 'params'\]",
        ),
        (lambda s: {**s, "param_groups": [5]}, r"must have the keys .*, got int"),
        (lambda s: {**s, "state": [1]}, r"'state' must be a dict, got list"),
        (lambda s: {**s, "state": {-1: s["state"][0]}}, r"state key -1 is not a parameter index"),
        (lambda s: {**s, "state": {1: s["state"][0]}}, r"state key 1 is not a parameter index"),
        (lambda s: {**s, "state": {"0": s["state"][0]}}, r"state key '0' is not a parameter"),
        (
            lambda s: {**s, "state": {0: {}}},
            r"state of parameter 0: expected entries among \['momentum_buffer'\], got \[\]",
        ),
        (lambda s: {**s, "state": {0: 3}}, r"state of parameter 0: expected entries .* got int"),
        (
            lambda s: {**s, "state": {0: {"momentum_buffer": [0.0, 0.0]}}},
            r"state of parameter 0: momentum_buffer must be an array, got list",
        ),
        (
            lambda s: {**s, "state": {0: {"momentum_buffer": np.zeros((2, 1))}}},
            r"momentum_buffer has shape \(2, 1\) and dtype float64, "
            r"the parameter \(2,\) and float64",
        ),
    ],
)
def test_state_dict_errors_say_what_is_wrong_and_change_nothing(edit, message):
    opt = trained_sgd()
    before = opt.state_dict()
    with pytest.raises(nn.StateDictError, match=r"^SGD\.load_state_dict: " + ".*" + message):
        opt.load_state_dict(edit(before))
    with pytest.raises(nn.StateDictError, match=r"\(the optimizer was not changed\)"):
        opt.load_state_dict(edit(before))
    np.testing.assert_array_equal(
        opt.state_dict()["state"][0]["momentum_buffer"].numpy(),
        before["state"][0]["momentum_buffer"].numpy(),
    )


def test_adam_step_counter_must_be_a_non_negative_int():
    p = param([1.0], [1.0])
    opt = optim.Adam([p])
    opt.step()
    saved = opt.state_dict()
    for step, shown in ((-1, "-1"), (True, "True")):
        bad = {**saved, "state": {0: {**saved["state"][0], "step": step}}}
        with pytest.raises(nn.StateDictError, match=rf"step must be an int >= 0, got {shown}"):
            opt.load_state_dict(bad)
    with pytest.raises(nn.StateDictError, match=r"betas must be a pair of numbers, got 0\.9"):
        opt.load_state_dict({**saved, "param_groups": [{**saved["param_groups"][0], "betas": 0.9}]})


def test_loaded_state_is_a_copy_and_resumes_the_update():
    source = trained_sgd()
    saved = source.state_dict()
    target = optim.SGD([param([1.0, 2.0])], lr=0.3)
    target.load_state_dict(saved)
    saved["state"][0]["momentum_buffer"].data[...] = 100.0
    target.params[0].grad = tg.tensor([0.0, 0.0])
    target.step()
    # buffer 0.9 * [0.5, -0.5]; lr 0.1 from the saved hyperparameters.
    np.testing.assert_allclose(target.params[0].numpy(), [1.0 - 0.045, 2.0 + 0.045], rtol=1e-14)


SETTINGS = {
    "SGD": (
        lambda ps: optim.SGD(ps, lr=0.1),
        {"lr": 0.2, "momentum": 0.5, "dampening": 0.0, "weight_decay": 0.3, "nesterov": True},
    ),
    "Adam": (
        lambda ps: optim.Adam(ps),
        {"lr": 0.2, "betas": (0.5, 0.25), "eps": 0.125, "weight_decay": 0.3, "amsgrad": True},
    ),
}


@pytest.mark.parametrize("name", SETTINGS)
def test_loading_a_state_dict_restores_every_hyperparameter(name):
    make, values = SETTINGS[name]
    opt = make([param([1.0])])
    saved = opt.state_dict()
    opt.load_state_dict({**saved, "param_groups": [{**values, "params": [0]}]})
    assert opt.hyperparameters() == values
    for key, value in values.items():
        assert getattr(opt, key) == value


INVALID = [
    ("SGD", "lr", -1.0, r"lr must be a finite number >= 0, got -1\.0"),
    ("SGD", "momentum", -1.0, r"momentum must be a finite number >= 0, got -1\.0"),
    ("SGD", "weight_decay", -1.0, r"weight_decay must be a finite number >= 0, got -1\.0"),
    ("Adam", "lr", -1.0, r"lr must be a finite number >= 0, got -1\.0"),
    ("Adam", "betas", (1.0, 0.5), r"betas\[0\] must be < 1\.0, got 1\.0"),
    ("Adam", "betas", (0.5, 1.0), r"betas\[1\] must be < 1\.0, got 1\.0"),
    ("Adam", "betas", (-0.5, 0.5), r"betas\[0\] must be a finite number >= 0, got -0\.5"),
    ("Adam", "betas", (0.5, -0.5), r"betas\[1\] must be a finite number >= 0, got -0\.5"),
    ("Adam", "eps", -1.0, r"eps must be a finite number >= 0, got -1\.0"),
    ("Adam", "weight_decay", -1.0, r"weight_decay must be a finite number >= 0, got -1\.0"),
]


@pytest.mark.parametrize(("name", "key", "value", "message"), INVALID)
def test_a_loaded_hyperparameter_is_checked_as_the_constructor_checks_it(name, key, value, message):
    make, values = SETTINGS[name]
    opt = make([param([1.0])])
    group = {**values, key: value, "params": [0]}
    with pytest.raises(nn.StateDictError, match=rf"^{name}\.load_state_dict: {name}: {message} "):
        opt.load_state_dict({"state": {}, "param_groups": [group]})


def test_a_step_count_of_zero_loads():
    opt = optim.Adam([param([1.0])])
    zeros = {"step": 0, "exp_avg": np.zeros(1), "exp_avg_sq": np.zeros(1)}
    opt.load_state_dict(
        {"state": {0: zeros}, "param_groups": [opt.state_dict()["param_groups"][0]]}
    )
    assert opt.state_dict()["state"][0]["step"] == 0


class HalfStep(optim.Optimizer):
    """An optimizer that only overrides the update: the base class handles lr and state."""

    def _update(self, param, grad, state, group):
        param.data -= 0.5 * group["lr"] * grad


def test_a_subclass_inherits_lr_saving_and_checking():
    p = param([1.0], [2.0])
    opt = HalfStep([p], lr=0.5)
    opt.step()
    assert p.numpy()[0] == 0.5
    assert opt.state_dict()["param_groups"] == [{"lr": 0.5, "params": [0]}]
    opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.25, "params": [0]}]})
    assert opt.lr == 0.25
    with pytest.raises(nn.StateDictError, match=r"^HalfStep\.load_state_dict: HalfStep: lr must"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": -1.0, "params": [0]}]})
    with pytest.raises(NotImplementedError):
        optim.Optimizer([p], lr=0.1).step()


def _param_with_grad(value, grad):
    p = nn.Parameter(np.array(value, dtype=float))
    p.grad = tg.tensor(np.array(grad, dtype=float))
    return p


def test_sgd_step_is_p_minus_lr_g_with_weight_decay():
    p = _param_with_grad([1.0, -2.0], [0.5, 0.5])
    optim.SGD([p], lr=0.1, weight_decay=0.2).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * (0.5 + 0.2), -2.0 - 0.1 * (0.5 - 0.4)])


def test_sgd_momentum_follows_the_buffer_rule():
    p = _param_with_grad([1.0], [1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    expected, buffer = 1.0, None
    for grad in (1.0, 2.0, -1.0):
        p.grad = tg.tensor([grad])
        opt.step()
        buffer = grad if buffer is None else 0.9 * buffer + grad
        expected -= 0.1 * buffer
        assert p.data[0] == pytest.approx(expected)


def test_adam_matches_the_closed_form_over_three_steps():
    lr, beta1, beta2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    p = _param_with_grad([0.5, -1.0], [0.0, 0.0])
    opt = optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=wd)
    value, m, v = np.array([0.5, -1.0]), np.zeros(2), np.zeros(2)
    for step, grad in enumerate(([0.2, -0.3], [0.1, 0.4], [-0.5, 0.0]), start=1):
        p.grad = tg.tensor(grad)
        opt.step()
        g = np.array(grad) + wd * value
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        value = value - lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
        np.testing.assert_allclose(p.data, value, rtol=1e-13)
    # The first step moves every weight by about lr, whatever the gradient's size.
    fresh = _param_with_grad([0.0], [123.0])
    optim.Adam([fresh], lr=0.01).step()
    assert fresh.data[0] == pytest.approx(-0.01)


def test_optimizers_skip_parameters_without_gradient_and_zero_grad():
    p, q = _param_with_grad([1.0], [1.0]), nn.Parameter(np.array([5.0]))
    opt = optim.Adam([p, q], lr=0.1)
    opt.step()
    assert q.data[0] == 5.0 and p.data[0] != 1.0
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda p: optim.SGD(p, lr=-0.1), ValueError, "lr"),
        (lambda p: optim.SGD(p, lr=float("nan")), ValueError, "lr"),
        (lambda p: optim.Adam(p, lr=float("inf")), ValueError, "lr"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), ValueError, "beta"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-1), ValueError, "momentum"),
    ],
)
def test_optimizer_argument_errors(make, error, message):
    with pytest.raises(error, match=message):
        make([nn.Parameter(np.zeros(2))])
