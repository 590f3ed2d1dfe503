"""tinygrad_ann against hand-written NumPy on four workloads, and a CNN epoch: medians and ratios.

Every (system, workload) run happens in a fresh Python process, the systems
interleaved round by round (which one goes first rotates) so drifts in machine
load hit all alike; the table reports medians, as ratios to NumPy. Every
system's final loss must agree with NumPy's (1e-8 relative in float64, 1e-4 for
W3 in float32), which proves they computed the same thing; a ratio whose loss
disagrees is not reported.

W1c..W4c are W1..W4 with tinygrad_ann's step compiled (``tg.compile``), the
first call (recording and planning) inside the timed loop. Their reference is
the eager workload's NumPy run (the same function: it runs once for both) and
their loss must agree with it as W1..W4's does. After the table come
tinygrad's time on each compiled workload over its time on the eager one, and
the first call of a freshly compiled step in eager training steps, measured
in the compiled workload's process, and every compiled system's time at the
speed of its steps after the first (``steady_ratios``: the first step records or
compiles, and has its own target). The targets of W1c..W4c and W7c bound that
speed: a compiled step is made to be called many times.

W7, one epoch of ``examples/digits_cnn.py``'s CNN, has no hand-written NumPy
version: there every peer's time is divided by tinygrad_ann's, and its final
loss must agree with tinygrad_ann's. Its targets are against two peers:
tinygrad_ann ahead of MyGrad, and within 3x of PyTorch eager on 2 threads.
W7c is W7 with its step compiled; its reference is tinygrad_ann's W7 run (the
same run as W7's, when both are measured), whose loss it must agree with, and
its target is compiled / eager <= 0.8. W7 and W7c read scikit-learn's digits;
without scikit-learn they are left out of the default run.

With ``--peers``, PyTorch eager (1 and 2 threads), MyGrad and HIPS autograd run
the same workloads (``peers.py``) when they are importable, and so do two
compiled peers: ``torch-compile``, PyTorch's code on 2 threads with the step's
forward and loss compiled by ``torch.compile`` (Inductor, default mode; W1..W4
and W7), and ``jax``, the whole training step (loss, ``jax.value_and_grad``, SGD
update) under ``jax.jit``, float64 but W3 (W1..W4). Both compile inside the timed
run, as W1c..W4c record there, and their ratios are in the same table, against
NumPy's eager W1..W4; after the table comes their first step (the compiling one)
in seconds. The peers that are not importable are listed as not installed. The
targets are tinygrad_ann's; W4's time per op is printed for information, for
every system. ``pip install -e ".[bench]"`` brings MyGrad and autograd; PyTorch
and JAX are installed on their own.

    python benchmarks/bench.py [--repeats 5] [--only W1,W1c,W7,W7c] [--quick] [--peers]
                               [--steady-malloc] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import peers
import workloads as workload_module
from peers import SYSTEMS as PEERS  # imports none of the peers' libraries

HERE = Path(__file__).resolve().parent
SYSTEMS = ("numpy", "tinygrad")
TARGETS = {  # tinygrad's time / NumPy's; WNc is WN with its step compiled (tg.compile)
    "W1": 2.5,
    "W1c": 1.5,
    "W2": 1.3,
    "W2c": 1.1,
    "W3": 1.1,
    "W3c": 1.02,
    "W4": 2.5,
    "W4c": 1.5,
}
# tinygrad's time on a compiled workload / its time on the eager twin, both in the same run.
OVER_EAGER_TARGETS = {"W7c": 0.8}
WORKLOADS = (*TARGETS, "W7", "W7c", "W8")
DESCRIPTIONS = {
    "W1": "sigmoid unit, diabetes table, 20,000 epochs",
    "W1c": "W1 with its loss compiled (tg.compile)",
    "W2": "2-50-2 tanh net, two moons, 2,000 passes",
    "W2c": "W2 with its loss compiled (tg.compile)",
    "W3": "784-256-10 ReLU MLP, float32, 200 SGD steps",
    "W3c": "W3 with its loss compiled (tg.compile)",
    "W4": "1,000-op elementwise chain x 20, fwd+bwd",
    "W4c": "W4 with the chain compiled (tg.compile)",
    "W7": "digits CNN, float64, Adam, batch size 32",
    "W7c": "W7 with its loss compiled (tg.compile)",
    "W8": "char transformer, float32, AdamW, batch size 32",
}
# The system every other one is divided by: W7 and W8 have no hand-written NumPy version.
# A compiled workload has its eager twin's reference.
REFERENCES = {"W7": "tinygrad", "W8": "tinygrad"}
# W7's targets against peers: (peer, the target, the quantity it bounds as a function of the
# peer's time / tinygrad's, and whether a value of that quantity meets it).
PEER_TARGETS: dict[str, tuple[tuple[str, str, Callable, Callable], ...]] = {
    "W7": (
        ("mygrad", "ahead of MyGrad (MyGrad's time / ours > 1)", lambda r: r, lambda v: v > 1),
        (
            "torch-2t",
            "within 3x of PyTorch eager on 2 threads (our time / torch-2t's <= 3)",
            lambda r: 1 / r,
            lambda v: v <= 3,
        ),
    ),
    "W8": (
        (
            "torch-2t",
            "within 3x of PyTorch eager on 2 threads (our time / torch-2t's <= 3)",
            lambda r: 1 / r,
            lambda v: v <= 3,
        ),
    ),
}
OPS_PER_W4_RUN = 1_000
# glibc's malloc serves a large array (128 KiB and up, by default) either from
# its heap or from fresh pages of the system, and switches between the two as a
# program frees memory: the same NumPy step can take 1.7x longer in one program
# than in another doing the same math in a different order. With --steady-malloc
# every worker runs with both thresholds fixed high, so large arrays always come
# from a heap that is kept; that compares the computations rather than the luck
# of the allocator.
STEADY_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(64 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
}


def run_worker(
    system: str, workload: str, quick: bool, memory: bool = False, width: int = 0
) -> dict:
    """Run one workload on one system in a fresh process; its result as a dict."""
    command = [sys.executable, str(HERE / "workloads.py"), system, workload]
    command += ["--quick"] * quick + ["--memory"] * memory
    command += ["--width", str(width)] * (width > 0)
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(
            f"{system} {workload} failed (exit {finished.returncode}):\n{finished.stderr.strip()}"
        )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def find_peers(names: Sequence[str] = tuple(PEERS)) -> tuple[list[str], list[str], dict]:
    """Which peer systems can run here: (present, not installed, library versions).

    The libraries are imported in a separate process, never in this one.
    """
    probe = [sys.executable, str(HERE / "peers.py")]
    versions = json.loads(subprocess.run(probe, capture_output=True, text=True).stdout)
    present = [name for name in names if versions.get(PEERS[name].library)]
    missing = [name for name in names if name not in present]
    return present, missing, {library: v for library, v in versions.items() if v}


def use_steady_malloc() -> str:
    """Make the workers started from now on keep glibc's heap (see ``STEADY_MALLOC``)."""
    os.environ.update(STEADY_MALLOC)
    return "workers run with " + " ".join(f"{k}={v}" for k, v in STEADY_MALLOC.items())


