"""The two data types every learner shares: :class:`Outcomes` and :class:`BanditLog`.

* :class:`Outcomes` is what a model's answers cost and were worth: quality in [0, 1], cost in
  USD and, optionally, latency in seconds (NaN = not observed). A full-information table holds
  ``(n, K)`` outcomes (every model on every prompt); a bandit log holds ``(n,)`` outcomes (the one
  model that answered each prompt). :attr:`shared.RoutingTable.outcomes`,
  :attr:`BanditLog.outcomes` and the routers' ``fit`` all validate through
  :func:`shared._validation.check_outcome_arrays`.
* :class:`BanditLog` is the one logged-bandit data set: one chosen model per prompt with its
  outcome, the propensity of the choice and the preference in force. The feedback store exports
  it, the simulation produces it, ``fit_bandit`` validates its arguments by building one.

Examples:
    >>> import numpy as np
    >>> log = BanditLog(chosen=("a", "b"), quality=np.array([1.0, 0.5]),
    ...                 cost=np.array([0.01, np.nan]), propensity=np.array([0.5, 0.5]),
    ...                 models=("a", "b"))
    >>> len(log), log.arms.tolist(), log.filled_cost().tolist()
    (2, [0, 1], [0.01, 0.01])
    >>> BanditLog(chosen=("a",), quality=np.array([1.5]), cost=np.array([0.0]),
    ...           propensity=np.array([1.0]), models=("a",))
    Traceback (most recent call last):
    ...
    shared.exceptions.DataError: BanditLog: quality must be in [0, 1] (NaN = not observed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_embeddings, check_models, check_outcome_arrays, check_propensity
from .exceptions import DataError, UnknownModelError

__all__ = ["BanditLog", "Outcomes", "check_bandit_arrays"]

FloatArray = NDArray[np.float64]

#: Column order of logged preference weights.
PREFERENCE_KEYS = ("quality", "cost", "latency")


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Quality, cost and optional latency of model answers (NaN = not observed).

    Build one with :meth:`checked`, which validates (the constructor does not copy or check).

    Attributes:
        quality: quality in [0, 1].
        cost: USD per call, >= 0.
        latency: seconds per call, >= 0, or ``None`` when the source has no latency at all.
    """

    quality: FloatArray
    cost: FloatArray
    latency: FloatArray | None = None

    @classmethod
    def checked(
        cls,
        quality: ArrayLike,
        cost: ArrayLike | None,
        latency: ArrayLike | None = None,
        *,
        shape: tuple[int, ...],
        owner: str = "outcomes",
        quality_nan: bool = True,
    ) -> Outcomes:
        """Validated outcomes of ``shape`` (see :func:`~shared._validation.check_outcome_arrays`).

        Raises:
            DataError: wrong shape, or values out of range.
        """
        Q, C, L = check_outcome_arrays(
            quality, cost, latency, shape, owner, quality_nan=quality_nan
        )
        return cls(Q, C, L)

    @property
    def has_latency(self) -> bool:
        """Whether at least one latency was observed."""
        return self.latency is not None and bool(np.isfinite(self.latency).any())


