"""Arrays saved for backward: copied when small, read-only while a graph holds them when large.

Either way an in-place write never silently changes a gradient: a small
array's graph keeps the values it was computed with, and a write into a large
one raises at the write. The usual training patterns keep working.
"""

import gc
import pickle

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

SavedArrays = tg.autograd.SavedArrays
LARGE = (40, 40)  # 1600 elements: above the copy limit
SMALL = (4, 5)  # 20 elements: copied


def test_sizes_used_here_are_on_either_side_of_the_copy_limit():
    assert np.prod(SMALL) <= SavedArrays.copy_limit < np.prod(LARGE)


# Every test here must leave the saved-array guard's bookkeeping as it found it.
pytestmark = pytest.mark.usefixtures("no_lock_left_behind")


def large_tensor(value=2.0):
    return tg.tensor(np.full(LARGE, value), requires_grad=True)


def is_writable(tensor):
    return tensor.data.flags.writeable and not SavedArrays.is_locked(tensor.data)


# ---------------------------------------------------------------- small arrays: copied


def test_small_saved_array_is_copied_so_a_later_write_keeps_the_forward_values():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    assert is_writable(x)
    x.data[...] = 10
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])


@pytest.mark.parametrize(
    "write",
    [
        lambda a: a.__setitem__(Ellipsis, 0.0),
        lambda a: a.__iadd__(1.0),
        lambda a: a[1:].__imul__(-3.0),
    ],
    ids=["assign", "add", "view"],
)
def test_small_input_and_output_can_be_written_after_forward(write):
    values = np.linspace(-1.0, 1.0, 20).reshape(SMALL)
    x = tg.tensor(values, requires_grad=True)
    y = x.tanh()  # saves its output
    z = (y * x).sum()  # saves y and x
    write(x.data)
    write(y.data)
    z.backward()
    tanh = np.tanh(values)
    np.testing.assert_allclose(x.grad.data, tanh + values * (1 - tanh**2), rtol=1e-12)


# ---------------------------------------------------------------- large arrays: locked


LARGE_WRITES = [
    pytest.param(lambda t: t.data.__setitem__(Ellipsis, 10.0), id="assign"),
    pytest.param(lambda t: t.data.__iadd__(10.0), id="add"),
    pytest.param(lambda t: t.data[::2, 3:].__setitem__(Ellipsis, 10.0), id="view-after-forward"),
    pytest.param(lambda t: np.copyto(t.data, 10.0), id="copyto"),
]


@pytest.mark.parametrize("write", LARGE_WRITES)
def test_large_saved_array_raises_at_the_write_and_the_gradient_stays_right(write):
    w = large_tensor(2.0)
    loss = (w * w * w).sum()
    assert SavedArrays.is_locked(w.data)
    with pytest.raises(ValueError, match="read-only"):
        write(w)
    np.testing.assert_array_equal(w.data, 2.0)  # nothing was written
    loss.backward()
    np.testing.assert_allclose(w.grad.data, 12.0)  # 3 w^2 at w = 2
    assert is_writable(w)
    write(w)  # allowed once the graph is freed


def test_large_saved_output_is_locked_too():
    w = large_tensor(0.5)
    y = w.exp()  # saves its output
    loss = y.sum()
    with pytest.raises(ValueError, match="read-only"):
        y.data[...] = 0.0
    loss.backward()
    np.testing.assert_allclose(w.grad.data, np.exp(0.5))


def test_saved_view_locks_the_array_it_views():
    x = tg.tensor(np.ones((50, 40)), requires_grad=True)
    top = x[:30]  # a view of x's array, 1200 elements
    loss = (top * top).sum()
    assert SavedArrays.is_locked(x.data)
    with pytest.raises(ValueError, match="read-only"):
        x.data[40, 0] = 5.0  # outside the view, but in the same buffer
    del loss
    assert is_writable(x)


def test_lock_is_released_when_the_graph_is_dropped():
    w = large_tensor()
    loss = (w * w).sum()
    assert SavedArrays.is_locked(w.data)
    del loss
    assert is_writable(w)
    w.data += 1.0


def test_two_graphs_keep_the_lock_until_both_are_gone():
    w = large_tensor()
    first = (w * w).sum()
    second = (w**3).sum()
    del first
    assert SavedArrays.is_locked(w.data)
    with pytest.raises(ValueError, match="read-only"):
        w.data[0, 0] = 1.0
    second.backward()
    assert is_writable(w)


