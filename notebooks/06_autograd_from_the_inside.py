# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Autograd from the inside
#
# You have called `loss.backward()` many times by now. This notebook opens the
# machinery: the graph a forward pass records and how to walk it, hooks that watch
# or change gradients and activations, a custom op with its own vector-Jacobian
# product, and `tg.gradcheck` catching a wrong one by name. Then derivatives of
# derivatives (`create_graph=True`, `tg.hessian`, `tg.hvp`), forward mode
# (`tg.jvp`), and `tg.compile`, which records a training step once and replays it
# with the same bits as eager.

# %%
import re

import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

tg.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The recorded graph
#
# Every op on a tensor that requires grad is recorded as it runs. The result's
# `grad_fn` is that op: it knows its name (`op_name()`), its `parents` (the input
# tensors that need a gradient, `None` for the others) and what its forward saved
# for backward (`saved`). Leaves, the tensors you made yourself, have no `grad_fn`.

# %%
w = tg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
x = tg.tensor([[1.0, 2.0]])
h = x @ w
loss = (h.tanh() * 3).sum()
print("loss    ", loss)
print("grad_fn ", loss.grad_fn.op_name(), "| leaf?", loss.is_leaf, "| w leaf?", w.is_leaf)
print("w.grad_fn is None:", w.grad_fn is None)

# %% [markdown]
# Walking from the loss to the leaves is a loop over `parents`, no recursion
# needed. Each line is one op, with the shape of each of its parents and the op
# that made that parent (or `leaf`).

# %%
seen, pending, walked = set(), [loss], []
while pending:
    tensor = pending.pop()
    op = tensor.grad_fn
    if op is None or id(op) in seen:
        continue
    seen.add(id(op))
    inputs = [
        "constant"
        if parent is None
        else f"{parent.shape} from {parent.grad_fn.op_name() if parent.grad_fn else 'leaf'}"
        for parent in op.parents
    ]
    saved = [
        f"array {value.shape}" if isinstance(value, np.ndarray) else repr(value)
        for value in op.saved
    ]
    print(f"{op.op_name():<7} inputs: {', '.join(inputs):<36} saved: {', '.join(saved)}")
    walked.append(op.op_name())
    pending.extend(parent for parent in op.parents if parent is not None)

# %% [markdown]
# `tg.autograd.recorded_results(loss)` is the library's own walk: the results in
# the order their ops ran. Backward visits them in the reverse order. The graph
# as `tg.viz.draw_graph` draws it (the leaf `w` named by `params`):

# %%
order = [result.grad_fn.op_name() for result in tg.autograd.recorded_results(loss)]
print(order)
assert order == ["matmul", "tanh", "mul", "sum"] and walked == order[::-1]
tg.viz.draw_graph(loss, params={"w": w})

# %% [markdown]
# After `backward()` the saved arrays are released, so a second `backward()`
# through the same graph is refused, with a message that says what to do:

# %%
loss.backward()
try:
    loss.backward()
except RuntimeError as error:
    second_backward = str(error)
print(second_backward)
assert "retain_graph=True" in second_backward

# %% [markdown]
# ## Tensor hooks: watching and changing a gradient
#
# `tensor.register_hook(fn)` calls `fn(grad)` when that tensor's gradient has been
# computed during backward. Returning nothing only watches; returning a tensor
# replaces the gradient, and the replacement is what flows on to the tensors it
# came from.
#
# Below, a hook records the gradient reaching the intermediate `h = x @ w`, and
# a second one on `h` zeroes its second column. That column's gradient then
# never reaches `w`: the second column of `w.grad` is zero.

# %%
w = tg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
h = x @ w
seen_at_h = []
watch = h.register_hook(lambda grad: seen_at_h.append(grad.numpy().copy()))
mask = h.register_hook(lambda grad: grad * np.array([1.0, 0.0]))
(h.tanh() * 3).sum().backward()
print("gradient at h, as it arrived:", seen_at_h[0].round(6))
print("w.grad with the masking hook:\n", w.grad.numpy().round(6))
expected = 3 * (1 - np.tanh(x.numpy() @ w.numpy()) ** 2)
np.testing.assert_allclose(seen_at_h[0], expected, rtol=1e-15)
np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ (expected * [1.0, 0.0]), rtol=1e-15)
assert np.all(w.grad.numpy()[:, 1] == 0)

# %% [markdown]
# Each hook returns a handle; `remove()` takes it off. Without the mask the second
# column of `w.grad` comes back:

# %%
mask.remove()
watch.remove()
w.grad = None
h = x @ w
(h.tanh() * 3).sum().backward()
print("w.grad without hooks:\n", w.grad.numpy().round(6))
assert np.all(w.grad.numpy()[:, 1] != 0) and len(seen_at_h) == 1

# %% [markdown]
# ## Module hooks: watching activations
#
# `module.register_forward_hook(fn)` calls `fn(module, inputs, output)` after each
# forward of that module, and may return a replacement output. A common use is to
# keep activations for a look (here: how many tanh units are saturated); another
# is to change them (here: a hook that halves the hidden activations, which halves
# the network's output before the last bias).

