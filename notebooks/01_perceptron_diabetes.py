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
# # One sigmoid unit on the diabetes table
#
# Articles 000 and 002 predict diabetes from three yes/no answers with a single
# sigmoid unit, and derive its gradient by hand. This notebook takes that
# derivation, computes it in NumPy, builds the same unit with tinygrad_ann and lets
# autograd check every number. Autograd confirms the formula on paper, and shows
# that the articles' code computes something else. Then we train the unit and
# look at what it learned.

# %%
import IPython.display
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import articles, nn, optim

tg.manual_seed(0)
rng = np.random.default_rng(0)
np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## The data
#
# Five people, three answers each: do they smoke, are they obese, do they
# exercise. The target says whether they are diabetic. Look at the middle column:
# obesity equals the label in every row, so one unit can learn the table
# exactly by leaning on that feature.

# %%
FEATURES = ("smoking", "obesity", "exercise")
X, labels = tg.data.diabetes_table()
y = labels.reshape(-1, 1)  # a column, like the unit's output
print("person  smoking  obesity  exercise   diabetic")
for person, (row, target) in enumerate(zip(X, labels), start=1):
    print(f"{person:6d}  " + "  ".join(f"{v:7.0f}" for v in row) + f"   {target:8.0f}")
assert np.array_equal(X[:, 1], labels)

# %% [markdown]
# ## The derivation by hand
#
# The unit multiplies the answers by weights, adds a bias and squashes the sum:
#
#     z = XW + b,   s = σ(z),   L = ½ Σ (s − y)²
#
# The chain rule goes back through the three stages: `∂L/∂s = s − y`, then
# `∂s/∂z = σ'(z) = s(1 − s)`, then `∂z/∂W = X`. Put together, summed over the
# five people:
#
#     ∂L/∂W = Xᵀ [(s − y) ⊙ s(1 − s)],     ∂L/∂b = Σ (s − y) ⊙ s(1 − s)
#
# Here is that formula in NumPy, at the starting point docs/articles.md uses
# (every weight and the bias 0.5). `articles.perceptron_closed_form` is the same
# formula, kept in the library; we check ours agrees with it.

# %%
W0 = np.full((3, 1), 0.5)
b0 = np.array([0.5])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


s = sigmoid(X @ W0 + b0)
delta = (s - y) * s * (1 - s)  # ∂L/∂z for each person
hand_dw = X.T @ delta
hand_db = delta.sum(axis=0)
print("s      =", s.ravel())
print("∂L/∂W  =", hand_dw.ravel())
print("∂L/∂b  =", hand_db)
library_dw, library_db = articles.perceptron_closed_form(X, y, W0, b0)
assert np.allclose(hand_dw, library_dw, rtol=0, atol=1e-15)
assert np.allclose(hand_db, library_db, rtol=0, atol=1e-15)

# %% [markdown]
# ## The same unit in tinygrad_ann
#
# The unit is `nn.Linear(3, 1)` followed by `nn.Sigmoid()`. `Linear` stores its
# weight as (out, in) = (1, 3), the transpose of the article's `W`, so we copy
# `W0ᵀ` into it and compare `weight.grad` with `∂L/∂Wᵀ`. The loss
# `½ Σ (s − y)²` is half of `mse_loss` with `reduction="sum"`.

# %%
model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
with tg.no_grad():
    model[0].weight.copy_(tg.tensor(W0.T))
    model[0].bias.copy_(tg.tensor(b0))
inputs = tg.tensor(X)


def squared_error(model):
    return 0.5 * F.mse_loss(model(inputs), y, reduction="sum")


loss = squared_error(model)
loss.backward()
autograd_dw = model[0].weight.grad.numpy().T
autograd_db = model[0].bias.grad.numpy()
print(f"loss at the start: {loss.item():.6f}\n")
print(f"{'':18s} {'by hand':16s} {'autograd':16s} difference")
for name, hand, auto in zip(
    (*(f"∂L/∂W[{f}]" for f in FEATURES), "∂L/∂b"),
    np.concatenate([hand_dw.ravel(), hand_db]),
    np.concatenate([autograd_dw.ravel(), autograd_db]),
):
    print(f"{name:18s} {hand:+.12f}  {auto:+.12f}  {hand - auto:+.1e}")

# %%
assert autograd_dw.dtype == np.float64
assert np.allclose(autograd_dw, hand_dw, rtol=0, atol=1e-12)
assert np.allclose(autograd_db, hand_db, rtol=0, atol=1e-12)

# %% [markdown]
# Equal to the last digit: the derivation is right. The unit's computation graph
# shows the three stages the chain rule went through: `linear` (the layer's
# `XWᵀ + b` as one op), `sigmoid`, then `mse_loss` and the factor ½ (`mul`).

# %%
loss = squared_error(model)
tg.viz.draw_graph(loss, params=model)

