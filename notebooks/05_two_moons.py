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
# # Two moons: tanh, softmax and L2, from the hand derivation to `nn.Module`
#
# Article 004 classifies the two-moons data with one tanh hidden layer and a
# softmax output, trained on the cross-entropy plus an L2 penalty on the weights.
# It derives the gradients by hand (the errors `δ3` and `δ2`, then `dW` and `db`).
# This notebook checks each formula against autograd, shows where the article's
# code and text disagree, builds the same model as an `nn.Module`, trains it while
# the loss curve draws itself, and plots the decision boundary. It ends with why a
# library computes the cross-entropy from the logits and not from the softmax.
#
# Rows are samples here, as in the article:
#
#     z1 = X W1 + b1,   a1 = tanh z1,   z2 = a1 W2 + b2,   probs = softmax(z2)
#     L = Σ_n −log probs[n, y_n]  +  λ/2 (|W1|² + |W2|²),   λ = 0.01

# %%
import IPython.display
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim

tg.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The data and a starting point
#
# 300 points, two classes, and three hidden units. The weights are drawn from a
# normal distribution and the biases start at zero.

# %%
points, labels = tg.data.two_moons(300, noise=0.2, seed=0)
strength = 0.01  # λ
hidden = 3
W1, b1 = rng.normal(size=(2, hidden)), np.zeros((1, hidden))
W2, b2 = rng.normal(size=(hidden, 2)), np.zeros((1, 2))
print("points", points.shape, "labels", labels.shape, "class counts", np.bincount(labels))

# %% [markdown]
# ## The article's derivation
#
# Softmax followed by the cross-entropy has a famously simple derivative: per
# sample, `∂L/∂z2 = probs − onehot(y)`. The rest is the chain rule through the two
# affine maps and `tanh' = 1 − tanh²`, plus `λW` from the penalty:
#
#     δ3 = probs − onehot(y)
#     dW2 = a1ᵀ δ3 + λ W2,      db2 = column sums of δ3
#     δ2 = δ3 W2ᵀ ⊙ (1 − a1²)
#     dW1 = Xᵀ δ2 + λ W1,       db1 = column sums of δ2
#
# `tg.articles.two_moons_closed_form` computes the four gradients this way. The
# two errors are short enough to write out here as well.

# %%
closed = tg.articles.two_moons_closed_form(points, labels, [W1, b1, W2, b2], strength)
a1 = np.tanh(points @ W1 + b1)
z2 = a1 @ W2 + b2
probs = np.exp(z2 - z2.max(axis=1, keepdims=True))
probs /= probs.sum(axis=1, keepdims=True)
delta3 = probs - np.eye(2)[labels]
delta2 = delta3 @ W2.T * (1 - a1**2)
print("δ3, first 3 rows:\n", delta3[:3].round(5))
print("δ2, first 3 rows:\n", delta2[:3].round(5))

# %% [markdown]
# ## The same network, differentiated by autograd
#
# The forward pass in tensors, with `F.cross_entropy(..., reduction="sum")` for the
# summed cross-entropy (it takes the logits `z2` and applies the softmax itself).
# `tg.grad` returns the gradient with respect to the weights, and also with
# respect to the intermediate `z2` and `z1`: those are `δ3` and `δ2`.

# %%
weights = {
    name: tg.tensor(value, requires_grad=True)
    for name, value in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
}
x = tg.tensor(points)
z1_t = x @ weights["W1"] + weights["b1"]
z2_t = z1_t.tanh() @ weights["W2"] + weights["b2"]
penalty = (weights["W1"] ** 2).sum() + (weights["W2"] ** 2).sum()
loss = F.cross_entropy(z2_t, labels, reduction="sum") + strength / 2 * penalty
grad_z2, grad_z1, *autograd = tg.grad(loss, [z2_t, z1_t, *weights.values()])
print(f"L = {loss.item():.6f}")
print(f"{'':4} {'shape':>7}  {'article (first 3)':>30}  {'autograd (first 3)':>30}  max |diff|")
for name, mine, theirs in [
    ("δ3", delta3, grad_z2.numpy()),
    ("δ2", delta2, grad_z1.numpy()),
    *[(f"d{n}", c, a.numpy()) for n, c, a in zip(weights, closed, autograd)],
]:
    print(
        f"{name:4} {mine.shape!s:>7}  {np.array2string(mine.ravel()[:3], precision=5):>30}"
        f"  {np.array2string(theirs.ravel()[:3], precision=5):>30}"
        f"  {np.abs(mine - theirs).max():.1e}"
    )

# %%
np.testing.assert_allclose(grad_z2.numpy(), delta3, rtol=0, atol=1e-12)
np.testing.assert_allclose(grad_z1.numpy(), delta2, rtol=0, atol=1e-12)
for formula, gradient in zip(closed, autograd):
    np.testing.assert_allclose(gradient.numpy(), formula, rtol=0, atol=1e-12)

