"""Anomaly mode: NaN and inf reported at the op and the line of user code that made them."""

import inspect
import warnings

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F

HERE = __file__


def next_line():
    """The line number just after the caller's current line."""
    return inspect.currentframe().f_back.f_lineno + 1


@pytest.fixture(autouse=True)
def anomaly_mode_is_off_around_each_test():
    assert not tg.is_anomaly_enabled()
    yield
    assert not tg.is_anomaly_enabled(), "a test left anomaly mode on"


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize(
    ("compute", "op", "produced", "shape"),
    [
        (lambda x: x.log(), "log", "-inf", "(2, 3)"),
        (lambda x: (x - 2.0).sqrt(), "sqrt", "nan", "(2, 3)"),
        (lambda x: (x * 1000.0).exp(), "exp", "inf", "(2, 3)"),
        (lambda x: 1.0 / x, "div", "inf", "(2, 3)"),
        (lambda x: tg.log(x * 0.0), "log", "-inf", "(2, 3)"),
    ],
    ids=["log", "sqrt", "exp", "div", "tg.log"],
)
def test_forward_error_names_op_shape_and_calling_line(compute, op, produced, shape):
    x = tg.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as raised, tg.detect_anomaly():
        compute(x)
    message = str(raised.value)
    assert message.startswith(f"{op}: forward produced {produced} from finite inputs of shape")
    assert shape in message
    # The op runs on the lambda's line, in the parameter list above.
    assert message.endswith(f"called at {HERE}:{compute.__code__.co_firstlineno}")
    assert isinstance(raised.value, RuntimeError)


def test_forward_error_points_at_the_line_of_the_call():
    x = tg.tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as raised, tg.detect_anomaly():
        line = next_line()
        x.log()
    assert str(raised.value) == (
        f"log: forward produced -inf from finite inputs of shape (2,), called at {HERE}:{line}"
    )


def forward_of_a_model(x):
    hidden = x * 2.0
    return F.log_softmax(hidden, axis=0).log()  # log of a negative number: nan


def test_forward_error_inside_a_helper_names_the_helper_line():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    expected_line = inspect.getsourcelines(forward_of_a_model)[1] + 2
    with pytest.raises(tg.AnomalyError) as raised, tg.detect_anomaly():
        forward_of_a_model(x)
    message = str(raised.value)
    assert message.startswith("log: forward produced nan")
    assert message.endswith(f"{HERE}:{expected_line}")


def test_forward_replaces_numpy_warnings_with_the_error():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(tg.AnomalyError), tg.detect_anomaly():
            x.log()
    assert caught == []


def test_non_finite_inputs_are_not_reported_again():
    x = tg.tensor([np.nan, 1.0, np.inf], requires_grad=True)
    with tg.detect_anomaly():
        y = (x * 2.0).sum()
    assert np.isnan(y.item())


def test_finite_computation_is_unchanged_inside_the_block():
    def loss_and_grad():
        w = tg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        loss = F.cross_entropy(w @ w.T, np.array([0, 1]))
        loss.backward()
        return loss.item(), w.grad.data

    plain = loss_and_grad()
    with tg.detect_anomaly():
        checked = loss_and_grad()
    assert plain[0] == checked[0]
    np.testing.assert_array_equal(plain[1], checked[1])


# ---------------------------------------------------------------- backward


def test_backward_error_names_op_input_and_recording_line():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        line = next_line()
        y = x.sqrt()  # finite: sqrt(0) = 0, but its slope 1 / (2 sqrt(0)) is inf
        loss = y.sum()
        with pytest.raises(tg.AnomalyError) as raised:
            loss.backward()
    assert str(raised.value) == (
        "sqrt: backward produced inf in the gradient of input 0 from a finite upstream "
        f"gradient; the op was recorded at {HERE}:{line}"
    )


