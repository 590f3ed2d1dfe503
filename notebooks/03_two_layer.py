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
# # Two sigmoid layers, and the sign of d_weights
#
# Part 1 of article 003 builds a network of two sigmoid layers, with no biases,
# and trains it on XOR. Its backward pass produces `d_weights1` and `d_weights2`
# and *adds* them to the weights. This notebook derives them, builds the same
# network with tinygrad_ann and compares with autograd: they are exactly minus
# the gradient. Adding them is therefore gradient descent with a step of 1, and
# the network learns XOR. We also step through the backward pass on one example,
# the one docs/articles.md walks through, and draw what the trained network
# decides.

# %%
import IPython.display
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import articles, nn, optim
from tinygrad_ann.teaching import demo

tg.manual_seed(0)
rng = np.random.default_rng(0)
np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## The data: XOR with a bias column
#
# Four rows, three columns. The first two are the XOR inputs; the third is
# always 1. With no bias in the layers, that constant column does a bias's job:
# the weights it meets are added to every row's sum. The target is XOR of the
# first two columns, which no single straight line separates, so the hidden
# layer is needed.

# %%
X, labels = tg.data.xor_bias_column()
y = labels.reshape(-1, 1)
print("X =\n", X)
print("y =", labels)
assert np.all(X[:, 2] == 1) and np.array_equal(labels, np.logical_xor(X[:, 0], X[:, 1]))

# %% [markdown]
# ## The derivation by hand
#
#     layer1 = σ(X W1),   out = σ(layer1 W2),   L = Σ (y − out)²
#
# There is no ½ in this loss, so `∂L/∂out = −2(y − out)`. Through the output
# sigmoid, write
#
#     δ = 2(y − out) ⊙ out(1 − out)
#
# so that `∂L/∂(layer1 W2) = −δ`. The chain rule continues through `W2`, the
# hidden sigmoid and `W1`:
#
#     ∂L/∂W2 = −layer1ᵀ δ,     ∂L/∂W1 = −Xᵀ [(δ W2ᵀ) ⊙ layer1(1 − layer1)]
#
# The article computes the same two products *without* the minus sign and calls
# them `d_weights2` and `d_weights1`. `articles.two_layer_article_updates` is
# that code. The weights start as the article's do, uniform in [0, 1); `W1` is
# 3×4 (three inputs, four hidden units) and `W2` is 4×1.