# %%
net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
points, labels = tg.data.two_moons(100, noise=0.2, seed=0)
inputs = tg.tensor(points)
activations = {}
keep = net[1].register_forward_hook(
    lambda module, args, output: activations.update(tanh=output.numpy().copy())
)
plain = net(inputs)
print("tanh output", activations["tanh"].shape, "saturated (|a| > 0.9):", end=" ")
print(f"{(np.abs(activations['tanh']) > 0.9).mean():.1%}")
keep.remove()

halve = net[1].register_forward_hook(lambda module, args, output: output * 0.5)
halved = net(inputs)
halve.remove()
bias = net[2].bias.numpy()
np.testing.assert_allclose(halved.numpy() - bias, 0.5 * (plain.numpy() - bias), rtol=1e-12)
assert activations["tanh"].shape == (100, 8)

# %% [markdown]
# ## A custom op, and `tg.gradcheck`
#
# A `tg.Function` is a forward on NumPy arrays and its vector-Jacobian product
# (`docs/custom_ops.md`). Here is SiLU (also called swish), `silu(x) = x σ(x)`,
# whose derivative is `σ(x) (1 + x (1 − σ(x)))`:


# %%
def logistic(x):
    return np.exp(-np.logaddexp(0.0, -x))


class SiLU(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * logistic(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        s = logistic(x)
        return grad_output * s * (1 + x * (1 - s))


z = tg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
layer = tg.tensor(rng.normal(size=(4, 2)), requires_grad=True)


def model_with(op):
    return lambda z, layer: (op.apply(z) @ layer).tanh().sum()


assert tg.gradcheck(model_with(SiLU), [z, layer])
print("gradcheck passes for SiLU")

# %% [markdown]
# `tg.gradcheck` perturbs every element of every input by `±eps` in float64,
# takes the central difference, and compares it with what backward computes.
# Now a SiLU whose backward forgets the product rule: it returns `σ(x)` alone, the
# derivative as if `x` were a constant factor. The check fails, and its message
# names the element that disagrees and then **the op** whose backward is wrong,
# with the line that called it, even though the op sits inside a larger function.


# %%
class ForgetfulSiLU(SiLU):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved
        return grad_output * logistic(x)  # wrong: misses x σ(x)(1 − σ(x))


try:
    tg.gradcheck(model_with(ForgetfulSiLU), [z, layer])
    message = ""
except tg.GradcheckError as error:
    message = str(error)
# The op's caller is named by file and line; in a notebook the file is the kernel's
# temporary copy of a cell (here the one defining model_with), shown as <cell>.
print(re.sub(r"called at [^)]*:(\d+)", r"called at <cell>:\1", message))

# %%
assert "the first op whose gradient is wrong is ForgetfulSiLU" in message
assert "input 0" in message and "analytic" in message and "numeric" in message

# %% [markdown]
# ## Derivatives of derivatives
#
# With `create_graph=True` the backward pass is itself recorded, so the gradient
# is a tensor with a graph and can be differentiated again. For
# `f(x) = x² sin x`, elementwise,
#
#     f'(x)  = 2x sin x + x² cos x
#     f''(x) = 2 sin x + 4x cos x − x² sin x

# %%
xs = tg.tensor(np.linspace(-3, 3, 7), requires_grad=True)
(first,) = tg.grad((xs**2 * xs.sin()).sum(), xs, create_graph=True)
(second,) = tg.grad(first.sum(), xs)
v = xs.numpy()
print("f'' autograd   ", second.numpy().round(6))
print("f'' closed form", (2 * np.sin(v) + 4 * v * np.cos(v) - v**2 * np.sin(v)).round(6))
np.testing.assert_allclose(first.numpy(), 2 * v * np.sin(v) + v**2 * np.cos(v), rtol=1e-12)
np.testing.assert_allclose(
    second.numpy(), 2 * np.sin(v) + 4 * v * np.cos(v) - v**2 * np.sin(v), atol=1e-12
)

# %% [markdown]
# `tg.hessian(fn, w)` builds the whole matrix of second derivatives. For logistic
# regression with the mean binary cross-entropy it has a closed form:
#
#     s = σ(X w),   H = Xᵀ diag(s ⊙ (1 − s)) X / m
#
# and `tg.hvp(fn, w, v)` gives `H v` without forming `H` (two backward passes,
# whatever the size of `w`).

# %%
design = np.column_stack([points, np.ones(len(points))])  # two features and a bias
targets = labels.astype(np.float64)


def logistic_loss(weights):
    return F.binary_cross_entropy_with_logits(tg.tensor(design) @ weights, targets)


weights = tg.tensor([0.3, -0.7, 0.1])
hessian = tg.hessian(logistic_loss, weights).numpy()
s = logistic(design @ weights.numpy())
closed_hessian = design.T @ (design * (s * (1 - s))[:, None]) / len(targets)
direction = tg.tensor([1.0, -2.0, 0.5])
_, product = tg.hvp(logistic_loss, weights, direction)
print("Hessian (autograd):\n", hessian.round(6))
print(
    "H v: hvp", product.numpy().round(6), " closed form", (closed_hessian @ [1, -2, 0.5]).round(6)
)
np.testing.assert_allclose(hessian, closed_hessian, atol=1e-14)
np.testing.assert_allclose(product.numpy(), closed_hessian @ [1.0, -2.0, 0.5], atol=1e-14)

# %% [markdown]
# The Hessian is what Newton's method needs: `w ← w − H⁻¹ ∇L`. On this convex
# loss a handful of Newton steps reach the minimum, where the gradient vanishes.


# %%
def loss_and_gradient(weights):
    current = weights.detach().requires_grad_()
    value = logistic_loss(current)
    (gradient,) = tg.grad(value, current)
    return value.item(), gradient.numpy()


newton_losses = []
for _ in range(6):
    value, gradient = loss_and_gradient(weights)
    newton_losses.append(value)
    newton_step = np.linalg.solve(tg.hessian(logistic_loss, weights).numpy(), gradient)
    weights = tg.tensor(weights.numpy() - newton_step)
value, gradient = loss_and_gradient(weights)
newton_losses.append(value)
print("Newton: loss", [round(value, 6) for value in newton_losses])
print("        largest |gradient| at the end", f"{np.abs(gradient).max():.1e}")
assert np.abs(gradient).max() < 1e-10

# %% [markdown]
# ## Forward mode, briefly
#
# Reverse mode computes `vᵀ J`, one backward pass per output; forward mode computes
# `J v`, one pass per input direction, which wins when there are few inputs and many
# outputs. `tg.jvp(fn, x, v)` returns `(fn(x), J v)`; it gets `J v` by transposing
# the recorded VJP (`docs/forward_mode.md`). For an elementwise `fn` the Jacobian is
# diagonal, so `J v` is the derivative times `v`, elementwise, and it agrees with the
# full `tg.jacobian` times `v`:

# %%
point = tg.tensor([0.5, -1.0, 2.0])
tangent = tg.tensor([1.0, 0.0, -1.0])
value, slope = tg.jvp(lambda t: t**2 * t.sin(), point, tangent)
p = point.numpy()
print("J v:", slope.numpy().round(6))
full_jacobian = tg.jacobian(lambda t: t**2 * t.sin(), point).numpy()
np.testing.assert_allclose(slope.numpy(), full_jacobian @ tangent.numpy(), rtol=1e-12)
np.testing.assert_allclose(
    slope.numpy(), (2 * p * np.sin(p) + p**2 * np.cos(p)) * tangent.numpy(), rtol=1e-12
)

# %% [markdown]
# ## `tg.compile`: record a step once, replay it
#
# On networks this small most of a step's time is Python bookkeeping: a Tensor,
# a graph node and a heap entry per op. `tg.compile(fn)` runs `fn` once eagerly,
# records its ops, and replays them afterwards as a plan: the ops' own NumPy lines
# in the same order, without the bookkeeping (`docs/compile.md`). The result is
# still a Tensor whose `backward()` fills `.grad`.
#
# Train the same network twice from the same seed, once eagerly and once with the
# loss compiled, and keep every loss:


# %%
def train(compiled, steps=200):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.5)

    def loss_of(x, y):
        return F.cross_entropy(model(x), y)

    step = tg.compile(loss_of) if compiled else loss_of
    losses = []
    for _ in range(steps):
        loss = step(points, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, step


eager_losses, _ = train(compiled=False)
compiled_losses, step = train(compiled=True)
print(f"eager    final loss {eager_losses[-1]!r}")
print(f"compiled final loss {compiled_losses[-1]!r}")
print("recordings:", step.recordings)
assert compiled_losses == eager_losses  # every one of the 200 losses, bit for bit
assert step.recordings == 1

# %% [markdown]
# The plan, one op per line: the forward as recorded (`a0`, `a1` the arguments,
# `e0`… the parameters, `t0`… the results), and the backward as one
# vector-Jacobian product per line, in reverse: the backward you would write by
# hand.

# %%
plan = step.plan()
print(plan)
assert "tanh.backward" in plan and "cross_entropy.backward" in plan

# %% [markdown]
# `tg.viz.draw_plan` draws the same plan: forward on the left, the chain of VJPs
# on the right, each gradient named on its edge.

# %%
tg.viz.draw_plan(step)

# %%
print(
    f"Final numbers: gradcheck passes on SiLU and names ForgetfulSiLU; "
    f"f'' and the logistic Hessian match their closed forms; Newton reaches loss "
    f"{newton_losses[-1]:.6f} in {len(newton_losses) - 1} steps; compiled and eager losses "
    f"equal bit for bit over {len(eager_losses)} steps (final {eager_losses[-1]:.4f})"
)
