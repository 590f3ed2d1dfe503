"""Forward against reverse mode: the time to build a whole Jacobian, as its shape changes.

f: R^n -> R^m is an MLP, ``f(x) = W2 tanh(W1 x + b1) + b2``, with one hidden layer
of 64 units, float64, its weights and the point x drawn from a generator seeded
by (n, m). Its Jacobian (m x n) is ``W2 diag(1 - h²) W1`` with ``h = tanh(W1 x + b1)``.
``tg.jacobian(f, x, mode=...)`` builds it a row at a time in reverse mode (a
backward pass per output element: m passes) or a column at a time in forward mode
(one recorded backward pass, then a pass back through that recording per input
element: n passes). Two sweeps: (a) m = 64 with n from 1 to 1024, (b) n = 64 with
m from 1 to 1024. Where forward and reverse take equal time is the crossover.

With ``--peers``, when importable (each in its own process): PyTorch's
``torch.func.jacfwd`` and ``jacrev`` (eager, 1 thread) and JAX's ``jax.jacfwd`` and
``jax.jacrev`` under ``jax.jit`` (compiled by an untimed first call; XLA's CPU
threads as it sets them). Both peers vectorise: ``jacrev`` pushes all m one-hot
cotangents through one ``vmap``-ed VJP, ``jacfwd`` all n tangents through one
``vmap``-ed JVP, so each builds the Jacobian in a few batched matrix products
instead of m or n passes. Every system's Jacobian must agree with tinygrad_ann's
reverse-mode one to 1e-10 (largest difference over largest entry); one that
disagrees is not reported, and the run fails.

Each (system, mode, n, m) measurement is a fresh process that times blocks of
calls and keeps the median block; the table shows medians over ``--repeats`` such
processes, the systems interleaved round by round.

    python benchmarks/modes.py [--repeats 3] [--quick] [--peers] [--plot PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from bench import HERE, find_peers, rotated

SIZES = (1, 4, 16, 64, 256, 1024)
QUICK_SIZES = (1, 4, 16)
FIXED = 64  # the other dimension, in each sweep
HIDDEN = 64
TOLERANCE = 1e-10
BLOCKS = 5
BLOCK_SECONDS = 0.1  # calls per block are chosen to fill about this long
QUICK_BLOCKS, QUICK_BLOCK_SECONDS = 2, 0.002
MODES = ("forward", "reverse")
PEER_PROBES = {"torch": "torch-1t", "jax": "jax"}  # peers.py's name of a system using each
COLUMNS = {
    ("tinygrad", "forward"): "tinygrad forward",
    ("tinygrad", "reverse"): "tinygrad reverse",
    ("torch", "forward"): "torch jacfwd",
    ("torch", "reverse"): "torch jacrev",
    ("jax", "forward"): "jax jacfwd",
    ("jax", "reverse"): "jax jacrev",
}
REFERENCE = ("tinygrad", "reverse")
DEFAULT_PLOT = HERE.parent / "docs" / "forward_mode_modes.png"


class Sweep(NamedTuple):
    """One sweep: the dimension that varies ("n" or "m") over ``sizes``, the other at FIXED."""

    name: str
    varies: str
    sizes: tuple[int, ...]

    def shape(self, size: int) -> tuple[int, int]:
        """(n, m) at ``size``."""
        return (size, FIXED) if self.varies == "n" else (FIXED, size)


class Crossover(NamedTuple):
    """Where forward/reverse crosses 1, between two measured sizes of a sweep."""

    below: int
    above: int
    at: float  # the size where the log-log interpolated times are equal
    forward_faster_below: bool


def sweeps(sizes: Sequence[int]) -> tuple[Sweep, Sweep]:
    """(a) m fixed, n over ``sizes``; (b) n fixed, m over ``sizes``."""
    return Sweep("a", "n", tuple(sizes)), Sweep("b", "m", tuple(sizes))


# ------------------------------------------------------------------ the function
def mlp_setup(n: int, m: int) -> tuple[np.ndarray, ...]:
    """(W1, b1, W2, b2, x) for an n-64-m MLP, float64, the same for every system.

    The weights are scaled by 1/sqrt(fan-in) so that the tanh units are neither
    saturated nor linear, whatever n.
    """
    rng = np.random.default_rng([n, m])
    w1 = rng.normal(size=(HIDDEN, n)) / math.sqrt(n)
    b1 = rng.normal(scale=0.5, size=HIDDEN)
    w2 = rng.normal(size=(m, HIDDEN)) / math.sqrt(HIDDEN)
    b2 = rng.normal(size=m)
    x = rng.normal(size=n)
    return w1, b1, w2, b2, x


def closed_form_jacobian(n: int, m: int) -> np.ndarray:
    """``W2 diag(1 - h²) W1`` with ``h = tanh(W1 x + b1)``: the Jacobian every system builds."""
    w1, b1, w2, _, x = mlp_setup(n, m)
    hidden = np.tanh(w1 @ x + b1)
    return w2 @ ((1 - hidden**2)[:, None] * w1)


def relative_error(found: np.ndarray, reference: np.ndarray) -> float:
    """The largest difference over the largest entry of ``reference`` (entries near
    zero would make an element-wise relative error meaningless)."""
    if found.shape != reference.shape:
        return math.inf
    return float(np.max(np.abs(found - reference)) / np.max(np.abs(reference)))


# ------------------------------------------------------------------ each system's Jacobian
class Builder(NamedTuple):
    """``call()`` builds the Jacobian in the system's own type; ``array`` turns it into NumPy."""

    call: Callable[[], Any]
    array: Callable[[Any], np.ndarray]