def tolerance(workload: str) -> float:
    """How closely a system's final loss must match the reference's (relative).

    In float64 the systems' results differ only by rounding, in the order of
    their sums (W7: PyTorch's and MyGrad's own convolutions against an im2col
    product); after W7's 43 Adam steps that moves the final loss by about
    1e-15 relative. 1e-8 leaves room for such differences to grow in longer
    runs, and still catches any difference in the math: Adam's epsilon at 1e-9
    instead of 1e-8 moves W7's final loss by 3e-5. W3 (and W3c) and W8 run in float32.
    """
    return 1e-4 if workload_module.eager_twin(workload) in ("W3", "W8") else 1e-8


def reference(workload: str) -> str:
    """The system whose time and final loss the others are compared with."""
    return REFERENCES.get(workload_module.eager_twin(workload), "numpy")


def reference_run(workload: str) -> tuple[str, str]:
    """The (system, workload) run whose time and final loss ``workload``'s are compared with.

    It is the eager twin's: NumPy's W1 for W1c (the same function as W1c's NumPy
    version), tinygrad_ann's W7 for W7c.
    """
    twin = workload_module.eager_twin(workload)
    return reference(twin), twin


def has_workload(system: str, workload: str) -> bool:
    """Whether ``system`` has a version of ``workload`` (numpy has none of W7, autograd neither;
    the peers none of the compiled W1c..W4c: torch-compile and jax compile W1..W4 themselves)."""
    if system in PEERS:
        return peers.has_workload(system, workload)
    return system in workload_module.WORKLOADS[workload]


