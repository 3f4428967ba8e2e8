"""The Dask options of the ``prefroute`` commands: one spelling, one meaning everywhere.

``prefroute train`` (the log's statistics) and ``prefroute evaluate`` / ``assign`` (the table's
prompts) add the same ``--engine``, ``--scheduler ADDRESS`` and ``--partitions N`` with
:func:`add_engine_options`; :func:`resolve_engine` turns ``--engine auto`` into ``dask`` when a
scheduler is given and refuses a scheduler with another engine. ``--engine dask`` without
``--scheduler`` starts a local cluster
(:data:`shared.feedback.distributed.LOCAL_CLUSTER`) for the command.

For a table command, :func:`table_encoding` gives what :func:`shared.cli.tables.embed_table`
encodes a cache miss with: in this process, or on the cluster (a cache hit contacts none).

Examples:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="prefroute evaluate")
    >>> add_engine_options(parser, TABLE_ENGINES, partitions_help="slices of the table")
    >>> resolve_engine(parser.parse_args([]), "local")
    'local'
    >>> resolve_engine(parser.parse_args(["--scheduler", "tcp://10.0.0.5:8786"]), "local")
    'dask'
    >>> resolve_engine(parser.parse_args(["--engine", "local", "--scheduler", "tcp://h:1"]), "")
    Traceback (most recent call last):
    ...
    shared.exceptions.InvalidParameterError: --scheduler needs --engine dask (or auto).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from ..exceptions import InvalidParameterError
from .args import int_at_least

if TYPE_CHECKING:
    from ..encoders.disk import MissEncoder

__all__ = [
    "PARTITIONS_HELP",
    "TABLE_ENGINES",
    "add_engine_options",
    "check_table_engine",
    "resolve_engine",
    "table_encoding",
]

#: ``--engine`` of the commands that encode a routing table: name -> what it does.
TABLE_ENGINES: dict[str, str] = {
    "local": "encode the table's prompts in this process",
    "dask": "encode them in partitions on a Dask cluster",
}

#: ``--partitions`` of the table commands.
PARTITIONS_HELP = (
    "slices of the table's prompts, one task each (default: 4 per worker, at most 1,024 "
    "prompts each)"
)


def add_engine_options(
    parser: argparse.ArgumentParser,
    engines: Mapping[str, str],
    *,
    partitions_help: str,
    auto_help: str = "dask with --scheduler, else local",
) -> None:
    """Add ``--engine`` (``auto`` and ``engines``), ``--scheduler`` and ``--partitions``."""
    described = "; ".join(f"{name}: {what}" for name, what in engines.items())
    parser.add_argument(
        "--engine",
        choices=("auto", *engines),
        default="auto",
        help=f"{described}; auto (default): {auto_help}",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:8786); default with --engine dask: a local "
        "cluster",
    )
    parser.add_argument(
        "--partitions",
        type=int_at_least(1),
        default=None,
        help=f"Dask partitions: {partitions_help}",
    )


def resolve_engine(args: argparse.Namespace, fallback: str) -> str:
    """The engine to run: ``--engine``, or for ``auto`` ``dask`` with ``--scheduler``, else
    ``fallback``.

    Raises:
        InvalidParameterError: ``--scheduler`` with an engine other than ``dask``.
    """
    engine: str = args.engine
    if engine == "auto":
        engine = "dask" if args.scheduler else fallback
    if args.scheduler and engine != "dask":
        raise InvalidParameterError("--scheduler needs --engine dask (or auto).")
    return engine


def check_table_engine(args: argparse.Namespace) -> str:
    """The table command's engine (``local`` or ``dask``), checked before any work.

    Raises:
        InvalidParameterError: ``--scheduler`` without the dask engine, or dask[distributed]
            missing with the dask engine (the message names the extra).
    """
    engine = resolve_engine(args, "local")
    if engine == "dask":
        from ..feedback.distributed import import_distributed

        import_distributed()
    return engine


def table_encoding(args: argparse.Namespace) -> AbstractContextManager[MissEncoder | None]:
    """What encodes the table's cache misses: ``None`` (this process) or a
    :class:`~shared.feedback.distributed.DaskEncoding` closed at the end of the ``with`` block.

    Raises:
        InvalidParameterError: as :func:`check_table_engine`.
    """
    if check_table_engine(args) != "dask":
        return nullcontext(None)
    from ..feedback.distributed import DaskEncoding

    return DaskEncoding(args.scheduler, partitions=args.partitions)