# %% [markdown]
# Every formula holds, to rounding: the derivation is right. `δ3` is easy to read,
# too: each row sums to zero, and for a sample of class 0 it is `(p0 − 1, p1)`,
# pulling the logit of the right class up and the other one down.
#
# ## Where the article's text and code disagree
#
# The article's loss function *reports* the quantity above divided by `N`, the
# mean over the samples, while its gradients are those of the *sum*. So the
# gradients it trains with are `N = 300` times the gradient of the loss it prints.
# Autograd on the reported (mean) loss shows the factor:

# %%
of_mean = tg.articles.two_moons_autograd(points, labels, [W1, b1, W2, b2], strength, mean=True)
for name, formula, gradient in zip(weights, closed, of_mean):
    ratio = formula / gradient
    print(f"d{name}: article / gradient of the reported loss = {np.unique(ratio.round(9))}")
    np.testing.assert_allclose(ratio, len(labels), rtol=1e-9)

# %% [markdown]
# Nothing breaks: the article's step of 0.01 on the summed loss is a step of 3 on
# the mean loss it prints. But a reader who switches to the printed (mean) loss and
# keeps the step size trains 300 times slower. Below, the model is trained on the
# sum, as the article does.
#
# ## The graph and the backward pass, on three samples
#
# The same loss on three points, so that the table of the backward pass stays
# readable. The graph shows the two `matmul`/`add` layers, the `tanh`, the
# cross-entropy, and the penalty's `pow`s and `sum`s joining the data term.

# %%
few = slice(0, 3)
small = {
    name: tg.tensor(value, requires_grad=True)
    for name, value in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
}
small_z1 = tg.tensor(points[few]) @ small["W1"] + small["b1"]
small_z2 = small_z1.tanh() @ small["W2"] + small["b2"]
small_penalty = (small["W1"] ** 2).sum() + (small["W2"] ** 2).sum()
small_loss = F.cross_entropy(small_z2, labels[few], reduction="sum") + strength / 2 * small_penalty
tg.viz.draw_graph(small_loss, params=small)

# %% [markdown]
# `tg.viz.explain` runs `backward()` and prints each step. Follow `δ3` through it:
# the cross-entropy's step sends `probs − onehot(y)` to the second `add` (that is
# `δ3`); the `add` passes it on and its column sums to `b2`; the `matmul` sends
# `a1ᵀ δ3` to `W2` and `δ3 W2ᵀ` down to the `tanh`, which multiplies by `1 − a1²`
# to make `δ2`. The penalty's branch adds `λ W` to each weight's gradient; the
# leaves' row shows the sum.

# %%
table = tg.viz.explain(small_loss, params=small, format="text")

# %%
small_closed = tg.articles.two_moons_closed_form(
    points[few], labels[few], [W1, b1, W2, b2], strength
)
for tensor, formula in zip(small.values(), small_closed):
    np.testing.assert_allclose(tensor.grad.numpy(), formula, rtol=0, atol=1e-12)
print("the .grad of the last step equals the article's formulas on the three samples")

# %% [markdown]
# ## The model as an `nn.Module`
#
# The way one writes it with PyTorch's names: two `nn.Linear` layers, the tanh in
# `forward`, and the loss as a function of the model. `nn.Linear` stores its weight
# as `(out_features, in_features)` and computes `x Wᵀ + b`, so the article's `W1`
# is `hidden.weight` transposed. Loading the article's weights shows that the
# model's `.grad` is the article's formulas once more.


