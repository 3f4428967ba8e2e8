"""Entry point of the ``prefroute`` console script, and the error policy every command shares.

How a command fails:

* a bad argument (a wrong type, a value out of range, an unwritable output path, a store given as a
  path instead of a URL...) is caught while the line is parsed, by the types of :mod:`.args`, or by
  the command's ``validate(args)`` hook (set with ``parser.set_defaults(validate=...)``), which runs
  before the command's work: one line ``prefroute COMMAND: error: ...``, exit status **2**;
* a failure while working (a malformed table, a database that cannot be opened, a full disk...):
  one line, exit status **1**;
* never a traceback, unless ``--debug`` is given (before or after the command name).

Only the command named on the line is imported: ``prefroute --help`` lists the others from a table
of names (plug-in commands by their entry-point name), so start-up stays fast.

Examples:
    >>> main(["evaluate", "--bootstrap", "10", "--data", "."])
    2
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

__all__ = ["ALIASES", "CORE_COMMANDS", "Parser", "build_parser", "main", "run_command"]

#: Core sub-commands: name -> (module relative to this package exposing ``register(subparsers)``,
#: the one-line help shown by ``prefroute --help``; the module's own help must say the same).
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": (".evaluate", "fit routers on a routing table and report cost/quality metrics"),
    "assign": (
        ".assign",
        "assign a batch of prompts to models under a budget (OptLLM) and compare fronts",
    ),
    "train": (".train", "retrain a router from the feedback store"),
    "route": (".route", "route one prompt with a saved router and explain the choice"),
}

#: Other names of core sub-commands.
ALIASES = {"explain": "route"}

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr with exit status 2, and whose help
    shows docstring markup (````name````, ``:func:`name```) as plain text."""

    def format_help(self) -> str:
        """The help text, with reStructuredText roles and literals as plain text."""
        text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", super().format_help())
        return text.replace("``", "")

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see '{self.prog} --help')\n")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _plugin_entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group="prefroute.commands"))


def _load_plugin(ep: Any) -> Register | None:
    try:
        register: Register = ep.load()
    except ImportError as err:  # an adapter whose framework is not installed
        logging.getLogger("prefroute.cli").debug("skipping command %s: %s", ep.name, err)
        return None
    return register


def _command_in(argv: Sequence[str]) -> str | None:
    """The sub-command named on the line: the first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The argument parser with every core and plug-in sub-command.

    Args:
        command: with ``lazy``, the one sub-command to load in full (``None``: none).
        lazy: load only ``command``; the others are listed by name and help only.
    """
    parser = Parser(
        prog="prefroute",
        description="Preference-aware LLM routing: evaluate routers, assign batches, train "
        "from feedback, route and explain one prompt, run the offline demo.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when a command fails"
    )
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser),
    )
    command = ALIASES.get(command or "", command)
    for name, (module, summary) in CORE_COMMANDS.items():
        if lazy and name != command:
            aliases = [a for a, target in ALIASES.items() if target == name]
            sub.add_parser(name, help=summary, aliases=aliases)
        else:
            importlib.import_module(module, __package__).register(sub)
    for ep in _plugin_entry_points():
        if ep.name in sub.choices:
            continue
        if lazy and ep.name != command:
            package = str(ep.value).split(".", 1)[0].split(":", 1)[0]
            sub.add_parser(ep.name, help=f"(plug-in from {package}; see 'prefroute {ep.name} -h')")
            continue
        register = _load_plugin(ep)
        if register is not None:
            register(sub)
    for sub_parser in {id(p): p for p in sub.choices.values()}.values():
        sub_parser.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the full traceback when the command fails",
        )
    return parser


def _report(command: str, err: BaseException) -> str:
    """The one-line message of an error."""
    from ..exceptions import RouterError

    if isinstance(err, RouterError):
        text = _one_line(err)
    elif isinstance(err, OSError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        text = f"{where}{err.strerror}"
    else:
        first = str(err).strip().splitlines()
        detail = f": {first[0].strip()}" if first else ""
        text = f"{type(err).__name__}{detail} (run with --debug for the traceback)"
    return f"prefroute {command}: error: {text}"


def run_command(args: argparse.Namespace) -> int:
    """Validate (exit status 2 on a bad argument), then run the command (1 on a failure)."""
    debug = bool(getattr(args, "debug", False))
    validate = getattr(args, "validate", None)
    try:
        if validate is not None:
            validate(args)
    except Exception as err:
        if debug:
            raise
        print(_report(args.command, err), file=sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print(f"prefroute {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        print(_report(args.command, err), file=sys.stderr)
        return 1
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    line = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(line), lazy=True)
    try:
        args = parser.parse_args(line)
    except SystemExit as done:  # --help, or a usage error already reported on one line
        return done.code if isinstance(done.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return run_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
