"""How tinygrad_ann's cost grows with the network (W5), and what a second derivative costs (W6).

W5: one training step (forward, backward, SGD update) of a Linear-Tanh-Linear
MLP, 16 inputs, 10 classes, batch 128, cross-entropy, float64, for hidden widths
8 to 2048, as a ratio to the same step in hand-written NumPy. At small widths
the step is all per-op overhead; at large ones it is all arithmetic, where the
ratio should approach 1. Plotted against the width to ``cost_curve.png``.

W6: on W2's network (2-50-2 tanh, two moons, 300 points, cross-entropy), the time
of one Hessian-vector product (gradient with ``create_graph=True``, then the
gradient of <gradient, v>) and of one JVP (``tg.jvp`` of the loss along v;
PyTorch: ``torch.func.jvp``), each divided by the time of one gradient (forward
and backward). Both must agree across systems: v·Hv and J·v = Σ gradient·v.

PyTorch eager (1 and 2 threads) runs beside tinygrad_ann when it is importable.
Each (system, width) measurement is a fresh process that times many calls in
blocks and keeps the median block; the table shows medians over ``--repeats``
such processes, interleaved round by round. Final losses (W5) and v·Hv (W6) must
agree with NumPy's and tinygrad_ann's to 1e-8 (relative).

    python benchmarks/cost_curve.py [--repeats 5] [--widths 8,32,128] [--only W5,W6]
                                    [--quick] [--steady-malloc] [--plot PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from bench import HERE, find_peers, rotated, run_worker, use_steady_malloc
from workloads import W5_WIDTHS

TORCH_SYSTEMS = ("torch-1t", "torch-2t")
TOLERANCE = 1e-8  # float64 throughout
JVP_TARGET = 3.0  # one tg.jvp / one gradient on W2's network


def measure_curve(
    widths: Sequence[int], systems: Sequence[str], repeats: int, quick: bool
) -> dict[int, dict]:
    """W5 at every width: median seconds per step, and each system's ratio to NumPy."""
    systems = ["numpy", *systems]
    times: dict[tuple[str, int], list[float]] = {}
    losses: dict[tuple[str, int], float] = {}
    for round_number in range(repeats):
        for width in widths:
            for system in rotated(systems, round_number):
                result = run_worker(system, "W5", quick, width=width)
                times.setdefault((system, width), []).append(result["step_seconds"])
                losses[system, width] = result["loss"]
    curve = {}
    for width in widths:
        medians = {s: statistics.median(times[s, width]) for s in systems}
        agreeing = [
            s
            for s in systems[1:]
            if np.isclose(losses[s, width], losses["numpy", width], rtol=TOLERANCE, atol=0)
        ]
        curve[width] = {
            "step_seconds": medians,
            "ratios": {s: medians[s] / medians["numpy"] for s in agreeing},
            "losses": {s: losses[s, width] for s in systems},
            "disagreeing": [s for s in systems[1:] if s not in agreeing],
        }
    return curve


def measure_second_order(systems: Sequence[str], repeats: int, quick: bool) -> dict[str, dict]:
    """W6 for each system: median seconds per gradient and per Hessian-vector product."""
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for round_number in range(repeats):
        for system in rotated(list(systems), round_number):
            runs[system].append(run_worker(system, "W6", quick))
    reference = runs[systems[0]][-1]["loss"]
    reference_jvp = runs[systems[0]][-1]["jvp"]
    results = {}
    for system, results_of_system in runs.items():
        grad = statistics.median(r["grad_seconds"] for r in results_of_system)
        hvp = statistics.median(r["hvp_seconds"] for r in results_of_system)
        jvp = statistics.median(r["jvp_seconds"] for r in results_of_system)
        last = results_of_system[-1]
        results[system] = {
            "grad_seconds": grad,
            "hvp_seconds": hvp,
            "jvp_seconds": jvp,
            "ratio": hvp / grad,
            "jvp_ratio": jvp / grad,
            "v_hv": last["loss"],
            "jvp": last["jvp"],
            "agrees": bool(
                np.isclose(last["loss"], reference, rtol=TOLERANCE, atol=0)
                and np.isclose(last["jvp"], reference_jvp, rtol=TOLERANCE, atol=0)
            ),
        }
    return results


def curve_table(curve: dict[int, dict], systems: Sequence[str]) -> str:
    lines = [
        "W5: one SGD step, 16-WIDTH-10 tanh MLP, batch 128, float64; time / NumPy's time",
        f"{'width':>6} {'numpy/step':>11}" + "".join(f" {s:>9}" for s in systems),
    ]
    for width, result in curve.items():
        cells = [
            f"{result['ratios'][s]:>8.2f}x" if s in result["ratios"] else f"{'differs':>9}"
            for s in systems
        ]
        numpy_us = result["step_seconds"]["numpy"] * 1e6
        lines.append(f"{width:>6} {numpy_us:>8.1f} us " + " ".join(cells))
        for system in result["disagreeing"]:
            lines.append(
                f"  width {width}, {system}: final loss {result['losses'][system]!r} differs "
                f"from NumPy's {result['losses']['numpy']!r}"
            )
    return "\n".join(lines)


