"""Losses against hand-computed values and gradients, their single-sample forms and their errors.

The property tests in tests/ops/test_op_gradients.py compare with finite differences at a
tolerance; here the expected numbers are computed independently in NumPy and
compared to 1e-12, so a gradient off by a factor of 1.0001 fails.
"""

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import DTypeError, LabelError, ShapeError, ops

EXACT = {"rtol": 1e-12, "atol": 1e-12}
LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [-0.5, 1.5, 0.0], [1.0, -2.0, 0.5]])
LABELS = np.array([0, 2, 1, 1])
UPSTREAM = np.array([0.5, -1.5, 2.0, 0.25])


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def one_hot(labels, classes):
    return np.eye(classes)[labels]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def leaf(array):
    return tg.tensor(np.array(array, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------------ cross-entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_indices_gradient_is_softmax_minus_one_hot(reduction):
    logits = leaf(LOGITS)
    loss = F.cross_entropy(logits, LABELS, reduction=reduction)
    upstream = UPSTREAM if reduction == "none" else np.array(1.5)
    loss.backward(upstream)
    local = softmax(LOGITS) - one_hot(LABELS, 3)
    scale = {"mean": 1.5 / 4, "sum": 1.5, "none": UPSTREAM[:, None]}[reduction]
    np.testing.assert_allclose(logits.grad.numpy(), local * scale, **EXACT)
    losses = -np.log(softmax(LOGITS)[np.arange(4), LABELS])
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, **EXACT)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_probabilities_gradient_is_softmax_minus_target(reduction):
    target = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    logits = leaf(LOGITS)
    loss = F.cross_entropy(logits, target, reduction=reduction)
    upstream = UPSTREAM if reduction == "none" else np.array(-0.75)
    loss.backward(upstream)
    scale = {"mean": -0.75 / 4, "sum": -0.75, "none": UPSTREAM[:, None]}[reduction]
    np.testing.assert_allclose(logits.grad.numpy(), (softmax(LOGITS) - target) * scale, **EXACT)


def test_cross_entropy_with_unnormalized_probabilities_scales_softmax_by_the_target_mass():
    # d/dz of -sum_c t_c log softmax(z)_c is softmax(z) * sum_c t_c - t, not softmax(z) - t.
    target = np.array([[0.4, 0.4, 0.4], [2.0, 0.0, 1.0]])
    logits = leaf(LOGITS[:2])
    F.cross_entropy(logits, target, reduction="sum").backward()
    expected = softmax(LOGITS[:2]) * target.sum(axis=1, keepdims=True) - target
    np.testing.assert_allclose(logits.grad.numpy(), expected, **EXACT)


def test_cross_entropy_of_one_sample_equals_a_batch_of_one():
    logits = leaf(LOGITS[1])
    for target in (2, np.int64(2), np.array(2), tg.tensor(np.array(2))):
        for reduction in ("mean", "sum", "none"):
            loss = F.cross_entropy(logits, target, reduction=reduction)
            assert loss.shape == ()
            np.testing.assert_allclose(loss.item(), -np.log(softmax(LOGITS[1])[2]), **EXACT)
    logits.grad = None
    F.cross_entropy(logits, 2, reduction="none").backward(np.array(3.0))
    assert logits.grad.shape == (3,)
    np.testing.assert_allclose(logits.grad.numpy(), 3 * (softmax(LOGITS[1]) - [0, 0, 1]), **EXACT)


def test_cross_entropy_of_one_sample_with_probabilities():
    target = np.array([0.25, 0.25, 0.5])
    loss = F.cross_entropy(leaf(LOGITS[0]), target, reduction="none")
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), -(target * np.log(softmax(LOGITS[0]))).sum(), **EXACT)


def test_cross_entropy_accepts_arrays_and_tensor_targets():
    expected = F.cross_entropy(leaf(LOGITS), LABELS).item()
    assert F.cross_entropy(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-15)
    assert F.cross_entropy(LOGITS, tg.tensor(LABELS)).item() == pytest.approx(expected, rel=1e-15)
    probs = tg.tensor(one_hot(LABELS, 3))
    assert F.cross_entropy(LOGITS, probs).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_computes_in_the_logits_dtype_whatever_the_target_dtype(dtype):
    logits = tg.tensor(LOGITS.astype(dtype), requires_grad=True)
    loss = F.cross_entropy(logits, one_hot(LABELS, 3).astype(np.float64))
    loss.backward()
    assert loss.dtype == dtype
    assert logits.grad.dtype == dtype