# %% [markdown]
# ## The backward pass, step by step
#
# `tg.viz.explain` runs `loss.backward()` and prints each op the engine
# differentiates, in its order: the op's local derivative, the gradient that
# arrives from above and what each input receives. Read it against the
# derivation: `mul` and `mse_loss` hand `s − y` to the sigmoid (the ½ cancels
# the 2 of the square), the `sigmoid` step multiplies it by `s(1 − s)` and sends
# `δ` on, and the `linear` step forms `∂W = δᵀ X`, which is our `Xᵀ δ` transposed
# to the layer's (1, 3) weight.

# %%
model.zero_grad()
table = tg.viz.explain(loss, params=model, format="text")

# %%
assert np.allclose(model[0].weight.grad.numpy().T, hand_dw, rtol=0, atol=1e-12)
# The gradient the sigmoid step sends to `linear` is δ, person by person.
assert all(f"{value:.4g}" in table for value in delta.ravel())

# %% [markdown]
# ## What the articles' code computes
#
# Both articles compute the prediction `s = σ(z)` and then call their
# sigmoid-derivative helper *on `s`*, not on `z`. The per-person factor becomes
# `σ(s)(1 − σ(s))` where the derivation says `σ(z)(1 − σ(z)) = s(1 − s)`: the
# sigmoid is applied twice. `articles.perceptron_as_coded` reproduces that code.

# %%
coded_dw, coded_db = articles.perceptron_as_coded(X, y, W0, b0)
print(" " * 19 + "gradient        the code's step  difference")
for name, true, coded in zip(
    (*(f"∂L/∂W[{f}]" for f in FEATURES), "∂L/∂b"),
    np.concatenate([autograd_dw.ravel(), autograd_db]),
    np.concatenate([coded_dw.ravel(), coded_db]),
):
    print(f"{name:18s} {true:+.9f}   {coded:+.9f}     {coded - true:+.6f}")
largest_gap = max(np.abs(coded_dw - autograd_dw).max(), np.abs(coded_db - autograd_db).max())
print(f"\nlargest difference: {largest_gap:.4f}")
print("\nper person:   s(1 - s)   σ(s)(1 - σ(s))")  # noqa: RUF001
for person, (right, wrong) in enumerate(
    zip((s * (1 - s)).ravel(), (sigmoid(s) * (1 - sigmoid(s))).ravel()), start=1
):
    print(f"{person:10d}   {right:.6f}   {wrong:.6f}")

# %%
assert largest_gap > 0.02  # measured 0.0298 (obesity's weight) at this start
assert not np.allclose(coded_dw, autograd_dw)
# The two differ only in the per-person factor; both factors are positive, so each
# person's contribution keeps its sign.
assert np.allclose(coded_dw, X.T @ ((s - y) * sigmoid(s) * (1 - sigmoid(s))), rtol=0, atol=1e-15)
assert np.all(np.sign(coded_db) == np.sign(autograd_db))

# %% [markdown]
# Why does the code still learn? `σ'` is positive everywhere, so each person
# still pushes the weights the right way; only the size of the push changes. And
# because `s` lies between 0 and 1, the wrong factor `σ'(s)` stays between
# `σ'(1) ≈ 0.197` and `σ'(0) = 0.25`: unlike `s(1 − s)`, it does not fade as the
# unit grows confident. The step is not the gradient of `L`, nor of anything
# the articles define, but here it still points downhill.
#
# ## Training, both ways
#
# Two copies of the unit start from the same weights. One follows autograd's
# gradient with `optim.SGD`; the other takes the articles' step, written into
# `.grad` before the same `opt.step()`. Both curves show the true loss
# `½ Σ (s − y)²`. The step size 0.5 for 2,000 steps follows the demo's 0.05 for
# 20,000 (`tinygrad_ann.teaching.demo.train_perceptron`), ten times fewer and
# ten times larger.

# %%
STEPS, LR, EVERY = 2000, 0.5, 200


def fresh_unit():
    unit = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
    with tg.no_grad():
        unit[0].weight.copy_(tg.tensor(W0.T))
        unit[0].bias.copy_(tg.tensor(b0))
    return unit


gradient_unit, coded_unit = fresh_unit(), fresh_unit()
gradient_opt = optim.SGD(gradient_unit.parameters(), lr=LR)
coded_opt = optim.SGD(coded_unit.parameters(), lr=LR)
gradient_losses, coded_losses = [], []

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.set(xlim=(0, STEPS), ylim=(1e-6, 1), yscale="log", xlabel="step", ylabel="½ Σ (s - y)²")
(gradient_line,) = ax.plot([], [], label="autograd's gradient")
(coded_line,) = ax.plot([], [], "--", label="the articles' step")
ax.legend()
handle = IPython.display.display(fig, display_id=True)

