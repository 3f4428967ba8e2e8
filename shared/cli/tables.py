"""The one routing-table policy of every ``prefroute`` command that reads a table.

Every command (``evaluate``, ``assign``, ``demo``...) adds the same options with
:func:`add_table_options` and reads with :func:`load_table`:

* ``--data`` is a long-layout folder (``prompts.jsonl``, ``outcomes.csv``, ``models.json``) or
  RouterBench's wide CSV (a file or a folder of ``*.csv``);
* ``--on-duplicate`` says what to do with a prompt id listed twice; the default, ``merge``,
  merges rows that repeat an id with an identical prompt, task and split, with a warning, and
  refuses an id listed with two different prompts;
* ``--cache-dir`` is the cache root (the same level as ``PREFROUTE_CACHE_DIR``; embeddings go to
  its ``embeddings/`` folder), and every command embeds the table's rows as read from the file, so
  ``evaluate``, ``assign`` and ``demo`` share one cache file per table and encoder.

Examples:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_table_options(parser)
    >>> args = parser.parse_args(["--data", "."])
    >>> args.on_duplicate, args.cache_dir
    ('merge', None)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import DataError
from .args import existing_path, output_dir

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from ..encoders import PromptEncoder
    from ..encoders.disk import MissEncoder
    from ..tables import RoutingTable

__all__ = [
    "DUPLICATE_CHOICES",
    "LoadedTable",
    "add_cache_option",
    "add_table_options",
    "cli_spelling",
    "embed_rows",
    "embed_table",
    "load_any_table",
    "load_table",
    "require_splits",
]

#: ``--on-duplicate`` choices, the default first.
DUPLICATE_CHOICES = ("merge", "error", "keep", "first", "drop")


def cli_spelling(policy: str) -> str:
    """How a duplicate policy is typed on the command line: ``--on-duplicate keep``."""
    return f"--on-duplicate {policy}"


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache-dir`` (the cache root, as ``PREFROUTE_CACHE_DIR``)."""
    parser.add_argument(
        "--cache-dir",
        type=output_dir,
        default=None,
        metavar="DIR",
        help="cache root, the same level as PREFROUTE_CACHE_DIR: embeddings are kept in "
        "DIR/embeddings (default: $PREFROUTE_CACHE_DIR, else ~/.cache/prefroute)",
    )


def add_table_options(
    parser: argparse.ArgumentParser, *, required: bool = True, data_help: str | None = None
) -> None:
    """Add ``--data``, ``--on-duplicate`` and ``--cache-dir``."""
    parser.add_argument(
        "--data",
        required=required,
        type=existing_path,
        metavar="PATH",
        help=data_help
        or "routing table: a long-layout folder or a RouterBench wide CSV (file or folder)",
    )
    parser.add_argument(
        "--on-duplicate",
        choices=DUPLICATE_CHOICES,
        default="merge",
        help="prompt ids listed twice: merge identical rows with a warning (default), error, "
        "keep every row, keep the first, or drop them",
    )
    add_cache_option(parser)


@dataclass(frozen=True)
class LoadedTable:
    """A table read under a duplicate policy, and where its rows come from in the file.

    Attributes:
        table: the table after the policy.
        file_prompts: every prompt row of the file, in order (what :func:`embed_table` encodes,
            so all policies and commands share one cache file).
        rows: for each row of ``table``, its index in ``file_prompts``.
    """

    table: RoutingTable
    file_prompts: tuple[str, ...]
    rows: NDArray[np.intp]


def _read_every_row(path: str) -> RoutingTable:
    from ..tables import read_routerbench_csv, read_table

    p = Path(path).expanduser()
    if (p / "prompts.jsonl").is_file():
        return read_table(p, on_duplicate="keep")
    if p.suffix == ".csv" or (p.is_dir() and any(p.glob("*.csv"))):
        return read_routerbench_csv(p, on_duplicate="keep")
    raise DataError(
        f"{path} is neither a routing table folder (prompts.jsonl, outcomes.csv, models.json) "
        "nor a RouterBench wide CSV; see docs/evaluation.md for the layout."
    )


def load_table(path: str, on_duplicate: str = "merge") -> LoadedTable:
    """Read a long-layout folder or RouterBench wide CSV under a duplicate policy.

    A merge is logged as a warning; messages name the command-line option.

    Raises:
        DataError: not a table, malformed, or duplicates the policy refuses.
    """
    import numpy as np

    from ..tables.longform import duplicate_rows

    raw = _read_every_row(path)
    keys = list(zip(raw.prompts, raw.tasks, raw.splits))
    # a merge is logged as a warning, in command-line terms (spell)
    kept = duplicate_rows(list(raw.ids), on_duplicate, path, rows=keys, spell=cli_spelling)
    table = raw.subset(np.asarray(kept, dtype=np.intp)) if len(kept) < raw.n_prompts else raw
    return LoadedTable(table, raw.prompts, np.asarray(kept, dtype=np.intp))


def load_any_table(path: str, on_duplicate: str = "merge") -> RoutingTable:
    """The table of :func:`load_table` alone."""
    return load_table(path, on_duplicate).table


def require_splits(table: RoutingTable, *splits: str, complete: bool = True) -> None:
    """Fail early (before encoding) unless every split named has prompts (with every model
    observed, with ``complete``).

    Raises:
        DataError: a split is empty; the message lists the splits the table has.
    """
    import numpy as np

    observed = table.observed.all(axis=1) if complete else np.ones(table.n_prompts, dtype=bool)
    have = {s: int(np.sum(np.array(table.splits) == s)) for s in sorted(set(table.splits))}
    for split in splits:
        n = int(np.sum((np.array(table.splits) == split) & observed))
        if n == 0:
            detail = ", ".join(f"{s}: {k}" for s, k in have.items()) or "none"
            every = " with every model observed" if complete else ""
            raise DataError(
                f"{table.name}: no {split!r} prompts{every} (prompts per split: {detail}); "
                "the split column of prompts.jsonl (or the _train/_test CSV file names) "
                "decides it"
            )


def embed_rows(
    loaded: LoadedTable,
    encoder: PromptEncoder,
    cache_dir: str | None,
    *,
    encode: MissEncoder | None = None,
) -> NDArray[np.float64]:
    """Embeddings of ``loaded.table``'s rows, from the disk cache when present: the file's rows
    are encoded as they are in the file, so every command and duplicate policy shares one cache
    file per table file and encoder. ``encode`` encodes a miss (default: in this process; see
    :func:`shared.cli.cluster.table_encoding` for a Dask cluster); the cache key is the same."""
    import numpy as np

    from ..encoders import cached_embeddings
    from ..encoders.disk import default_cache_dir

    folder = default_cache_dir(cache_dir) if cache_dir is not None else None
    X = cached_embeddings(
        list(loaded.file_prompts), encoder, cache_dir=folder, progress=True, encode=encode
    )
    return np.asarray(X, dtype=np.float64)[loaded.rows]


def embed_table(
    loaded: LoadedTable,
    encoder_name: str,
    cache_dir: str | None,
    *,
    encode: MissEncoder | None = None,
) -> NDArray[np.float64]:
    """:func:`embed_rows` with an ``--encoder`` name (see ``shared.encoders.named``)."""
    from ..encoders.named import named_encoder

    return embed_rows(loaded, named_encoder(encoder_name), cache_dir, encode=encode)
