"""Entry point of the ``prefroute`` console script."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from ..exceptions import RouterError

__all__ = ["build_parser", "main"]

# Core sub-commands: module (relative to this package) exposing register(subparsers).
_CORE_COMMANDS = (".evaluate", ".assign", ".train")

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _plugin_commands() -> list[Register]:
    found: list[Register] = []
    for ep in entry_points(group="prefroute.commands"):
        try:
            found.append(ep.load())
        except ImportError as err:  # an adapter whose framework is not installed
            logging.getLogger("prefroute.cli").debug("skipping command %s: %s", ep.name, err)
    return found


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every core and plug-in sub-command."""
    parser = argparse.ArgumentParser(
        prog="prefroute",
        description="Preference-aware LLM routing: evaluate routers, assign batches, train "
        "from feedback, run the offline demo.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _CORE_COMMANDS:
        module = importlib.import_module(name, __package__)
        module.register(sub)
    for register in _plugin_commands():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except RouterError as err:
        print(f"prefroute {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