def timed_as(system: str, workload: str) -> str:
    """The workload whose runs time ``system`` on ``workload``.

    NumPy's version of a compiled workload is its eager twin's function, so the
    two share one set of runs (and one median) instead of timing it twice.
    """
    twin = workload_module.eager_twin(workload)
    versions = workload_module.WORKLOADS
    if twin != workload and versions[workload].get(system) is versions[twin].get(system):
        return twin
    return workload


def peer_targets(workload: str, result: dict) -> list[tuple[str, str, float | None, bool | None]]:
    """(peer, target, the quantity it bounds, met) for each of ``workload``'s peer targets.

    The quantity and the verdict are None when the peer did not run or its loss differs.
    """
    rows = []
    for peer, target, quantity, meets in PEER_TARGETS.get(workload, ()):
        ratio = result["ratios"].get(peer)
        value = None if ratio is None else float(quantity(ratio))
        rows.append((peer, target, value, None if value is None else bool(meets(value))))
    return rows


def rotated(systems: list[str], round_number: int) -> list[str]:
    """``systems`` with a different one first each round, so none always runs first."""
    shift = round_number % len(systems)
    return systems[shift:] + systems[:shift]


def measure(
    workloads: list[str], repeats: int, quick: bool, systems: Sequence[str] = SYSTEMS
) -> dict:
    runners = {w: [s for s in systems if has_workload(s, w)] for w in workloads}
    planned = {w: [(s, timed_as(s, w)) for s in runners[w]] for w in workloads}
    for workload, runs in planned.items():
        if reference_run(workload) not in runs:  # W7c: tinygrad's eager W7
            runs.append(reference_run(workload))
    times: dict[tuple[str, str], list[float]] = {}
    recordings: dict[str, list[float]] = {}
    # The compiled systems' (tinygrad on W1c..W7c, torch-compile, jax): their first step,
    # which records or compiles, and the mean of the steps after it.
    first_steps: dict[tuple[str, str], list[float]] = {}
    steady_steps: dict[tuple[str, str], list[float]] = {}
    losses: dict[tuple[str, str], float] = {}
    iterations: dict[str, int] = {}
    for round_number in range(repeats):
        for workload in workloads:
            for run in rotated(planned[workload], round_number):
                if len(times.get(run, ())) > round_number:
                    continue  # already run this round for the eager twin
                result = run_worker(*run, quick)
                times.setdefault(run, []).append(result["seconds"])
                losses[run] = result["loss"]
                iterations[workload] = result["iterations"]
                if "recording_steps" in result:
                    recordings.setdefault(workload, []).append(result["recording_steps"])
                if result.get("first_step_seconds") is not None:
                    first_steps.setdefault(run, []).append(result["first_step_seconds"])
                    steady_steps.setdefault(run, []).append(result["steady_step_seconds"])
    results = {}
    for workload in workloads:
        names, base, base_run = runners[workload], reference(workload), reference_run(workload)
        runs = {s: (s, timed_as(s, workload)) for s in names}
        medians = {s: statistics.median(times[runs[s]]) for s in names}
        base_seconds, base_loss = statistics.median(times[base_run]), losses[base_run]
        results[workload] = {
            "reference": base,
            "iterations": iterations[workload],
            "median_seconds": medians,
            "ratios": {},
            "losses": {s: losses[runs[s]] for s in names},
            "disagreeing": [],
            "runs": repeats,
        }
        if base_run not in runs.values():  # W7c: its own system's run on the eager twin
            results[workload]["reference_run"] = {
                "workload": base_run[1],
                "seconds": base_seconds,
                "loss": base_loss,
            }
        if workload in recordings:
            results[workload]["recording_steps"] = statistics.median(recordings[workload])
        compiling = {s: first_steps[runs[s]] for s in names if runs[s] in first_steps}
        if compiling:
            results[workload]["first_step_seconds"] = {
                s: statistics.median(seconds) for s, seconds in compiling.items()
            }
            # The whole run at the speed of the steps after the first, over the reference's.
            results[workload]["steady_ratios"] = {
                s: statistics.median(steady_steps[runs[s]]) * iterations[workload] / base_seconds
                for s in compiling
                if np.isclose(losses[runs[s]], base_loss, rtol=tolerance(workload), atol=0)
            }
        for system in names:
            if runs[system] == base_run:
                continue
            loss = losses[runs[system]]
            if np.isclose(loss, base_loss, rtol=tolerance(workload), atol=0):
                results[workload]["ratios"][system] = medians[system] / base_seconds
            else:
                results[workload]["disagreeing"].append(system)
        if workload in PEER_TARGETS:
            results[workload]["targets"] = {
                peer: {"target": target, "value": value, "met": met}
                for peer, target, value, met in peer_targets(workload, results[workload])
            }
        if workload_module.eager_twin(workload) == "W4":
            passes = iterations[workload]
            results[workload]["us_per_op"] = {
                s: medians[s] / (OPS_PER_W4_RUN * passes) * 1e6 for s in names
            }
    if "W3" in workloads:
        for system in SYSTEMS:  # tracemalloc sees NumPy's allocations, not PyTorch's
            peak = run_worker(system, "W3", quick, memory=True)["peak_bytes"]
            results["W3"].setdefault("peak_mib", {})[system] = peak / 2**20
    return results


