"""Input checks shared by the bandit-trained routers: outcome tables, bandit logs, preferences.

Also the calibrated cost unit of BaRP, ``c~ = min(c / tau, 1)``, and the running record of observed
costs that lets a router started from nothing (``initialize``) calibrate ``tau`` as it learns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import calibrate_scale
from .._validation import check_embeddings
from ..exceptions import DataError, DimensionMismatchError, UnknownModelError
from ..preference import Preference, PreferenceLike

FloatArray = NDArray[np.float64]

__all__ = [
    "BanditLog",
    "CostHistory",
    "check_bandit_log",
    "check_models",
    "check_table",
    "preference_features",
    "scaled_cost",
]

#: How many recent costs a router keeps to re-calibrate ``tau`` during online learning.
COST_HISTORY_SIZE = 4096


def check_models(models: Sequence[str], owner: str) -> list[str]:
    """The model names as a list of unique non-empty strings."""
    names = [str(m) for m in models]
    if not names:
        raise DataError(f"{owner} needs at least one model.")
    if len(set(names)) != len(names):
        raise DataError(f"Duplicate model names for {owner}: {names}.")
    if any(not n for n in names):
        raise DataError(f"Model names for {owner} must be non-empty strings.")
    return names


def _check_quality(q: FloatArray, owner: str) -> None:
    obs = q[np.isfinite(q)]
    if obs.size and (obs.min() < 0.0 or obs.max() > 1.0):
        raise DataError(
            f"Quality for {owner} must lie in [0, 1]; got values in "
            f"[{obs.min():.4g}, {obs.max():.4g}]."
        )


def _check_cost(c: FloatArray, owner: str) -> None:
    if np.isinf(c).any():
        raise DataError(f"Costs for {owner} must be finite (NaN marks an unobserved cell).")
    obs = c[np.isfinite(c)]
    if obs.size and obs.min() < 0.0:
        raise DataError(f"Costs for {owner} must be >= 0; got {obs.min():.4g}.")


def check_table(
    X: ArrayLike, quality: ArrayLike, cost: ArrayLike, models: Sequence[str], owner: str
) -> tuple[FloatArray, FloatArray, FloatArray, list[str]]:
    """Validate a full-information table; NaN cells are unobserved (quality and cost alike)."""
    Xc = check_embeddings(X, owner=owner)
    names = check_models(models, owner)
    Q = np.asarray(quality, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    shape = (Xc.shape[0], len(names))
    for label, arr in (("quality", Q), ("cost", C)):
        if arr.shape != shape:
            raise DimensionMismatchError(
                f"{label} for {owner} must have shape (n_samples, n_models) = {shape}, "
                f"got {arr.shape}."
            )
    _check_quality(Q, owner)
    _check_cost(C, owner)
    observed = np.isfinite(Q) & np.isfinite(C)
    if not observed.any():
        raise DataError(f"No observed (quality, cost) cell to train {owner} on.")
    Q = np.where(observed, Q, np.nan)
    C = np.where(observed, C, np.nan)
    return Xc, Q, C, names


@dataclass(frozen=True)
class BanditLog:
    """A validated bandit log: one observed model per row."""

    X: FloatArray
    arms: NDArray[np.intp]
    quality: FloatArray
    cost: FloatArray
    propensity: FloatArray
    preferences: FloatArray | None
    models: list[str]


def check_bandit_log(
    X: ArrayLike,
    chosen: Sequence[str],
    quality: ArrayLike,
    cost: ArrayLike,
    propensity: ArrayLike,
    models: Sequence[str],
    preferences: ArrayLike | None,
    owner: str,
) -> BanditLog:
    """Validate a bandit log ``(x_i, chosen_i, q_i, c_i, propensity_i[, w_i])``."""
    Xc = check_embeddings(X, owner=owner)
    names = check_models(models, owner)
    n = Xc.shape[0]
    chosen_list = [str(m) for m in chosen]
    lookup = {m: i for i, m in enumerate(names)}
    for m in chosen_list:
        if m not in lookup:
            raise UnknownModelError(m, names)
    arms = np.asarray([lookup[m] for m in chosen_list], dtype=np.intp)
    q = np.asarray(quality, dtype=np.float64).ravel()
    c = np.asarray(cost, dtype=np.float64).ravel()
    p = np.asarray(propensity, dtype=np.float64).ravel()
    for label, arr in (("chosen", arms), ("quality", q), ("cost", c), ("propensity", p)):
        if arr.shape[0] != n:
            raise DimensionMismatchError(
                f"{label} for {owner} has {arr.shape[0]} entries but X has {n} rows."
            )
    if not (np.isfinite(q).all() and np.isfinite(c).all()):
        raise DataError(f"A bandit log for {owner} must have finite quality and cost.")
    _check_quality(q, owner)
    _check_cost(c, owner)
    if not (np.isfinite(p).all() and (p > 0).all() and (p <= 1).all()):
        raise DataError(f"Propensities for {owner} must lie in (0, 1].")
    W = None
    if preferences is not None:
        W = np.asarray(preferences, dtype=np.float64)
        if W.ndim != 2 or W.shape[0] != n or W.shape[1] not in (2, 3):
            raise DimensionMismatchError(
                f"preferences for {owner} must have shape (n_samples, 3) (quality, cost, "
                f"latency weights) or (n_samples, 2); got {W.shape}."
            )
        if not np.isfinite(W).all() or (W < 0).any() or (W.sum(axis=1) <= 0).any():
            raise DataError(f"Preference weights for {owner} must be finite, >= 0, not all 0.")
        W = _two_weights(W[:, 0], W[:, 1])
    return BanditLog(Xc, arms, q, c, p, W, names)


def _two_weights(wq: FloatArray, wc: FloatArray) -> FloatArray:
    total = wq + wc
    safe = np.where(total > 0, total, 1.0)
    out = np.stack([np.where(total > 0, wq / safe, 1.0), np.where(total > 0, wc / safe, 0.0)], 1)
    return np.asarray(out, dtype=np.float64)


def preference_features(preference: PreferenceLike) -> FloatArray:
    """``(w_q, w_c)`` renormalized to sum to one; latency weight is dropped.

    A pure-latency preference (no quality or cost weight) maps to quality only.

    Examples:
        >>> preference_features({"quality": 0.5, "cost": 0.25, "latency": 0.25}).round(3).tolist()
        [0.667, 0.333]
    """
    pref = Preference.coerce(preference)
    return np.asarray(_two_weights(np.array([pref.quality]), np.array([pref.cost]))[0])


def scaled_cost(cost: ArrayLike, tau: float) -> FloatArray:
    """BaRP's calibrated cost ``min(c / tau, 1)``.

    Examples:
        >>> scaled_cost([0.5, 1.0, 4.0], 2.0).tolist()
        [0.25, 0.5, 1.0]
    """
    return np.asarray(np.minimum(np.asarray(cost, dtype=np.float64) / tau, 1.0))


class CostHistory:
    """The most recent observed costs, from which ``tau`` is re-calibrated online."""

    def __init__(self, values: ArrayLike | None = None) -> None:
        arr = np.zeros(0) if values is None else np.asarray(values, dtype=np.float64).ravel()
        self.values = arr[-COST_HISTORY_SIZE:]

    def add(self, cost: float) -> None:
        """Remember one observed cost."""
        self.values = np.append(self.values, float(cost))[-COST_HISTORY_SIZE:]

    def scale(self, quantile: float = 0.95) -> float:
        """``calibrate_scale`` of the remembered costs (1.0 before any positive cost)."""
        return calibrate_scale(self.values, quantile)
