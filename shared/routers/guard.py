"""The guard of routers that learn online: one choice per price until per-prompt decisions are shown better.

The bandit analogue of :class:`~shared.routers.AutoRouter`'s guard. A router learning from one
outcome per prompt can route per prompt worse than calling one model, at some preferences (at the
pure-quality end, a noisy per-prompt estimate sends prompts away from the best model). The guard
decides, at each price of quality ``lam`` of a fixed grid (the evaluation sweep's), whether the
router's greedy per-prompt decisions are shown to beat the best constant choice, from the router's
own feedback log, and makes the constant choice where they are not.

**Estimates (progressive, doubly robust).** Each logged outcome is recorded with what the router
predicted and would have chosen *before* it learned from it (progressive validation: the
predictions of a router that had not seen the outcome): its greedy choice at every grid price and
its predicted quality and cost of every model on that prompt. At price ``lam`` the utility is
``u = q - lam * c / tau``. The doubly robust pseudo-outcome of model ``k`` on record ``i`` is
``Y[i, k] = u_hat[i, k] + 1[a_i = k] * w_i * (u_i - u_hat[i, k])`` with ``w_i = min(1 / p_i,
max_weight)`` (``p_i`` the logged propensity; as in
:func:`~shared.routers.offpolicy.doubly_robust_outcomes`): the router's out-of-sample prediction,
corrected by the importance-weighted residual where the model was chosen. A model's value is the
mean of its column (a model never chosen is not a constant candidate), and the paired difference
of the router's choice ``pi_i`` with the best constant ``k*`` is ``D_i = Y[i, pi_i] - Y[i, k*]``.
The router keeps its per-prompt decisions at ``lam`` only if ``mean(D) > margin * se(D)``.
Without predictions (a router that predicts no quality, such as a policy), each model's
self-normalized importance-weighted mean (SNIPS) is the reward model.

Two estimators share this module, the price grid (:data:`DEFAULT_GUARD_PRICES`, the evaluation
sweep's), the price lookup (:func:`preference_price`, :func:`nearest_price`) and the utilities
(:func:`price_utilities`):

* :class:`OnlineGuard` (``RidgeRouter(guard=True)``, the engine's cold start): running sums of the
  doubly robust gain, each rating compared with the constant choice the router made *then* (its
  prior-shrunk member means); nothing is stored per rating, ratings with propensity 1 are skipped
  by the router.
* :class:`PolicyGuard` (the linear bandits): the records themselves, so that the constant choice
  is re-valued from every rating so far (SNIPS means), ratings with propensity 1 count, and a
  batch log (``fit_bandit``) can be judged with cross-fitted choices.

**Online, cheap.** Recording is ``O(n_prices)`` per outcome; the verdicts are recomputed from the
last ``max_records`` records (``O(max_records * n_prices)``, a few milliseconds) only when the log
has grown by ``refresh`` (5 %) since the last computation. With fewer than ``min_records`` records
the guard makes the constant choice at every price (the best model by observed mean, with the
quality prior): data too thin to trust per-prompt routing.

Examples:
    >>> import numpy as np
    >>> guard = PolicyGuard(2, min_records=4)
    >>> prices = guard.prices
    >>> # model 0 is better everywhere, and the router (choices) always picks model 1
    >>> for i in range(40):
    ...     arm = i % 2
    ...     guard.record(arm, 0.9 if arm == 0 else 0.5, 0.01, 0.5, np.ones(len(prices), int),
    ...                  predicted=([0.7, 0.7], [0.01, 0.01]))
    >>> guard.constant(0, cost_scale=0.01)   # price 0: the constant choice, model 0
    0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import RouteScores, scalarize
from ..exceptions import DataError
from ..preference import Preference

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
#: ``predict(X) -> (quality, cost)``: a router's current predictions, each ``(n, K)``.
PredictFn = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

__all__ = [
    "DEFAULT_GUARD_PRICES",
    "OnlineGuard",
    "PolicyGuard",
    "constant_scores",
    "greedy_choices",
    "guarded_scores",
    "nearest_price",
    "preference_price",
    "price_utilities",
]

#: The grid of prices of quality the guard decides on: the evaluation sweep's
#: (``{0} ∪ logspace(-3, 3, 60) ∪ {inf}``, see :func:`shared.evaluation.default_lambdas`).
DEFAULT_GUARD_PRICES: FloatArray = np.append(
    np.concatenate(([0.0], np.logspace(-3, 3, 60))), np.inf
)


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


def price_utilities(
    quality: ArrayLike,
    cost: ArrayLike,
    cost_scale: float,
    prices: FloatArray = DEFAULT_GUARD_PRICES,
) -> FloatArray:
    """``(..., G, K)`` utility ``q - price * c / cost_scale`` at each grid price of ``(..., K)``
    predictions (pure cost: ``-c / cost_scale`` with quality breaking ties).

    Examples:
        >>> price_utilities([0.9, 0.5], [1.0, 0.1], 1.0, np.array([0.0, np.inf])).round(2).tolist()
        [[0.9, 0.5], [-1.0, -0.1]]
    """
    q = np.asarray(quality, dtype=np.float64)[..., None, :]
    c = np.asarray(cost, dtype=np.float64)[..., None, :] / cost_scale
    lam = prices[:, None]
    finite = np.isfinite(lam)
    out = np.where(finite, q - np.where(finite, lam, 0.0) * c, -c + 1e-9 * q)
    return np.asarray(out, dtype=np.float64)


def greedy_choices(
    quality: ArrayLike,
    cost: ArrayLike,
    cost_scale: float,
    prices: FloatArray = DEFAULT_GUARD_PRICES,
) -> IntArray:
    """``(n, n_prices)`` greedy choice ``argmax q - lam * c / tau`` at every grid price.

    ``lam = inf`` picks the cheapest model (highest quality among ties).

    Examples:
        >>> greedy_choices([[0.9, 0.5]], [[1.0, 0.1]], 1.0, np.array([0.0, 1.0, np.inf])).tolist()
        [[0, 1, 1]]
    """
    Q = np.atleast_2d(np.asarray(quality, dtype=np.float64))
    C = np.atleast_2d(np.asarray(cost, dtype=np.float64))
    return np.asarray(price_utilities(Q, C, cost_scale, prices).argmax(axis=2), dtype=np.intp)


class PolicyGuard:
    """Per-price verdicts "route per prompt" or "make the constant choice", from a bandit log.

    Args:
        n_models: number of models (arms), in the router's column order.
        margin: routing is kept at a price only if it beats the best constant by more than this
            many standard errors of the paired off-policy difference.
        min_records: below this many records every price makes the constant choice.
        max_records: only the most recent records are used (older ones were decided by a less
            trained router).
        max_weight: clip of the importance weights ``1 / propensity``.
        prior_strength: pseudo-records shrinking each model's mean quality toward the pooled mean.
        refresh: recompute the verdicts when the log has grown by this fraction.
        recent: share of the records (the most recent) the estimates use.
        prices: the grid of prices of quality (default :data:`DEFAULT_GUARD_PRICES`).
    """

    arms: IntArray
    quality: FloatArray
    cost: FloatArray
    propensity: FloatArray
    choices: IntArray
    pred_quality: FloatArray
    pred_cost: FloatArray
    contexts: NDArray[np.float32] | None
    n_seen: int

    def __init__(
        self,
        n_models: int,
        *,
        margin: float = 1.0,
        min_records: int = 50,
        max_records: int = 4096,
        max_weight: float = 20.0,
        prior_strength: float = 1.0,
        refresh: float = 0.05,
        recent: float = 1.0,
        prices: ArrayLike | None = None,
    ) -> None:
        self.n_models = int(n_models)
        self.margin = float(margin)
        self.min_records = int(min_records)
        self.max_records = int(max_records)
        self.max_weight = float(max_weight)
        self.prior_strength = float(prior_strength)
        self.refresh = float(refresh)
        self.recent = float(recent)
        self.prices = (
            DEFAULT_GUARD_PRICES.copy() if prices is None else np.asarray(prices, dtype=np.float64)
        )
        self._cache: tuple[int, float, IntArray, FloatArray, FloatArray] | None = None
        self._cache_current = False
        self._pending: list[tuple[Any, ...]] = []
        self.clear()

    # ------------------------------------------------------------------ recording
    @property
    def n_records(self) -> int:
        """Records currently used (at most ``max_records``)."""
        self._flush()
        return int(self.arms.shape[0])

    def _flush(self) -> None:
        """Move the single records kept since the last read into the arrays (one copy per
        batch of records instead of one per record)."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        arm, q, c, p, ch, pq, pc, x = (list(col) for col in zip(*rows, strict=True))
        preds = None if any(v is None for v in pq + pc) else (np.stack(pq), np.stack(pc))
        ctx = None if any(v is None for v in x) else np.stack(x)
        self.record_batch(arm, q, c, p, np.stack(ch), preds, ctx)

    def record(
        self,
        arm: int,
        quality: float,
        cost: float,
        propensity: float,
        choices: ArrayLike,
        predicted: tuple[ArrayLike, ArrayLike] | None = None,
        context: ArrayLike | None = None,
    ) -> None:
        """Add one logged outcome (``cost`` NaN if unknown).

        Args:
            arm: the chosen model's index.
            quality: its revealed quality.
            cost: its revealed cost (NaN: unknown).
            propensity: the probability with which it was chosen.
            choices: ``(n_prices,)`` the router's greedy choice at each grid price, computed
                before the router learned from this outcome.
            predicted: the router's predicted quality and cost of every model on this prompt,
                ``(K,)`` each, before learning from it (the doubly robust reward model); ``None``
                uses each model's logged mean instead.
            context: the prompt's embedding; kept (as float32) so that :meth:`evaluate` can
                judge the router's *current* greedy choices on the logged prompts.
        """
        K, P = self.n_models, len(self.prices)
        ch = np.asarray(choices, dtype=np.intp).ravel()
        if ch.shape != (P,) or not 0 <= int(arm) < K or ch.min() < 0 or ch.max() >= K:
            raise DataError(f"guard record: arm and {P} choices must be model indices in [0, {K}).")
        pq = pc = None
        if predicted is not None:
            pq = np.asarray(predicted[0], dtype=np.float64).ravel()
            pc = np.asarray(predicted[1], dtype=np.float64).ravel()
            if pq.shape != (K,) or pc.shape != (K,):
                raise DataError(f"guard record: predictions must have {K} entries.")
        x = None if context is None else np.asarray(context, dtype=np.float64).ravel()
        self._pending.append(
            (int(arm), float(quality), float(cost), float(propensity), ch, pq, pc, x)
        )
        if len(self._pending) >= 256:
            self._flush()

    def record_batch(
        self,
        arms: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike,
        propensity: ArrayLike,
        choices: ArrayLike,
        predicted: tuple[ArrayLike, ArrayLike] | None = None,
        contexts: ArrayLike | None = None,
    ) -> None:
        """Add ``n`` logged outcomes; ``choices`` is ``(n, n_prices)``, ``predicted`` two
        ``(n, K)`` arrays, ``contexts`` ``(n, d)`` (see :meth:`record`)."""
        self._flush()
        a = np.asarray(arms, dtype=np.intp).ravel()
        q = np.asarray(quality, dtype=np.float64).ravel()
        c = np.asarray(cost, dtype=np.float64).ravel()
        p = np.asarray(propensity, dtype=np.float64).ravel()
        ch = np.asarray(choices, dtype=np.intp)
        n, K, P = len(a), self.n_models, len(self.prices)
        if not (len(q) == len(c) == len(p) == n) or ch.size != n * P:
            raise DataError("guard records: arms, quality, cost, propensity, choices disagree.")
        ch = ch.reshape(n, P)
        if a.size and (a.min() < 0 or a.max() >= K or ch.min() < 0 or ch.max() >= K):
            raise DataError(f"guard records: arms and choices must be in [0, {K}).")
        if predicted is None:
            pq = pc = np.full((n, K), np.nan)
        else:
            pq = np.asarray(predicted[0], dtype=np.float64)
            pc = np.asarray(predicted[1], dtype=np.float64)
            if pq.shape != (n, K) or pc.shape != (n, K):
                raise DataError(f"guard records: predictions must be ({n}, {K}) arrays.")
        keep = np.isfinite(q) & np.isfinite(p) & (p > 0)
        c = np.where(np.isfinite(c), c, np.nan)
        if contexts is not None or self.contexts is not None:
            if contexts is None:
                assert self.contexts is not None
                new = np.full((n, self.contexts.shape[1]), np.nan, dtype=np.float32)
            else:
                new = np.asarray(contexts, dtype=np.float32).reshape(n, -1)
            old = self.contexts
            if old is None:
                old = np.full((self.n_records, new.shape[1]), np.nan, dtype=np.float32)
            if old.shape[1] != new.shape[1]:
                raise DataError("guard records: contexts change width.")
            self.contexts = np.concatenate([old, new[keep]])[-self.max_records :]
        m = self.max_records
        self.arms = np.concatenate([self.arms, a[keep]])[-m:]
        self.quality = np.concatenate([self.quality, q[keep]])[-m:]
        self.cost = np.concatenate([self.cost, c[keep]])[-m:]
        self.propensity = np.concatenate([self.propensity, p[keep]])[-m:]
        self.choices = np.concatenate([self.choices, ch[keep]])[-m:]
        self.pred_quality = np.concatenate([self.pred_quality, pq[keep]])[-m:]
        self.pred_cost = np.concatenate([self.pred_cost, pc[keep]])[-m:]
        self.n_seen += int(keep.sum())

    def clear(self) -> None:
        """Forget every record."""
        self._pending = []
        K, P = self.n_models, len(self.prices)
        self.arms = np.zeros(0, dtype=np.intp)
        self.quality = np.zeros(0)
        self.cost = np.zeros(0)
        self.propensity = np.zeros(0)
        self.choices = np.zeros((0, P), dtype=np.intp)
        self.pred_quality = np.zeros((0, K))
        self.pred_cost = np.zeros((0, K))
        self.contexts = None
        self.n_seen = 0
        self._cache = None

    # ------------------------------------------------------------------ estimates
    def _window(self) -> slice:
        """The records the estimates use: the most recent ``recent`` share (>= min_records)."""
        n = self.n_records
        keep = max(self.min_records, math.ceil(self.recent * n))
        return slice(max(0, n - keep), n)

    def _weights(self, sl: slice) -> FloatArray:
        return np.asarray(np.minimum(1.0 / self.propensity[sl], self.max_weight))

    def _snips(self, sl: slice) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Each model's SNIPS mean quality (shrunk to the pooled mean) and cost, and its weight."""
        K = self.n_models
        arms, q, cost, w = self.arms[sl], self.quality[sl], self.cost[sl], self._weights(sl)
        W = np.bincount(arms, weights=w, minlength=K)
        pooled = float(q.mean()) if q.size else 0.5
        sq = np.bincount(arms, weights=w * q, minlength=K)
        known = np.isfinite(cost)
        Wc = np.bincount(arms[known], weights=w[known], minlength=K)
        sc = np.bincount(arms[known], weights=(w * cost)[known], minlength=K)
        s = self.prior_strength
        with np.errstate(invalid="ignore", divide="ignore"):
            qm = np.where(W > 0, (s * pooled + sq) / (s + W), np.nan)
            cm = np.where(Wc > 0, sc / np.maximum(Wc, 1e-300), np.nan)
        fallback = float(np.nanmax(cm)) if np.isfinite(cm).any() else 0.0
        cm = np.where((W > 0) & ~np.isfinite(cm), fallback, cm)
        return (
            np.asarray(qm, dtype=np.float64),
            np.asarray(cm, dtype=np.float64),
            np.asarray(W, dtype=np.float64),
        )

    def _pseudo(
        self, sl: slice, pred: tuple[FloatArray, FloatArray] | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
        """Doubly robust pseudo-outcomes ``(n, K)`` of quality and cost, and each model's weight
        and whether it was chosen at all (reward model: ``pred``, else the recorded ones)."""
        qm, cm, W = self.arm_means()
        fill_q, fill_c = np.where(np.isfinite(qm), qm, 0.0), np.where(np.isfinite(cm), cm, 0.0)
        pq, pc = (self.pred_quality[sl], self.pred_cost[sl]) if pred is None else pred
        Yq = np.where(np.isfinite(pq), pq, fill_q[None, :])
        Yc = np.where(np.isfinite(pc), pc, fill_c[None, :])
        rows, arms, w = np.arange(Yq.shape[0]), self.arms[sl], self._weights(sl)
        Yq[rows, arms] += w * (self.quality[sl] - Yq[rows, arms])
        cost = self.cost[sl]
        known = np.isfinite(cost)
        Yc[rows[known], arms[known]] += w[known] * (cost[known] - Yc[rows[known], arms[known]])
        return Yq, Yc, W, W > 0

    def arm_means(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Each model's SNIPS mean quality (shrunk toward the pooled mean by ``prior_strength``
        pseudo-records) and cost over every record, and its importance weight (0 for a
        model never chosen, whose means are NaN): the values of the constant choices."""
        if self.n_records == 0:
            nan = np.full(self.n_models, np.nan)
            return nan, nan.copy(), np.zeros(self.n_models)
        return self._snips(slice(0, self.n_records))

    def evaluate(
        self, cost_scale: float, predict: PredictFn | None = None
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Verdicts at each grid price (``-1``: keep routing; else the constant model's index),
        with the estimated gain of routing over the best constant and its standard error.

        The constant choices are valued by each model's SNIPS means (:meth:`arm_means`): with a
        deterministic logging policy the doubly robust column means are not unbiased (a model
        not chosen had probability 0, not ``p``), and a reward model shrunk toward a prior
        undervalues a dear model tried a few times.

        With ``predict`` (the router's current ``(quality, cost)`` predictions) and recorded
        contexts, the choices judged are the router's *current* greedy choices on the logged
        prompts, with its current predictions as the reward model (out of sample for every model
        but the logged one, whose pseudo-outcome the importance-weighted residual corrects);
        otherwise the recorded (progressive) choices and predictions.
        """
        P = len(self.prices)
        if self._fresh(cost_scale) and self._cache_current == (predict is not None):
            assert self._cache is not None
            return self._cache[2], self._cache[3], self._cache[4]
        verdict = np.full(P, -1, dtype=np.intp)
        gain, se = np.full(P, np.nan), np.full(P, np.nan)
        if self.n_records:
            sl = self._window()
            pred, choices = None, self.choices[sl]
            ctx = None if self.contexts is None else self.contexts[sl]
            if predict is not None and ctx is not None and np.isfinite(ctx).all():
                pq, pc = predict(ctx.astype(np.float64))
                pred = (np.asarray(pq, dtype=np.float64), np.asarray(pc, dtype=np.float64))
                choices = greedy_choices(pred[0], pred[1], cost_scale, self.prices)
            Yq, Yc, _, seen = self._pseudo(sl, pred)
            mq, mc, _ = self.arm_means()
            n = Yq.shape[0]
            rows = np.arange(n)
            U = price_utilities(Yq, Yc, cost_scale, self.prices)  # (n, P, K)
            values = np.where(seen, price_utilities(mq, mc, cost_scale, self.prices), -np.inf)
            for j in range(P):
                Y, value = U[:, j], values[j]
                best = int(np.argmax(value))
                if self.n_records < self.min_records:
                    verdict[j] = best
                    continue
                d = Y[rows, choices[:, j]] - Y[:, best]
                gain[j] = float(d.mean())
                se[j] = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
                if not gain[j] > self.margin * se[j]:
                    verdict[j] = best
        self._cache = (self.n_seen, cost_scale, verdict, gain, se)
        self._cache_current = predict is not None
        return verdict, gain, se

    def _fresh(self, cost_scale: float) -> bool:
        """Whether the cached verdicts still stand (same scale; the log grew by < ``refresh``)."""
        self._flush()
        if self._cache is None or abs(self._cache[1] - cost_scale) > 0.05 * cost_scale:
            return False
        done = self._cache[0]
        if self.n_seen == done:
            return True
        thin = self.n_seen < 2 * self.min_records
        return not thin and self.n_seen < done * (1.0 + self.refresh)

    def constant(
        self, preference: Preference | int, *, cost_scale: float, predict: PredictFn | None = None
    ) -> int | None:
        """The constant model for this preference (a grid index or a :class:`~shared.Preference`),
        or ``None`` where per-prompt routing is kept (or nothing was recorded)."""
        if self.n_records == 0:
            return None
        j = (
            preference
            if isinstance(preference, int)
            else nearest_price(self.prices, preference_price(preference))
        )
        k = int(self.evaluate(cost_scale, predict)[0][j])
        return None if k < 0 else k

    def report(self, cost_scale: float) -> dict[str, Any]:
        """JSON-able verdicts: per price the gain, its standard error and the constant (or None)."""
        verdict, gain, se = self.evaluate(cost_scale)
        return {
            "n_records": self.n_records,
            "prices": [float(p) for p in self.prices],
            "constant": [None if v < 0 else int(v) for v in verdict],
            "gain": [None if not np.isfinite(g) else float(g) for g in gain],
            "se": [None if not np.isfinite(s) else float(s) for s in se],
        }

    # ------------------------------------------------------------------ persistence
    def state(self, prefix: str = "guard_") -> dict[str, NDArray[Any]]:
        """The records as named arrays (the verdicts are recomputed after loading)."""
        self._flush()
        return {
            f"{prefix}arms": self.arms,
            f"{prefix}quality": self.quality,
            f"{prefix}cost": self.cost,
            f"{prefix}propensity": self.propensity,
            f"{prefix}choices": self.choices,
            f"{prefix}pred_quality": self.pred_quality,
            f"{prefix}pred_cost": self.pred_cost,
            f"{prefix}n_seen": np.array([self.n_seen], dtype=np.int64),
            **({} if self.contexts is None else {f"{prefix}contexts": self.contexts}),
        }

    def load(self, arrays: Mapping[str, NDArray[Any]], prefix: str = "guard_") -> None:
        """Restore :meth:`state` (missing arrays: no records)."""
        if f"{prefix}arms" not in arrays:
            return
        self.clear()
        self.record_batch(
            arrays[f"{prefix}arms"], arrays[f"{prefix}quality"], arrays[f"{prefix}cost"],
            arrays[f"{prefix}propensity"], arrays[f"{prefix}choices"],
            (arrays[f"{prefix}pred_quality"], arrays[f"{prefix}pred_cost"]),
            arrays.get(f"{prefix}contexts"),
        )  # fmt: skip
        self.n_seen = int(np.asarray(arrays[f"{prefix}n_seen"]).ravel()[0])


def constant_scores(
    guard: PolicyGuard, n: int, preference: Preference, cost_scale: float
) -> RouteScores:
    """Scores of the constant choice: every prompt scored by the models' logged means (a model
    never chosen scores below every other)."""
    q, c, W = guard.arm_means()
    seen = (W > 0) & np.isfinite(q)
    q, c = np.where(seen, q, 0.0), np.where(np.isfinite(c), c, 0.0)
    utility = np.where(seen, scalarize(preference, q, c, cost_scale), -1e9)
    return RouteScores(
        utility=np.tile(utility, (n, 1)), quality=np.tile(q, (n, 1)), cost=np.tile(c, (n, 1))
    )


def guarded_scores(
    guard: PolicyGuard | None,
    n: int,
    preference: Preference,
    cost_scale: float,
    predict: PredictFn | None = None,
) -> RouteScores | None:
    """:func:`constant_scores` where ``guard`` makes the constant choice at ``preference``,
    else ``None`` (route per prompt): what a router's greedy scores call first."""
    if guard is None or guard.constant(preference, cost_scale=cost_scale, predict=predict) is None:
        return None
    return constant_scores(guard, n, preference, cost_scale)


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
            prices = DEFAULT_GUARD_PRICES
        self.margin = float(margin)
        self.min_propensity = float(min_propensity)
        self.prices = np.asarray(prices, dtype=np.float64)
        G = len(self.prices)
        self.n = np.zeros(G)
        self.total = np.zeros(G)
        self.squares = np.zeros(G)

    def utilities(self, quality: FloatArray, cost: FloatArray, cost_scale: float) -> FloatArray:
        """``(G, K)`` utility ``q - price * c / cost_scale`` at each grid price (pure cost:
        ``-c / cost_scale`` with quality breaking ties; :func:`price_utilities`)."""
        return price_utilities(quality, cost, cost_scale, self.prices)

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