def report(
    results: dict,
    systems: Sequence[str] = SYSTEMS,
    missing: Sequence[str] = (),
    versions: dict[str, str] | None = None,
) -> str:
    """The table: NumPy's median time, every other system's ratio to it, tinygrad's target.

    Workloads without a NumPy version (W7, W7c) follow, each as one row of times
    over tinygrad's (W7c's: over tinygrad's on W7), with its targets against peers.
    """
    header = f"Python {platform.python_version()}, NumPy {np.__version__}, {platform.machine()}"
    header += "".join(f", {library} {version}" for library, version in (versions or {}).items())
    lines = [header]
    numpy_rows = {w: r for w, r in results.items() if r.get("reference", "numpy") == "numpy"}
    if numpy_rows:
        lines += [
            "time / NumPy's time, medians of the runs; each run a fresh process",
            f"{'workload':<48} {'numpy':>9}"
            + "".join(f" {s:>{column_width(s)}}" for s in systems[1:])
            + f" {'target':>7}",
        ]
    disagreements = []
    for workload, result in results.items():
        base = result.get("reference", "numpy")
        base_name, base_loss = "NumPy" if base == "numpy" else base, result["losses"].get(base)
        on_twin = ""
        if "reference_run" in result:
            base_loss = result["reference_run"]["loss"]
            on_twin = f" on {result['reference_run']['workload']}"
        for system in result["disagreeing"]:
            disagreements.append(
                f"{workload} {system}: final loss {result['losses'][system]!r} differs from "
                f"{base_name}'s {base_loss!r}{on_twin} by more than {tolerance(workload):g} "
                "(relative)"
            )
    for workload, result in numpy_rows.items():
        ratios = result["ratios"]
        cells = [
            f"{ratios[s]:>{column_width(s) - 1}.2f}x"
            if s in ratios
            else f"{'differs' if s in result['disagreeing'] else '-':>{column_width(s)}}"
            for s in systems[1:]
        ]
        if "tinygrad" not in ratios:
            verdict = "no ratio: loss differs"
        else:
            verdict = "ok" if ratios["tinygrad"] <= TARGETS[workload] else "MISSED"
        lines.append(
            f"{workload + ' ' + DESCRIPTIONS[workload]:<48} "
            + f"{result['median_seconds']['numpy']:>8.3f}s "
            + " ".join(cells)
            + f" {TARGETS[workload]:>6g}x {verdict}"
        )
    for workload, result in results.items():
        if workload not in numpy_rows:
            lines += peer_rows(workload, result, systems)
    if "W4" in results:
        per_op = results["W4"]["us_per_op"]
        lines.append("W4 us per op: " + ", ".join(f"{s} {per_op[s]:.2f}" for s in systems))
    if "W4c" in results:
        lines.append(f"W4c us per op: tinygrad {results['W4c']['us_per_op']['tinygrad']:.2f}")
    lines += compiled_lines(results)
    lines += first_step_lines(results, systems)
    lines += steady_lines(results)
    if "W3" in results and "peak_mib" in results["W3"]:
        peak = results["W3"]["peak_mib"]
        lines.append(
            f"W3 peak traced memory: numpy {peak['numpy']:.1f} MiB, "
            f"tinygrad {peak['tinygrad']:.1f} MiB"
        )
    for system in missing:
        lines.append(f"{system}: not installed ({PEERS[system].library} does not import)")
    shown = [*systems, *missing]
    if any(s in PEERS and PEERS[s].code == "torch" for s in shown):
        lines.append("torch-1t/-2t: PyTorch with 1 / 2 threads; NumPy uses its default threads")
    if "torch-compile" in shown:
        lines.append(
            "torch-compile: the step's forward and loss torch.compile'd (Inductor), 2 threads; "
            "the first step compiles inside the timed run"
        )
    if "jax" in shown:
        lines.append(
            "jax: the whole step (loss, gradient, SGD update) jax.jit'ed; "
            "the first step compiles inside the timed run"
        )
    lines += disagreements
    return "\n".join(lines)


