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
# # The AND gate: a gradient and a perceptron rule
#
# Article 001 teaches one sigmoid unit the AND gate. It derives the gradient of
# the cross-entropy by hand, with the features as rows and the four samples as
# columns. This notebook checks that derivation against autograd, then looks at
# what the article's training loop really does: it uses the *thresholded*
# prediction, which is Rosenblatt's perceptron rule rather than the gradient.
# The two agree while samples are misclassified and part ways afterwards.

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
# ## The data, features as rows
#
# `tg.data.and_gate()` returns samples as rows, as most libraries do; the
# article works with the transpose, one column per sample. Both layouts appear
# below: `x` (2×4) and `y` (1×4) for the hand derivation, the rows for the
# `nn.Linear` model.

# %%
inputs, labels = tg.data.and_gate()  # (4, 2) and (4,)
x, y = inputs.T, labels.reshape(1, -1)  # the article's layout: (2, 4) and (1, 4)
m = x.shape[1]
print("x =\n", x)
print("y =", y)
assert np.array_equal(y.ravel(), x[0] * x[1])

# %% [markdown]
# ## The derivation by hand
#
# With `s = σ(Wᵀx + b)` and the mean binary cross-entropy over the `m = 4`
# samples,
#
#     L = −(1/m) Σ [y log s + (1 − y) log(1 − s)]
#
# the derivative with respect to `z = Wᵀx + b` is `(s − y)/m`: the sigmoid's
# derivative `s(1 − s)` cancels against the `1/s` and `1/(1 − s)` of the
# logarithms. The rest is the linear map:
#
#     ∂L/∂W = x (s − y)ᵀ / m,     ∂L/∂b = Σ (s − y) / m
#
# The article starts from `W = (0.4, 0.2)` and `b = 1`.

# %%
W0 = np.array([[0.4], [0.2]])
b0 = np.array([[1.0]])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


s = sigmoid(W0.T @ x + b0)
hand_dw = x @ (s - y).T / m
hand_db = np.sum(s - y) / m
print("s      =", s.ravel())
print("∂L/∂W  =", hand_dw.ravel())
print("∂L/∂b  =", hand_db)
library_dw, library_db = articles.and_gate_closed_form(x, y, W0, b0)
assert np.allclose(hand_dw, library_dw, rtol=0, atol=1e-15)
assert np.allclose(hand_db, library_db, rtol=0, atol=1e-15)

# %% [markdown]
# ## The same unit in tinygrad_ann
#
# `nn.Linear(2, 1)` takes samples as rows and stores its weight as (1, 2), which
# is `Wᵀ`. It outputs the scores `z`; `F.binary_cross_entropy_with_logits`
# applies the sigmoid and the mean cross-entropy in one numerically safe step,
# exactly the `L` above.

# %%
model = nn.Linear(2, 1)
with tg.no_grad():
    model.weight.copy_(tg.tensor(W0.T))
    model.bias.fill_(b0.item())
features = tg.tensor(inputs)
targets = labels.reshape(-1, 1)


def cross_entropy(model):
    return F.binary_cross_entropy_with_logits(model(features), targets)


loss = cross_entropy(model)
loss.backward()
autograd_dw = model.weight.grad.numpy().T
autograd_db = model.bias.grad.item()
print(f"loss at the start: {loss.item():.6f}\n")
print(" " * 10 + "by hand          autograd         difference")
for name, hand, auto in zip(
    ("∂L/∂W[0]", "∂L/∂W[1]", "∂L/∂b"),
    [*hand_dw.ravel(), hand_db],
    [*autograd_dw.ravel(), autograd_db],
):
    print(f"{name:9s} {hand:+.12f}  {auto:+.12f}  {hand - auto:+.1e}")

# %%
assert autograd_dw.dtype == np.float64
assert np.allclose(autograd_dw, hand_dw, rtol=0, atol=1e-12)
assert abs(autograd_db - hand_db) < 1e-12

# %% [markdown]
# Not only at the article's start: the formula holds for any weights. Here it is
# at ten random points.

# %%
largest = 0.0
for _ in range(10):
    W, b = rng.normal(scale=3, size=(2, 1)), rng.normal(scale=3, size=(1, 1))
    closed = articles.and_gate_closed_form(x, y, W, b)
    with tg.no_grad():
        model.weight.copy_(tg.tensor(W.T))
        model.bias.fill_(b.item())
    model.zero_grad()
    cross_entropy(model).backward()
    largest = max(
        largest,
        np.abs(model.weight.grad.numpy().T - closed[0]).max(),
        np.abs(model.bias.grad.numpy() - closed[1].ravel()).max(),
    )
print(f"largest difference over ten random weights: {largest:.1e}")
assert largest < 1e-12

# %% [markdown]
# ## The graph
#
# Two ops: `linear` (the scores `z`, one per sample) and the loss. The sigmoid
# lives inside `binary_cross_entropy_with_logits`, which is why its derivative
# never shows up on its own: it has already cancelled.