def tinygrad_builder(mode: str, n: int, m: int) -> Builder:
    import tinygrad_ann as tg
    import tinygrad_ann.functional as F

    w1, b1, w2, b2, x = (tg.tensor(a) for a in mlp_setup(n, m))

    def f(x: Any) -> Any:
        return F.linear(F.tanh(F.linear(x, w1, b1)), w2, b2)

    return Builder(lambda: tg.jacobian(f, x, mode=mode), lambda jacobian: jacobian.data)


def torch_builder(mode: str, n: int, m: int) -> Builder:
    import torch

    torch.set_num_threads(1)
    w1, b1, w2, b2, x = (torch.from_numpy(a) for a in mlp_setup(n, m))

    def f(x: Any) -> Any:
        return w2 @ torch.tanh(w1 @ x + b1) + b2

    jacobian_of = torch.func.jacfwd(f) if mode == "forward" else torch.func.jacrev(f)
    return Builder(lambda: jacobian_of(x), lambda jacobian: jacobian.numpy())


def jax_builder(mode: str, n: int, m: int) -> Builder:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        return w2 @ jnp.tanh(w1 @ x + b1) + b2

    # The weights are arguments, not closed-over constants XLA could fold into the program.
    w1, b1, w2, b2, x = (jnp.asarray(a) for a in mlp_setup(n, m))
    transform = jax.jacfwd if mode == "forward" else jax.jacrev
    jacobian_of = jax.jit(transform(f))
    return Builder(
        lambda: jacobian_of(x, w1, b1, w2, b2).block_until_ready(), lambda j: np.asarray(j)
    )


BUILDERS: dict[str, Callable[[str, int, int], Builder]] = {
    "tinygrad": tinygrad_builder,
    "torch": torch_builder,
    "jax": jax_builder,
}


def jacobian(system: str, mode: str, n: int, m: int) -> np.ndarray:
    """The Jacobian as ``system`` builds it in ``mode``, untimed."""
    builder = BUILDERS[system](mode, n, m)
    return builder.array(builder.call())


def timed(builder: Builder, quick: bool) -> dict[str, float]:
    """Median seconds per call over blocks of calls, after an untimed call (JAX compiles in
    it, the others import lazily); the calls per block fill about ``BLOCK_SECONDS``."""
    blocks, block_seconds = (
        (QUICK_BLOCKS, QUICK_BLOCK_SECONDS) if quick else (BLOCKS, BLOCK_SECONDS)
    )
    builder.call()
    start = time.perf_counter()
    builder.call()
    calls = max(1, round(block_seconds / (time.perf_counter() - start)))
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            builder.call()
        times.append((time.perf_counter() - start) / calls)
    return {"seconds": statistics.median(times), "calls": calls}


