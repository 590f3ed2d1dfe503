"""Changing a tensor in place: PyTorch's operators and methods, under PyTorch's rules.

``+= -= *= /= **=``, ``add_ sub_ mul_ div_ pow_ zero_ fill_ copy_ clamp_`` and
``t[index] = value`` write into the tensor and return it. While grad mode is on
a tensor that requires grad is never changed in place; a tensor that needs no
gradient changed by one that does is recorded; an array a live graph saved is
copied on write, so that graph keeps the values it was computed with.
"""

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import nn
from tinygrad_ann.errors import DTypeError, ShapeError

SavedArrays = tg.autograd.SavedArrays
LARGE = (40, 40)  # above the copy limit: a saved array is locked, not copied


# Every test here must leave the saved-array guard's bookkeeping as it found it.
pytestmark = pytest.mark.usefixtures("no_lock_left_behind")


def leaf(values, requires_grad=True):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# Each: the in-place call, the values it leaves on [1, 2, 3].
CHANGES = {
    "+=": (lambda t: t.__iadd__(2.0), [3.0, 4.0, 5.0]),
    "-=": (lambda t: t.__isub__(tg.tensor([1.0, 1.0, 1.0])), [0.0, 1.0, 2.0]),
    "*=": (lambda t: t.__imul__(np.array([2.0, 3.0, 4.0])), [2.0, 6.0, 12.0]),
    "/=": (lambda t: t.__itruediv__(4.0), [0.25, 0.5, 0.75]),
    "**=": (lambda t: t.__ipow__(2), [1.0, 4.0, 9.0]),
    "add_": (lambda t: t.add_(tg.tensor([1.0, 2.0, 3.0]), alpha=-2.0), [-1.0, -2.0, -3.0]),
    "sub_": (lambda t: t.sub_(1.0, alpha=0.5), [0.5, 1.5, 2.5]),
    "mul_": (lambda t: t.mul_(-1.0), [-1.0, -2.0, -3.0]),
    "div_": (lambda t: t.div_(tg.tensor(2.0)), [0.5, 1.0, 1.5]),
    "pow_": (lambda t: t.pow_(0.5), [1.0, np.sqrt(2.0), np.sqrt(3.0)]),
    "zero_": (lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    "fill_": (lambda t: t.fill_(7.5), [7.5, 7.5, 7.5]),
    "copy_": (lambda t: t.copy_(np.array([9, 8, 7])), [9.0, 8.0, 7.0]),
    "clamp_": (lambda t: t.clamp_(min=1.5, max=2.5), [1.5, 2.0, 2.5]),
    "clamp_ max only": (lambda t: t.clamp_(max=2.0), [1.0, 2.0, 2.0]),
    "setitem": (lambda t: t.__setitem__(slice(1, None), tg.tensor([5.0, 6.0])), [1.0, 5.0, 6.0]),
    "setitem mask": (lambda t: t.__setitem__(t > 1.5, 0.0), [1.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("name", CHANGES)
def test_each_change_writes_into_the_same_tensor_and_array(name):
    change, expected = CHANGES[name]
    tensor = leaf([1.0, 2.0, 3.0], requires_grad=False)
    array = tensor.data
    returned = change(tensor)
    if name != "setitem" and name != "setitem mask":
        assert returned is tensor
    assert tensor.data is array  # in place: the same memory, seen through any alias
    np.testing.assert_array_equal(tensor.data, expected)
    assert tensor.dtype == np.float64


@pytest.mark.parametrize("name", CHANGES)
def test_under_no_grad_a_leaf_that_requires_grad_changes_and_stays_a_trainable_leaf(name):
    change, expected = CHANGES[name]
    weight = leaf([1.0, 2.0, 3.0])
    with tg.no_grad():
        change(weight)
    np.testing.assert_array_equal(weight.data, expected)
    assert weight.requires_grad and weight.is_leaf and weight.grad_fn is None
    (weight * weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.data, 2 * np.asarray(expected))


@pytest.mark.parametrize("name", CHANGES)
def test_with_grad_mode_on_a_leaf_that_requires_grad_is_refused_and_unchanged(name):
    change, _ = CHANGES[name]
    weight = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad") as raised:
        change(weight)
    assert "tg.no_grad()" in str(raised.value)
    np.testing.assert_array_equal(weight.data, [1.0, 2.0, 3.0])


RECORDED = [name for name in CHANGES if not name.startswith(("zero_", "fill_", "copy_", "set"))]


@pytest.mark.parametrize("name", CHANGES)
def test_an_op_result_that_a_later_op_may_have_used_is_refused(name):
    change, _ = CHANGES[name]
    x = leaf([1.0, 2.0, 3.0])
    hidden = x * 1.0
    doubled = hidden * 2.0  # uses hidden: changing it now would corrupt doubled's gradient
    with pytest.raises(RuntimeError) as raised:
        change(hidden)
    message = str(raised.value)
    assert "was computed by mul in a recorded graph, and an op recorded since may have" in message
    assert "y = y + 1" in message and ".detach()" in message
    np.testing.assert_array_equal(hidden.data, [1.0, 2.0, 3.0])
    (hidden.sum() + doubled.sum()).backward()  # the graph is intact
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])


@pytest.mark.parametrize("name", RECORDED)
def test_an_op_result_no_op_has_used_is_changed_and_recorded(name):
    change, _ = CHANGES[name]

    def function(x):
        hidden = x * 1.0
        change(hidden)
        return hidden

    x = tg.tensor(np.array([1.2, 1.7, 2.9]), requires_grad=True)
    result = function(x)
    plain = tg.tensor(x.data * 1.0)
    change(plain)  # the same change on values alone
    np.testing.assert_array_equal(result.data, plain.data)
    assert result.grad_fn is not None
    assert tg.gradcheck(function, [x])


@pytest.mark.parametrize("name", sorted(set(CHANGES) - set(RECORDED)))
def test_an_op_result_no_op_has_used_is_still_refused_by_the_changes_with_no_record(name):
    change, _ = CHANGES[name]
    hidden = leaf([1.0, 2.0, 3.0]) * 1.0
    with pytest.raises(RuntimeError, match="cannot be recorded in place; build the result"):
        change(hidden)
    np.testing.assert_array_equal(hidden.data, [1.0, 2.0, 3.0])


def test_an_op_result_whose_new_value_uses_it_is_refused():
    hidden = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match="an op recorded since may have used it"):
        hidden += hidden * 2.0


def test_an_op_result_with_gradient_hooks_is_refused():
    hidden = leaf([1.0, 2.0]) * 2.0
    hidden.register_hook(lambda grad: grad)
    with pytest.raises(RuntimeError, match="it has gradient hooks"):
        hidden += 1.0


def test_the_pytorch_update_loop_updates_the_parameters():
    model = nn.Linear(3, 1)
    before = [p.data.copy() for p in model.parameters()]
    model(tg.ones(4, 3)).sum().backward()
    with tg.no_grad():
        for parameter in model.parameters():
            parameter -= 0.1 * parameter.grad
    np.testing.assert_allclose(model.weight.data, before[0] - 0.4)
    np.testing.assert_allclose(model.bias.data, before[1] - 0.4)


def test_an_update_through_a_module_attribute_keeps_the_parameter():
    model = nn.Linear(3, 2)
    weight = model.weight
    model(tg.ones(4, 3)).sum().backward()
    with tg.no_grad():
        model.weight -= 0.5 * model.weight.grad
    assert model.weight is weight and isinstance(model.weight, nn.Parameter)
    assert [name for name, _ in model.named_parameters()] == ["weight", "bias"]


def test_a_tensor_without_grad_changed_by_one_with_grad_is_recorded():
    weight = leaf([1.0, -2.0, 0.5])
    total = tg.zeros(3)
    total += weight * 3.0  # total needs no gradient, so no earlier op holds it as a parent
    total *= weight
    assert total.requires_grad and total.grad_fn is not None
    total.sum().backward()
    np.testing.assert_allclose(weight.grad.data, 6.0 * weight.data)  # d/dw 3w² = 6w


def test_recorded_changes_match_finite_differences():
    def function(weight, other):
        total = tg.ones(2, 3)
        total += weight
        total *= other
        total -= weight**2
        total /= other + 3.0
        total **= 2
        return total.sum()

    weight = tg.tensor(np.array([[0.3, -0.7, 1.1], [0.2, 0.5, -0.4]]), requires_grad=True)
    other = tg.tensor(np.array([0.9, -1.3, 0.6]), requires_grad=True)
    assert tg.gradcheck(function, [weight, other])
    assert tg.gradgradcheck(function, [weight, other])


def test_a_recorded_change_keeps_the_tensors_shape_and_dtype():
    weight = leaf([[1.0], [2.0]])
    row = tg.zeros(2)
    with pytest.raises(ShapeError, match=r"keep the tensor's shape \(2,\)"):
        row += weight  # broadcasts to (2, 2): no longer fits
    assert not row.requires_grad
    single = tg.zeros(2, dtype=np.float32)
    single += leaf([1.0, 2.0])
    assert single.dtype == np.float32 and single.requires_grad
    single.sum().backward()


def test_writing_a_tensor_that_requires_grad_into_one_that_does_not_is_refused_without_a_record():
    weight = leaf([1.0, 2.0])
    target = tg.zeros(3)
    for change in (
        lambda: target.__setitem__(slice(0, 2), weight),
        lambda: target.copy_(weight.sum()),
    ):
        with pytest.raises(RuntimeError, match="cannot be recorded in place; build the result"):
            change()
    np.testing.assert_array_equal(target.data, [0.0, 0.0, 0.0])
    with tg.no_grad():
        target[:2] = weight  # values only, on purpose
    np.testing.assert_array_equal(target.data, [1.0, 2.0, 0.0])
    assert not target.requires_grad


def test_an_array_a_live_graph_saved_is_copied_on_write_so_its_gradient_stays_right():
    x = tg.tensor(np.full(LARGE, 2.0), requires_grad=True)
    weight = tg.tensor(np.full(LARGE, 3.0), requires_grad=True)
    loss = (x * weight).sum()  # saves both arrays, locked (large)
    saved_weight = weight.data
    assert SavedArrays.is_locked(saved_weight)
    with tg.no_grad():
        weight -= 1.0
    assert weight.data is not saved_weight  # copied on write
    np.testing.assert_array_equal(weight.data, 2.0)
    np.testing.assert_array_equal(saved_weight, 3.0)  # what the graph computed with
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, 3.0)  # d loss / dx is the weight it used
    assert not SavedArrays.is_locked(saved_weight)


