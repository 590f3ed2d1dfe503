"""tinygrad_ann against hand-written NumPy on four workloads: medians and ratios.

Every (system, workload) run happens in a fresh Python process, the systems
interleaved round by round so drifts in machine load hit both alike; the
table reports medians. The final losses of the two systems must agree, which
proves they computed the same thing.

    python benchmarks/bench.py [--repeats 5] [--only W1,W3] [--quick] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SYSTEMS = ("numpy", "tinygrad")
TARGETS = {"W1": 2.5, "W2": 1.3, "W3": 1.1, "W4": 3.0}
DESCRIPTIONS = {
    "W1": "sigmoid unit, diabetes table, 20,000 epochs",
    "W2": "2-50-2 tanh net, two moons, 2,000 passes",
    "W3": "784-256-10 ReLU MLP, float32, 200 SGD steps",
    "W4": "1,000-op elementwise chain x 20, fwd+bwd",
}
OPS_PER_W4_RUN = 1_000


def run_worker(system: str, workload: str, quick: bool, memory: bool = False) -> dict:
    command = [sys.executable, str(HERE / "workloads.py"), system, workload]
    command += ["--quick"] * quick + ["--memory"] * memory
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def measure(workloads: list[str], repeats: int, quick: bool) -> dict:
    times: dict[tuple[str, str], list[float]] = {}
    losses: dict[tuple[str, str], float] = {}
    for round_number in range(repeats):
        # Alternate which system goes first, so neither always runs on a "warm" machine.
        order = SYSTEMS if round_number % 2 == 0 else SYSTEMS[::-1]
        for workload in workloads:
            for system in order:
                result = run_worker(system, workload, quick)
                times.setdefault((system, workload), []).append(result["seconds"])
                losses[system, workload] = result["loss"]
    results = {}
    for workload in workloads:
        numpy_loss, tinygrad_loss = (losses[s, workload] for s in SYSTEMS)
        tolerance = 1e-4 if workload == "W3" else 1e-8  # W3 runs in float32
        if not np.isclose(numpy_loss, tinygrad_loss, rtol=tolerance, atol=0):
            raise SystemExit(
                f"{workload}: final losses differ (numpy {numpy_loss!r}, tinygrad "
                f"{tinygrad_loss!r}): the two versions do not compute the same thing"
            )
        medians = {s: statistics.median(times[s, workload]) for s in SYSTEMS}
        results[workload] = {
            "median_seconds": medians,
            "ratio": medians["tinygrad"] / medians["numpy"],
            "loss": tinygrad_loss,
            "runs": repeats,
        }
        if workload == "W4":
            runs = 20 if not quick else 1
            results[workload]["us_per_op"] = {
                s: medians[s] / (OPS_PER_W4_RUN * runs) * 1e6 for s in SYSTEMS
            }
    if "W3" in workloads:
        for system in SYSTEMS:
            peak = run_worker(system, "W3", quick, memory=True)["peak_bytes"]
            results["W3"].setdefault("peak_mib", {})[system] = peak / 2**20
    return results


def report(results: dict) -> str:
    lines = [
        f"Python {platform.python_version()}, NumPy {np.__version__}, {platform.machine()}",
        f"{'workload':<48} {'numpy':>9} {'tinygrad':>9} {'ratio':>7} {'target':>7}",
    ]
    for workload, result in results.items():
        medians = result["median_seconds"]
        target = TARGETS[workload]
        if workload == "W4":
            per_op = result["us_per_op"]
            verdict = "ok" if per_op["tinygrad"] <= target else "MISSED"
            lines.append(
                f"{workload} {DESCRIPTIONS[workload]:<45} {per_op['numpy']:>6.2f} us "
                f"{per_op['tinygrad']:>6.2f} us {result['ratio']:>6.2f}x {target:>4.1f} us/op "
                f"{verdict}"
            )
            continue
        verdict = "ok" if result["ratio"] <= target else "MISSED"
        lines.append(
            f"{workload} {DESCRIPTIONS[workload]:<45} {medians['numpy']:>8.3f}s "
            f"{medians['tinygrad']:>8.3f}s {result['ratio']:>6.2f}x {target:>6.1f}x {verdict}"
        )
    if "W3" in results and "peak_mib" in results["W3"]:
        peak = results["W3"]["peak_mib"]
        lines.append(
            f"W3 peak traced memory: numpy {peak['numpy']:.1f} MiB, "
            f"tinygrad {peak['tinygrad']:.1f} MiB"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="W1,W2,W3,W4", help="comma-separated workloads")
    parser.add_argument("--quick", action="store_true", help="1/100 of the iterations")
    parser.add_argument("--json", type=Path, help="also write the results here")
    arguments = parser.parse_args(argv)
    workloads = [w.strip().upper() for w in arguments.only.split(",") if w.strip()]
    unknown = set(workloads) - set(TARGETS)
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)}; choose from {sorted(TARGETS)}")
    results = measure(workloads, arguments.repeats, arguments.quick)
    print(report(results))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
