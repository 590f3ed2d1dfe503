"""Command line: ``python -m tinygrad_ann demo``."""

from __future__ import annotations

import argparse
import sys

from .teaching import demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinygrad_ann")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo",
        help="check the articles' gradients against autograd and train their networks",
        description=demo.__doc__.split("\n\n", 1)[1] if demo.__doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo_parser.add_argument(
        "--out", default="demo-out", help="folder for the plots and the graph (default: demo-out)"
    )
    demo_parser.add_argument(
        "--quick", action="store_true", help="train for a twentieth of the epochs (a smoke test)"
    )
    arguments = parser.parse_args(argv)
    demo.run(out_dir=arguments.out, quick=arguments.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