for step in range(1, STEPS + 1):
    loss = squared_error(gradient_unit)
    gradient_opt.zero_grad()
    loss.backward()
    gradient_opt.step()
    gradient_losses.append(loss.item())

    with tg.no_grad():
        coded_losses.append(squared_error(coded_unit).item())
    weight, bias = coded_unit[0].weight, coded_unit[0].bias
    step_w, step_b = articles.perceptron_as_coded(X, y, weight.numpy().T, bias.numpy())
    weight.grad, bias.grad = tg.tensor(step_w.T), tg.tensor(step_b)
    coded_opt.step()

    if step % EVERY == 0:
        gradient_line.set_data(range(1, step + 1), gradient_losses)
        coded_line.set_data(range(1, step + 1), coded_losses)
        handle.update(fig)
plt.close(fig)
print(
    f"after {STEPS} steps: gradient descent {gradient_losses[-1]:.6f}, "
    f"the articles' step {coded_losses[-1]:.6f}"
)

# %%
assert np.all(np.diff(gradient_losses) < 0)  # every step lowers the loss
assert np.all(np.diff(coded_losses) < 0)  # so does every step of the articles' rule
assert gradient_losses[-1] < 2e-3  # measured 0.00139
assert coded_losses[-1] < gradient_losses[-1]  # measured 6.1e-5: the factor never fades

# %% [markdown]
# Both descend on every step. The articles' rule even ends lower, for the
# reason above: its per-person factor stays near 0.2 while the true gradient's
# `s(1 − s)` shrinks as the outputs approach 0 and 1, so late in training it
# takes larger steps. That is a step size, not a better direction.
#
# Is the articles' step the gradient of anything? Each person's term depends on
# the weights only through that person's `z`, so it is the gradient of *some*
# loss: per person, the function of `z` whose slope is `(σ(z) − y) σ'(σ(z))`.
# It pulls every `s` toward its target as `L` does, but it is a different loss
# and the articles never write it down. Descending it lowers `L` on this table;
# nothing promises that in general.
#
# ## What the unit learned
#
# The five people's predicted probabilities, from the gradient-trained unit:

# %%
with tg.no_grad():
    probabilities = gradient_unit(inputs).numpy().ravel()
weight = gradient_unit[0].weight.numpy().ravel()
for person, (p, target) in enumerate(zip(probabilities, labels), start=1):
    print(f"person {person}: P(diabetic) = {p:.3f}   (diabetic: {target:.0f})")
print("weights:", ", ".join(f"{f} {w:+.2f}" for f, w in zip(FEATURES, weight)), end="")
print(f"; bias {gradient_unit[0].bias.item():+.2f}")
correct = int(np.sum((probabilities > 0.5) == (labels == 1)))

# %%
assert correct == 5
assert weight.argmax() == 1  # obesity carries the decision

# %% [markdown]
# ## The decision boundary
#
# The unit sees three inputs, a picture shows two. We plot the predicted
# probability over smoking (x axis) and obesity (y axis), treating them as
# numbers between 0 and 1, with exercise fixed: 0 on the left, 1 on the right.
# Each panel shows the people whose exercise answer matches. The line
# `P = ½` is where `z = 0`, a straight line; obesity's large weight makes it
# almost horizontal.

# %%
grid_smoking, grid_obesity = np.meshgrid(
    np.linspace(-0.25, 1.25, 121), np.linspace(-0.25, 1.25, 121)
)
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for exercise, axis in enumerate(axes):
    grid = np.column_stack(
        [grid_smoking.ravel(), grid_obesity.ravel(), np.full(grid_smoking.size, exercise)]
    )
    with tg.no_grad():
        grid_probability = gradient_unit(tg.tensor(grid)).numpy().reshape(grid_smoking.shape)
    filled = axis.contourf(
        grid_smoking, grid_obesity, grid_probability, levels=np.linspace(0, 1, 11), cmap="coolwarm"
    )
    axis.contour(grid_smoking, grid_obesity, grid_probability, levels=[0.5], colors="black")
    here = X[:, 2] == exercise
    axis.scatter(
        X[here, 0],
        X[here, 1],
        c=labels[here],
        cmap="coolwarm",
        vmin=0,
        vmax=1,
        edgecolors="black",
        s=120,
    )
    for person in np.flatnonzero(here):
        axis.annotate(f"{person + 1}", X[person, :2], xytext=(8, 8), textcoords="offset points")
    axis.set(title=f"exercise = {exercise}", xlabel="smoking")
axes[0].set_ylabel("obesity")
fig.colorbar(filled, ax=axes, label="P(diabetic)")
plt.show()

# %%
print(
    f"Final numbers: loss {gradient_losses[-1]:.6f} after {STEPS} steps "
    f"(the articles' step: {coded_losses[-1]:.2e}), accuracy {correct}/5, "
    f"start-point gradient matches autograd, the coded step is off by up to {largest_gap:.4f}"
)