def work(system: str, mode: str, n: int, m: int, quick: bool, save: Path) -> dict[str, float]:
    """One measurement (in a worker process): the timing, and the Jacobian saved to ``save``."""
    builder = BUILDERS[system](mode, n, m)
    result = timed(builder, quick)
    np.save(save, builder.array(builder.call()))
    return result


def run_worker(system: str, mode: str, n: int, m: int, quick: bool, save: Path) -> dict:
    """One measurement in a fresh process; its timing as a dict, its Jacobian in ``save``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", system, mode]
    command += [str(n), str(m), "--save", str(save)] + ["--quick"] * quick
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(
            f"{system} {mode} n={n} m={m} failed (exit {finished.returncode}):\n"
            f"{finished.stderr.strip()}"
        )
    return json.loads(finished.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ measuring
def measure(
    systems: Sequence[str], sizes: Sequence[int], repeats: int, quick: bool
) -> dict[str, dict]:
    """Both sweeps: each (system, mode, n, m) timed ``repeats`` times, in fresh processes."""
    runs = [(system, mode) for system in systems for mode in MODES]
    columns = {COLUMNS[run]: run for run in runs}
    shapes = list(dict.fromkeys(s.shape(size) for s in sweeps(sizes) for size in s.sizes))
    times: dict[tuple[str, str, int, int], list[float]] = {}
    errors: dict[tuple[str, str, int, int], float] = {}
    with tempfile.TemporaryDirectory() as folder:
        saved: dict[tuple[str, str, int, int], list[Path]] = {}
        for round_number in range(repeats):
            for n, m in shapes:
                for column in rotated(list(columns), round_number):
                    system, mode = columns[column]
                    key = (system, mode, n, m)
                    path = Path(folder) / f"{system}-{mode}-{n}-{m}-{round_number}.npy"
                    result = run_worker(system, mode, n, m, quick, path)
                    times.setdefault(key, []).append(result["seconds"])
                    saved.setdefault(key, []).append(path)
        for (system, mode, n, m), paths in saved.items():
            reference_key = (*REFERENCE, n, m)
            references = saved[reference_key]
            errors[system, mode, n, m] = max(
                relative_error(np.load(path), np.load(reference))
                for path, reference in zip(paths, references)
            )
    medians = {key: statistics.median(found) for key, found in times.items()}
    return {s.name: summarised(s, runs, medians, errors) for s in sweeps(sizes)}


def summarised(
    sweep: Sweep,
    runs: Sequence[tuple[str, str]],
    medians: dict[tuple[str, str, int, int], float],
    errors: dict[tuple[str, str, int, int], float],
) -> dict[str, Any]:
    """One sweep's table: seconds per column and size (None where the Jacobian disagrees),
    tinygrad's forward/reverse ratio and its crossovers."""
    seconds: dict[str, list[float | None]] = {}
    disagreeing = []
    for system, mode in runs:
        column = COLUMNS[system, mode]
        seconds[column] = []
        for size in sweep.sizes:
            key = (system, mode, *sweep.shape(size))
            if errors[key] <= TOLERANCE:
                seconds[column].append(medians[key])
            else:
                seconds[column].append(None)
                disagreeing.append(
                    f"{column}, {sweep.varies}={size}: its Jacobian differs from tinygrad "
                    f"reverse's by {errors[key]:.1e} (relative); not reported"
                )
    forward, reverse = seconds["tinygrad forward"], seconds["tinygrad reverse"]
    ratios = [f / r if f is not None and r is not None else None for f, r in zip(forward, reverse)]
    found: list[Crossover] = []
    if all(ratio is not None for ratio in ratios):  # no crossover is placed past a gap
        found = crossovers(sweep.sizes, forward, reverse)  # type: ignore[arg-type]
    return {
        "varies": sweep.varies,
        "fixed": FIXED,
        "sizes": list(sweep.sizes),
        "seconds": seconds,
        "ratios": ratios,
        "crossovers": [c._asdict() for c in found],
        "max_errors": {
            COLUMNS[run]: max(errors[(*run, *sweep.shape(size))] for size in sweep.sizes)
            for run in runs
        },
        "disagreeing": disagreeing,
    }


