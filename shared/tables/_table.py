"""The :class:`RoutingTable` container (see :mod:`shared.tables`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_outcome_arrays
from ..exceptions import DataError
from ..outcomes import Outcomes
from ..pool import ModelPool

__all__ = ["SPLITS", "RoutingTable", "table_from_arrays"]

#: Split names a routing table may use.
SPLITS = ("train", "test", "validation")

FloatMatrix = NDArray[np.float64]


def _readonly(arr: ArrayLike) -> FloatMatrix:
    out = np.array(arr, dtype=np.float64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class RoutingTable:
    """Outcomes of ``K`` models on ``n`` prompts; NaN cells were not observed.

    Args:
        ids: prompt ids, length ``n`` (unique unless read with ``on_duplicate="keep"``).
        prompts: prompt texts.
        tasks: task (source benchmark) of each prompt, ``""`` when unknown.
        splits: ``"train"``, ``"test"`` or ``"validation"`` for each prompt.
        models: model names, the columns of ``quality`` and ``cost``.
        quality: ``(n, K)`` quality in [0, 1], NaN when not observed.
        cost: ``(n, K)`` USD per call, >= 0, NaN exactly where ``quality`` is NaN.
        cards: the model cards of ``models.json``, if any.
        name: a label for reports (the directory name when read from disk).
        latency: ``(n, K)`` seconds per call, >= 0, NaN where unknown; ``None`` when the table
            has no latency at all (then routers trained on it refuse a latency weight).

    Raises:
        DataError: inconsistent lengths or shapes, quality outside [0, 1], negative cost or
            latency, an unknown split, or a cell observed in one matrix and not in the other.

    Tables compare by identity (their matrices make value equality ambiguous); the matrices are
    read-only.
    """

    ids: tuple[str, ...]
    prompts: tuple[str, ...]
    tasks: tuple[str, ...]
    splits: tuple[str, ...]
    models: tuple[str, ...]
    quality: FloatMatrix
    cost: FloatMatrix
    cards: ModelPool | None = field(default=None, compare=False)
    name: str = "table"
    latency: FloatMatrix | None = None

    def __post_init__(self) -> None:
        for attr in ("ids", "prompts", "tasks", "splits", "models"):
            object.__setattr__(self, attr, tuple(str(v) for v in getattr(self, attr)))
        object.__setattr__(self, "quality", _readonly(self.quality))
        object.__setattr__(self, "cost", _readonly(self.cost))
        n, k = len(self.ids), len(self.models)
        for attr in ("prompts", "tasks", "splits"):
            if len(getattr(self, attr)) != n:
                raise DataError(
                    f"RoutingTable.{attr} has {len(getattr(self, attr))} items, ids {n}."
                )
        if len(set(self.models)) != k or k == 0:
            raise DataError(f"RoutingTable needs unique, non-empty model names, got {self.models}.")
        for attr in ("quality", "cost"):
            if getattr(self, attr).shape != (n, k):
                raise DataError(
                    f"RoutingTable.{attr} has shape {getattr(self, attr).shape}, expected {(n, k)}."
                )
        unknown = sorted(set(self.splits) - set(SPLITS))
        if unknown:
            raise DataError(f"Unknown split value(s) {unknown}; allowed: {list(SPLITS)}.")
        q, c = self.quality, self.cost
        if not np.array_equal(np.isnan(q), np.isnan(c)):
            raise DataError("quality and cost must be observed (non-NaN) in the same cells.")
        if np.isinf(q).any() or np.isinf(c).any():
            raise DataError("quality and cost must be finite or NaN (not observed).")
        if ((q < 0) | (q > 1)).any():
            raise DataError("quality values must lie in [0, 1].")
        if (c < 0).any():
            raise DataError("cost values must be >= 0.")
        if self.latency is not None:
            _, _, lat = check_outcome_arrays(q, None, self.latency, (n, k), "RoutingTable")
            object.__setattr__(self, "latency", None if lat is None else _readonly(lat))

    @property
    def outcomes(self) -> Outcomes:
        """The ``(n, K)`` quality, cost and latency as one :class:`~shared.Outcomes`."""
        return Outcomes(self.quality, self.cost, self.latency)

    @property
    def has_latency(self) -> bool:
        """Whether at least one latency was observed."""
        return self.outcomes.has_latency

    # ------------------------------------------------------------------ shape
    @property
    def n_prompts(self) -> int:
        """Number of prompts (rows)."""
        return len(self.ids)

    @property
    def n_models(self) -> int:
        """Number of models (columns)."""
        return len(self.models)

    @property
    def observed(self) -> NDArray[np.bool_]:
        """``(n, K)`` mask of observed cells."""
        return ~np.isnan(self.quality)

    # ------------------------------------------------------------------ selection
    def subset(self, index_or_mask: ArrayLike) -> RoutingTable:
        """The rows selected by an integer index array or a boolean mask of length ``n``.

        Raises:
            DataError: a boolean mask of the wrong length.
        """
        sel = np.asarray(index_or_mask)
        if sel.dtype == bool:
            if sel.shape != (self.n_prompts,):
                raise DataError(f"Row mask has shape {sel.shape}, expected ({self.n_prompts},).")
            rows = np.flatnonzero(sel)
        else:
            rows = sel.astype(np.intp).ravel()
        return RoutingTable(
            ids=tuple(self.ids[i] for i in rows),
            prompts=tuple(self.prompts[i] for i in rows),
            tasks=tuple(self.tasks[i] for i in rows),
            splits=tuple(self.splits[i] for i in rows),
            models=self.models,
            quality=self.quality[rows],
            cost=self.cost[rows],
            cards=self.cards,
            name=self.name,
            latency=None if self.latency is None else self.latency[rows],
        )

    def split(self, name: str) -> RoutingTable:
        """The rows of split ``name`` (``"train"``, ``"test"`` or ``"validation"``).

        Raises:
            DataError: ``name`` is not an allowed split.
        """
        if name not in SPLITS:
            raise DataError(f"Unknown split {name!r}; allowed: {list(SPLITS)}.")
        return self.subset(np.array([s == name for s in self.splits], dtype=bool))

    def complete(self) -> RoutingTable:
        """The rows on which every model was observed."""
        return self.subset(self.observed.all(axis=1))


def table_from_arrays(
    quality: ArrayLike,
    cost: ArrayLike,
    models: Sequence[str],
    *,
    prompts: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    name: str = "table",
    latency: ArrayLike | None = None,
) -> RoutingTable:
    """A :class:`RoutingTable` from matrices, with generated ids (``p0``, ``p1``...).

    Examples:
        >>> table_from_arrays([[1.0, 0.0]], [[0.1, 0.01]], ["a", "b"]).ids
        ('p0',)
    """
    Q = np.asarray(quality, dtype=np.float64)
    n = Q.shape[0]
    return RoutingTable(
        ids=tuple(f"p{i}" for i in range(n)),
        prompts=tuple(prompts) if prompts is not None else tuple(f"prompt {i}" for i in range(n)),
        tasks=("",) * n,
        splits=tuple(splits) if splits is not None else ("train",) * n,
        models=tuple(models),
        quality=Q,
        cost=np.asarray(cost, dtype=np.float64),
        name=name,
        latency=None if latency is None else np.asarray(latency, dtype=np.float64),
    )
