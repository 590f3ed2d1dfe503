"""``python -m tinygrad_ann demo``: the articles' derivations checked, their networks trained.

1. Every hand-derived gradient of the articles (see ``docs/articles.md``) is
   compared with autograd; a table shows the largest difference and a verdict.
2. Each article's network is trained with tinygrad_ann, showing the loss as it
   falls, and its final accuracy is printed.
3. Into the output folder go the two-moons decision boundaries (one per hidden
   size), the loss curve (PNG, with matplotlib) and the computation graph of
   the two-moons loss (SVG with Graphviz's ``dot``, else its DOT source).
4. Backpropagation step by step: ``backprop_two_layer.html`` walks through
   every op the engine differentiates for article 003's two-layer net on one
   XOR example (see ``tg.viz.explain``); the first steps are printed as text.
5. Beyond the MLP: a small CNN (convolution, batch norm, pooling, dropout) on
   scikit-learn's 8x8 digits, its learned first-layer filters (PNG) and its
   graph with one cluster per module (SVG). ``examples/digits_cnn.py`` is the
   full-size version.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from .. import data, nn, optim, viz
from .. import functional as F
from ..compile import compile
from ..factories import manual_seed
from ..tensor import Tensor
from ..viz import explainer
from . import articles

Echo = Callable[[str], None]

#: The hidden-layer sizes the two-moons article compares.
HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)

# Covariant, so that runs of two-moons nets can join a list of runs of any Module.
_Model = TypeVar("_Model", bound=nn.Module, covariant=True)


@dataclass
class TrainingRun(Generic[_Model]):
    """What one network's training produced."""

    name: str
    losses: list[float]
    accuracy: float
    model: _Model
    seconds: float


@dataclass
class DemoResult:
    derivations: list[articles.DerivationResult]
    runs: list[TrainingRun[nn.Module]]
    files: dict[str, Path] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    #: The perceptron trained again with its loss compiled (``tg.compile``).
    compiled: TrainingRun[nn.Module] | None = None
    #: Final validation bits per character of each character model that ran, by example.
    character_models: dict[str, float] = field(default_factory=dict)


def _progress(epochs: int, description: str, echo: Echo) -> Iterator[int]:
    """Epoch numbers 1..epochs, with a tqdm bar on a terminal, else a few printed lines."""
    if sys.stderr.isatty():
        try:
            from tqdm import trange
        except ImportError:
            pass
        else:
            yield from trange(1, epochs + 1, desc=f"  {description}", leave=False, unit="epoch")
            return
    yield from range(1, epochs + 1)


def _fit(
    name: str,
    model: nn.Module,
    loss_fn: Callable[[], Tensor],
    optimizer: optim.Optimizer,
    epochs: int,
    echo: Echo,
    reports: int = 4,
    compiled: bool = False,
) -> list[float]:
    """Full-batch training: ``epochs`` steps of ``loss_fn`` -> backward -> step; with
    ``compiled``, ``loss_fn`` recorded once and replayed (``tg.compile``)."""
    if compiled:
        loss_fn = compile(loss_fn)
    losses = []
    report_every = max(1, epochs // reports)
    for epoch in _progress(epochs, name, echo):
        loss = loss_fn()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if epoch == 1 or epoch % report_every == 0:
            echo(f"    epoch {epoch:6d}   loss {losses[-1]:.6f}")
    return losses


def _accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted.reshape(-1) == labels.reshape(-1)))


# ---------------------------------------------------------------- the networks
def train_perceptron(epochs: int, echo: Echo, compiled: bool = False) -> TrainingRun[nn.Module]:
    """Articles 000/002: one sigmoid unit on the diabetes table, squared error, lr 0.05;
    with ``compiled``, its loss recorded once and replayed (``tg.compile``)."""
    features, labels = data.diabetes_table()
    model = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
    inputs, targets = Tensor(features), labels.reshape(-1, 1)

    def loss() -> Tensor:
        return 0.5 * F.mse_loss(model(inputs), targets, reduction="sum")

    start = time.perf_counter()
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    losses = _fit("perceptron", model, loss, optimizer, epochs, echo, compiled=compiled)
    predicted = model(inputs).numpy() > 0.5
    return TrainingRun(
        "perceptron, diabetes table (000, 002)",
        losses,
        _accuracy(predicted, labels == 1),
        model,
        time.perf_counter() - start,
    )


