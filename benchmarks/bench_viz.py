"""How long drawing a large computation graph takes (target: 10,000 op nodes in under 2 s).

Builds a chain of 10,000 elementwise ops, then times ``tg.viz.draw_graph`` plus
generating the DOT source (what ``save`` hands to Graphviz), median of several
runs. Rendering by ``dot`` itself is Graphviz's time, not ours, and is not timed.

    python benchmarks/bench_viz.py [--nodes 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import tinygrad_ann as tg


def build_chain(nodes: int) -> tg.Tensor:
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x
    for step in range(nodes - 1):
        y = y.tanh() if step % 2 else y * 1.0001
    return y.sum()


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args(argv)
    output = build_chain(arguments.nodes)
    times = []
    for _ in range(arguments.repeats):
        start = time.perf_counter()
        source = tg.viz.draw_graph(output).source
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"draw_graph + DOT source, {arguments.nodes} op nodes: median {median:.3f} s "
        f"over {arguments.repeats} runs ({len(source) / 1e6:.1f} MB of DOT; target < 2 s)"
    )
    return median


if __name__ == "__main__":
    main()