def test_retain_graph_keeps_the_lock_until_the_graph_is_dropped():
    w = large_tensor()
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    assert SavedArrays.is_locked(w.data)
    with pytest.raises(ValueError, match="read-only"):
        w.data -= 0.1 * w.grad.data
    loss.backward()  # the last use frees it
    assert is_writable(w)
    np.testing.assert_allclose(w.grad.data, 8.0)

    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    del loss
    assert is_writable(w)


def test_failed_backward_releases_the_locks_when_the_graph_is_dropped():
    class Fails(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad_output):
            raise ArithmeticError("backward failed")

    w = large_tensor()
    loss = Fails.apply(w * w).sum()
    with pytest.raises(ArithmeticError):
        loss.backward()
    del loss
    assert is_writable(w)


def test_forward_under_no_grad_locks_nothing():
    w = large_tensor()
    before = dict(SavedArrays.counts)
    with tg.no_grad():
        y = (w * w).exp().sum()
    assert SavedArrays.counts == before
    w.data[...] = 0.0
    assert y.item() == pytest.approx(1600 * np.exp(4.0))


def test_array_nobody_saved_stays_writable():
    a = large_tensor(1.0)
    b = large_tensor(2.0)
    loss = (a + b).sum()  # add saves nothing
    assert not SavedArrays.is_locked(a.data) and not SavedArrays.is_locked(b.data)
    a.data[...] = 5.0
    loss.backward()
    np.testing.assert_array_equal(a.grad.data, 1.0)


def test_array_only_the_other_operand_needs_is_not_locked():
    w = large_tensor(2.0)
    constant = tg.tensor(np.full(LARGE, 3.0))
    loss = (w * constant).sum()  # w's gradient needs the constant, not w
    assert not SavedArrays.is_locked(w.data)
    assert SavedArrays.is_locked(constant.data)
    w.data[...] = 0.0
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, 3.0)


def test_index_array_written_after_forward_keeps_the_forward_gradient():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    index = np.array([0, 0, 2])
    y = (x[index] * tg.tensor([1.0, 10.0, 100.0])).sum()
    index[...] = 1  # the index array reused after the forward
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [11.0, 0.0, 100.0])


class ScaleBy(tg.Function):
    """x * weights, the weights given by keyword: a constant array the op saves."""

    @staticmethod
    def forward(ctx, x, weights):
        ctx.save_for_backward(weights)
        return x * weights

    @staticmethod
    def backward(ctx, grad_output):
        (weights,) = ctx.saved
        return grad_output * weights


def test_saved_keyword_array_is_copied_when_small():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    weights = np.ones(3)
    y = ScaleBy.apply(x, weights=weights).sum()
    weights[...] = 5.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])


def test_saved_keyword_array_is_locked_when_large():
    x = large_tensor()
    weights = np.ones(LARGE)
    y = ScaleBy.apply(x, weights=weights).sum()
    with pytest.raises(ValueError, match="read-only"):
        weights += 1.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 1.0)


# ---------------------------------------------------------------- the copy limit, a setting
@pytest.fixture
def copy_limit():
    """``SavedArrays.copy_limit``, put back after the test whatever it sets."""
    default = SavedArrays.copy_limit
    yield
    SavedArrays.copy_limit = default


@pytest.mark.usefixtures("copy_limit")
def test_copy_limit_zero_locks_a_small_saved_array_instead_of_copying_it():
    SavedArrays.copy_limit = 0
    assert SavedArrays.copy_limit == 0
    x = tg.tensor(np.full(SMALL, 2.0), requires_grad=True)
    loss = (x * x).sum()
    assert SavedArrays.is_locked(x.data) and not x.data.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        x.data += 1.0
    loss.backward()
    assert is_writable(x)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(SMALL, 4.0))


@pytest.mark.usefixtures("copy_limit")
def test_copy_limit_above_a_large_array_copies_it_instead_of_locking_it():
    SavedArrays.copy_limit = int(np.prod(LARGE))
    w = large_tensor()
    loss = (w * w).sum()
    assert is_writable(w)
    w.data[...] = 10.0  # the graph kept a copy
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(LARGE, 4.0))