# %%
with tg.no_grad():
    model.weight.copy_(tg.tensor(W0.T))
    model.bias.fill_(b0.item())
model.zero_grad()
loss = cross_entropy(model)
tg.viz.draw_graph(loss, params=model)

# %% [markdown]
# ## The backward pass, step by step
#
# The loss step sends `(s − y)/m` to the scores, one number per sample, which is
# the derivation's `∂L/∂z`. The `linear` step then multiplies by the inputs:
# `∂W = ∂zᵀ · x` is `x (s − y)ᵀ / m` in the layer's row layout.

# %%
table = tg.viz.explain(loss, params=model, format="text")

# %%
assert np.allclose(model.weight.grad.numpy().T, hand_dw, rtol=0, atol=1e-12)
# The gradient the loss step sends to `linear` is (s − y)/m, sample by sample.
assert all(f"{value:.4g}" in table for value in ((s - y) / m).ravel())

# %% [markdown]
# ## The rule the article's code uses
#
# The article's loop forms `ŷ − y` with the thresholded prediction
# `ŷ = [s ≥ ½]` in place of `s`:
#
#     ΔW = x (ŷ − y)ᵀ / m,     Δb = Σ (ŷ − y) / m
#
# That is the perceptron rule. `articles.and_gate_perceptron_rule` computes it.
# At the article's start every sample scores above ½, so `ŷ = (1, 1, 1, 1)`:
# three samples are wrong, and the rule points the same way as the gradient,
# with different sizes.

# %%
rule_dw, rule_db = articles.and_gate_perceptron_rule(x, y, W0, b0)
print("at the start        gradient     perceptron rule")
for name, true, rule in zip(
    ("W[0]", "W[1]", "b"), [*hand_dw.ravel(), hand_db], [*rule_dw.ravel(), rule_db.item()]
):
    print(f"  {name:16s} {true:+.6f}     {rule:+.6f}")
assert np.array_equal(sigmoid(W0.T @ x + b0) >= 0.5, np.ones((1, 4), dtype=bool))
assert np.all(np.sign(rule_dw) == np.sign(hand_dw)) and not np.allclose(rule_dw, hand_dw)

# %% [markdown]
# Now take weights that classify all four samples, `W = (2, 1.5)` and `b = −3`
# (only `(1, 1)` scores above zero). Every `ŷ − y` is zero, so the rule's update
# is exactly zero: it stops. The cross-entropy still has a slope there, since
# `s` is not yet 0 or 1, and gradient descent would keep pushing the scores
# away from zero, widening the margin.

# %%
W_sep, b_sep = np.array([[2.0], [1.5]]), np.array([[-3.0]])
s_sep = sigmoid(W_sep.T @ x + b_sep)
rule_dw, rule_db = articles.and_gate_perceptron_rule(x, y, W_sep, b_sep)
true_dw, true_db = articles.and_gate_autograd(x, y, W_sep, b_sep)
print("s =", s_sep.ravel(), " classified:", ((s_sep >= 0.5) == (y == 1)).ravel())
print("\nall four right      gradient     perceptron rule")
for name, true, rule in zip(
    ("W[0]", "W[1]", "b"), [*true_dw.ravel(), true_db.item()], [*rule_dw.ravel(), rule_db.item()]
):
    print(f"  {name:16s} {true:+.6f}     {rule:+.6f}")

# %%
assert np.all((s_sep >= 0.5) == (y == 1))
assert np.all(rule_dw == 0) and np.all(rule_db == 0)
assert np.abs(true_dw).max() > 0.04  # measured 0.0488
assert np.allclose(true_dw, articles.and_gate_closed_form(x, y, W_sep, b_sep)[0], atol=1e-12)

# %% [markdown]
# ## Training, both ways
#
# Two copies of the unit start from the article's weights with the same step
# size, 0.1, for 1,000 steps (the setup of
# `tinygrad_ann.teaching.demo.train_and_gate`). One takes autograd's gradient;
# the other takes the perceptron rule, written into `.grad` before the same
# `opt.step()`. Both curves show the cross-entropy `L`, and we note the step at
# which each first classifies all four samples.

# %%
STEPS, LR, EVERY = 1000, 0.1, 100


def fresh_unit():
    unit = nn.Linear(2, 1)
    with tg.no_grad():
        unit.weight.copy_(tg.tensor(W0.T))
        unit.bias.fill_(b0.item())
    return unit


def all_correct(unit):
    with tg.no_grad():
        return bool(np.all((unit(features).numpy() > 0) == (targets == 1)))