# %%
W1 = rng.random((3, 4))
W2 = rng.random((4, 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


layer1 = sigmoid(X @ W1)
out = sigmoid(layer1 @ W2)
delta = 2 * (y - out) * out * (1 - out)
d_weights2 = layer1.T @ delta
d_weights1 = X.T @ ((delta @ W2.T) * layer1 * (1 - layer1))
print("out        =", out.ravel())
print("d_weights2 =", d_weights2.ravel())
print("d_weights1 =\n", d_weights1)
library = articles.two_layer_article_updates(X, y, W1, W2)
assert np.allclose(library[0], d_weights1, rtol=0, atol=1e-15)
assert np.allclose(library[1], d_weights2, rtol=0, atol=1e-15)

# %% [markdown]
# ## The same network in tinygrad_ann
#
# `nn.Linear(3, 4, bias=False)` holds `W1ᵀ` (it stores (out, in)), and
# `nn.Linear(4, 1, bias=False)` holds `W2ᵀ`. The loss `Σ (y − out)²` is
# `F.mse_loss(..., reduction="sum")`. After `backward()`, each weight's `.grad`
# should be `−d_weights`, transposed to the layer's layout.

# %%
model = nn.Sequential(
    nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1, bias=False), nn.Sigmoid()
)
with tg.no_grad():
    model[0].weight.copy_(tg.tensor(W1.T))
    model[2].weight.copy_(tg.tensor(W2.T))
inputs = tg.tensor(X)


def summed_squares(model):
    return F.mse_loss(model(inputs), y, reduction="sum")


loss = summed_squares(model)
loss.backward()
grad_w1 = model[0].weight.grad.numpy().T  # in the article's layout, 3×4
grad_w2 = model[2].weight.grad.numpy().T  # 4×1
print(f"loss at the start: {loss.item():.6f}\n")
print("W2:  autograd ∂L/∂W2   d_weights2    ratio")
for auto, article in zip(grad_w2.ravel(), d_weights2.ravel()):
    print(f"     {auto:+.10f}   {article:+.10f}  {auto / article:+.6f}")
print("\nW1:  autograd ∂L/∂W1 (each entry over d_weights1)")
print(grad_w1 / d_weights1)
largest = max(np.abs(grad_w1 + d_weights1).max(), np.abs(grad_w2 + d_weights2).max())
print(f"\nlargest |∂L/∂W + d_weights|: {largest:.1e}")

# %%
assert np.allclose(grad_w1, -d_weights1, rtol=0, atol=1e-12)
assert np.allclose(grad_w2, -d_weights2, rtol=0, atol=1e-12)
assert np.allclose(grad_w1 / d_weights1, -1, rtol=0, atol=1e-9)
assert not np.allclose(grad_w1, d_weights1)  # taken as gradients, they have the wrong sign

# %% [markdown]
# Every ratio is −1: the sign is flipped and the factor is exactly 1. The 2
# inside `δ` is what makes the factor 1: it comes from the loss having no ½.
# Had the article used `½ Σ (y − out)²`, as the diabetes articles do, the same
# `d_weights` would be −2 times the gradient. Autograd agrees:

# %%
model.zero_grad()
(0.5 * summed_squares(model)).backward()
half_ratio = model[2].weight.grad.numpy().T / d_weights2
print("∂(½ Σ (y - out)²)/∂W2 over d_weights2:", half_ratio.ravel())
assert np.allclose(half_ratio, -0.5, rtol=0, atol=1e-9)

# %% [markdown]
# ## Adding d_weights is a gradient-descent step
#
# Since `d_weights = −∂L/∂W`, the article's `W += d_weights` is
# `W −= 1 · ∂L/∂W`: one step of `optim.SGD(lr=1.0)`. One step of each, from the
# same weights, lands on the same weights. The names are the trap: a reader who
# passes `d_weights` to an optimizer as gradients walks uphill, and the loss
# rises.

# %%
sgd = optim.SGD(model.parameters(), lr=1.0)
model.zero_grad()
summed_squares(model).backward()
sgd.step()
with tg.no_grad():
    loss_after_descent = summed_squares(model).item()
article_w1, article_w2 = W1 + d_weights1, W2 + d_weights2
print("after one SGD step, W2 =", model[2].weight.numpy().ravel())
print("W2 + d_weights2        =", article_w2.ravel())

uphill_w1, uphill_w2 = W1 - d_weights1, W2 - d_weights2  # d_weights used as gradients
loss_start = np.sum((y - sigmoid(sigmoid(X @ W1) @ W2)) ** 2)
loss_uphill = np.sum((y - sigmoid(sigmoid(X @ uphill_w1) @ uphill_w2)) ** 2)
print(
    f"\nloss: start {loss_start:.6f}, after the article's step {loss_after_descent:.6f}, "
    f"after a step with d_weights as gradients {loss_uphill:.6f}"
)

# %%
assert np.allclose(model[0].weight.numpy().T, article_w1, rtol=0, atol=1e-12)
assert np.allclose(model[2].weight.numpy().T, article_w2, rtol=0, atol=1e-12)
assert loss_after_descent < loss_start < loss_uphill

# %% [markdown]
# ## The backward pass on one example, step by step
#
# `tinygrad_ann.teaching.demo.two_layer_example()` builds this network on the
# second row alone, `x = (0, 1, 1)` with `y = 1`, with `W1` and `W2` drawn from
# the same seed as ours (so they are the same weights). Here is its computation
# graph, drawn before the backward pass; the leaves are named `W1` and `W2`.

# %%
example_loss, example_params = demo.two_layer_example()
assert np.array_equal(example_params["W1"].numpy(), W1)
assert np.array_equal(example_params["W2"].numpy(), W2)
tg.viz.draw_graph(example_loss, params=example_params)

# %% [markdown]
# `tg.viz.explain` runs the backward pass and prints each step in the engine's
# order. docs/articles.md puts each step beside the derivation (`sigmoid₂` is
# `out`, `sigmoid₁` is `layer1`):
#
# | step | op | the table shows | the derivation |
# |---|---|---|---|
# | 1 | `mse_loss` | `∂out = 2(out − y)` | `∂L/∂out = −2(y − out)` |
# | 2 | `sigmoid₂` | `∂out · out(1 − out)` | `−δ` |
# | 3 | `matmul₂` | `∂W2 = layer1ᵀ(−δ)`, `∂layer1 = (−δ) W2ᵀ` | `∂L/∂W2 = −layer1ᵀ δ` |
# | 4 | `sigmoid₁` | `∂layer1 ⊙ layer1(1 − layer1)` | `−(δ W2ᵀ) ⊙ layer1(1 − layer1)` |
# | 5 | `matmul₁` | `∂W1 = xᵀ` times step 4 | `∂L/∂W1 = −Xᵀ[(δ W2ᵀ) ⊙ layer1(1 − layer1)]` |
# | 6 | leaves | `W1.grad`, `W2.grad` | `−d_weights1`, `−d_weights2` |

# %%
table = tg.viz.explain(example_loss, params=example_params, format="text")

# %% [markdown]
# Every gradient here is negative or zero, because this example's output
# (0.80) is below its target of 1: raising any weight raises `out` and lowers the
# loss. The article's `d_weights` are their negatives, positive, so adding them
# raises the weights, which is the descent step. The first row of `W1.grad` is
# zero since `x`'s first input is 0. The same quantities by hand, for this one
# example:

# %%
x1, y1 = X[1:2], y[1:2]
layer1_x = sigmoid(x1 @ W1)
out_x = sigmoid(layer1_x @ W2)
delta_x = 2 * (y1 - out_x) * out_x * (1 - out_x)
hidden_x = (delta_x @ W2.T) * layer1_x * (1 - layer1_x)
print("step 1, 2(out - y)                   :", (2 * (out_x - y1)).ravel())
print("step 2, -δ                           :", (-delta_x).ravel())
print("step 4, -(δ W2ᵀ) ⊙ layer1(1 - layer1):", (-hidden_x).ravel())
example_updates = articles.two_layer_article_updates(x1, y1, W1, W2)
print(
    "W2.grad vs -d_weights2:",
    example_params["W2"].grad.numpy().ravel(),
    -example_updates[1].ravel(),
)

# %%
for value in (*(2 * (out_x - y1)).ravel(), *(-delta_x).ravel(), *(-hidden_x).ravel()):
    assert f"{value:.4g}" in table, value
assert np.allclose(example_params["W1"].grad.numpy(), -example_updates[0], rtol=0, atol=1e-12)
assert np.allclose(example_params["W2"].grad.numpy(), -example_updates[1], rtol=0, atol=1e-12)
assert np.all(example_params["W1"].grad.numpy()[0] == 0)

# %% [markdown]
# ## Training
#
# The article's loop, 1,500 steps of adding `d_weights`, is SGD with a step of
# 1 on the summed squared error, the setup of
# `tinygrad_ann.teaching.demo.train_two_layer`. We train a fresh copy of the
# network from `W1` and `W2` that way, and run the article's NumPy loop beside
# it to check that the two stay on the same path.

# %%
STEPS, EVERY = 1500, 100
net = nn.Sequential(
    nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1, bias=False), nn.Sigmoid()
)
with tg.no_grad():
    net[0].weight.copy_(tg.tensor(W1.T))
    net[2].weight.copy_(tg.tensor(W2.T))