@pytest.mark.usefixtures("copy_limit")
@pytest.mark.parametrize(
    ("value", "error", "given"),
    [
        (True, TypeError, "not bool True"),
        (1.5, TypeError, "not float 1.5"),
        ("8", TypeError, "not str '8'"),
        (None, TypeError, "not NoneType None"),
        (-1, ValueError, "not -1"),
    ],
)
def test_copy_limit_refuses_what_is_not_a_count_of_elements(value, error, given):
    before = SavedArrays.copy_limit
    with pytest.raises(error, match=r"SavedArrays\.copy_limit must be") as raised:
        SavedArrays.copy_limit = value
    assert given in str(raised.value) and "0 or more" in str(raised.value)
    assert SavedArrays.copy_limit == before
    x = tg.tensor(np.full(SMALL, 2.0), requires_grad=True)
    (x * x).sum()
    assert is_writable(x)  # the guard still copies small arrays


@pytest.mark.usefixtures("copy_limit")
def test_copy_limit_takes_a_numpy_integer_as_an_int():
    SavedArrays.copy_limit = np.int64(5)
    assert SavedArrays.copy_limit == 5 and type(SavedArrays.copy_limit) is int


# ---------------------------------------------------------------- patterns that keep working


@pytest.mark.parametrize("shape", [SMALL, LARGE], ids=["small", "large"])
def test_manual_update_right_after_backward(shape):
    rng = np.random.default_rng(0)
    w = tg.tensor(rng.normal(size=shape), requires_grad=True)
    target = rng.normal(size=shape)
    losses = []
    for _ in range(3):
        loss = ((w - tg.tensor(target)) ** 2).sum()
        w.grad = None
        loss.backward()
        before = w.data.copy()
        w.data -= 0.1 * w.grad.data
        np.testing.assert_allclose(w.data, before - 0.1 * 2 * (before - target))
        losses.append(loss.item())
    assert losses[0] > losses[1] > losses[2]


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p, lr=0.01)],
    ids=["SGD", "Adam"],
)
@pytest.mark.parametrize("shape", [SMALL, LARGE], ids=["small", "large"])
def test_optimizer_step_after_backward_updates_in_place(make_optimizer, shape):
    w = tg.tensor(np.ones(shape), requires_grad=True)
    opt = make_optimizer([w])
    array = w.data
    for _ in range(2):
        loss = (w * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert w.data is array  # nothing held the array, so it was updated in place
    assert np.all(w.data < 1.0)


def network(hidden):
    """A model whose second weight is large (locked when saved) or small (copied)."""
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(6, hidden), nn.Tanh(), nn.Linear(hidden, hidden))


def fresh_gradients(model, old_values, inputs, upstream):
    """The gradients of model(inputs) for ``upstream`` at ``old_values``, on a separate copy."""
    copy = network(model[0].out_features)
    for param, values in zip(copy.parameters(), old_values):
        param.data = values.copy()
    copy(inputs).backward(upstream)
    return [param.grad.data for param in copy.parameters()]


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda p: optim.SGD(p, lr=0.5), lambda p: optim.Adam(p, lr=0.1)],
    ids=["SGD", "Adam"],
)
@pytest.mark.parametrize("hidden", [40, 8], ids=["large", "small"])
def test_step_while_another_graph_is_alive_keeps_that_graph_at_the_old_weights(
    make_optimizer, hidden
):
    model = network(hidden)
    opt = make_optimizer(model.parameters())
    rng = np.random.default_rng(1)
    x_train = tg.tensor(rng.normal(size=(10, 6)))
    x_val = tg.tensor(rng.normal(size=(7, 6)))
    labels = rng.integers(0, hidden, size=10)
    old_values = [param.data.copy() for param in model.parameters()]

    val_logits = model(x_val)  # kept alive across the step
    second_weight = model[2].weight
    assert SavedArrays.is_locked(second_weight.data) == (hidden == 40)

    loss = F.cross_entropy(model(x_train), labels)
    opt.zero_grad()
    loss.backward()
    gradients = [param.grad.data.copy() for param in model.parameters()]
    opt.step()
    for param, old in zip(model.parameters(), old_values):
        assert not np.allclose(param.data, old)  # every parameter moved
    if isinstance(opt, optim.SGD):
        for param, old, gradient in zip(model.parameters(), old_values, gradients):
            np.testing.assert_allclose(param.data, old - 0.5 * gradient)

    opt.zero_grad()
    # Not all ones: a cross-entropy step leaves the column sums of the last weight unchanged.
    upstream = rng.normal(size=val_logits.shape)
    val_logits.backward(upstream)
    expected = fresh_gradients(model, old_values, x_val, upstream)
    for param, gradient in zip(model.parameters(), expected):
        np.testing.assert_allclose(param.grad.data, gradient, rtol=1e-12, atol=1e-12)
    del val_logits
    assert all(is_writable(param) for param in model.parameters())


