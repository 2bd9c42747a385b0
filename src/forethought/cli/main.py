"""Entry point: ``forethought COMMAND ...``. User errors print one line and exit with code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from forethought import __version__
from forethought.cli import (
    collect_cmd,
    data_cmd,
    envs_cmd,
    evaluate_cmd,
    plan_cmd,
    quickstart_cmd,
    report_cmd,
    train_cmd,
)
from forethought.core.errors import ForethoughtError

COMMANDS = (
    collect_cmd,
    data_cmd,
    envs_cmd,
    train_cmd,
    plan_cmd,
    evaluate_cmd,
    report_cmd,
    quickstart_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forethought",
        description="A CPU-first world-model engine: collect, train, evaluate, plan.",
    )
    parser.add_argument("--version", action="version", version=f"forethought {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except ForethoughtError as e:
        print(f"forethought: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("forethought: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
