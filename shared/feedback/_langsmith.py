"""Read LangSmith ``Feedback`` objects (or plain dicts) without importing langsmith (private)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import FeedbackError
from . import _validate as check

__all__ = ["ParsedFeedback", "parse_feedback"]


@dataclass(frozen=True)
class ParsedFeedback:
    """One LangSmith rating, validated: the run it is about, its source, score and comment."""

    run_id: str
    source: str
    score: float
    comment: str | None


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _to_score(
    raw: Any, score_map: Mapping[Any, float] | Callable[[Any], float] | None, where: str
) -> float:
    if score_map is not None:
        if callable(score_map) and not isinstance(score_map, Mapping):
            raw = score_map(raw)
        else:
            try:
                raw = score_map[raw]
            except (KeyError, TypeError):
                raise FeedbackError(f"{where}: value {raw!r} is not in score_map.") from None
    elif isinstance(raw, bool):
        raw = 1.0 if raw else 0.0
    try:
        return check.check_score(raw)
    except FeedbackError as err:
        raise FeedbackError(f"{where}: {err}") from None


def parse_feedback(
    items: Iterable[Any],
    *,
    key: str | None = None,
    score_map: Mapping[Any, float] | Callable[[Any], float] | None = None,
) -> list[ParsedFeedback]:
    """Validate every item first (so a bad item leaves the store untouched).

    Items whose ``key`` differs from ``key`` and items with neither score nor value are
    skipped.

    Raises:
        FeedbackError: an item has no run id or key, or a score not in [0, 1].
    """
    out: list[ParsedFeedback] = []
    for index, item in enumerate(items):
        where = f"LangSmith feedback item {index}"
        fb_key = _field(item, "key")
        if key is not None and fb_key != key:
            continue
        run_id = _field(item, "run_id")
        if run_id is None:
            raise FeedbackError(f"{where} has no run_id.")
        if not isinstance(fb_key, str) or not fb_key:
            raise FeedbackError(f"{where} has no feedback key.")
        raw = _field(item, "score")
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            raw = _field(item, "value")
        if raw is None:
            continue
        comment = _field(item, "comment")
        out.append(
            ParsedFeedback(
                run_id=check.key_candidates(run_id)[0],
                source=check.check_source(f"langsmith:{fb_key}"),
                score=_to_score(raw, score_map, where),
                comment=comment if isinstance(comment, str) else None,
            )
        )
    return out