def column_width(system: str) -> int:
    """The width of a system's column in the NumPy table: 9, or its name's length."""
    return max(9, len(system))


def first_step_lines(results: dict, systems: Sequence[str]) -> list[str]:
    """The first training step of each compiled system (tinygrad on W1c..W7c, torch-compile,
    jax): the call that records or compiles, inside the timed run; medians, in seconds."""
    lines = []
    for system in systems:
        cells = [
            f"{workload} {result['first_step_seconds'][system]:.2f}s"
            for workload, result in results.items()
            if system in result.get("first_step_seconds", {})
        ]
        if cells:
            title = f"{system} first step (recording or compiling, median of the runs): "
            lines.append(title + ", ".join(cells))
    return lines


def steady_lines(results: dict) -> list[str]:
    """Each compiled system's time at the speed of its steps after the first (which records
    or compiles) over the reference's, with the compiled workloads' verdicts: the targets
    of W1c..W4c and W7c bound replays, as the first call has its own target."""
    cells = []
    for workload, result in results.items():
        for system, ratio in result.get("steady_ratios", {}).items():
            cell = f"{workload} {system} {ratio:.2f}x"
            target = TARGETS.get(workload, OVER_EAGER_TARGETS.get(workload))
            if system == "tinygrad" and target is not None:
                cell += f" (target <= {target:g}: {'met' if ratio <= target else 'MISSED'})"
            cells.append(cell)
    if not cells:
        return []
    title = "after the first step (time / reference's, at the later steps' speed): "
    return [title + ", ".join(cells)]


def over_eager_cell(workload: str, results: dict) -> str:
    """tinygrad's time on a compiled workload over its time on the eager twin ("W1 0.70"),
    with the verdict where that ratio has a target; "W1 loss differs" when a loss differs
    from its reference's. W7c carries its own eager run; the others need the twin's."""
    result, twin = results[workload], workload_module.eager_twin(workload)
    if "reference_run" in result:
        ratio = result["ratios"].get("tinygrad")
    else:
        eager = results[twin]
        agree = "tinygrad" in result["ratios"] and "tinygrad" in eager["ratios"]
        seconds = result["median_seconds"], eager["median_seconds"]
        ratio = seconds[0]["tinygrad"] / seconds[1]["tinygrad"] if agree else None
    if ratio is None:
        return f"{twin} loss differs"
    if workload not in OVER_EAGER_TARGETS:
        return f"{twin} {ratio:.2f}"
    target = OVER_EAGER_TARGETS[workload]
    return f"{twin} {ratio:.2f} (target <= {target:g}: {'met' if ratio <= target else 'MISSED'})"


