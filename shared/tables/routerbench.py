"""RouterBench's wide CSV layout (see :mod:`shared.tables`)."""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np

from ..exceptions import DataError
from ..pool import ModelPool
from ._table import SPLITS, RoutingTable
from .longform import DuplicatePolicy, _check_duplicate_policy, _parse_value, duplicate_rows

__all__ = ["parse_prompt_list", "read_routerbench_csv"]


_STRING_START = re.compile(r"\s*,?\s*(['\"])")


def parse_prompt_list(text: str) -> list[str]:
    """Parse RouterBench's stringified Python list of prompt strings, without ``eval``.

    Text that is not a bracketed list is returned as a single prompt.

    Raises:
        DataError: a bracketed list that is not a list of quoted strings.

    Examples:
        >>> parse_prompt_list("['Hi \\\\'you\\\\'\\\\n', \\"2+2?\\"]")
        ["Hi 'you'\\n", '2+2?']
    """
    s = text.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return [text]
    body, pos, out = s[1:-1], 0, []
    while pos < len(body):
        if not body[pos:].strip(" \t\r\n,"):
            break
        m = _STRING_START.match(body, pos)
        if m is None:
            raise DataError(f"Cannot parse prompt list near {body[pos : pos + 30]!r}.")
        quote, i = m.group(1), m.end()
        start = i
        while i < len(body) and body[i] != quote:
            i += 2 if body[i] == "\\" else 1
        if i >= len(body):
            raise DataError("Cannot parse prompt list: unterminated string.")
        raw = body[start:i]
        try:
            out.append(raw.encode("latin-1", "backslashreplace").decode("unicode_escape"))
        except UnicodeDecodeError as err:
            raise DataError(f"Cannot parse prompt list: bad escape ({err}).") from None
        pos = i + 1
    return out


def _join_turns(parts: list[str]) -> str:
    """One prompt from RouterBench's list: repeated consecutive entries collapse, turns join by a
    blank line."""
    kept = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return "\n\n".join(kept)


_SPLIT_SUFFIX = re.compile(r"_(train|test|validation|val|dev)$")


def _split_from_name(path: Path, default: str | None) -> str:
    m = _SPLIT_SUFFIX.search(path.stem)
    if m is None:
        if default is None:
            raise DataError(
                f"Cannot infer the split of {path.name} (expected *_train.csv or *_test.csv); "
                "pass split=..."
            )
        return default
    found = m.group(1)
    return {"val": "validation", "dev": "validation"}.get(found, found)


def read_routerbench_csv(
    path: str | os.PathLike[str],
    *,
    split: str | None = None,
    name: str | None = None,
    on_duplicate: DuplicatePolicy = "error",
) -> RoutingTable:
    """Read RouterBench's wide CSV layout: one file, or every ``*.csv`` of a directory.

    A model is a column ``m`` with a matching ``m|total_cost`` column; an empty score cell means the
    pair was not observed. The prompt cell (a stringified Python list) is parsed without ``eval``;
    the split comes from the file name suffix (``_train``, ``_test``, ``_validation``), else from
    ``split``; the task is ``eval_name``.

    Args:
        path: a CSV file or a directory of them (read in sorted order).
        split: split of files whose name has no split suffix.
        name: label of the table (default: the file or directory name).
        on_duplicate: policy for a ``sample_id`` seen twice (see :func:`read_table`).

    Raises:
        DataError: missing file or column, invalid score or cost, unparsable prompt, duplicates.
    """
    _check_duplicate_policy(on_duplicate)
    if split is not None and split not in SPLITS:
        raise DataError(f"Unknown split {split!r}; allowed: {list(SPLITS)}.")
    root = Path(path)
    files = sorted(root.glob("*.csv")) if root.is_dir() else [root]
    if not files or not all(f.is_file() for f in files):
        raise DataError(f"No RouterBench CSV file at {root}.")
    models: list[str] | None = None
    recs: list[tuple[str, str, str, str, list[float], list[float]]] = []
    for f in files:
        file_split = _split_from_name(f, split)
        with f.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None) or []
            missing = [c for c in ("sample_id", "prompt", "eval_name") if c not in header]
            file_models = [c for c in header if "|" not in c and f"{c}|total_cost" in header]
            if missing or not file_models:
                raise DataError(
                    f"{f}: missing column(s) {missing or ['<model> and <model>|total_cost']}."
                )
            if models is None:
                models = file_models
            elif sorted(models) != sorted(file_models):
                raise DataError(f"{f}: models {file_models} differ from the first file's {models}.")
            i_id, i_p, i_t = (header.index(c) for c in ("sample_id", "prompt", "eval_name"))
            i_q = [header.index(m) for m in models]
            i_c = [header.index(f"{m}|total_cost") for m in models]
            for lineno, row in enumerate(reader, 2):
                where = f"{f}:{lineno}"
                qs = [math.nan] * len(models)
                cs = [math.nan] * len(models)
                for j, (a, b) in enumerate(zip(i_q, i_c)):
                    if row[a].strip():
                        qs[j] = _parse_value(row[a], "quality", where)
                        cs[j] = _parse_value(row[b], "cost", where)
                prompt = _join_turns(parse_prompt_list(row[i_p]))
                recs.append((row[i_id], prompt, row[i_t], file_split, qs, cs))
    assert models is not None
    keep = duplicate_rows(
        [r[0] for r in recs], on_duplicate, str(root), rows=[(r[1], r[2], r[3]) for r in recs]
    )
    recs = [recs[i] for i in keep]
    return RoutingTable(
        ids=tuple(r[0] for r in recs),
        prompts=tuple(r[1] for r in recs),
        tasks=tuple(r[2] for r in recs),
        splits=tuple(r[3] for r in recs),
        models=tuple(models),
        quality=np.array([r[4] for r in recs], dtype=np.float64).reshape(len(recs), len(models)),
        cost=np.array([r[5] for r in recs], dtype=np.float64).reshape(len(recs), len(models)),
        cards=ModelPool(models),
        name=name if name is not None else root.resolve().stem,
    )
