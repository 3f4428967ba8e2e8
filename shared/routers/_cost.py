"""The cost unit of the bandit-trained routers and their preference features.

BaRP's calibrated cost ``c~ = min(c / tau, 1)``, the running record of observed costs that lets a
router started from nothing (``initialize``) calibrate ``tau`` as it learns, and the
``(w_q, w_c)`` preference features of a policy. (Input checks live in :mod:`shared._validation`.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import calibrate_scale
from ..preference import Preference, PreferenceLike

FloatArray = NDArray[np.float64]

__all__ = ["CostHistory", "preference_features", "scaled_cost", "two_weights"]

#: How many recent costs a router keeps to re-calibrate ``tau`` during online learning.
COST_HISTORY_SIZE = 4096


def two_weights(wq: FloatArray, wc: FloatArray) -> FloatArray:
    """``(w_q, w_c)`` rows renormalized to sum to one (quality only where both are 0)."""
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
    return np.asarray(two_weights(np.array([pref.quality]), np.array([pref.cost]))[0])


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
