"""Per-module mutation scores from a mutmut 3 run, and the mutants that survived.

Reads the ``mutants/**/*.py.meta`` files mutmut writes (one exit code per mutant) and
the equivalent mutants listed in tests/MUTATION.md, and prints one row per module:

    score = killed / (total - listed equivalent)

Timeouts and mutants without covering tests are shown apart and count as not killed;
a listed equivalent that mutmut nevertheless killed is reported, as the list is stale.

    python scripts/mutation_report.py [--workdir build/mutation] [--module ops] [--diff]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A listed equivalent mutant: a Markdown list item that starts with the mutant's name in
# backquotes, e.g. "- `tinygrad_ann.ops.xǁMaxǁforward__mutmut_3`: why it cannot be seen".
EQUIVALENT = re.compile(r"^\s*[-*]\s+`(tinygrad_ann\.[^`]+__mutmut_\d+)`", re.MULTILINE)
# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), grouped for the table.
STATUS = {1: "killed", 3: "killed", 37: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
TIMEOUT_CODES = {36, 24, -24, 152, 255}
COLUMNS = ("killed", "survived", "timeout", "no tests", "other", "equivalent")


def status_of(exit_code: int | None) -> str:
    if exit_code is None:
        return "not run"
    if exit_code in TIMEOUT_CODES:
        return "timeout"
    return STATUS.get(exit_code, "other")


def module_of(mutant: str) -> str:
    """``tinygrad_ann.nn.layers.xǁLinearǁforward__mutmut_2`` -> ``nn.layers``."""
    parts = mutant.split(".")
    for index, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[1:index])
    raise ValueError(f"not a mutmut mutant name: {mutant}")


def load_results(workdir: Path) -> dict[str, int | None]:
    results: dict[str, int | None] = {}
    for meta in sorted((workdir / "mutants").rglob("*.py.meta")):
        results.update(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])
    return results


def load_equivalents(path: Path) -> set[str]:
    return set(EQUIVALENT.findall(path.read_text("utf-8"))) if path.exists() else set()


def wanted(module: str, selected: str | None) -> bool:
    return selected is None or module == selected or module.startswith(selected + ".")


def show_diffs(workdir: Path, names: list[str]) -> None:
    """mutmut's own diff of each mutant; needs the run's directory and configuration."""
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    for name in names:
        print(f"\n# {name}")
        print(get_diff_for_mutant(name).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "mutation")
    parser.add_argument("--equivalents", type=Path, default=ROOT / "tests" / "MUTATION.md")
    parser.add_argument("--module", help="one module, as in `make mutation MODULE=ops`")
    parser.add_argument("--diff", action="store_true", help="print each survivor's diff")
    parser.add_argument("--fail-under", type=float, help="exit 1 if a module scores lower (%%)")
    args = parser.parse_args()

    results = load_results(args.workdir)
    if not results:
        print(f"no mutmut results under {args.workdir}/mutants; run `make mutation` first")
        return 1
    equivalents = load_equivalents(args.equivalents)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    stale: list[str] = []
    for name, exit_code in sorted(results.items()):
        module = module_of(name)
        if not wanted(module, args.module):
            continue
        status = status_of(exit_code)
        if status == "not run":
            continue
        if name in equivalents:
            counts[module]["equivalent"] += 1
            if status == "killed":
                stale.append(name)
            continue
        counts[module][status] += 1
        if status != "killed":
            survivors.append(f"{name}: {status}")

    header = f"{'module':<16}{'total':>7}" + "".join(f"{c:>12}" for c in COLUMNS) + f"{'score':>9}"
    print(header)
    print("-" * len(header))
    low = []
    for module in sorted(counts):
        row = counts[module]
        total = sum(row.values())
        tested = total - row["equivalent"]
        score = 100.0 * row["killed"] / tested if tested else 100.0
        if args.fail_under is not None and score < args.fail_under:
            low.append(module)
        cells = "".join(f"{row[c]:>12}" for c in COLUMNS)
        print(f"{module:<16}{total:>7}{cells}{score:>8.1f}%")
    print(f"\n{len(survivors)} mutants not killed (survived, timeout, no tests):")
    for line in survivors:
        print(f"  {line}")
    if stale:
        print("\nlisted as equivalent but killed (remove them from tests/MUTATION.md):")
        for name in stale:
            print(f"  {name}")
    if args.diff:
        show_diffs(args.workdir, [line.split(":")[0] for line in survivors])
    if low:
        print(f"\nbelow {args.fail_under}%: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