def second_order_table(results: dict[str, dict]) -> str:
    lines = [
        "W6: W2's 2-50-2 tanh net, 300 points; one Hessian-vector product and one JVP, each "
        f"/ one gradient (forward + backward); target for tinygrad's JVP <= {JVP_TARGET:g}x",
        f"{'system':<10} {'gradient':>10} {'H v':>10} {'ratio':>7} {'J v':>10} {'ratio':>7}",
    ]
    for system, result in results.items():
        line = (
            f"{system:<10} {result['grad_seconds'] * 1e6:>7.0f} us "
            f"{result['hvp_seconds'] * 1e6:>7.0f} us {result['ratio']:>6.2f}x "
            f"{result['jvp_seconds'] * 1e6:>7.0f} us {result['jvp_ratio']:>6.2f}x"
        )
        if system == "tinygrad":
            line += " ok" if result["jvp_ratio"] <= JVP_TARGET else " MISSED"
        if not result["agrees"]:
            line += (
                f"  v·Hv {result['v_hv']!r} or J·v {result['jvp']!r} differs from tinygrad's: "
                "not comparable"
            )
        lines.append(line)
    return "\n".join(lines)


def plot(curve: dict[int, dict], systems: Sequence[str], path: Path) -> None:
    """Ratio to NumPy against the hidden width (log axis), one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = list(curve)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.axhline(1.0, color="gray", linestyle="--", label="hand-written NumPy")
    for system in systems:
        points = [(w, curve[w]["ratios"][system]) for w in widths if system in curve[w]["ratios"]]
        if points:
            axes.plot(*zip(*points), marker="o", label=system)
    axes.set_xscale("log", base=2)
    axes.set_xticks(widths, [str(w) for w in widths])
    axes.set_xlabel("hidden width (16-WIDTH-10 tanh MLP, batch 128, float64)")
    axes.set_ylabel("time per training step / NumPy's")
    axes.set_ylim(bottom=0)
    axes.set_title("W5: cost of one SGD step relative to hand-written NumPy")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--widths", default=",".join(map(str, W5_WIDTHS)))
    parser.add_argument("--only", default="W5,W6", help="W5, W6 or both")
    parser.add_argument("--quick", action="store_true", help="1/100 of the calls: a smoke test")
    parser.add_argument("--plot", type=Path, default=HERE / "cost_curve.png")
    parser.add_argument(
        "--steady-malloc",
        action="store_true",
        help="fix glibc's mmap and trim thresholds (see bench.py)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    arguments = parser.parse_args(argv)
    parts = {p.strip().upper() for p in arguments.only.split(",") if p.strip()}
    if not parts or parts - {"W5", "W6"}:
        parser.error("--only takes W5, W6 or W5,W6")
    widths = [int(w) for w in arguments.widths.split(",")]
    peers, missing, versions = find_peers(TORCH_SYSTEMS)
    systems = ["tinygrad", *peers]
    summary: dict = {
        "systems": systems,
        "not_installed": missing,
        "versions": versions,
        "steady_malloc": arguments.steady_malloc,
    }
    notes = [f"{s}: not installed (torch does not import)" for s in missing]
    if arguments.steady_malloc:
        notes.append(use_steady_malloc())
    if "torch" in versions:
        notes.append(f"PyTorch {versions['torch']}; torch-1t/-2t: 1 / 2 threads")
    disagree = False
    if "W5" in parts:
        curve = measure_curve(widths, systems, arguments.repeats, arguments.quick)
        print(curve_table(curve, systems))
        try:
            plot(curve, systems, arguments.plot)
            print(f"plot: {arguments.plot}")
        except ImportError:
            print("plot: skipped, matplotlib is not installed (pip install -e '.[examples]')")
        summary["W5"] = {str(width): result for width, result in curve.items()}
        disagree |= any(result["disagreeing"] for result in curve.values())
    if "W6" in parts:
        second_order = measure_second_order(systems, arguments.repeats, arguments.quick)
        print(second_order_table(second_order))
        summary["W6"] = second_order
        disagree |= not all(result["agrees"] for result in second_order.values())
    print("\n".join(notes))
    if arguments.json:
        arguments.json.write_text(json.dumps(summary, indent=2))
    if disagree:
        raise SystemExit("results disagree between systems: see above")
    return summary


if __name__ == "__main__":
    main()
