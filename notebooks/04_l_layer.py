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
# # An L-layer sigmoid network: the backward recursion, checked by autograd
#
# Article 003 (part 2) builds a network of any depth from sigmoid layers and derives
# its gradients layer by layer, from the output back to the input. This notebook
# writes that recursion in NumPy, builds the same network with tinygrad_ann, and lets
# autograd confirm every layer's `dW_l` and `db_l`. Then it looks at the article's
# update step, which cannot run as printed, and trains the network on two moons with
# `nn` and `optim`.
#
# The notation is the article's, as `docs/articles.md` writes it: samples are
# **columns**, layer `l` has `W_l` of shape `(n_l, n_{l−1})` and `b_l` of shape
# `(n_l, 1)`, and
#
#     A_0 = X,   Z_l = W_l A_{l−1} + b_l,   A_l = σ(Z_l)
#     L = −(1/m) Σ [Y log A_L + (1 − Y) log(1 − A_L)]

# %%
import itertools

import IPython.display
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

tg.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The data and the weights
#
# Forty points of two moons, turned on their side so that each **column** is a
# sample: `X` is `(2, 40)` and `Y` is `(1, 40)`. The network has layer sizes
# `2 → 5 → 3 → 1`, so `L = 3` layers, with weights drawn from a normal
# distribution.

# %%
points, labels = tg.data.two_moons(40, noise=0.2, seed=0)
X = points.T  # (2, m): samples as columns
Y = labels.reshape(1, -1).astype(np.float64)  # (1, m)
sizes = (2, 5, 3, 1)
weights = [rng.normal(size=(n, n_before)) for n_before, n in itertools.pairwise(sizes)]
biases = [rng.normal(size=(n, 1)) for n in sizes[1:]]
print("X", X.shape, " Y", Y.shape)
for layer, (W, b) in enumerate(zip(weights, biases), start=1):
    print(f"W{layer} {W.shape}  b{layer} {b.shape}")

# %% [markdown]
# ## The article's backward recursion
#
# The derivation starts at the output with the derivative of the cross-entropy
# with respect to `A_L`, then walks back one layer at a time:
#
#     output_grad = −(Y/A_L − (1 − Y)/(1 − A_L))
#     for l = L, …, 1:
#         dZ_l = dA_l ⊙ σ'(Z_l)
#         dW_l = dZ_l A_{l−1}ᵀ / m,   db_l = (row sums of dZ_l) / m
#         dA_{l−1} = W_lᵀ dZ_l
#
# `tg.articles.l_layer_closed_form` is exactly that loop in NumPy. It returns
# `dW_1 … dW_L` followed by `db_1 … db_L`.

# %%
L = len(weights)
closed = tg.articles.l_layer_closed_form(X, Y, weights, biases)
closed_dw, closed_db = closed[:L], closed[L:]
print("dW3 =", closed_dw[2].round(5))
print("db3 =", closed_db[2].ravel().round(5))

# %% [markdown]
# ## The same network in tinygrad_ann
#
# The forward pass is written exactly as the formulas read, with tensors in place of
# arrays. Only the weights and biases require gradients; autograd records every
# `@`, `+` and `sigmoid`, and `F.binary_cross_entropy` takes the mean over the `m`
# samples, as the article's cost does.


# %%
def forward(X, W_list, b_list):
    A = tg.tensor(X)
    for W, b in zip(W_list, b_list):
        A = (W @ A + b).sigmoid()
    return A


W_t = [tg.tensor(W, requires_grad=True) for W in weights]
b_t = [tg.tensor(b, requires_grad=True) for b in biases]
A_L = forward(X, W_t, b_t)
loss = F.binary_cross_entropy(A_L, Y)
gradients = tg.grad(loss, W_t + b_t)
auto_dw = [g.numpy() for g in gradients[:L]]
auto_db = [g.numpy() for g in gradients[L:]]
print(f"cost {loss.item():.6f}")

