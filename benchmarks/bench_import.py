"""Time ``import tinygrad_ann`` against ``import numpy``, each in fresh processes.

Both are imported from compiled bytecode (the first, untimed run of each writes
it), alternately, and the medians are compared:

    python benchmarks/bench_import.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

TARGET = 1.3  # tinygrad_ann may take at most this many times numpy's import time


def import_seconds(module: str) -> float:
    """Seconds ``import module`` takes in a new interpreter, from -X importtime."""
    environment = {
        key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"
    }
    finished = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    last = finished.stderr.strip().splitlines()[-1]  # "import time: self | cumulative | name"
    return int(last.split("|")[1]) / 1e6


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    arguments = parser.parse_args(argv)
    for module in ("numpy", "tinygrad_ann"):
        import_seconds(module)  # writes the bytecode caches
    times: dict[str, list[float]] = {"numpy": [], "tinygrad_ann": []}
    for _ in range(arguments.repeats):
        for module in times:
            times[module].append(import_seconds(module))
    numpy_median = statistics.median(times["numpy"])
    ours = statistics.median(times["tinygrad_ann"])
    ratio = ours / numpy_median
    verdict = "ok" if ratio <= TARGET else "MISSED"
    print(
        f"import numpy {numpy_median * 1e3:.1f} ms, import tinygrad_ann {ours * 1e3:.1f} ms "
        f"(numpy included): {ratio:.2f}x, target <= {TARGET}x {verdict}"
    )
    return ratio


if __name__ == "__main__":
    main()