# %%
class TwoMoons(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.hidden = nn.Linear(2, hidden_size)
        self.output = nn.Linear(hidden_size, 2)

    def forward(self, x):
        return self.output(self.hidden(x).tanh())


def article_loss(model, x, labels, strength):
    """Summed cross-entropy + λ/2 (|W1|² + |W2|²); the biases are not penalised."""
    penalty = (model.hidden.weight**2).sum() + (model.output.weight**2).sum()
    return F.cross_entropy(model(x), labels, reduction="sum") + strength / 2 * penalty


model = TwoMoons(hidden)
with tg.no_grad():
    model.hidden.weight.copy_(tg.tensor(W1.T))
    model.hidden.bias.copy_(tg.tensor(b1.ravel()))
    model.output.weight.copy_(tg.tensor(W2.T))
    model.output.bias.copy_(tg.tensor(b2.ravel()))
article_loss(model, x, labels, strength).backward()
grad_w1, grad_b1, grad_w2, grad_b2 = closed  # the article's dW1, db1, dW2, db2
for tensor, formula in [
    (model.hidden.weight, grad_w1.T),
    (model.hidden.bias, grad_b1.ravel()),
    (model.output.weight, grad_w2.T),
    (model.output.bias, grad_b2.ravel()),
]:
    np.testing.assert_allclose(tensor.grad.numpy(), formula, rtol=0, atol=1e-12)
print(model)

# %% [markdown]
# ## Training, with the loss drawn as it falls
#
# A freshly initialised model (`tg.manual_seed(0)`), full-batch gradient descent
# with the article's step of 0.01 on the summed loss. The curve redraws every 500
# steps.

# %%
tg.manual_seed(0)
model = TwoMoons(hidden)
optimizer = optim.SGD(model.parameters(), lr=0.01)
steps = 5000
losses = []
figure, axis = plt.subplots(figsize=(6, 3.5))
handle = IPython.display.display(figure, display_id=True)
for step in range(1, steps + 1):
    loss = article_loss(model, x, labels, strength)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if step % 500 == 0:
        axis.clear()
        axis.plot(range(1, step + 1), losses)
        axis.set_xlim(0, steps)
        axis.set_yscale("log")
        axis.set_xlabel("step")
        axis.set_ylabel("summed cross-entropy + L2")
        axis.set_title(f"step {step}: loss {losses[-1]:.2f} (mean {losses[-1] / 300:.4f})")
        handle.update(figure)
plt.close(figure)
with tg.no_grad():
    predicted = model(x).numpy().argmax(axis=1)
correct = int((predicted == labels).sum())
print(f"loss {losses[0]:.2f} -> {losses[-1]:.2f}; training accuracy {correct}/300")

# %% [markdown]
# The first couple of hundred steps wobble before the loss drops: a step of 0.01 on
# the *summed* loss is a large step, as the section above worked out. Then the
# loss settles where the cross-entropy and the L2 penalty balance.

# %%
assert losses[-1] < 6 and correct >= 296

# %% [markdown]
# ## The decision boundary
#
# The class the model predicts at every point of a grid (blue: class 0, red:
# class 1), with the 300 training points on top. Three tanh units are enough to
# bend the boundary between the moons.

# %%
grid_x, grid_y = np.meshgrid(np.linspace(-1.7, 2.7, 200), np.linspace(-1.3, 1.8, 200))
with tg.no_grad():
    grid_logits = model(tg.tensor(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
grid_class = grid_logits.numpy().argmax(axis=1).reshape(grid_x.shape)
figure, axis = plt.subplots(figsize=(6, 4.5))
axis.contourf(grid_x, grid_y, grid_class, levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=0.3)
axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="coolwarm", s=10)
axis.set_title(f"{hidden} tanh units, softmax output: {correct}/300 correct")
plt.show()

# %% [markdown]
# ## Why the loss takes logits: numerical stability
#
# The article computes `probs = exp(z2) / Σ exp(z2)` and then `−log probs`. With
# large logits that breaks: `exp(10000)` overflows to `inf`, `inf / inf` is `nan`,
# and the probability of the losing class underflows to `0`, whose log is `−inf`.
# `F.cross_entropy` never forms the probabilities: it computes
# `log Σ exp(z) − z_y` as `max(z) + log Σ exp(z − max(z)) − z_y`, which is finite
# for any finite logits, and its gradient `softmax(z) − onehot(y)` likewise.
#
# Two samples with logits of ±10⁴, both labelled class 0: the first is right with
# a huge margin (loss 0), the second is wrong by 2·10⁴ (loss 20000).

# %%
huge = np.array([[1e4, -1e4], [-1e4, 1e4]])
targets = np.array([0, 0])

stable_logits = tg.tensor(huge, requires_grad=True)
stable = F.cross_entropy(stable_logits, targets, reduction="sum")
stable.backward()
print("F.cross_entropy:   loss", stable.item(), " gradient", stable_logits.grad.numpy().tolist())

naive_logits = tg.tensor(huge, requires_grad=True)
with np.errstate(all="ignore"):  # the overflow is the point: silence NumPy's warnings
    exps = naive_logits.exp()
    naive_probs = exps / exps.sum(axis=1, keepdims=True)
    naive = -naive_probs.log()[np.arange(2), targets].sum()
    naive.backward()
print("softmax, then log: probs", naive_probs.numpy().tolist())
print("                   loss", naive.item(), " gradient", naive_logits.grad.numpy().tolist())

# %%
assert stable.item() == 2e4
np.testing.assert_array_equal(stable_logits.grad.numpy(), [[0.0, 0.0], [-1.0, 1.0]])
assert np.isnan(naive_probs.numpy()).any() and not np.isfinite(naive.item())
assert np.isnan(naive_logits.grad.numpy()).all()

# %%
print(
    f"Final numbers: the article's δ3, δ2, dW1, db1, dW2, db2 equal autograd's; "
    f"its gradients are {len(labels)}x those of the printed mean loss; "
    f"loss {losses[-1]:.2f} (mean {losses[-1] / len(labels):.4f}) after {steps} steps, "
    f"accuracy {correct}/{len(labels)}; cross-entropy at logits ±1e4: {stable.item():.0f}"
)