optimizer = optim.SGD(net.parameters(), lr=1.0)
article_weights = [W1.copy(), W2.copy()]
losses = []

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.set(xlim=(0, STEPS), ylim=(1e-3, 2), yscale="log", xlabel="step", ylabel="Σ (y - out)²")
(loss_line,) = ax.plot([], [])
handle = IPython.display.display(fig, display_id=True)

for step in range(1, STEPS + 1):
    loss = summed_squares(net)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

    updates = articles.two_layer_article_updates(X, y, *article_weights)
    article_weights = [w + d for w, d in zip(article_weights, updates)]

    if step % EVERY == 0:
        loss_line.set_data(range(1, step + 1), losses)
        handle.update(fig)
plt.close(fig)

with tg.no_grad():
    outputs = net(inputs).numpy().ravel()
path_gap = max(
    np.abs(net[0].weight.numpy().T - article_weights[0]).max(),
    np.abs(net[2].weight.numpy().T - article_weights[1]).max(),
)
accuracy = int(np.sum((outputs > 0.5) == (labels == 1)))
print(f"loss after {STEPS} steps: {losses[-1]:.6f}")
print("outputs:", outputs, " targets:", labels)
print(f"largest gap between tinygrad_ann's weights and the article's loop: {path_gap:.1e}")

# %%
assert losses[-1] < 3e-3  # measured 0.00170
assert accuracy == 4 and np.all(np.abs(outputs - labels) < 0.05)
assert path_gap < 1e-12

# %% [markdown]
# The loss creeps along a plateau for the first hundred or so steps, then drops
# once the hidden units have split the inputs. The outputs end near 0, 1, 1, 0,
# and the article's loop and tinygrad_ann's SGD agree to rounding all the way.
#
# ## The decision boundary
#
# The network's input has three columns, but the third is always 1, so the
# plane of the first two columns shows everything: we evaluate the network on a
# grid `(a, b, 1)` and colour by `out`. XOR needs two lines; the two sigmoid
# layers draw a band between them.

# %%
grid_a, grid_b = np.meshgrid(np.linspace(-0.5, 1.5, 161), np.linspace(-0.5, 1.5, 161))
grid = np.column_stack([grid_a.ravel(), grid_b.ravel(), np.ones(grid_a.size)])
with tg.no_grad():
    grid_out = net(tg.tensor(grid)).numpy().reshape(grid_a.shape)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
filled = ax.contourf(grid_a, grid_b, grid_out, levels=np.linspace(0, 1, 11), cmap="coolwarm")
ax.contour(grid_a, grid_b, grid_out, levels=[0.5], colors="black")
ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", vmin=0, vmax=1, edgecolors="black", s=120)
ax.set(xlabel="first input", ylabel="second input", aspect="equal", title="third input = 1")
fig.colorbar(filled, ax=ax, label="out")
plt.show()

# %%
print(
    f"Final numbers: loss {losses[-1]:.6f} after {STEPS} steps, accuracy {accuracy}/4, "
    f"autograd's gradient = -d_weights to {largest:.1e}, "
    f"article loop vs SGD(lr=1) gap {path_gap:.1e}"
)
