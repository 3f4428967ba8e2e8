"""Rated records as training data: a logged-bandit data set or a long-layout routing table.

Only records with a rating and a prompt text can teach a router (the prompt is what gets
encoded); the others are left out and counted in a log message.

Examples:
    >>> from datetime import datetime, timezone
    >>> from shared.feedback import DecisionRecord
    >>> from shared.feedback.export import bandit_log_from_records
    >>> rec = DecisionRecord(decision_id="d1", run_id=None, model="b", chosen_model="b",
    ...                      models=("a", "b"), propensity=0.5,
    ...                      preference={"quality": 1.0, "cost": 0.0, "latency": 0.0},
    ...                      router="R", prompt="hi", scores={"a": 0.0, "b": 1.0}, fallbacks=("a",),
    ...                      created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), score=0.9)
    >>> log = bandit_log_from_records([rec])
    >>> log.chosen, log.quality.tolist(), log.models
    (('b',), [0.9], ('a', 'b'))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import FeedbackError
from ..outcomes import PREFERENCE_KEYS, BanditLog
from .records import DecisionRecord

if TYPE_CHECKING:
    from ..tables import RoutingTable

__all__ = ["bandit_log_from_records", "table_from_records"]

logger = logging.getLogger("prefroute.feedback.export")

_PREF_KEYS = PREFERENCE_KEYS


def _usable(records: Sequence[DecisionRecord], *, need_cost: bool) -> list[DecisionRecord]:
    kept = [
        r
        for r in records
        if r.score is not None
        and r.prompt is not None
        and (r.cost_usd is not None or not need_cost)
    ]
    if len(kept) < len(records):
        logger.info(
            "left out %d of %d records (unrated, no prompt%s)",
            len(records) - len(kept),
            len(records),
            " or no cost" if need_cost else "",
        )
    return kept


def _models(records: Sequence[DecisionRecord]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for rec in records:
        for name in (*rec.models, rec.model):
            seen.setdefault(name, None)
    return tuple(seen)


def bandit_log_from_records(
    records: Sequence[DecisionRecord], *, include_fallbacks: bool = False
) -> BanditLog:
    """The rated records with a prompt as a :class:`BanditLog` (cost NaN where unknown).

    Args:
        records: the stored records.
        include_fallbacks: keep the records a fallback answered (``model != chosen_model``),
            with propensity 1.0 (:attr:`DecisionRecord.learning_propensity`). By default they
            are left out: their outcome was not drawn with the logged propensity, so an
            importance-weighted learner must not see them.
    """
    kept = _usable(records, need_cost=False)
    if not include_fallbacks:
        direct = [r for r in kept if not r.answered_by_fallback]
        if len(direct) < len(kept):
            logger.info("left out %d records answered by a fallback", len(kept) - len(direct))
        kept = direct
    n = len(kept)
    return BanditLog(
        prompts=tuple(str(r.prompt) for r in kept),
        chosen=tuple(r.model for r in kept),
        quality=np.array([float(r.score or 0.0) for r in kept], dtype=np.float64),
        cost=np.array(
            [np.nan if r.cost_usd is None else r.cost_usd for r in kept], dtype=np.float64
        ),
        propensity=np.array([r.learning_propensity for r in kept], dtype=np.float64),
        preferences=np.array(
            [[r.preference.get(k, 0.0) for k in _PREF_KEYS] for r in kept], dtype=np.float64
        ).reshape(n, 3),
        models=_models(kept),
        decision_ids=tuple(r.decision_id for r in kept),
        latency=None
        if all(r.latency_s is None for r in kept)
        else np.array(
            [np.nan if r.latency_s is None else r.latency_s for r in kept], dtype=np.float64
        ),
    )


def table_from_records(
    records: Sequence[DecisionRecord], *, name: str = "feedback"
) -> RoutingTable:
    """The rated records with a prompt and a cost as a :class:`~shared.RoutingTable`.

    One row per decision (id = decision id, task = ``metadata["task"]`` or ``""``, split
    ``"train"``); only the answering model's cell is observed.

    Raises:
        FeedbackError: no record is usable.
    """
    from ..tables import RoutingTable

    kept = _usable(records, need_cost=True)
    if not kept:
        raise FeedbackError("No rated decision with a prompt and a cost to export.")
    models = _models(kept)
    column = {m: j for j, m in enumerate(models)}
    quality = np.full((len(kept), len(models)), np.nan)
    cost = np.full((len(kept), len(models)), np.nan)
    for i, rec in enumerate(kept):
        quality[i, column[rec.model]] = rec.score
        cost[i, column[rec.model]] = rec.cost_usd
    return RoutingTable(
        ids=tuple(r.decision_id for r in kept),
        prompts=tuple(str(r.prompt) for r in kept),
        tasks=tuple(str(r.metadata.get("task", "")) for r in kept),
        splits=("train",) * len(kept),
        models=models,
        quality=quality,
        cost=cost,
        cards=None,
        name=name,
    )
