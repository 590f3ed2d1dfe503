"""tinygrad_ann against hand-written NumPy on four workloads: medians and ratios.

Every (system, workload) run happens in a fresh Python process, the systems
interleaved round by round (which one goes first rotates) so drifts in machine
load hit all alike; the table reports medians, as ratios to NumPy. Every
system's final loss must agree with NumPy's (1e-8 relative in float64, 1e-4 for
W3 in float32), which proves they computed the same thing; a ratio whose loss
disagrees is not reported.

With ``--peers``, PyTorch eager (1 and 2 threads), MyGrad and HIPS autograd run
the same workloads (``peers.py``) when they are importable; the ones that are
not are listed as not installed. The targets are tinygrad_ann's; W4's time per
op is printed for information. ``pip install -e ".[bench]"`` brings MyGrad
and autograd; PyTorch is installed on its own.

    python benchmarks/bench.py [--repeats 5] [--only W1,W3] [--quick] [--peers]
                               [--steady-malloc] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from peers import SYSTEMS as PEERS  # imports none of the peers' libraries

HERE = Path(__file__).resolve().parent
SYSTEMS = ("numpy", "tinygrad")
TARGETS = {"W1": 2.5, "W2": 1.3, "W3": 1.1, "W4": 2.5}  # tinygrad's time / NumPy's
DESCRIPTIONS = {
    "W1": "sigmoid unit, diabetes table, 20,000 epochs",
    "W2": "2-50-2 tanh net, two moons, 2,000 passes",
    "W3": "784-256-10 ReLU MLP, float32, 200 SGD steps",
    "W4": "1,000-op elementwise chain x 20, fwd+bwd",
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
    present = [name for name in names if versions.get(PEERS[name][0])]
    missing = [name for name in names if name not in present]
    return present, missing, {library: v for library, v in versions.items() if v}


def use_steady_malloc() -> str:
    """Make the workers started from now on keep glibc's heap (see ``STEADY_MALLOC``)."""
    os.environ.update(STEADY_MALLOC)
    return "workers run with " + " ".join(f"{k}={v}" for k, v in STEADY_MALLOC.items())


def tolerance(workload: str) -> float:
    """How closely a system's final loss must match NumPy's (relative)."""
    return 1e-4 if workload == "W3" else 1e-8  # W3 runs in float32


def rotated(systems: list[str], round_number: int) -> list[str]:
    """``systems`` with a different one first each round, so none always runs first."""
    shift = round_number % len(systems)
    return systems[shift:] + systems[:shift]


def measure(
    workloads: list[str], repeats: int, quick: bool, systems: Sequence[str] = SYSTEMS
) -> dict:
    systems = list(systems)
    times: dict[tuple[str, str], list[float]] = {}
    losses: dict[tuple[str, str], float] = {}
    for round_number in range(repeats):
        for workload in workloads:
            for system in rotated(systems, round_number):
                result = run_worker(system, workload, quick)
                times.setdefault((system, workload), []).append(result["seconds"])
                losses[system, workload] = result["loss"]
    results = {}
    for workload in workloads:
        medians = {s: statistics.median(times[s, workload]) for s in systems}
        numpy_loss = losses["numpy", workload]
        results[workload] = {
            "median_seconds": medians,
            "ratios": {},
            "losses": {s: losses[s, workload] for s in systems},
            "disagreeing": [],
            "runs": repeats,
        }
        for system in systems[1:]:
            loss = losses[system, workload]
            if np.isclose(loss, numpy_loss, rtol=tolerance(workload), atol=0):
                results[workload]["ratios"][system] = medians[system] / medians["numpy"]
            else:
                results[workload]["disagreeing"].append(system)
        if workload == "W4":
            runs = 20 if not quick else 1
            results[workload]["us_per_op"] = {
                s: medians[s] / (OPS_PER_W4_RUN * runs) * 1e6 for s in systems
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
    """The table: NumPy's median time, every other system's ratio to it, tinygrad's target."""
    header = f"Python {platform.python_version()}, NumPy {np.__version__}, {platform.machine()}"
    header += "".join(f", {library} {version}" for library, version in (versions or {}).items())
    lines = [
        header,
        "time / NumPy's time, medians of the runs; each run a fresh process",
        f"{'workload':<48} {'numpy':>9}"
        + "".join(f" {s:>9}" for s in systems[1:])
        + f" {'target':>7}",
    ]
    disagreements = []
    for workload, result in results.items():
        ratios = result["ratios"]
        cells = [f"{ratios[s]:>8.2f}x" if s in ratios else f"{'differs':>9}" for s in systems[1:]]
        if "tinygrad" not in ratios:
            verdict = "no ratio: loss differs"
        else:
            verdict = "ok" if ratios["tinygrad"] <= TARGETS[workload] else "MISSED"
        lines.append(
            f"{workload} {DESCRIPTIONS[workload]:<45} {result['median_seconds']['numpy']:>8.3f}s "
            + " ".join(cells)
            + f" {TARGETS[workload]:>6.1f}x {verdict}"
        )
        numpy_loss = result["losses"]["numpy"]
        for system in result["disagreeing"]:
            disagreements.append(
                f"{workload} {system}: final loss {result['losses'][system]!r} differs from "
                f"NumPy's {numpy_loss!r} by more than {tolerance(workload):g} (relative)"
            )
    if "W4" in results:
        per_op = results["W4"]["us_per_op"]
        lines.append("W4 us per op: " + ", ".join(f"{s} {per_op[s]:.2f}" for s in systems))
    if "W3" in results and "peak_mib" in results["W3"]:
        peak = results["W3"]["peak_mib"]
        lines.append(
            f"W3 peak traced memory: numpy {peak['numpy']:.1f} MiB, "
            f"tinygrad {peak['tinygrad']:.1f} MiB"
        )
    for system in missing:
        lines.append(f"{system}: not installed ({PEERS[system][0]} does not import)")
    if any(s in PEERS and PEERS[s][0] == "torch" for s in [*systems, *missing]):
        lines.append("torch-1t/-2t: PyTorch with 1 / 2 threads; NumPy uses its default threads")
    lines += disagreements
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="W1,W2,W3,W4", help="comma-separated workloads")
    parser.add_argument("--quick", action="store_true", help="1/100 of the iterations")
    parser.add_argument(
        "--peers", action="store_true", help="also PyTorch, MyGrad and HIPS autograd"
    )
    parser.add_argument(
        "--steady-malloc", action="store_true", help="fix glibc's mmap and trim thresholds"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    arguments = parser.parse_args(argv)
    workloads = [w.strip().upper() for w in arguments.only.split(",") if w.strip()]
    unknown = set(workloads) - set(TARGETS)
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)}; choose from {sorted(TARGETS)}")
    systems, missing, versions = list(SYSTEMS), [], {}
    if arguments.peers:
        present, missing, versions = find_peers()
        systems += present
    malloc_note = use_steady_malloc() if arguments.steady_malloc else ""
    results = measure(workloads, arguments.repeats, arguments.quick, systems)
    print("\n".join(filter(None, [report(results, systems, missing, versions), malloc_note])))
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
