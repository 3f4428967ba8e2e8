"""The online guard: one choice per price of quality until per-prompt decisions are shown better.

A router learning online from a cold start knows little at first, and per-prompt decisions made
from a few ratings are noisy: left alone they can fall below what simply calling the right single
model at each price achieves (the single models' hull). With the guard, every prompt at a price
goes to the member with the best mean utility there (the prior-shrunk member means: a single
model's point), and the router decides prompt by prompt only at the prices where the ratings show
that this beats the constant choice. :class:`OnlineGuard` keeps that evidence: rating by rating,
before the router learns from it, a doubly robust estimate (from the logged propensities) of the
utility gain of the router's per-prompt choice over the constant choice at each price of the
evaluation sweep (:func:`~shared.evaluation.sweep.default_lambdas`). It is the online counterpart of
:class:`~shared.routers.AutoRouter`'s validation guard.

Examples:
    >>> import numpy as np
    >>> guard = OnlineGuard(margin=1.0, prices=np.array([0.0, 1.0]))
    >>> u_hat = np.array([[0.9, 0.5], [0.4, 0.5]])  # per price: each member's predicted utility
    >>> for observed in (1.0, 0.8, 1.0):  # per-prompt choice 0 at price 0, the constant is 1
    ...     guard.observe(u_hat, per_prompt=np.array([0, 1]), constant=np.array([1, 1]),
    ...                   arm=0, propensity=0.5, observed=np.array([observed, 0.0]))
    >>> guard.per_prompt_at(0.0), guard.per_prompt_at(1.0)
    (True, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..preference import Preference

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

__all__ = ["OnlineGuard", "nearest_price", "preference_price"]


def preference_price(preference: Preference) -> float:
    """The price of quality ``w_c / w_q`` of a preference (``inf`` for pure cost).

    Examples:
        >>> preference_price(Preference(quality=0.5, cost=0.5))
        1.0
    """
    if preference.quality <= 0:
        return math.inf if preference.cost > 0 else 0.0
    return float(preference.cost / preference.quality)


def nearest_price(prices: FloatArray, price: float) -> int:
    """Index of the grid price nearest ``price`` (on the log scale; 0 and ``inf`` exactly).

    Examples:
        >>> import numpy as np
        >>> nearest_price(np.array([0.0, 0.1, 1.0, np.inf]), 0.4)
        2
    """
    if math.isinf(price):
        inf = np.flatnonzero(np.isinf(prices))
        return int(inf[0]) if inf.size else len(prices) - 1
    if price <= 0:
        return int(np.argmin(prices))
    finite = np.flatnonzero(np.isfinite(prices) & (prices > 0))
    return int(finite[np.argmin(np.abs(np.log(prices[finite]) - math.log(price)))])


class OnlineGuard:
    """Doubly robust evidence, price by price, that per-prompt decisions beat the constant one.

    For each rated call (:meth:`observe`, before the router learns from it) and each grid price
    ``g``: with ``pi`` the router's per-prompt choice, ``k`` the constant choice, ``a`` the
    answering member, ``p`` its logged propensity, ``u`` its observed utility and ``u_hat`` the
    router's predictions, the gain term is

        u_hat[pi] - u_hat[k] + (1[a = pi] - 1[a = k]) * (u - u_hat[a]) / p

    (zero where ``pi = k``): the doubly robust estimate of the gain, unbiased when the logging
    policy gives both choices a chance, because the predictions are made before the outcome is
    seen. A call logged with propensity 1 gave no other member a chance and is not evidence (the
    router skips it). Per-prompt decisions are used at a price only when the mean term exceeds
    ``margin`` standard errors of the mean.

    Args:
        margin: standard errors by which the mean gain must be positive.
        prices: the grid of prices of quality (default: the evaluation sweep's,
            :func:`~shared.evaluation.sweep.default_lambdas`).
        min_propensity: floor on the propensities in the weights (bounds one rating's weight).

    Examples:
        >>> import numpy as np
        >>> guard = OnlineGuard(margin=1.0, prices=np.array([0.0, 1.0]))
        >>> u_hat = np.array([[0.9, 0.5], [0.4, 0.5]])  # per price: each member's utility
        >>> guard.observe(u_hat, per_prompt=np.array([0, 1]), constant=np.array([1, 1]),
        ...               arm=0, propensity=0.5, observed=np.array([1.0, 0.0]))
        >>> guard.gain()[0].round(2).tolist()
        [0.6, 0.0]
        >>> guard.per_prompt_at(0.0)  # one rating is not evidence (no standard error yet)
        False
    """

    def __init__(
        self,
        margin: float = 1.0,
        prices: FloatArray | None = None,
        min_propensity: float = 0.05,
    ) -> None:
        if prices is None:
            from ..evaluation.sweep import default_lambdas

            prices = default_lambdas()
        self.margin = float(margin)
        self.min_propensity = float(min_propensity)
        self.prices = np.asarray(prices, dtype=np.float64)
        G = len(self.prices)
        self.n = np.zeros(G)
        self.total = np.zeros(G)
        self.squares = np.zeros(G)

    def utilities(self, quality: FloatArray, cost: FloatArray, cost_scale: float) -> FloatArray:
        """``(G, K)`` utility ``q - price * c / cost_scale`` at each grid price (pure cost:
        ``-c / cost_scale`` with quality breaking ties)."""
        q = np.asarray(quality, dtype=np.float64)[None, :]
        c = np.asarray(cost, dtype=np.float64)[None, :] / cost_scale
        lam = self.prices[:, None]
        finite = np.isfinite(lam)
        out = np.where(finite, q - np.where(finite, lam, 0.0) * c, -c + 1e-9 * q)
        return np.asarray(out, dtype=np.float64)

    def observe(
        self,
        u_hat: FloatArray,
        *,
        per_prompt: IntArray,
        constant: IntArray,
        arm: int,
        propensity: float,
        observed: FloatArray,
    ) -> None:
        """Add one rated call: ``u_hat`` ``(G, K)`` predicted utilities, the per-prompt and
        constant choices ``(G,)``, the answering member, its propensity and its observed utility
        at each price ``(G,)``."""
        rows = np.arange(len(self.prices))
        term = u_hat[rows, per_prompt] - u_hat[rows, constant]
        weight = (per_prompt == arm).astype(np.float64) - (constant == arm)
        term = term + weight * (observed - u_hat[:, arm]) / max(propensity, self.min_propensity)
        self.n += 1.0
        self.total += term
        self.squares += term * term

    def gain(self) -> tuple[FloatArray, FloatArray]:
        """Mean gain of per-prompt decisions over the constant choice per price, and its
        standard error (``inf`` before two ratings)."""
        n = np.maximum(self.n, 1.0)
        mean = self.total / n
        var = np.maximum(self.squares / n - mean * mean, 0.0)
        se = np.where(self.n >= 2, np.sqrt(var / np.maximum(self.n - 1.0, 1.0)), np.inf)
        return mean, se

    def per_prompt_at(self, price: float) -> bool:
        """Whether the evidence supports per-prompt decisions at ``price``."""
        i = nearest_price(self.prices, price)
        mean, se = self.gain()
        return bool(mean[i] > 0 and mean[i] > self.margin * se[i])

    def state(self, prefix: str) -> dict[str, FloatArray]:
        """Arrays to save (see :meth:`load`; the grid is the default one)."""
        return {
            f"{prefix}n": self.n,
            f"{prefix}total": self.total,
            f"{prefix}squares": self.squares,
        }

    @classmethod
    def load(
        cls, prefix: str, arrays: Mapping[str, Any], margin: float, min_propensity: float = 0.05
    ) -> OnlineGuard:
        """The guard saved by :meth:`state` (on the default price grid)."""
        guard = cls(margin, None, min_propensity)
        guard.n = np.asarray(arrays[f"{prefix}n"], dtype=np.float64).copy()
        guard.total = np.asarray(arrays[f"{prefix}total"], dtype=np.float64).copy()
        guard.squares = np.asarray(arrays[f"{prefix}squares"], dtype=np.float64).copy()
        return guard
