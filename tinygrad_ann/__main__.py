"""Command line: ``python -m tinygrad_ann demo``."""

from __future__ import annotations

import argparse
import sys

from . import demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinygrad_ann")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="train a small network on XOR and check its gradients")
    parser.parse_args(argv)
    demo.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