# ------------------------------------------------------------------ nll
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_gradient_is_minus_one_hot(reduction):
    log_probs = leaf(LOGITS)
    loss = F.nll_loss(log_probs, LABELS, reduction=reduction)
    upstream = UPSTREAM if reduction == "none" else np.array(2.0)
    loss.backward(upstream)
    scale = {"mean": 2.0 / 4, "sum": 2.0, "none": UPSTREAM[:, None]}[reduction]
    np.testing.assert_allclose(log_probs.grad.numpy(), -one_hot(LABELS, 3) * scale, **EXACT)
    picked = -LOGITS[np.arange(4), LABELS]
    expected = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, **EXACT)


def test_nll_loss_of_one_sample():
    for reduction in ("mean", "sum", "none"):
        loss = F.nll_loss(leaf(LOGITS[2]), 1, reduction=reduction)
        assert loss.shape == ()
        assert loss.item() == -LOGITS[2, 1]


def test_cross_entropy_equals_nll_of_log_softmax_also_per_sample():
    logits = leaf(LOGITS)
    left = F.cross_entropy(logits, LABELS, reduction="none")
    right = F.nll_loss(F.log_softmax(logits, axis=1), LABELS, reduction="none")
    np.testing.assert_allclose(left.numpy(), right.numpy(), **EXACT)


# ------------------------------------------------------------------ mse
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_gradient_flows_to_a_target_that_requires_grad(reduction):
    prediction, target = leaf([[1.0, -2.0], [0.5, 3.0]]), leaf([[0.0, 1.0], [0.5, -1.0]])
    loss = F.mse_loss(prediction, target, reduction=reduction)
    upstream = np.array([[1.0, 2.0], [3.0, 4.0]]) if reduction == "none" else np.array(1.0)
    loss.backward(upstream)
    diff = prediction.numpy() - target.numpy()
    scale = 0.25 if reduction == "mean" else 1.0
    np.testing.assert_allclose(prediction.grad.numpy(), 2 * diff * upstream * scale, **EXACT)
    np.testing.assert_allclose(target.grad.numpy(), -2 * diff * upstream * scale, **EXACT)


def test_mse_takes_the_predictions_dtype_and_any_array_like_target():
    prediction = tg.tensor(np.array([1.0, 3.0], dtype=np.float32), requires_grad=True)
    for target in ([0, 0], np.array([0.0, 0.0]), tg.tensor([0.0, 0.0])):
        loss = F.mse_loss(prediction, target)
        assert loss.dtype == np.float32
        assert loss.item() == 5.0
    assert F.mse_loss(np.array([1.0, 3.0]), [0.0, 0.0]).item() == 5.0