def test_init_on_a_locked_parameter_leaves_the_live_graph_at_the_old_values():
    w = large_tensor(1.0)
    h = tg.tensor(np.full((3, 40), 2.0), requires_grad=True)
    out = (h @ w).sum()  # h's gradient needs w
    assert SavedArrays.is_locked(w.data)
    nn.init.normal_(w)
    assert not np.all(w.data == 1.0)
    out.backward()
    np.testing.assert_allclose(h.grad.data, 40.0)  # row sums of the old all-ones w


# ---------------------------------------------------------------- create_graph after a change


def test_create_graph_after_a_small_input_was_written_is_an_error():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x * x).sum()
    x.data[...] = 10.0
    with pytest.raises(RuntimeError, match="has changed since the forward pass"):
        tg.grad(y, x, create_graph=True)
    (first,) = tg.grad(y, x)  # first order uses the saved copy
    np.testing.assert_allclose(first.data, [3.0, 12.0, 27.0])


def test_create_graph_after_an_optimizer_replaced_a_large_input_is_an_error():
    w = large_tensor(2.0)
    old_graph = (w * w * w).sum()
    loss = (w * w).sum()
    loss.backward()
    optim.SGD([w], lr=0.1).step()  # w is locked by old_graph: it gets a new array
    with pytest.raises(RuntimeError, match="has changed since the forward pass"):
        old_graph.backward(create_graph=True)
    w.grad = None
    old_graph.backward()
    np.testing.assert_allclose(w.grad.data, 12.0)  # 3 w^2 at the old w = 2


# ---------------------------------------------------------------- bookkeeping


def test_many_graphs_leave_no_bookkeeping_behind():
    before = len(SavedArrays.counts)
    weights = [large_tensor() for _ in range(3)]
    graphs = [(a * b).sum() for a in weights for b in weights]
    assert len(SavedArrays.counts) == before + 3
    for graph in graphs[::2]:
        graph.backward()
    del graphs
    assert len(SavedArrays.counts) == before
    assert all(is_writable(w) for w in weights)


def test_create_graph_on_large_arrays_leaves_no_lock_behind():
    before = len(SavedArrays.counts)
    w = large_tensor()
    (first,) = tg.grad((w * w * w).sum(), w, create_graph=True)
    (second,) = tg.grad(first.sum(), w)
    np.testing.assert_allclose(second.data, 12.0)
    del first, second
    gc.collect()
    assert is_writable(w)
    assert len(SavedArrays.counts) == before


def test_saved_read_only_view_releases_the_array_it_views():
    before = len(SavedArrays.counts)
    x = tg.tensor(np.ones(40), requires_grad=True)
    rows = tg.vjp_math.broadcast_to(x, (40, 40))  # a read-only view of x's array
    loss = (rows * rows).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 80.0)
    del loss, rows
    assert is_writable(x)
    assert len(SavedArrays.counts) == before


def test_a_view_unlocked_while_another_graph_guards_its_base_becomes_writable_with_the_base():
    weight = tg.tensor(np.ones(LARGE), requires_grad=True)
    view = tg.from_numpy(weight.data.T)  # shares weight's memory
    view.requires_grad_()
    through_view = (view * view).sum()  # locks the view and its base
    through_base = (weight * weight).sum()  # locks the base once more
    through_view.backward()  # the view's lock goes, but its base is still guarded
    assert not view.data.flags.writeable and not weight.data.flags.writeable
    through_base.backward()
    assert weight.data.flags.writeable and view.data.flags.writeable
    view.data[0, 0] = 5.0
    assert weight.data[0, 0] == 5.0


def test_a_view_waiting_for_its_base_is_guarded_through_it_by_a_later_graph():
    weight = tg.tensor(np.ones(LARGE), requires_grad=True)
    view = tg.from_numpy(weight.data.T)
    view.requires_grad_()
    first = (view * view).sum()  # locks the view and its base
    through_base = (weight * weight).sum()  # the base once more
    first.backward()  # the view waits for its base
    second = (view * view).sum()  # the view is read-only: this graph locks its base
    through_base.backward()  # the base is still held by `second`: nothing unlocks yet
    assert not view.data.flags.writeable
    second.backward()
    assert view.data.flags.writeable and weight.data.flags.writeable