@dataclass(frozen=True, eq=False)
class BanditLog:
    """Rated decisions as a logged-bandit data set: one observed model per prompt.

    The constructor validates (a malformed log raises :class:`~shared.DataError`, an unknown
    chosen model :class:`~shared.UnknownModelError`, a bad model list
    :class:`~shared.InvalidParameterError`) and stores float64 arrays.

    Attributes:
        chosen: the model that answered each prompt (the observed arm), length ``n``.
        quality: its rating, ``(n,)`` in [0, 1].
        cost: its USD cost, ``(n,)``; NaN where unknown.
        propensity: probability with which the logging policy chose it, ``(n,)`` in (0, 1].
        models: every model of the pool (the possible arms).
        preferences: ``(n, 3)`` (quality, cost, latency) weights in force, or ``None``.
        latency: its latency in seconds, ``(n,)`` with NaN where unknown, or ``None``.
        prompts: the prompt texts (a log exported from a feedback store), or ``()``.
        rows: index of each logged prompt in a source table / embedding matrix, or ``None``.
        decision_ids: the decision id of each row (a store export), or ``()``.
    """

    chosen: tuple[str, ...]
    quality: FloatArray
    cost: FloatArray
    propensity: FloatArray
    models: tuple[str, ...]
    preferences: FloatArray | None = None
    latency: FloatArray | None = None
    prompts: tuple[str, ...] = ()
    rows: NDArray[np.intp] | None = None
    decision_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        owner = "BanditLog"
        models = tuple(check_models(list(self.models), owner)) if self.models else ()
        chosen = tuple(str(m) for m in self.chosen)
        n = len(chosen)
        known = set(models)
        for name in chosen:
            if name not in known:
                raise UnknownModelError(name, models)
        out = Outcomes.checked(
            self.quality,
            self.cost,
            self.latency,
            shape=(n,),
            owner=owner,
            quality_nan=False,
        )
        prefs = None if self.preferences is None else _check_preferences(self.preferences, n)
        for label, seq in (("prompts", self.prompts), ("decision_ids", self.decision_ids)):
            if len(seq) not in (0, n):
                raise DataError(f"{owner}: {label} has {len(seq)} entries for {n} rows.")
        rows = None
        if self.rows is not None:
            rows = np.asarray(self.rows, dtype=np.intp).reshape(-1)
            if rows.shape != (n,):
                raise DataError(f"{owner}: rows has {rows.shape[0]} entries for {n} rows.")
        values: dict[str, Any] = {
            "chosen": chosen,
            "models": models,
            "quality": out.quality,
            "cost": out.cost,
            "latency": out.latency,
            "propensity": check_propensity(self.propensity, n, owner),
            "preferences": prefs,
            "prompts": tuple(self.prompts),
            "decision_ids": tuple(self.decision_ids),
            "rows": rows,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.chosen)

    @property
    def n_models(self) -> int:
        """Number of models of the pool."""
        return len(self.models)

    @property
    def arms(self) -> NDArray[np.intp]:
        """Index of each chosen model in :attr:`models`."""
        index = {m: j for j, m in enumerate(self.models)}
        return np.asarray([index[m] for m in self.chosen], dtype=np.intp)

    @property
    def outcomes(self) -> Outcomes:
        """The logged ``(n,)`` outcomes of the chosen models."""
        return Outcomes(self.quality, self.cost, self.latency)

    def filled_cost(self) -> FloatArray:
        """The costs with each unknown (NaN) one replaced by the median known cost of the same
        model (else of all models, else 0.0)."""
        return _fill_by_model(self.cost, self.chosen)

    def select(self, index: ArrayLike) -> BanditLog:
        """The log restricted to the rows ``index`` (an integer array), in that order."""
        idx = np.asarray(index, dtype=np.intp).reshape(-1)

        def pick(seq: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(seq[i] for i in idx) if seq else ()

        return BanditLog(
            chosen=pick(self.chosen),
            quality=self.quality[idx],
            cost=self.cost[idx],
            propensity=self.propensity[idx],
            models=self.models,
            preferences=None if self.preferences is None else self.preferences[idx],
            latency=None if self.latency is None else self.latency[idx],
            prompts=pick(self.prompts),
            rows=None if self.rows is None else self.rows[idx],
            decision_ids=pick(self.decision_ids),
        )

    def fit_bandit_args(
        self, X: ArrayLike, router: object
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` for ``router.fit_bandit(*args, **kwargs)``.

        Args:
            X: the embedding matrix :attr:`rows` index into (or one row per log entry when
                the log has no rows).
            router: the router to fit; the logged latencies are passed (``latency=``) when it
                is :class:`~shared.LearnsLatency` and the log observed at least one.

        Examples:
            >>> import numpy as np
            >>> from shared import BaRPRouter, RidgeRouter
            >>> log = BanditLog(chosen=("a", "b"), quality=np.array([1.0, 0.5]),
            ...                 cost=np.array([0.01, 0.001]), propensity=np.array([0.5, 0.5]),
            ...                 models=("a", "b"), latency=np.array([2.0, 0.4]))
            >>> sorted(log.fit_bandit_args(np.eye(2), RidgeRouter())[1])
            ['latency', 'models']
            >>> sorted(log.fit_bandit_args(np.eye(2), BaRPRouter())[1])
            ['models']
        """
        from .capabilities import latency_kwargs

        Xa = np.asarray(X)
        Xr = Xa if self.rows is None else Xa[self.rows]
        kwargs: dict[str, Any] = {"models": list(self.models)}
        if self.preferences is not None:
            kwargs["preferences"] = self.preferences
        if self.outcomes.has_latency:
            kwargs.update(latency_kwargs(router, self.latency))
        return (Xr, list(self.chosen), self.quality, self.cost, self.propensity), kwargs


def _check_preferences(preferences: ArrayLike, n: int) -> FloatArray:
    owner = "BanditLog"
    try:
        W = np.array(preferences, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{owner}: preferences must be numeric: {err}") from None
    if W.ndim == 2 and W.shape[0] == n and W.shape[1] == 2:
        W = np.hstack([W, np.zeros((n, 1))])
    if W.ndim != 2 or W.shape != (n, 3):
        raise DataError(
            f"{owner}: preferences must have shape (n_samples, 3) (quality, cost, latency "
            f"weights) or (n_samples, 2); got {W.shape}."
        )
    if not np.isfinite(W).all() or (W < 0).any() or (n and (W.sum(axis=1) <= 0).any()):
        raise DataError(f"{owner}: preference weights must be finite, >= 0 and not all 0.")
    return W


def _fill_by_model(values: FloatArray, chosen: tuple[str, ...]) -> FloatArray:
    out = np.array(values, dtype=np.float64)
    missing = np.isnan(out)
    if not missing.any():
        return out
    names = np.asarray(chosen, dtype=object)
    overall = float(np.median(out[~missing])) if (~missing).any() else 0.0
    for model in set(names[missing]):
        rows = names == model
        known = out[rows & ~missing]
        out[rows & missing] = float(np.median(known)) if known.size else overall
    return out


def check_bandit_arrays(
    X: ArrayLike,
    chosen: Sequence[str],
    quality: ArrayLike,
    cost: ArrayLike | None,
    propensity: ArrayLike,
    models: Sequence[str],
    owner: str,
    *,
    preferences: ArrayLike | None = None,
    latency: ArrayLike | None = None,
) -> tuple[FloatArray, BanditLog]:
    """The arguments of ``fit_bandit`` as ``(X, BanditLog)``, validated like every bandit log.

    A ``None`` cost is unknown (NaN) on every row.

    Raises:
        InvalidParameterError: bad model names.
        UnknownModelError: a chosen model is not in ``models``.
        DataError: bad embeddings, outcomes, propensities or preferences, or lengths disagree.
    """
    Xc = check_embeddings(X, owner=owner)
    chosen_t = tuple(str(m) for m in chosen)
    if len(chosen_t) != Xc.shape[0]:
        raise DataError(f"{owner}: 'chosen' has {len(chosen_t)} entries for {Xc.shape[0]} prompts.")
    check_models(models, owner)
    n = Xc.shape[0]
    log = BanditLog(
        chosen=chosen_t,
        quality=np.asarray(quality),
        cost=np.full(n, np.nan) if cost is None else np.asarray(cost),
        propensity=np.asarray(propensity),
        models=tuple(models),
        preferences=None if preferences is None else np.asarray(preferences),
        latency=None if latency is None else np.asarray(latency),
    )
    return Xc, log