def crossovers(
    sizes: Sequence[int], forward: Sequence[float], reverse: Sequence[float]
) -> list[Crossover]:
    """Every place where forward mode starts or stops being faster than reverse mode.

    Between two neighbouring sizes where ``forward / reverse`` is on either side of 1,
    the crossing is placed where the straight line through the two log ratios (against
    log size) crosses 0: the times are about power laws of the size.
    """
    logs = [math.log(f / r) for f, r in zip(forward, reverse)]
    found = []
    for index in range(len(sizes) - 1):
        low, high = logs[index], logs[index + 1]
        if (low < 0) == (high < 0):
            continue
        fraction = low / (low - high)
        start, end = math.log(sizes[index]), math.log(sizes[index + 1])
        at = math.exp(start + fraction * (end - start))
        found.append(Crossover(sizes[index], sizes[index + 1], at, low < 0))
    return found


# ------------------------------------------------------------------ reporting
def describe(crossover: dict[str, Any], varies: str) -> str:
    faster = "below" if crossover["forward_faster_below"] else "above"
    return (
        f"crossover at {varies} ≈ {crossover['at']:.0f} (between {crossover['below']} and "
        f"{crossover['above']}): forward mode is faster {faster} it"
    )


def sweep_table(sweep: dict[str, Any]) -> str:
    """The sweep's seconds per Jacobian, tinygrad's forward/reverse ratio, its crossovers."""
    varies, columns = sweep["varies"], list(sweep["seconds"])
    other = "m" if varies == "n" else "n"
    lines = [
        f"{other} = {sweep['fixed']}, {varies} varies: seconds per Jacobian (m x n); "
        "fwd/rev is tinygrad's forward time over its reverse time",
        f"{varies:>5} "
        + " ".join(f"{c:>16}" for c in columns[:2])
        + f" {'fwd/rev':>8} "
        + " ".join(f"{c:>13}" for c in columns[2:]),
    ]
    marks = {c["above"]: c for c in sweep["crossovers"]}

    def cell(value: float | None, width: int) -> str:
        return f"{value:>{width}.2e}" if value is not None else f"{'differs':>{width}}"

    for index, size in enumerate(sweep["sizes"]):
        if size in marks:
            lines.append(f"{'':>5} -- {describe(marks[size], varies)}")
        values = [sweep["seconds"][c][index] for c in columns]
        ratio = sweep["ratios"][index]
        ratio_cell = f"{ratio:>7.2f}x" if ratio is not None else f"{'-':>8}"
        lines.append(
            f"{size:>5} "
            + " ".join(cell(v, 16) for v in values[:2])
            + f" {ratio_cell} "
            + " ".join(cell(v, 13) for v in values[2:])
        )
    if not sweep["crossovers"]:
        lines.append(f"{'':>5} -- no crossover: one mode is faster at every {varies}")
    lines.extend(f"  {note}" for note in sweep["disagreeing"])
    return "\n".join(line.rstrip() for line in lines)


def report(results: dict[str, dict], versions: dict[str, str], missing: Sequence[str]) -> str:
    """Both sweeps' tables, then the peers' versions or absence."""
    title = f"Jacobian of an n-{HIDDEN}-m tanh MLP, float64: medians of fresh processes"
    parts = [title]
    for name, sweep in results.items():
        parts.append(f"({name}) " + sweep_table(sweep))
    notes = [f"{library} {version}" for library, version in versions.items()]
    notes += [f"{library}: not installed" for library in missing]
    if notes:
        parts.append("peers: " + ", ".join(notes))
    return "\n\n".join(parts)