class NanSlope(tg.Function):
    """Multiplies by w, but backward returns NaN for w's gradient."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved
        return grad_output * w, grad_output * np.full(x.shape, np.nan)


def test_backward_error_names_a_custom_function_and_which_input():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as raised, tg.detect_anomaly():
        line = next_line()
        out = NanSlope.apply(x, w)
        out.sum().backward()
    message = str(raised.value)
    assert message.startswith("NanSlope: backward produced nan in the gradient of input 1 ")
    assert message.endswith(f"recorded at {HERE}:{line}")


def test_backward_of_an_op_recorded_outside_the_block_says_so():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    loss = x.sqrt().sum()
    with pytest.raises(tg.AnomalyError, match="sqrt: backward produced inf") as raised:
        with tg.detect_anomaly():
            loss.backward()
    assert "outside detect_anomaly" in str(raised.value)


def test_backward_from_a_non_finite_upstream_gradient_is_not_reported():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.detect_anomaly():
        (x * 3.0).backward(gradient=np.array([np.inf, 1.0]))
    np.testing.assert_array_equal(x.grad.data, [np.inf, 3.0])


def test_backward_with_create_graph_reports_the_op_whose_backward_failed():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        line = next_line()
        loss = x.sqrt().sum()
        with pytest.raises(tg.AnomalyError) as raised:
            tg.grad(loss, x, create_graph=True)
    message = str(raised.value)
    assert message.startswith("sqrt: backward produced inf in the gradient of input 0"), message
    assert message.endswith(f"recorded at {HERE}:{line}")


# ---------------------------------------------------------------- the switch


def test_decorator_form_checks_inside_the_function_only():
    @tg.detect_anomaly()
    def log_of(x):
        """Docstring kept."""
        assert tg.is_anomaly_enabled()
        return x.log()

    assert log_of.__name__ == "log_of" and log_of.__doc__ == "Docstring kept."
    x = tg.tensor([0.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError, match="log: forward produced -inf"):
        log_of(x)
    assert not tg.is_anomaly_enabled()
    assert log_of(tg.tensor([1.0])).item() == 0.0


def test_nested_blocks_restore_the_state_even_on_error():
    assert not tg.is_anomaly_enabled()
    with tg.detect_anomaly():
        with tg.detect_anomaly():
            assert tg.is_anomaly_enabled()
        assert tg.is_anomaly_enabled()  # the outer block is still active
        with pytest.raises(tg.AnomalyError):
            with tg.detect_anomaly():
                tg.tensor([-1.0], requires_grad=True).sqrt()
        assert tg.is_anomaly_enabled()
    assert not tg.is_anomaly_enabled()


def test_nothing_is_checked_outside_the_block():
    x = tg.tensor([1.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        y = x.log()
    assert y.data[1] == -np.inf
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        y.sum().backward()
    assert x.grad.data[1] == np.inf


def test_graph_recorded_inside_is_not_checked_in_a_backward_outside():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        loss = x.sqrt().sum()
    with np.errstate(divide="ignore"):
        loss.backward()
    assert x.grad.data[0] == np.inf


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize(
    ("fn", "values", "produced"),
    [
        (tg.log, [1.0, 0.0], "-inf"),
        (tg.exp, [1.0, 1000.0], "inf"),
        (lambda t: t / t, [1.0, 0.0], "nan"),
    ],
)
def test_anomaly_names_the_op_and_what_forward_produced(fn, values, produced):
    shapes = r"\(2,\), \(2,\)" if produced == "nan" else r"\(2,\)"
    with (
        tg.detect_anomaly(),
        pytest.raises(
            tg.AnomalyError,
            match=rf"forward produced {produced} from finite inputs of shape {shapes}, called at",
        ),
    ):
        fn(leaf(values))
    with np.errstate(all="ignore"):
        assert fn(leaf(values)).shape == (2,)  # outside detect_anomaly: no check


def test_anomaly_names_the_op_input_and_what_backward_produced():
    x = leaf([1.0, 0.0])
    with tg.detect_anomaly():
        y = tg.sqrt(x)
        with pytest.raises(
            tg.AnomalyError,
            match=r"^sqrt: backward produced inf in the gradient of input 0 from a finite",
        ):
            y.sum().backward()


def test_anomaly_in_backward_says_whether_the_op_was_recorded_under_detect_anomaly():
    outside = tg.sqrt(leaf([1.0, 0.0]))
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as error:
        outside.sum().backward()
    assert str(error.value).endswith("the op was recorded at <recorded outside detect_anomaly>")
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as error:
        tg.sqrt(leaf([1.0, 0.0])).sum().backward()
    assert "the op was recorded at " in str(error.value)
    assert "<recorded outside detect_anomaly>" not in str(error.value)


def test_a_graph_of_one_op_is_checked_in_backward_too():
    x = tg.tensor([0.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError, match=r"^sqrt: backward"), tg.detect_anomaly():
        x.sqrt().backward(np.ones(1))  # d sqrt(x) / dx = inf at 0