def train_and_gate(epochs: int, echo: Echo, compiled: bool = False) -> TrainingRun[nn.Module]:
    """Article 001: one sigmoid unit from W = (0.4, 0.2), b = 1, mean cross-entropy, lr 0.1."""
    inputs, labels = data.and_gate()
    model = nn.Linear(2, 1)
    model.weight.data[...] = [[0.4, 0.2]]
    assert model.bias is not None  # Linear makes a bias unless told not to
    model.bias.data[...] = 1.0
    x, targets = Tensor(inputs), labels.reshape(-1, 1)

    def loss() -> Tensor:
        return F.binary_cross_entropy_with_logits(model(x), targets)

    start = time.perf_counter()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    losses = _fit("AND gate", model, loss, optimizer, epochs, echo, compiled=compiled)
    predicted = model(x).numpy() > 0.0
    return TrainingRun(
        "AND gate (001)",
        losses,
        _accuracy(predicted, labels == 1),
        model,
        time.perf_counter() - start,
    )


def train_two_layer(epochs: int, echo: Echo, compiled: bool = False) -> TrainingRun[nn.Module]:
    """Article 003, part 1: 3-4-1 sigmoid net, no biases, sum of squares, weights from U(0, 1)."""
    inputs, labels = data.xor_bias_column()
    model = nn.Sequential(
        nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1, bias=False), nn.Sigmoid()
    )
    for parameter in model.parameters():
        nn.init.uniform_(parameter, 0.0, 1.0)
    x, targets = Tensor(inputs), labels.reshape(-1, 1)

    def loss() -> Tensor:
        return F.mse_loss(model(x), targets, reduction="sum")

    start = time.perf_counter()
    # Adding the article's "d_weights" is gradient descent with a step of 1.
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    losses = _fit("two-layer", model, loss, optimizer, epochs, echo, compiled=compiled)
    outputs = model(x).numpy().reshape(-1)
    echo(f"    outputs {np.array2string(outputs, precision=3)} (targets {labels.astype(int)})")
    return TrainingRun(
        "two-layer sigmoid net (003)",
        losses,
        _accuracy(outputs > 0.5, labels == 1),
        model,
        time.perf_counter() - start,
    )


def train_l_layer(epochs: int, echo: Echo, compiled: bool = False) -> TrainingRun[nn.Module]:
    """Article 003, part 2: an L-layer sigmoid net with mean cross-entropy, on two moons."""
    points, labels = data.two_moons(300, noise=0.2, seed=1)
    sizes = (2, 16, 8, 1)
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.Sigmoid()]
    model = nn.Sequential(*layers[:-1])  # the last sigmoid is inside the loss
    x, targets = Tensor(points), labels.reshape(-1, 1).astype(np.float64)

    def loss() -> Tensor:
        return F.binary_cross_entropy_with_logits(model(x), targets)

    start = time.perf_counter()
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    losses = _fit(f"L-layer {sizes}", model, loss, optimizer, epochs, echo, compiled=compiled)
    predicted = model(x).numpy() > 0.0
    return TrainingRun(
        f"L-layer sigmoid net {sizes} (003)",
        losses,
        _accuracy(predicted, labels == 1),
        model,
        time.perf_counter() - start,
    )