def compiled_lines(results: dict) -> list[str]:
    """tinygrad's time on each compiled workload over its time on the eager twin (when both
    ran), with the verdict where that ratio has a target, and each compiled step's first
    call in eager steps."""
    over_eager, recording = [], []
    for workload, result in results.items():
        twin = workload_module.eager_twin(workload)
        if twin == workload:
            continue
        if "reference_run" in result or twin in results:
            over_eager.append(over_eager_cell(workload, results))
        if "recording_steps" in result:
            recording.append(f"{twin} {result['recording_steps']:.1f} eager steps")
    lines = []
    if over_eager:
        lines.append("compiled / eager (tinygrad's time): " + ", ".join(over_eager))
    if recording:
        lines.append(
            "recording (first call of a compiled step, median of the runs): " + ", ".join(recording)
        )
    return lines


def peer_rows(workload: str, result: dict, systems: Sequence[str]) -> list[str]:
    """A workload timed against tinygrad_ann: its row of ratios, then its targets' verdicts."""
    base = result["reference"]
    on_twin, base_seconds = "", result["median_seconds"][base]
    if "reference_run" in result:  # W7c: tinygrad's eager W7
        on_twin = f" on {result['reference_run']['workload']}"
        base_seconds = result["reference_run"]["seconds"]
    cells = [f"{base}{on_twin} {base_seconds:.3f}s"]
    for system in systems:
        if system in result["ratios"]:
            cells.append(f"{system} {result['ratios'][system]:.2f}x")
        elif system in result["disagreeing"]:
            cells.append(f"{system} differs")
    absent = [s for s in systems if s in PEERS and not has_workload(s, workload)]
    if absent:
        cells.append(f"(no {workload} version: {', '.join(absent)})")
    title = f"{DESCRIPTIONS[workload]}; {result['iterations']} batches"
    lines = [
        f"{workload}: time / {base}'s time{on_twin}, medians of the runs; each run a fresh process",
        f"{workload} {title}: " + "  ".join(cells),
    ]
    for peer, target, value, met in peer_targets(workload, result):
        if value is None:
            why = "loss differs" if peer in result["disagreeing"] else "did not run"
            lines.append(f"{workload} target, {target}: not measured ({peer} {why})")
        else:
            lines.append(f"{workload} target, {target}: {value:.2f}x, {'met' if met else 'MISSED'}")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", help="comma-separated workloads (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="1/100 of the iterations (W7: 3 batches)"
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also PyTorch (eager and torch.compile), MyGrad, HIPS autograd and JAX",
    )
    parser.add_argument(
        "--steady-malloc", action="store_true", help="fix glibc's mmap and trim thresholds"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    arguments = parser.parse_args(argv)
    chosen = arguments.only or ",".join(WORKLOADS)
    spelled = {name.upper(): name for name in WORKLOADS}
    workloads = [spelled.get(w.strip().upper(), w.strip()) for w in chosen.split(",") if w.strip()]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)}; choose from {list(WORKLOADS)}")
    skipped_note = ""
    digits = [w for w in workloads if workload_module.eager_twin(w) == "W7"]
    if digits and importlib.util.find_spec("sklearn") is None:
        needed = f"scikit-learn's digits are needed for {', '.join(digits)}"
        if arguments.only:
            parser.error(f"{needed}: pip install scikit-learn")
        workloads = [w for w in workloads if w not in digits]
        skipped_note = f"left out: {needed} (pip install scikit-learn)"
    systems, missing, versions = list(SYSTEMS), [], {}
    if arguments.peers:
        present, missing, versions = find_peers()
        systems += present
    malloc_note = use_steady_malloc() if arguments.steady_malloc else ""
    results = measure(workloads, arguments.repeats, arguments.quick, systems)
    table = report(results, systems, missing, versions)
    print("\n".join(filter(None, [table, malloc_note, skipped_note])))
    summary = {
        "systems": systems,
        "not_installed": missing,
        "versions": versions,
        "steady_malloc": arguments.steady_malloc,
        "workloads": results,
    }
    if arguments.json:
        arguments.json.write_text(json.dumps(summary, indent=2))
    if any(result["disagreeing"] for result in results.values()):
        raise SystemExit("final losses disagree: see above")
    return summary


if __name__ == "__main__":
    main()