gradient_unit, rule_unit = fresh_unit(), fresh_unit()
gradient_opt = optim.SGD(gradient_unit.parameters(), lr=LR)
rule_opt = optim.SGD(rule_unit.parameters(), lr=LR)
gradient_losses, rule_losses = [], []
solved = {"gradient": None, "rule": None}

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.set(xlim=(0, STEPS), ylim=(0, 1.2), xlabel="step", ylabel="mean cross-entropy")
(gradient_line,) = ax.plot([], [], label="gradient descent")
(rule_line,) = ax.plot([], [], "--", label="perceptron rule")
ax.legend()
handle = IPython.display.display(fig, display_id=True)

for step in range(1, STEPS + 1):
    loss = cross_entropy(gradient_unit)
    gradient_opt.zero_grad()
    loss.backward()
    gradient_opt.step()
    gradient_losses.append(loss.item())

    with tg.no_grad():
        rule_losses.append(cross_entropy(rule_unit).item())
    weight, bias = rule_unit.weight, rule_unit.bias
    step_w, step_b = articles.and_gate_perceptron_rule(
        x, y, weight.numpy().T, bias.numpy().reshape(1, 1)
    )
    weight.grad, bias.grad = tg.tensor(step_w.T), tg.tensor(step_b.reshape(1))
    rule_opt.step()

    for name, unit in (("gradient", gradient_unit), ("rule", rule_unit)):
        if solved[name] is None and all_correct(unit):
            solved[name] = step
    if step % EVERY == 0:
        gradient_line.set_data(range(1, step + 1), gradient_losses)
        rule_line.set_data(range(1, step + 1), rule_losses)
        handle.update(fig)
plt.close(fig)
print(f"all four right after step: gradient descent {solved['gradient']}, rule {solved['rule']}")
print(
    f"loss after {STEPS} steps: gradient descent {gradient_losses[-1]:.4f}, "
    f"rule {rule_losses[-1]:.4f}"
)
print("rule's weights:", rule_unit.weight.numpy().ravel(), "bias:", rule_unit.bias.numpy())

# %%
assert all_correct(gradient_unit) and all_correct(rule_unit)
assert solved["rule"] < solved["gradient"]  # measured 25 and 181
# Once the rule has classified all four, it never moves again: the loss is flat.
assert len(set(rule_losses[solved["rule"] :])) == 1
assert np.all(np.diff(gradient_losses) < 0)  # gradient descent keeps going down
assert gradient_losses[-1] < 0.16  # measured 0.1456
assert rule_losses[-1] > 0.6  # measured 0.6746

# %% [markdown]
# The rule gets all four right sooner (it takes full-size steps while samples
# are wrong) and then freezes, with weights `(0.05, 0.05)` and bias `−0.075`.
# Its line `0.05 a + 0.05 b = 0.075`, that is `a + b = 1.5`, sits in a good
# place, halfway between `(1, 1)` and its neighbours. But the scores are tiny:
# every `s` is within 0.02 of ½, so the cross-entropy stays near
# `log 2 ≈ 0.69`. Gradient descent crosses the line later, and then keeps
# lowering the loss by growing the weights, which moves every `s` away from ½.
#
# ## The decision boundaries
#
# The input plane with the predicted probability `s` as colour and the line
# `s = ½` in black, for the unit after each kind of training. The two lines
# nearly coincide; the colours show the difference in confidence.

# %%
grid_a, grid_b = np.meshgrid(np.linspace(-0.5, 1.5, 161), np.linspace(-0.5, 1.5, 161))
grid = tg.tensor(np.column_stack([grid_a.ravel(), grid_b.ravel()]))
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for axis, unit, title in zip(
    axes, (gradient_unit, rule_unit), ("gradient descent", "perceptron rule")
):
    with tg.no_grad():
        probability = unit(grid).sigmoid().numpy().reshape(grid_a.shape)
    filled = axis.contourf(
        grid_a, grid_b, probability, levels=np.linspace(0, 1, 11), cmap="coolwarm"
    )
    axis.contour(grid_a, grid_b, probability, levels=[0.5], colors="black")
    axis.scatter(
        inputs[:, 0],
        inputs[:, 1],
        c=labels,
        cmap="coolwarm",
        vmin=0,
        vmax=1,
        edgecolors="black",
        s=120,
    )
    axis.set(title=title, xlabel="first input", aspect="equal")
axes[0].set_ylabel("second input")
fig.colorbar(filled, ax=axes, label="s = P(output 1)")
plt.show()

# %%
with tg.no_grad():
    gradient_s = gradient_unit(features).sigmoid().numpy().ravel()
    rule_s = rule_unit(features).sigmoid().numpy().ravel()
print("s after gradient descent:", gradient_s)
print("s after the rule:        ", rule_s)
assert np.all(np.abs(gradient_s - labels) < 0.3) and np.all(np.abs(rule_s - labels) > 0.45)

# %%
print(
    f"Final numbers: loss {gradient_losses[-1]:.4f} after {STEPS} steps "
    f"(perceptron rule: {rule_losses[-1]:.4f}, frozen since step {solved['rule']}), "
    f"accuracy 4/4 both, the closed-form gradient matches autograd (largest gap {largest:.1e})"
)