class TwoMoonsNet(nn.Module):
    """Article 004's network: 2 inputs, a tanh hidden layer, 2 class scores."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, hidden_size)
        self.output = nn.Linear(hidden_size, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.hidden(x).tanh())


def two_moons_loss(model: TwoMoonsNet, x: Tensor, labels: np.ndarray, strength: float) -> Tensor:
    """Summed cross-entropy plus (strength / 2) * (|W1|² + |W2|²), as article 004 defines it."""
    penalty = (model.hidden.weight**2).sum() + (model.output.weight**2).sum()
    return F.cross_entropy(model(x), labels, reduction="sum") + strength / 2 * penalty


def train_two_moons(
    hidden_size: int, epochs: int, echo: Echo, compiled: bool = False
) -> TrainingRun[TwoMoonsNet]:
    """Article 004: full-batch gradient descent, step 0.01, regularisation strength 0.01."""
    points, labels = data.two_moons(300, noise=0.2, seed=0)
    model = TwoMoonsNet(hidden_size)
    x = Tensor(points)
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    losses = _fit(
        f"two moons, {hidden_size} hidden",
        model,
        lambda: two_moons_loss(model, x, labels, 0.01),
        optimizer,
        epochs,
        echo,
        reports=2,
        compiled=compiled,
    )
    predicted = model(x).numpy().argmax(axis=1)
    return TrainingRun(
        f"two moons, {hidden_size:2d} tanh units (004)",
        losses,
        _accuracy(predicted, labels),
        model,
        time.perf_counter() - start,
    )


def two_layer_example(seed: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
    """Article 003's two-layer net on one XOR example: the loss and the weights by name.

    The forward pass is ``articles.two_layer_autograd``'s: ``layer1 = σ(x W1)``,
    ``out = σ(layer1 W2)``, ``L = Σ (y − out)²``, here for the second row of the
    article's data, x = (0, 1, 1) with y = 1. W1 (3×4) and W2 (4×1) are drawn
    from U(0, 1), as the article's ``np.random.random`` does, with ``seed``.
    """
    inputs, labels = data.xor_bias_column()
    rng = np.random.default_rng(seed)
    w1 = Tensor(rng.random((3, 4)), requires_grad=True)
    w2 = Tensor(rng.random((4, 1)), requires_grad=True)
    x, y = inputs[1:2], labels[1:2].reshape(-1, 1)
    out = ((Tensor(x) @ w1).sigmoid() @ w2).sigmoid()
    return F.mse_loss(out, y, reduction="sum"), {"W1": w1, "W2": w2}


def write_backprop_page(
    out_dir: str | Path, echo: Echo = print, first_steps: int = 3
) -> tuple[Path, explainer.BackpropTrace]:
    """Write ``backprop_two_layer.html`` for :func:`two_layer_example` and print its first steps."""
    loss, params = two_layer_example()
    steps = explainer.trace(loss, params)
    path = explainer.write_page(steps, Path(out_dir) / "backprop_two_layer.html")
    for line in steps.text(first=first_steps).splitlines():
        echo(f"  {line}")
    return path, steps


# ---------------------------------------------------------------- the outputs
def _print_derivations(results: Iterable[articles.DerivationResult], echo: Echo) -> None:
    rows = [(r.article, r.formula, f"{r.max_abs_diff:.2e}", r.verdict) for r in results]
    headers = ("article", "formula", "max |diff|", "verdict")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    echo(("  " + line.format(*headers)).rstrip())
    echo("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        echo(("  " + line.format(*row)).rstrip())


def _plot(
    runs: list[TrainingRun[TwoMoonsNet]], out_dir: Path, result: DemoResult, echo: Echo
) -> None:
    try:
        import matplotlib
    except ImportError:
        result.skipped.append("plots (matplotlib is not installed: pip install matplotlib)")
        echo("  plots skipped: matplotlib is not installed (pip install 'tinygrad_ann[examples]')")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, labels = data.two_moons(300, noise=0.2, seed=0)
    grid_x, grid_y = np.meshgrid(np.linspace(-1.7, 2.7, 200), np.linspace(-1.3, 1.8, 200))
    grid = Tensor(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    figure, axes = plt.subplots(2, 4, figsize=(16, 7.5))
    for axis, run in zip(axes.flat, runs):
        predicted = run.model(grid).numpy().argmax(axis=1).reshape(grid_x.shape)
        axis.contourf(
            grid_x, grid_y, predicted, levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=0.3
        )
        axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="coolwarm", s=8)
        axis.set_title(f"{run.model.hidden.out_features} hidden: {run.accuracy:.1%}")
        axis.set_xticks([])
        axis.set_yticks([])
    axes.flat[-1].set_axis_off()
    figure.suptitle("Two moons: decision boundary by hidden-layer size (tanh, softmax)")
    figure.tight_layout()
    boundary = out_dir / "two_moons_decision_boundary.png"
    figure.savefig(boundary, dpi=90)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        axis.plot(run.losses, label=f"{run.model.hidden.out_features} hidden")
    axis.set_xlabel("pass over the data")
    axis.set_ylabel("summed cross-entropy + L2 penalty")
    axis.set_yscale("log")
    axis.legend()
    axis.set_title("Two moons: training loss")
    figure.tight_layout()
    curve = out_dir / "two_moons_loss.png"
    figure.savefig(curve, dpi=90)
    plt.close(figure)
    result.files.update(decision_boundary=boundary, loss_curve=curve)


def _draw_graph(model: TwoMoonsNet, out_dir: Path, result: DemoResult, echo: Echo) -> None:
    points, labels = data.two_moons(300, noise=0.2, seed=0)
    loss = two_moons_loss(model, Tensor(points), labels, 0.01)
    loss.backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", viz.GraphvizMissingWarning)
        path = viz.save(loss, out_dir / "two_moons_graph.svg", params=model, show_grads=True)
    if caught:
        result.skipped.append(f"SVG rendering ({viz.INSTALL_HINT})")
        echo(f"  graph: wrote the DOT source; {viz.INSTALL_HINT}")
    result.files["graph"] = path


def run(out_dir: str | Path = "demo-out", quick: bool = False, echo: Echo = print) -> DemoResult:
    """Run the whole demo, writing pictures into ``out_dir``; ``quick`` trains briefly."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = 0.05 if quick else 1.0

    def epochs(full: int) -> int:
        return max(2, int(full * scale))

    echo("tinygrad_ann demo\n")
    echo("1. The articles' hand-derived gradients, checked against autograd\n")
    derivations = articles.check_derivations()
    _print_derivations(derivations, echo)

    echo("\n2. The articles' networks, trained with tinygrad_ann\n")
    manual_seed(0)
    runs: list[TrainingRun[nn.Module]] = []
    # Epoch counts are the articles' own, except for the L-layer net (trained on two moons here).
    for title, train, full_epochs in (
        ("perceptron on the diabetes table (articles 000, 002)", train_perceptron, 20_000),
        ("AND gate (article 001)", train_and_gate, 1_000),
        ("two-layer sigmoid net on XOR (article 003)", train_two_layer, 1_500),
        ("L-layer sigmoid net on two moons (article 003)", train_l_layer, 2_000),
    ):
        echo(f"  {title}")
        runs.append(train(epochs(full_epochs), echo))
    echo("\n  two moons with a tanh hidden layer (article 004), by hidden-layer size")
    moons: list[TrainingRun[TwoMoonsNet]] = []
    for hidden_size in HIDDEN_SIZES:
        echo(f"   hidden size {hidden_size}")
        manual_seed(hidden_size)
        moons.append(train_two_moons(hidden_size, epochs(5_000), echo))
    runs += moons

    echo("\n  the perceptron again, its loss compiled with tg.compile (docs/compile.md)")
    manual_seed(0)
    compiled_run = train_perceptron(epochs(20_000), echo, compiled=True)
    echo(
        f"    eager {runs[0].seconds:.2f} s, compiled {compiled_run.seconds:.2f} s; "
        f"the same losses, bit for bit: {compiled_run.losses == runs[0].losses}"
    )
    result_compiled = compiled_run

    echo("\n  final training accuracy")
    for training_run in runs:
        echo(
            f"    {training_run.name:<45} {training_run.accuracy:7.1%}   "
            f"({training_run.seconds:.1f} s)"
        )

    result = DemoResult(derivations, runs, compiled=result_compiled)
    echo(f"\n3. Pictures, in {out_dir}/\n")
    _plot(moons, out_dir, result, echo)
    _draw_graph(moons[HIDDEN_SIZES.index(3)].model, out_dir, result, echo)
    for kind, path in result.files.items():
        echo(f"  {kind:<18} {path}")

    echo("\n4. Backpropagation step by step: article 003's two-layer net on one XOR example\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", viz.GraphvizMissingWarning)
        page, _ = write_backprop_page(out_dir, echo)
    result.files["backprop"] = page
    if caught:
        result.skipped.append(f"the graph picture in the backprop page ({viz.INSTALL_HINT})")
        echo(f"  backprop page: no graph picture; {viz.INSTALL_HINT}")
    echo(f"\n  {'backprop':<18} {page}")
    echo("  open it in a browser: ← and → step through the backward pass, #step=N opens step N")

    echo("\n5. Beyond the MLP: a small CNN on the 8x8 digits\n")
    _digits_cnn(epochs(12), out_dir, result, echo)

    echo("\n6. Sequences: character-level models of this project's own docs\n")
    _character_models(quick, result, echo)
    return result