def _unpickled(array):
    """An array backed by the bytes pickle read it from, as NumPy gives it back."""
    restored = pickle.loads(pickle.dumps(array))
    assert isinstance(restored.base, bytes) and restored.flags.writeable
    return restored


class _Exposed:
    """Memory shown to NumPy through ``__array_interface__`` only: no buffer to ask."""

    def __init__(self, array):
        self.array = array
        self.__array_interface__ = array.__array_interface__


@pytest.mark.parametrize(
    ("make", "locked"),
    [
        (lambda: np.ones(LARGE), True),
        (lambda: np.ones(LARGE).T, True),  # a view: its owner is locked too
        (lambda: np.frombuffer(bytearray(np.ones(1600).tobytes())).reshape(LARGE), True),
        (lambda: _unpickled(np.ones(LARGE)), False),  # NumPy could not unlock it again
        (lambda: _unpickled(np.ones(LARGE)).T, False),
        (lambda: np.asarray(_Exposed(np.ones(LARGE))), False),
    ],
    ids=["own memory", "view", "bytearray", "pickled bytes", "view of pickled", "no buffer"],
)
def test_an_array_numpy_could_not_make_writable_again_is_copied_instead_of_locked(make, locked):
    array = make()
    weight = tg.from_numpy(array)
    weight.requires_grad_()
    loss = (weight * weight).sum()
    assert SavedArrays.is_locked(array) is locked
    assert array.flags.writeable is not locked
    loss.backward()
    assert array.flags.writeable  # never left read-only
    array[0, 0] = 3.0
    np.testing.assert_array_equal(weight.grad.data, 2.0)  # the values the graph saw


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_a_read_only_array_of_the_caller_stays_read_only_after_the_graph():
    constant = np.ones(2048)
    constant.setflags(write=False)
    w = leaf(np.ones(2048))
    loss = (w * tg.tensor(constant)).sum()
    loss.backward()
    del loss
    assert not constant.flags.writeable


class SavesItsInput(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return 2.0 * x * grad


@pytest.mark.parametrize("size", [1023, 1024])
def test_saved_arrays_up_to_the_copy_limit_are_copied_and_stay_writable(size):
    assert SavedArrays.copy_limit == 1024
    x, y = leaf(np.full(size, 2.0)), leaf(np.full(size, 3.0))
    z = x * y  # saves both inputs
    x.data[...] = 0.0  # allowed: the graph kept copies
    z.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.full(size, 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(size, 3.0))
    w = leaf(np.full(size, 2.0))
    squared = SavesItsInput.apply(w)  # saves one array
    w.data[...] = 0.0
    squared.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(size, 4.0))


def test_a_saved_array_over_the_copy_limit_is_read_only_until_backward():
    w = leaf(np.full(1025, 2.0))
    squared = SavesItsInput.apply(w)
    with pytest.raises(ValueError, match="read-only"):
        w.data[...] = 0.0
    squared.sum().backward()
    w.data[...] = 0.0  # unlocked once the graph is freed
    np.testing.assert_array_equal(w.grad.numpy(), np.full(1025, 4.0))


PRIVATE_ARRAYS_MADE: list[np.ndarray] = []  # by SavesOnePrivateArray.forward, for the test


class SavesOnePrivateArray(tg.Function):
    """x * 2, saving only the intermediate 2 * x, declared private."""

    private_saved = (0,)

    @staticmethod
    def forward(ctx, x):
        doubled = 2.0 * x
        PRIVATE_ARRAYS_MADE.append(doubled)
        ctx.save_for_backward(doubled)
        return doubled + 0.0

    @staticmethod
    def backward(ctx, grad):
        return 2.0 * grad


@pytest.mark.parametrize("shape", [SMALL, LARGE])
def test_a_single_private_saved_array_is_kept_as_forward_made_it_neither_copied_nor_locked(
    shape,
):
    PRIVATE_ARRAYS_MADE.clear()
    y = SavesOnePrivateArray.apply(leaf(np.ones(shape)))
    (doubled,) = PRIVATE_ARRAYS_MADE
    assert y.grad_fn.saved[0] is doubled
    assert doubled.flags.writeable and not SavedArrays.is_locked(doubled)
