"""Tensor gradient hooks and module forward hooks, with PyTorch's semantics."""

import numpy as np
import pytest

import tinygrad_ann as tg
from tinygrad_ann import ShapeError, nn


def test_a_leaf_hook_sees_the_total_gradient_once_and_can_replace_it():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def double(grad):
        seen.append(grad.numpy().copy())
        return grad * 2

    x.register_hook(double)
    (x * 3 + x * x).sum().backward()  # two uses of x: one call with the sum of both
    np.testing.assert_allclose(seen, [[5.0, 7.0]])
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 14.0])


def test_an_intermediate_hook_changes_what_flows_further_back():
    x = tg.tensor([1.0, -1.0, 2.0], requires_grad=True)
    hidden = x * 2
    hidden.retain_grad()
    hidden.register_hook(lambda grad: tg.tensor(np.array([1.0, 0.0, 1.0])) * grad)
    (hidden * hidden).sum().backward()
    np.testing.assert_allclose(hidden.grad.numpy(), [4.0, 0.0, 8.0])  # after the hook
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 0.0, 16.0])


def test_hooks_run_in_registration_order_and_none_keeps_the_gradient():
    x = tg.tensor([1.0], requires_grad=True)
    order = []
    x.register_hook(lambda grad: order.append("first"))
    x.register_hook(lambda grad: (order.append("second"), grad + 1)[1])
    x.register_hook(lambda grad: (order.append("third"), grad * 10)[1])
    (x * 2).sum().backward()
    assert order == ["first", "second", "third"]
    np.testing.assert_allclose(x.grad.numpy(), [30.0])


def test_a_removed_hook_never_runs_again():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda grad: calls.append(1))
    x.sum().backward()
    handle.remove()
    handle.remove()  # twice is harmless
    x.sum().backward()
    assert calls == [1]
    with x.register_hook(lambda grad: grad * 0):
        x.grad = None
        x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])
    x.grad = None
    x.sum().backward()  # removed at the end of the with block
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])


def test_hooks_apply_to_tg_grad_too():
    x = tg.tensor([3.0], requires_grad=True)
    y = x * x
    y.register_hook(lambda grad: grad * 0.5)
    (gx,) = tg.grad(y.sum(), x)
    np.testing.assert_allclose(gx.numpy(), [3.0])
    x.register_hook(lambda grad: grad + 100)
    (gx,) = tg.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [106.0])


def test_hooks_under_create_graph_see_tensors_and_stay_differentiable():
    x = tg.tensor([2.0], requires_grad=True)
    y = x**3
    y.register_hook(lambda grad: grad * x)  # d/dx of (3x^2 * x) = 9x^2
    (first,) = tg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(first.numpy(), [24.0])
    (second,) = tg.grad(first.sum(), x)
    np.testing.assert_allclose(second.numpy(), [36.0])


def test_a_hook_that_raises_surfaces_its_own_error_and_grad_mode_is_restored():
    x = tg.tensor([1.0], requires_grad=True)

    def broken(grad):
        raise KeyError("my hook failed")

    x.register_hook(broken)
    with pytest.raises(KeyError, match="my hook failed"):
        (x * 2).sum().backward()
    assert tg.is_grad_enabled()


def test_a_replacement_of_the_wrong_shape_is_an_error_naming_both_shapes():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda grad: np.zeros(3))
    with pytest.raises(tg.ShapeError, match=r"shape \(2,\).*shape \(3,\)"):
        x.sum().backward()


def test_register_hook_needs_a_tensor_that_requires_grad_and_a_function():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0]).register_hook(lambda grad: None)
    with pytest.raises(TypeError, match="expected a function"):
        tg.tensor([1.0], requires_grad=True).register_hook(3)


def test_hooks_go_away_with_their_tensor():
    from tinygrad_ann.autograd import TensorHooks

    before = len(TensorHooks.by_id)
    x = tg.tensor([1.0], requires_grad=True)
    x.register_hook(lambda grad: None)
    assert len(TensorHooks.by_id) == before + 1
    del x
    assert len(TensorHooks.by_id) == before


# ------------------------------------------------------------------ modules
def model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_forward_hooks_see_inputs_and_outputs_of_each_module():
    net = model()
    seen = []
    handles = [
        layer.register_forward_hook(
            lambda module, inputs, output: seen.append(
                (type(module).__name__, inputs[0].shape, output.shape)
            )
        )
        for layer in net
    ]
    net(tg.ones(5, 3))
    assert seen == [
        ("Linear", (5, 3), (5, 4)),
        ("Tanh", (5, 4), (5, 4)),
        ("Linear", (5, 4), (5, 2)),
    ]
    for handle in handles:
        handle.remove()
    net(tg.ones(5, 3))
    assert len(seen) == 3