def _character_models(quick: bool, result: DemoResult, echo: Echo) -> None:
    """Run ``examples/char_lstm.py`` and ``char_transformer.py`` (their quick form unless
    ``quick`` is False) from a checkout of the repository; an installed package has no
    examples, and says so."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    if not (examples / "char_lstm.py").is_file():
        result.skipped.append("the character models (examples/ is not in this installation)")
        echo("  skipped: run the demo from a checkout of the repository to train them")
        return
    for name in ("char_lstm", "char_transformer"):
        echo(f"  examples/{name}.py{' --quick' if quick else ''}")
        spec = importlib.util.spec_from_file_location(name, examples / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        printed = io.StringIO()  # the example prints; the demo echoes, indented
        with contextlib.redirect_stdout(printed):
            outcome = module.main(["--quick"] if quick else [])
        for line in printed.getvalue().splitlines():
            echo(f"    {line}")
        result.character_models[name] = outcome["validation_bits_per_char"]


def _digits_cnn(epochs: int, out_dir: Path, result: DemoResult, echo: Echo) -> None:
    """Train a 16-filter CNN briefly; draw its first-layer filters and its graph."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        result.skipped.append("the CNN (scikit-learn is not installed: pip install scikit-learn)")
        echo("  skipped: scikit-learn is not installed (pip install 'tinygrad_ann[examples]')")
        return
    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(
        digits.data / 16, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128, 10),
    )
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    batches = data.DataLoader(
        data.TensorDataset(train_x.reshape(-1, 1, 8, 8), train_y), batch_size=32, shuffle=True
    )
    start = time.perf_counter()
    for _ in _progress(epochs, "digits CNN", echo):
        model.train()
        for images, labels in batches:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    model.eval()
    predicted = model(Tensor(test_x.reshape(-1, 1, 8, 8))).numpy().argmax(axis=1)
    echo(
        f"  test accuracy {_accuracy(predicted, test_y):.1%} on {len(test_y)} held-out images "
        f"after {epochs} epochs ({time.perf_counter() - start:.1f} s)"
    )
    model.train()
    images, labels = next(iter(batches))
    loss = F.cross_entropy(model(images), labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", viz.GraphvizMissingWarning)
        result.files["cnn_graph"] = viz.save(loss, out_dir / "digits_cnn_graph.svg", params=model)
    if caught:
        result.skipped.append(f"the CNN graph's SVG ({viz.INSTALL_HINT})")
    try:
        import matplotlib
    except ImportError:
        result.skipped.append("the CNN filters (matplotlib is not installed)")
    else:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        first = model[0]
        assert isinstance(first, nn.Conv2d)
        filters = first.weight.numpy()[:, 0]
        figure, axes = plt.subplots(2, 8, figsize=(9, 2.6))
        for kernel, axis in zip(filters, axes.flat):
            limit = np.abs(kernel).max()
            axis.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
            axis.set_xticks([])
            axis.set_yticks([])
        figure.suptitle("the CNN's first-layer 3x3 filters (red +, blue -)")
        path = out_dir / "digits_cnn_filters.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        result.files["cnn_filters"] = path
    for kind in ("cnn_filters", "cnn_graph"):
        if kind in result.files:
            echo(f"  {kind:<18} {result.files[kind]}")