# %% [markdown]
# Every layer side by side: the first few entries of the article's gradient and of
# autograd's, and the largest difference over the whole array.

# %%
print(f"{'':4} {'shape':>7}  {'article (first 3)':>30}  {'autograd (first 3)':>30}  max |diff|")
for name, mine, theirs in [
    *[(f"dW{k + 1}", closed_dw[k], auto_dw[k]) for k in range(L)],
    *[(f"db{k + 1}", closed_db[k], auto_db[k]) for k in range(L)],
]:
    diff = np.abs(mine - theirs).max()
    print(
        f"{name:4} {mine.shape!s:>7}  {np.array2string(mine.ravel()[:3], precision=5):>30}"
        f"  {np.array2string(theirs.ravel()[:3], precision=5):>30}  {diff:.1e}"
    )

# %%
for k in range(L):
    np.testing.assert_allclose(auto_dw[k], closed_dw[k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(auto_db[k], closed_db[k], rtol=0, atol=1e-12)
    assert auto_dw[k].shape == weights[k].shape and auto_db[k].shape == biases[k].shape

# %% [markdown]
# The recursion is right for every layer, to rounding. Autograd can also confirm
# where it starts. `tg.grad` gives the gradient with respect to any tensor of the
# graph, not only leaves: with respect to `A_L` it is the article's `dA_L` times
# `1/m` (the article applies the `1/m` later, when it forms `dW` and `db`), and with
# respect to `Z_L` it is `(A_L − Y)/m`, the sigmoid's derivative cancelling against
# the logarithm's.

# %%
m = X.shape[1]
W_t = [tg.tensor(W, requires_grad=True) for W in weights]
b_t = [tg.tensor(b, requires_grad=True) for b in biases]
A = tg.tensor(X)
for W, b in zip(W_t[:-1], b_t[:-1]):
    A = (W @ A + b).sigmoid()
Z_L = W_t[-1] @ A + b_t[-1]
A_L = Z_L.sigmoid()
grad_at_output, grad_at_logits = tg.grad(F.binary_cross_entropy(A_L, Y), [A_L, Z_L])
a_last = A_L.numpy()  # A_L as an array; da_last is the article's dA_L
da_last = -(Y / a_last - (1 - Y) / (1 - a_last))
print("dA_L / m   ", (da_last / m)[0, :4].round(5))
print("autograd   ", grad_at_output.numpy()[0, :4].round(5))
print("(A_L - Y)/m", ((a_last - Y) / m)[0, :4].round(5))
print("autograd   ", grad_at_logits.numpy()[0, :4].round(5))
np.testing.assert_allclose(grad_at_output.numpy(), da_last / m, rtol=1e-12)
np.testing.assert_allclose(grad_at_logits.numpy(), (a_last - Y) / m, rtol=0, atol=1e-15)

# %% [markdown]
# ## The graph autograd recorded
#
# On a batch of two samples, so that the numbers below stay readable. Each layer
# is a `matmul`, an `add` (the bias, broadcast across the columns) and a
# `sigmoid`; the cost sits on top.

# %%
small_x, small_y = X[:, :2], Y[:, :2]
W_t = [tg.tensor(W, requires_grad=True) for W in weights]
b_t = [tg.tensor(b, requires_grad=True) for b in biases]
params = {f"W{k + 1}": W for k, W in enumerate(W_t)} | {f"b{k + 1}": b for k, b in enumerate(b_t)}
small_loss = F.binary_cross_entropy(forward(small_x, W_t, b_t), small_y)
tg.viz.draw_graph(small_loss, params=params)

# %% [markdown]
# ## The backward pass, one op at a time
#
# `tg.viz.explain` runs `backward()` and prints each op in the order the engine
# takes them: its local derivative, the gradient that arrives (`∂y`) and what it
# sends to each input. Read it against the recursion (autograd divides by `m = 2`
# at the very first step, the article at the end, so each gradient below is the
# article's divided by `m`): the cost's step sends `dA_3` to `sigmoid₃`, which
# multiplies by `σ'(Z_3)` to make `dZ_3`; `add₃` passes `dZ_3` on and sums it over
# the columns into `db_3`; `matmul₃` splits it into `dW_3 = dZ_3 A_2ᵀ` and
# `dA_2 = W_3ᵀ dZ_3`; and so on down to layer 1.

# %%
table = tg.viz.explain(small_loss, params=params, format="text")

# %% [markdown]
# The `.grad` the last step shows is the article's formula on the same two samples:

# %%
small_closed = tg.articles.l_layer_closed_form(small_x, small_y, weights, biases)
for tensor, expected in zip(W_t + b_t, small_closed):
    np.testing.assert_allclose(tensor.grad.numpy(), expected, rtol=0, atol=1e-12)
print("W1.grad\n", W_t[0].grad.numpy().round(6))

# %% [markdown]
# ## The update step: a key that is never written
#
# The derivation is right; the article's training loop is not. Its backward pass
# files the gradients in a dictionary under `"dW1"`, `"db1"`, …, while the update
# step looks them up as `grads["W1"]`, `grads["b1"]`, …, the names of the
# *parameters*. Here is that mismatch, rebuilt with our own dictionaries:

# %%
parameters = {f"W{k + 1}": W.copy() for k, W in enumerate(weights)}
parameters |= {f"b{k + 1}": b.copy() for k, b in enumerate(biases)}
grads = {f"dW{k + 1}": g for k, g in enumerate(closed_dw)}
grads |= {f"db{k + 1}": g for k, g in enumerate(closed_db)}
learning_rate = 0.5

try:
    for k in range(1, L + 1):
        parameters[f"W{k}"] -= learning_rate * grads[f"W{k}"]  # the article's lookup
        parameters[f"b{k}"] -= learning_rate * grads[f"b{k}"]
    failure = None
except KeyError as error:
    failure = error
print("KeyError:", failure)
print("keys backward wrote:", sorted(grads))
assert isinstance(failure, KeyError) and failure.args == ("W1",)
assert all(np.array_equal(parameters[f"W{k + 1}"], weights[k]) for k in range(L))

# %% [markdown]
# The loop stops on its very first update, before it changes anything. Reading the
# keys backward writes (`grads["d" + name]`) fixes it, and one step of gradient
# descent with those gradients lowers the cost, as it should:


# %%
def cost(parameters):
    W_list = [tg.tensor(parameters[f"W{k}"]) for k in range(1, L + 1)]
    b_list = [tg.tensor(parameters[f"b{k}"]) for k in range(1, L + 1)]
    return F.binary_cross_entropy(forward(X, W_list, b_list), Y).item()


before = cost(parameters)
for name in parameters:
    parameters[name] -= learning_rate * grads["d" + name]
after = cost(parameters)
print(f"cost before {before:.6f}, after one step {after:.6f}")
assert after < before

# %% [markdown]
# ## The same network with `nn` and `optim`
#
# `nn.Linear(n_{l−1}, n_l)` stores its weight as `(n_l, n_{l−1})`, the article's
# shape, but it takes samples as **rows**: it computes `A Wᵀ + b`, which is the
# article's `W A + b` transposed. So the article's weights load into a
# `nn.Sequential` unchanged (each bias flattened to a vector), and the gradients
# autograd puts in `.grad` are the article's `dW_l`, `db_l` again:

# %%
layers = []
for n_before, n in itertools.pairwise(sizes):
    layers += [nn.Linear(n_before, n), nn.Sigmoid()]
article_net = nn.Sequential(*layers)
linears = [layer for layer in article_net if isinstance(layer, nn.Linear)]
with tg.no_grad():
    for k, linear in enumerate(linears):
        linear.weight.copy_(tg.tensor(weights[k]))
        linear.bias.copy_(tg.tensor(biases[k].ravel()))
F.binary_cross_entropy(
    article_net(tg.tensor(points)), labels.reshape(-1, 1).astype(float)
).backward()
for k, linear in enumerate(linears):
    np.testing.assert_allclose(linear.weight.grad.numpy(), closed_dw[k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(linear.bias.grad.numpy(), closed_db[k].ravel(), rtol=0, atol=1e-12)
print("nn.Sequential's .grad equals dW_l and db_l for all", L, "layers")

# %% [markdown]
# ## Training on two moons
#
# Now a wider network, `2 → 16 → 8 → 1`, on 300 points, trained full-batch with
# Adam. One change from the article: the last sigmoid moves into the loss.
# `F.binary_cross_entropy_with_logits(Z_L, Y)` is the same cost as
# `F.binary_cross_entropy(σ(Z_L), Y)`, but computed from `Z_L` directly, so it stays
# exact where the sigmoid saturates at 0 or 1 (the article's `dA_L` divides by
# `A_L` and `1 − A_L` there). The cell checks that the two agree at the start.

# %%
tg.manual_seed(0)
train_points, train_labels = tg.data.two_moons(300, noise=0.2, seed=1)
inputs = tg.tensor(train_points)
targets = train_labels.reshape(-1, 1).astype(np.float64)
model = nn.Sequential(
    nn.Linear(2, 16), nn.Sigmoid(), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 1)
)
optimizer = optim.Adam(model.parameters(), lr=0.02)
with tg.no_grad():
    scores = model(inputs)
    with_logits = F.binary_cross_entropy_with_logits(scores, targets).item()
    of_probabilities = F.binary_cross_entropy(scores.sigmoid(), targets).item()
print(f"starting cost: {with_logits:.12f} (from logits), {of_probabilities:.12f} (from sigmoid)")
assert abs(with_logits - of_probabilities) < 1e-12

# %% [markdown]
# The loss curve redraws every 250 steps while the network trains.

# %%
steps = 2000
losses = []
figure, axis = plt.subplots(figsize=(6, 3.5))
handle = IPython.display.display(figure, display_id=True)
for step in range(1, steps + 1):
    loss = F.binary_cross_entropy_with_logits(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if step % 250 == 0:
        axis.clear()
        axis.plot(range(1, step + 1), losses)
        axis.set_xlim(0, steps)
        axis.set_yscale("log")
        axis.set_xlabel("step")
        axis.set_ylabel("mean binary cross-entropy")
        axis.set_title(f"step {step}: loss {losses[-1]:.4f}")
        handle.update(figure)
plt.close(figure)
with tg.no_grad():
    predicted = (model(inputs).numpy() > 0).ravel()
accuracy = (predicted == (train_labels == 1)).mean()
print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; training accuracy {accuracy:.1%}")

# %%
assert losses[-1] < 0.05 and accuracy >= 0.97

# %% [markdown]
# ## The decision boundary
#
# The network's prediction over a grid of the plane: blue where it says class 0
# (`σ(Z_L) < ½`, that is `Z_L < 0`), red where it says class 1, with the training
# points on top. Three sigmoid layers bend the boundary around both moons.

# %%
grid_x, grid_y = np.meshgrid(np.linspace(-1.7, 2.7, 200), np.linspace(-1.3, 1.8, 200))
with tg.no_grad():
    grid_scores = model(tg.tensor(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
grid_class = (grid_scores.numpy() > 0).reshape(grid_x.shape).astype(float)
figure, axis = plt.subplots(figsize=(6, 4.5))
axis.contourf(grid_x, grid_y, grid_class, levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=0.3)
axis.scatter(train_points[:, 0], train_points[:, 1], c=train_labels, cmap="coolwarm", s=10)
axis.set_title(f"L-layer sigmoid net 2-16-8-1: {accuracy:.1%} of 300 points")
plt.show()

# %%
print(
    f"Final numbers: every dW_l, db_l of the article's recursion equals autograd's "
    f"(3 layers); loss {losses[-1]:.4f} after {steps} steps, "
    f"accuracy {(predicted == (train_labels == 1)).sum()}/300"
)