def test_a_small_saved_array_is_written_in_place_and_the_graph_keeps_its_copy():
    x = leaf([2.0, 2.0])
    weight = leaf([3.0, 3.0])
    loss = (x * weight).sum()
    array = weight.data
    with tg.no_grad():
        weight -= 1.0
    assert weight.data is array
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_a_view_of_a_locked_array_is_copied_on_write_too():
    weight = tg.tensor(np.ones(LARGE), requires_grad=True)
    view = tg.from_numpy(weight.data[0])  # made before the lock: still writable
    loss = (weight * weight).sum()
    with tg.no_grad():
        view += 5.0
    np.testing.assert_array_equal(weight.data, 1.0)  # the saved array is untouched
    np.testing.assert_array_equal(view.data, 6.0)
    loss.backward()


def test_a_read_only_array_that_no_graph_holds_gets_a_clear_error():
    array = np.ones(3)
    array.setflags(write=False)
    tensor = tg.from_numpy(array)
    with pytest.raises(ValueError, match=r"read-only, and not because a graph saved it") as raised:
        tensor += 1.0
    assert "t.data = t.data.copy()" in str(raised.value)


def test_shape_and_dtype_mistakes_in_place_are_named_and_change_nothing():
    tensor = leaf([1.0, 2.0, 3.0], requires_grad=False)
    with pytest.raises(ShapeError, match=r"^\+=: a value of shape \(2,\) does not fit a tensor"):
        tensor += np.array([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"^__setitem__: a value of shape \(2,\)"):
        tensor[:] = [1.0, 2.0]
    counts = tg.tensor([1, 2, 3])
    with pytest.raises(DTypeError, match=r"^\+=: .*keeps its dtype int64"):
        counts += 0.5
    with pytest.raises(DTypeError, match=r"^/=: "):
        counts /= 2
    np.testing.assert_array_equal(tensor.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(counts.data, [1, 2, 3])
    with pytest.raises(ValueError, match="give min=, max= or both"):
        tensor.clamp_()


def test_zeroing_a_gradient_in_place():
    weight = leaf([1.0, 2.0])
    (weight * 3.0).sum().backward()
    gradient = weight.grad
    gradient.zero_()
    assert weight.grad is gradient
    np.testing.assert_array_equal(weight.grad.data, [0.0, 0.0])
    (weight * 3.0).sum().backward()
    np.testing.assert_array_equal(weight.grad.data, [3.0, 3.0])


def test_optimizers_still_train_a_model_whose_arrays_a_kept_graph_locks():
    tg.manual_seed(0)
    model = nn.Linear(40, 40)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    inputs = tg.ones(3, 40)
    kept = []
    for _ in range(3):
        loss = (model(inputs) ** 2).mean()
        kept.append(loss)  # keeps every graph alive, and their saved arrays locked
        opt.zero_grad()
        loss.backward(retain_graph=True)
        opt.step()
    assert kept[0].item() > kept[-1].item()


def test_the_new_value_may_use_results_older_than_the_tensor_it_changes():
    x = leaf([1.0, 2.0])
    older = x * 5.0  # recorded before hidden: no op recorded since hidden was made
    hidden = x * 2.0
    hidden += older * 3.0  # the walk over the new value stops at ops older than hidden
    hidden.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [17.0, 17.0])


def test_the_new_value_may_use_one_result_twice():
    x = leaf([1.0, 2.0])
    hidden = x * 2.0
    tripled = x * 3.0
    hidden += tripled * tripled  # tripled's op is reached twice, counted once
    hidden.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2.0 + 18.0 * x.data)


def test_the_walk_over_the_new_value_goes_on_past_an_older_result():
    x = leaf([1.0, 2.0])
    older = x * 5.0
    hidden = x * 2.0
    hidden += x * 4.0 + older  # met first: the older result; the newer product still counts
    hidden.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [11.0, 11.0])