def plot(results: dict[str, dict], path: Path) -> None:
    """Seconds per Jacobian against the size that varies, log-log, one panel per sweep:
    tinygrad_ann solid, the peers dashed, the crossovers as labelled vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "tinygrad forward": ("C0", "-", "o"),
        "tinygrad reverse": ("C3", "-", "s"),
        "torch jacfwd": ("C9", "--", "o"),
        "torch jacrev": ("C1", "--", "s"),
        "jax jacfwd": ("C2", "--", "o"),
        "jax jacrev": ("C6", "--", "s"),
    }
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for axes, (name, sweep) in zip(panels, results.items()):
        varies, sizes = sweep["varies"], sweep["sizes"]
        other = "m" if varies == "n" else "n"
        for column, values in sweep["seconds"].items():
            points = [(s, v) for s, v in zip(sizes, values) if v is not None]
            if points:
                colour, line, marker = styles[column]
                axes.plot(*zip(*points), color=colour, linestyle=line, marker=marker, label=column)
        for crossover in sweep["crossovers"]:
            below = crossover["forward_faster_below"]
            axes.axvline(crossover["at"], color="gray", linestyle=":")
            # On reverse mode's side: next to the crossover the top of the panel is empty
            # there, while the legend or the steepest curve fills the other side.
            axes.annotate(
                f"tinygrad crossover {varies} ≈ {crossover['at']:.0f}\nforward faster "
                + ("left" if below else "right"),
                (crossover["at"], 0.97),
                xycoords=("data", "axes fraction"),
                xytext=(4 if below else -4, 0),
                textcoords="offset points",
                ha="left" if below else "right",
                va="top",
                fontsize=8,
                color="dimgray",
            )
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xticks(sizes, [str(s) for s in sizes])
        axes.set_xlabel(
            f"{'inputs' if varies == 'n' else 'outputs'} {varies} ({other} = {sweep['fixed']})"
        )
        axes.set_title(f"({name}) {other} = {sweep['fixed']}, {varies} varies")
        axes.grid(True, which="major", alpha=0.3)
    panels[0].set_ylabel("seconds per Jacobian (m x n)")
    panels[0].legend(fontsize=8)
    figure.suptitle(f"Whole Jacobian of an n-{HIDDEN}-m tanh MLP (float64): forward vs reverse")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="sizes 1, 4, 16, one round")
    parser.add_argument("--peers", action="store_true", help="also torch.func and jax, if present")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--worker", nargs=4, metavar=("SYSTEM", "MODE", "N", "M"), help=argparse.SUPPRESS
    )
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        system, mode, n, m = arguments.worker
        result = work(system, mode, int(n), int(m), arguments.quick, arguments.save)
        print(json.dumps(result))
        return result
    systems, missing, versions = ["tinygrad"], [], {}
    if arguments.peers:
        present, absent, found = find_peers(list(PEER_PROBES.values()))
        systems += [library for library, probe in PEER_PROBES.items() if probe in present]
        missing = [library for library, probe in PEER_PROBES.items() if probe in absent]
        versions = {library: found[library] for library in systems[1:]}
    sizes, repeats = (QUICK_SIZES, 1) if arguments.quick else (SIZES, arguments.repeats)
    started = time.perf_counter()
    results = measure(systems, sizes, repeats, arguments.quick)
    elapsed = time.perf_counter() - started
    print(report(results, versions, missing))
    print(f"measured in {elapsed:.0f} s ({repeats} round(s), a process per measurement)")
    try:
        plot(results, arguments.plot)
        print(f"plot: {arguments.plot}")
    except ImportError:
        print("plot: skipped, matplotlib is not installed (pip install -e '.[examples]')")
    summary = {
        "systems": systems,
        "not_installed": missing,
        "versions": versions,
        "repeats": repeats,
        "seconds_measuring": elapsed,
        "sweeps": results,
    }
    if arguments.json:
        arguments.json.write_text(json.dumps(summary, indent=2))
    if any(sweep["disagreeing"] for sweep in results.values()):
        raise SystemExit("a Jacobian disagrees with tinygrad_ann's reverse-mode one: see above")
    return summary


if __name__ == "__main__":
    main()