# ------------------------------------------------------------------ binary cross-entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_value_and_gradient(reduction):
    p, t = np.array([0.2, 0.9, 0.5, 0.7]), np.array([0.0, 1.0, 0.3, 1.0])
    probs = leaf(p)
    loss = F.binary_cross_entropy(probs, t, reduction=reduction)
    loss.backward(UPSTREAM if reduction == "none" else np.array(1.0))
    losses = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    local = (p - t) / (p * (1 - p))
    scale = {"mean": 0.25, "sum": 1.0, "none": UPSTREAM}[reduction]
    np.testing.assert_allclose(
        loss.numpy(), {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    )
    np.testing.assert_allclose(probs.grad.numpy(), local * scale, **EXACT)


def test_binary_cross_entropy_accepts_probabilities_zero_and_one_with_the_log_floored():
    right = F.binary_cross_entropy(tg.tensor([0.0, 1.0]), [0.0, 1.0], reduction="none")
    np.testing.assert_array_equal(right.numpy(), [0.0, 0.0])
    wrong = F.binary_cross_entropy(tg.tensor([0.0, 1.0]), [1.0, 0.0], reduction="none")
    np.testing.assert_allclose(wrong.numpy(), [100.0, 100.0], rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_value_and_gradient(reduction):
    x, t = np.array([-3.0, 0.5, 40.0, -40.0]), np.array([0.0, 1.0, 0.25, 1.0])
    logits = leaf(x)
    loss = F.binary_cross_entropy_with_logits(logits, t, reduction=reduction)
    loss.backward(UPSTREAM if reduction == "none" else np.array(1.0))
    losses = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    scale = {"mean": 0.25, "sum": 1.0, "none": UPSTREAM}[reduction]
    np.testing.assert_allclose(
        loss.numpy(), {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    )
    np.testing.assert_allclose(logits.grad.numpy(), (sigmoid(x) - t) * scale, **EXACT)


# ------------------------------------------------------------------ activations, linear
def test_activations_accept_array_likes():
    np.testing.assert_array_equal(F.relu([-1.0, 2.0]).numpy(), [0.0, 2.0])
    np.testing.assert_allclose(F.sigmoid(np.array([0.0, 2.0])).numpy(), sigmoid(np.array([0, 2.0])))
    np.testing.assert_allclose(F.tanh([0.5]).numpy(), np.tanh([0.5]))
    np.testing.assert_allclose(F.softmax([[1.0, 2.0]]).numpy(), softmax(np.array([[1.0, 2.0]])))
    np.testing.assert_allclose(F.softmax(LOGITS).numpy(), softmax(LOGITS), rtol=1e-12)
    np.testing.assert_allclose(
        F.log_softmax([[1.0, 2.0]], axis=0).numpy(), np.zeros((1, 2)), atol=1e-15
    )


def test_leaky_relu_default_slope_is_one_hundredth():
    x = leaf([-2.0, 3.0])
    out = F.leaky_relu(x)
    np.testing.assert_allclose(out.numpy(), [-0.02, 3.0], **EXACT)
    out.backward(np.array([1.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [0.01, 1.0], **EXACT)


def test_linear_takes_vectors_and_batches_of_any_rank():
    weight, bias = leaf(np.arange(6.0).reshape(2, 3)), leaf([0.5, -0.5])
    vector = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(F.linear(vector, weight, bias).numpy(), [8.5, 25.5], **EXACT)
    batch = np.arange(12.0).reshape(2, 2, 3)
    expected = batch @ weight.numpy().T
    np.testing.assert_allclose(F.linear(batch, weight).numpy(), expected, **EXACT)


# ------------------------------------------------------------------ errors
LOSSES = {
    "mse_loss": (F.mse_loss, [[0.5]], [[1.0]]),
    "cross_entropy": (F.cross_entropy, [[0.5, 1.0]], [1]),
    "nll_loss": (F.nll_loss, [[0.5, 1.0]], [1]),
    "binary_cross_entropy": (F.binary_cross_entropy, [[0.5]], [[1.0]]),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, [[0.5]], [[1.0]]),
}


@pytest.mark.parametrize("name", LOSSES)
def test_unknown_reduction_is_named_with_the_loss(name):
    loss, prediction, target = LOSSES[name]
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be one of .*got 'avg'"):
        loss(tg.tensor(prediction), target, reduction="avg")


@pytest.mark.parametrize(
    "name", ["mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"]
)
def test_target_of_another_shape_is_an_error_not_a_broadcast(name):
    loss = LOSSES[name][0]
    message = (
        rf"^{name}: prediction has shape \(3,\) but target has shape \(3, 1\); they must match "
        r"exactly \(broadcasting here would silently compare every prediction with every "
        r"target\)\. Reshape one, e\.g\. target\.reshape\(prediction\.shape\)$"
    )
    with pytest.raises(ShapeError, match=message):
        loss(tg.tensor([0.5, 0.5, 0.5]), np.full((3, 1), 0.5))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_index_errors_name_the_loss(name):
    loss = LOSSES[name][0]
    scores = tg.tensor(LOGITS)
    message = (
        rf"^{name}: class-index targets must be integers, got dtype float64; convert them "
        r"\(target\.astype\(np\.int64\)\), or pass class probabilities with the scores' "
        r"shape \(4, 3\)$"
    )
    with pytest.raises(DTypeError, match=message):
        loss(scores, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(
        ShapeError, match=rf"^{name}: .*need class indices of shape \(4,\), got \(3,\)"
    ):
        loss(scores, np.array([0, 1, 2]))
    with pytest.raises(LabelError, match=rf"^{name}: target holds class index 3, outside \[0, 2\]"):
        loss(scores, np.array([0, 3, 1, 1]))
    with pytest.raises(
        LabelError, match=rf"^{name}: target holds class index -1, outside \[0, 2\]"
    ):
        loss(scores, np.array([0, 1, -1, 1]))
    with pytest.raises(
        ShapeError, match=rf"^{name}: scores of shape \(2, 3, 4\) need class indices"
    ):
        loss(tg.tensor(np.zeros((2, 3, 4))), np.array([0, 1]))


def test_probability_targets_must_have_the_logits_shape():
    with pytest.raises(
        ShapeError, match=r"^cross_entropy: probability targets .* \(4, 3\), got \(4, 2\)"
    ):
        F.cross_entropy(tg.tensor(LOGITS), np.full((4, 2), 0.5))


def test_probabilities_outside_zero_one_are_refused_with_the_range_found():
    with pytest.raises(
        ValueError,
        match=r"^binary_cross_entropy: probs must lie in \[0, 1\] "
        r"\(got values in \[-0.5, 1.25\]\); for raw scores use binary_cross_entropy_with_logits",
    ):
        F.binary_cross_entropy(tg.tensor([-0.5, 1.25]), [0.0, 1.0])


@pytest.mark.parametrize(
    ("x", "features"), [(np.zeros(()), 0), (np.zeros(4), 4), (np.zeros((2, 5, 4)), 4)]
)
def test_linear_names_the_feature_counts_that_disagree(x, features):
    weight = tg.tensor(np.zeros((2, 3)))
    message = rf"^linear: input of shape {x.shape} has {features} features .* expects 3$"
    with pytest.raises(ShapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        F.linear(x, weight)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_float32_losses_give_float32_values_and_gradients(name, reduction):
    loss, prediction, target = LOSSES[name]
    x = tg.tensor(np.array(prediction, dtype=np.float32), requires_grad=True)
    out = loss(x, target, reduction=reduction)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == np.float32
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_class_indices_may_be_a_list(loss):
    expected = loss(tg.tensor(LOGITS), LABELS).item()
    assert loss(tg.tensor(LOGITS), LABELS.tolist()).item() == expected


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    logits = tg.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], requires_grad=True)
    labels = np.array([1, 2])
    F.cross_entropy(logits, labels).backward()
    p = np.exp(logits.data) / np.exp(logits.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad.data, (p - np.eye(3)[labels]) / 2, atol=1e-15)


def test_cross_entropy_label_errors():
    logits = tg.ones(3, 4)
    with pytest.raises(tg.LabelError, match=r"class index 4, outside \[0, 3\]"):
        F.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(tg.LabelError, match="class index -1"):
        F.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(tg.DTypeError, match="must be integers"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(tg.ShapeError, match=r"\(3,\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 2]), reduction="average")


def test_mse_and_bce_input_errors():
    with pytest.raises(tg.ShapeError, match=r"\(3, 1\).*\(3,\)"):
        F.mse_loss(tg.ones(3, 1), np.ones(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.binary_cross_entropy(tg.tensor([1.5]), np.array([1.0]))


def replay(op, *arrays, **options):
    """``op``'s forward as a recorded step is run again: a fresh ctx, the arrays and options."""
    ctx = object.__new__(op)
    ctx.saved = ()
    ctx.needs_input_grad = (False,) * len(arrays)
    return op.forward(ctx, *arrays, **options)


@pytest.mark.parametrize(
    ("op", "name"), [(ops.CrossEntropy, "cross_entropy"), (ops.NLLLoss, "nll_loss")]
)
def test_class_label_ops_check_the_labels_on_each_run(op, name):
    replay(op, LOGITS, LABELS, reduction="mean")
    message = rf"^{name}: target holds class index 3, outside \[0, 2\] for scores with 3 classes"
    with pytest.raises(LabelError, match=message):
        replay(op, LOGITS, np.array([0, 3, 1, 1]), reduction="mean")


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_a_bad_label_is_the_label_error_itself_not_a_shape_error(loss):
    with pytest.raises(LabelError) as raised:
        loss(tg.tensor(LOGITS), tg.tensor(np.array([0, 1, 5, 1])))
    assert type(raised.value) is LabelError
    assert str(raised.value) == (
        f"{loss.__name__}: target holds class index 5, outside [0, 2] for scores with 3 "
        "classes (shape (4, 3))"
    )


def test_tensor_targets_are_cast_and_reshaped_by_ops_with_the_same_values(monkeypatch):
    ran = []
    for op in (ops.Cast, ops.Reshape):
        forward = op.forward

        def counted(ctx, *args, forward=forward, op=op, **options):
            ran.append(op.name)
            return forward(ctx, *args, **options)

        monkeypatch.setattr(op, "forward", staticmethod(counted))
    prediction = tg.tensor(LOGITS[:, 0], requires_grad=True)
    target = np.array([1.0, 0.0, 1.0, 0.0], dtype=np.float32)
    expected = F.mse_loss(prediction, target)
    ran.clear()
    assert F.mse_loss(prediction, tg.tensor(target)).item() == expected.item()
    assert ran == ["cast"]
    probabilities = softmax(LOGITS[:1]).astype(np.float32)
    batched = F.cross_entropy(tg.tensor(LOGITS[:1]), probabilities)
    ran.clear()
    single = F.cross_entropy(tg.tensor(LOGITS[0]), tg.tensor(probabilities[0]))
    assert single.item() == batched.item()
    assert ran == ["reshape", "reshape", "cast"]  # the scores, then the target's two
