"""Long layout: ``prompts.jsonl``, ``outcomes.csv``, ``models.json`` (see :mod:`shared.tables`)."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ..exceptions import DataError
from ..pool import ModelPool
from ._table import SPLITS, RoutingTable

__all__ = ["DuplicatePolicy", "duplicate_rows", "python_spelling", "read_table", "write_table"]

DuplicatePolicy = Literal["error", "keep", "first", "drop", "merge"]
_DUPLICATE_POLICIES = ("error", "keep", "first", "drop", "merge")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

logger = logging.getLogger("prefroute.tables")


def python_spelling(policy: str) -> str:
    """How a duplicate policy is written in Python: ``on_duplicate='keep'``."""
    return f"on_duplicate={policy!r}"


def _check_duplicate_policy(on_duplicate: str) -> None:
    if on_duplicate not in _DUPLICATE_POLICIES:
        raise DataError(
            f"on_duplicate must be one of {list(_DUPLICATE_POLICIES)}, got {on_duplicate!r}."
        )


def duplicate_rows(
    ids: Sequence[str],
    on_duplicate: str,
    source: str,
    *,
    rows: Sequence[Hashable] | None = None,
    spell: Callable[[str], str] = python_spelling,
) -> list[int]:
    """Indices of the rows kept under the duplicate-id policy.

    ``rows`` (one hashable per row: its prompt, task and split) lets ``"merge"`` tell identical
    repeats (merged into the first, with a logged warning) from conflicting ones (an error);
    ``spell`` writes a policy name the way the caller's user types it (``--on-duplicate keep`` on
    the command line).

    Examples:
        >>> duplicate_rows(["a", "b", "a"], "first", "t")
        [0, 1]
        >>> duplicate_rows(["a", "a", "a"], "merge", "t",
        ...                rows=[("x", "train"), ("x", "train"), ("x", "test")])
        [0, 2]
    """
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    dupes = [i for i, count in seen.items() if count > 1]
    if not dupes:
        return list(range(len(ids)))
    others = ", ".join(spell(p) for p in ("merge", "keep", "first", "drop") if p != on_duplicate)
    if on_duplicate == "merge":
        keys = list(rows) if rows is not None else [None] * len(ids)
        texts: dict[str, set[Hashable]] = {}
        for i, key in zip(ids, keys):
            texts.setdefault(i, set()).add(key[0] if isinstance(key, tuple) else key)
        conflicting = [i for i in dupes if len(texts[i]) > 1]
        if conflicting:
            raise DataError(
                f"{source}: {len(conflicting)} prompt id(s) are listed twice with different "
                f"prompts, e.g. {conflicting[:3]}; choose {others}."
            )
        first_of: dict[tuple[str, Hashable], int] = {}
        for r, (i, key) in enumerate(zip(ids, keys)):
            first_of.setdefault((i, key), r)
        kept = sorted(first_of.values())
        if len(kept) < len(ids):
            logger.warning(
                "%s: merged %d repeated row(s) of %d prompt id(s) listed twice with identical "
                "content (%s keeps every row)",
                source,
                len(ids) - len(kept),
                len(dupes),
                spell("keep"),
            )
        return kept
    if on_duplicate == "error":
        raise DataError(
            f"{source}: {len(dupes)} duplicate prompt id(s), e.g. {dupes[:3]}. Choose "
            f"{spell('merge')} (identical repeats merged), {spell('keep')} (rows kept, sharing "
            f"their outcomes), {spell('first')} or {spell('drop')}."
        )
    if on_duplicate == "keep":
        return list(range(len(ids)))
    if on_duplicate == "drop":
        return [r for r, i in enumerate(ids) if seen[i] == 1]
    first: dict[str, int] = {}
    for r, i in enumerate(ids):
        first.setdefault(i, r)
    return sorted(first.values())


def _parse_value(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {what} {text!r} is not a number.") from None
    if math.isnan(value) or math.isinf(value):
        raise DataError(f"{where}: {what} is {text!r}; every listed outcome needs a finite value.")
    if value < 0:
        raise DataError(f"{where}: {what} {value!r} is negative.")
    if what == "quality" and value > 1:
        raise DataError(f"{where}: quality {value!r} is outside [0, 1].")
    return value


def _read_prompts(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"Missing file {path} (a routing table needs prompts.jsonl).")
    rows: list[dict[str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: invalid JSON ({err}).") from None
            if not isinstance(obj, dict) or "id" not in obj or "prompt" not in obj:
                raise DataError(f"{path}:{lineno}: each line needs the keys 'id' and 'prompt'.")
            if not isinstance(obj["prompt"], str):
                raise DataError(
                    f"{path}:{lineno}: 'prompt' must be a string, got {_json_type(obj['prompt'])}."
                )
            if isinstance(obj["id"], bool) or not isinstance(obj["id"], (str, int)):
                raise DataError(
                    f"{path}:{lineno}: 'id' must be a string or an integer, got "
                    f"{_json_type(obj['id'])}."
                )
            for key in ("task", "split"):
                if key in obj and not isinstance(obj[key], str):
                    raise DataError(
                        f"{path}:{lineno}: {key!r} must be a string, got {_json_type(obj[key])}."
                    )
            split = str(obj.get("split", "train"))
            if split not in SPLITS:
                raise DataError(
                    f"{path}:{lineno}: unknown split {split!r}; allowed: {list(SPLITS)}."
                )
            rows.append(
                {
                    "id": str(obj["id"]),
                    "prompt": str(obj["prompt"]),
                    "task": str(obj.get("task", "")),
                    "split": split,
                }
            )
    return rows


def _read_cards(path: Path) -> ModelPool | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ModelPool.from_dict(data)
    except (
        json.JSONDecodeError,
        AttributeError,
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        OverflowError,
    ) as err:
        raise DataError(f"{path}: invalid models.json ({_cut(err)}).") from None


def read_table(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    on_duplicate: DuplicatePolicy = "error",
) -> RoutingTable:
    """Read a routing table in the long layout (``prompts.jsonl``, ``outcomes.csv``, ``models.json``).

    Models follow ``models.json`` order, then first appearance in ``outcomes.csv``. A prompt line
    without ``split`` is in ``"train"``; without ``task``, its task is ``""``.

    Latency (seconds per call) comes from an optional ``latency_s`` column of ``outcomes.csv``
    (an empty cell is unknown); a cell without one takes its model card's ``latency_s`` from
    ``models.json`` when the card has it. A table with neither has ``latency=None``.

    Args:
        path: the table directory.
        name: label of the table (default: the directory name).
        on_duplicate: what to do with prompt ids listed more than once: ``"error"`` (default),
            ``"keep"`` (every row kept; the id's outcomes fill each of its rows), ``"first"`` (keep
            the first row), ``"drop"`` (drop every row of a duplicated id) or ``"merge"`` (rows
            repeating an id with the same prompt, task and split are merged into the first, with
            a logged warning; the same id with a different prompt is an error).

    Raises:
        DataError: missing file or column, NaN/negative/out-of-range value, duplicate
            ``(id, model)`` pair or prompt id, unknown split, or an outcome for an unknown prompt.
    """
    _check_duplicate_policy(on_duplicate)
    root = Path(path)
    try:
        return _read_long(root, name, on_duplicate)
    except UnicodeDecodeError as err:
        raise DataError(
            f"{root}: a file is not UTF-8 text ({err.reason} at byte {err.start})."
        ) from None
    except RecursionError:
        raise DataError(f"{root}: a JSON value is nested too deeply.") from None
    except csv.Error as err:
        raise DataError(
            f"{root / 'outcomes.csv'}: not a readable CSV file ({_cut(err)})."
        ) from None


def _json_type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _cut(err: BaseException) -> str:
    text = str(err)
    return text if len(text) <= 200 else text[:197] + "..."


def _read_long(root: Path, name: str | None, on_duplicate: DuplicatePolicy) -> RoutingTable:
    prompts = _read_prompts(root / "prompts.jsonl")
    listed = {p["id"] for p in prompts}
    keep = duplicate_rows(
        [p["id"] for p in prompts],
        on_duplicate,
        str(root / "prompts.jsonl"),
        rows=[(p["prompt"], p["task"], p["split"]) for p in prompts],
    )
    prompts = [prompts[r] for r in keep]
    rows_of: dict[str, list[int]] = {}
    for r, p in enumerate(prompts):
        rows_of.setdefault(p["id"], []).append(r)
    cards = _read_cards(root / "models.json")
    col_of: dict[str, int] = {m: j for j, m in enumerate(cards.names)} if cards else {}
    outcomes = root / "outcomes.csv"
    if not outcomes.is_file():
        raise DataError(f"Missing file {outcomes} (a routing table needs outcomes.csv).")
    cells: list[tuple[list[int], int, float, float, float]] = []
    seen: set[tuple[str, str]] = set()
    with outcomes.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or []
        missing = [c for c in ("id", "model", "quality", "cost") if c not in header]
        if missing:
            raise DataError(f"{outcomes}: missing column(s) {missing}; header is {header[:12]}.")
        i_id, i_m, i_q, i_c = (header.index(c) for c in ("id", "model", "quality", "cost"))
        i_l = header.index("latency_s") if "latency_s" in header else None
        width = max(i_id, i_m, i_q, i_c) + 1
        for lineno, rec in enumerate(reader, 2):
            if not rec:
                continue
            where = f"{outcomes}:{lineno}"
            if len(rec) < width:
                raise DataError(f"{where}: {len(rec)} field(s), the header has {len(header)}.")
            pid, model = rec[i_id], rec[i_m]
            if (pid, model) in seen:
                raise DataError(f"{where}: duplicate outcome for prompt {pid!r}, model {model!r}.")
            seen.add((pid, model))
            rows = rows_of.get(pid)
            if rows is None:
                if pid in listed:  # a duplicated id dropped by the policy
                    continue
                raise DataError(f"{where}: outcome for unknown prompt id {pid!r}.")
            col = col_of.setdefault(model, len(col_of))
            q = _parse_value(rec[i_q], "quality", where)
            c = _parse_value(rec[i_c], "cost", where)
            lat = math.nan
            if i_l is not None and i_l < len(rec) and rec[i_l].strip():
                lat = _parse_value(rec[i_l], "latency", where)
            cells.append((rows, col, q, c, lat))
    if not col_of:
        raise DataError(f"{outcomes}: no outcomes and no models.json: the table has no model.")
    quality = np.full((len(prompts), len(col_of)), np.nan)
    cost = np.full_like(quality, np.nan)
    latency = np.full_like(quality, np.nan)
    for rows, col, q, c, lat in cells:
        quality[rows, col] = q
        cost[rows, col] = c
        latency[rows, col] = lat
    models = tuple(col_of)
    if cards is not None and len(models) > len(cards):
        cards = ModelPool([*cards, *(m for m in models[len(cards) :])])
    if cards is not None:  # card priors where the outcomes say nothing
        for j, model in enumerate(models):
            card_latency = cards[model].latency_s if model in cards else None
            if card_latency is not None:
                fill = np.isnan(latency[:, j]) & ~np.isnan(quality[:, j])
                latency[fill, j] = float(card_latency)
    return RoutingTable(
        ids=tuple(p["id"] for p in prompts),
        prompts=tuple(p["prompt"] for p in prompts),
        tasks=tuple(p["task"] for p in prompts),
        splits=tuple(p["split"] for p in prompts),
        models=models,
        quality=quality,
        cost=cost,
        cards=cards,
        name=name if name is not None else root.resolve().name,
        latency=latency if np.isfinite(latency).any() else None,
    )


def _atomic_write(path: Path, lines: Iterable[str]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(table: RoutingTable, path: str | os.PathLike[str]) -> None:
    """Write ``table`` in the long layout under the directory ``path`` (created if needed).

    Each file is written to a temporary file first and then renamed, so an interrupted write never
    leaves a half-written table. Unobserved cells get no ``outcomes.csv`` row; a table with
    latency gets a ``latency_s`` column (empty where unknown).
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    prompt_lines = (
        json.dumps({"id": i, "prompt": p, "task": t, "split": s}, ensure_ascii=False) + "\n"
        for i, p, t, s in zip(table.ids, table.prompts, table.tasks, table.splits)
    )
    seen: set[str] = set()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    lat = table.latency
    writer.writerow(["id", "model", "quality", "cost", *(["latency_s"] if lat is not None else [])])
    for r, pid in enumerate(table.ids):
        if pid in seen:
            continue
        seen.add(pid)
        for j, model in enumerate(table.models):
            if not math.isnan(table.quality[r, j]):
                q, c = float(table.quality[r, j]), float(table.cost[r, j])
                extra = []
                if lat is not None:
                    extra = ["" if math.isnan(lat[r, j]) else repr(float(lat[r, j]))]
                writer.writerow([pid, model, repr(q), repr(c), *extra])
    out_lines = [buf.getvalue()]
    cards = table.cards.to_dict() if table.cards is not None else {m: {} for m in table.models}
    _atomic_write(root / "prompts.jsonl", prompt_lines)
    _atomic_write(root / "outcomes.csv", out_lines)
    _atomic_write(root / "models.json", [json.dumps(cards, indent=1, ensure_ascii=False), "\n"])