def test_a_forward_hook_can_replace_the_output_and_gradients_follow():
    net = model()
    x = tg.ones(2, 3)
    expected = net(x).numpy() * 2
    net[2].register_forward_hook(lambda module, inputs, output: output * 2)
    out = net(x)
    np.testing.assert_allclose(out.numpy(), expected)
    out.sum().backward()
    np.testing.assert_allclose(net[2].bias.grad.numpy(), [4.0, 4.0])  # 2 rows, times 2


def test_a_forward_pre_hook_can_replace_the_inputs():
    layer = nn.Linear(3, 1)
    layer.register_forward_pre_hook(lambda module, inputs: inputs[0] * 0)  # a single value
    np.testing.assert_allclose(layer(tg.ones(2, 3)).numpy(), np.tile(layer.bias.numpy(), (2, 1)))
    calls = []
    layer.register_forward_pre_hook(lambda module, inputs: calls.append(len(inputs)))
    layer(tg.ones(1, 3))
    assert calls == [1]


def test_a_module_hook_that_raises_surfaces_its_own_error():
    net = model()

    def broken(module, inputs, output):
        raise ValueError("inspection failed")

    net[1].register_forward_hook(broken)
    with pytest.raises(ValueError, match="inspection failed"):
        net(tg.ones(1, 3))
    from tinygrad_ann.autograd import switches

    assert switches().module_scope == ()


def test_module_hooks_are_not_state():
    net = model()
    net[0].register_forward_hook(lambda *args: None)
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert "_forward_hooks" not in repr(net)


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_a_hook_may_replace_the_gradient_and_it_is_cast_to_the_tensors_dtype():
    x = leaf([1.0, 2.0], np.float32)
    x.register_hook(lambda g: np.array([10.0, 20.0]))
    (x * 1.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0])
    y = leaf([1.0, 2.0])
    seen = []
    y.register_hook(lambda g: seen.append(type(g)))
    (y * y).sum().backward()
    assert seen == [tg.Tensor]
    z = leaf([1.0, 2.0])
    z.register_hook(lambda g: np.zeros(3))
    message = (
        r"^a gradient hook of a tensor of shape \(2,\) returned a gradient of shape \(3,\); "
        r"return one of the tensor's shape, or None to keep the gradient$"
    )
    with pytest.raises(ShapeError, match=message):
        (z * 1.0).sum().backward()


def test_a_hook_under_create_graph_sees_and_returns_recorded_tensors():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    (g,) = tg.grad((x * x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [4.0, 8.0])
    assert g.requires_grad


def test_under_create_graph_a_hook_may_return_an_array_a_constant_gradient():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: np.array([5.0, 5.0]))
    (g,) = tg.grad(y.sum(), [x], create_graph=True)
    assert isinstance(g, tg.Tensor)
    np.testing.assert_array_equal(g.numpy(), [10.0, 20.0])  # 5 * 2x, still recorded
    np.testing.assert_array_equal(tg.grad(g.sum(), [x])[0].numpy(), [10.0, 10.0])
    z = leaf([1.0, 2.0])
    z.register_hook(lambda g: np.array([5.0, 6.0]))
    (g,) = tg.grad((z * z).sum(), [z], create_graph=True)
    assert isinstance(g, tg.Tensor) and not g.requires_grad  # a constant: derivative zero
    np.testing.assert_array_equal(g.numpy(), [5.0, 6.0])


def test_the_backward_observer_sees_every_op_in_order_with_its_gradients():
    from tinygrad_ann.autograd import observe_backward

    x = leaf([1.0, 2.0])
    doubled = x * 2.0
    total = doubled.sum()
    calls = []

    def observer(ctx, output, grad_output, input_grads):
        calls.append((ctx.op_name(), output, np.array(grad_output), input_grads))

    with observe_backward(observer):
        total.backward()
    assert [(name, output) for name, output, _, _ in calls] == [("sum", total), ("mul", doubled)]
    np.testing.assert_array_equal(calls[0][2], 1.0)
    np.testing.assert_array_equal(calls[1][2], [1.0, 1.0])
    np.testing.assert_array_equal(calls[1][3][0], [2.0, 2.0])
    assert len(calls[1][3]) == 2  # one per input of mul, the constant's included
    with observe_backward(observer):
        pass
    calls.clear()
    (x * 3.0).sum().backward()
    assert calls == []  # the observer left with its block


def test_a_hook_on_a_retained_intermediate_runs_once_per_pass():
    x = leaf([1.0, 2.0])
    hidden = x * 3.0
    hidden.retain_grad()
    seen = []
    hidden.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2.0)
    hidden.sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(hidden.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_the_backward_observer_sees_a_graph_of_one_op():
    from tinygrad_ann.autograd import observe_backward

    x = leaf([1.0, 2.0])
    total = x.sum()
    calls = []
    with observe_backward(lambda ctx, output, *_: calls.append((ctx.op_name(), output))):
        total.backward()
    assert calls == [("sum", total)]
