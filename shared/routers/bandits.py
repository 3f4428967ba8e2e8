"""Linear contextual bandits that serve any preference: LinUCB, linear Thompson sampling, epsilon-greedy.

Each model (arm) gets a disjoint ridge regression on ``[x ; 1]`` with two targets sharing one design
matrix: quality and USD cost. Because quality and cost are modelled separately, one fitted bandit
serves every preference: the utility is scalarized at decision time,
``u_k = w_q * q_k(x) - w_c * c_k(x) / tau``, and exploration acts on that utility:

* :class:`LinUCBRouter` adds ``exploration_weight * (w_q + w_c) * sqrt(x' A_k^-1 x)`` (optimism);
* :class:`LinearThompsonRouter` samples ``u_k`` from its Gaussian posterior, and reports the
  Monte-Carlo probability of each arm being the best (the logged propensity);
* :class:`EpsilonGreedyRouter` takes the best mean with probability ``1 - epsilon``, else a uniform arm.

Learning is the direct method (regression on the observed outcome): unbiased without importance
weights, so logged propensities are accepted but not used. Updates are Sherman-Morrison rank-one
updates of ``A_k^-1``. Greedy routing (``explore=False``) uses the posterior means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter, RouteScores, calibrate_scale, scalarize
from .._validation import (
    Constraint,
    Interval,
    check_models,
    check_n_features,
    check_table,
    check_update,
    model_index,
)
from ..capabilities import ColdStarts, FitsBandit, FitsTable, LearnsOnline, Persists
from ..exceptions import DataError
from ..outcomes import check_bandit_arrays
from ..preference import Preference, PreferenceLike
from ._cost import CostHistory
from .guard import PolicyGuard, greedy_choices, guarded_scores

FloatArray = NDArray[np.float64]

__all__ = ["EpsilonGreedyRouter", "LinUCBRouter", "LinearThompsonRouter"]


def _with_intercept(X: FloatArray) -> FloatArray:
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _fill_mean(values: FloatArray) -> FloatArray:
    """NaN entries replaced by the mean of the others (0.0 when none is known)."""
    known = np.isfinite(values)
    if known.all():
        return values
    return np.where(known, values, float(values[known].mean()) if known.any() else 0.0)


class _LinearArmsRouter(FitsTable, FitsBandit, ColdStarts, LearnsOnline, Persists, BaseRouter):
    """Per-arm ridge on ``[x ; 1]`` for quality and cost; subclasses choose the exploration."""

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "alpha": [Interval(float, 0.0, None, closed="neither")],
        "cost_scale": [Interval(float, 0.0, None, closed="neither"), None],
        "cost_quantile": [Interval(float, 0.0, 1.0, closed="right")],
        "pessimism": [Interval(float, 0.0, None)],
        "prior_quality": [Interval(float, 0.0, 1.0), None],
        "prior_strength": [Interval(float, 0.0, None, closed="neither")],
        "guard": ["boolean"],
        "guard_margin": [Interval(float, 0.0, None)],
        "warmup": [Interval(int, 0, None)],
        "random_state": ["random_state"],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [
            {"random_state": 0},
            {"cost_scale": 0.01, "random_state": 1},
            {"guard": True, "random_state": 2},
        ]

    alpha: float
    pessimism: float
    prior_quality: float | None
    prior_strength: float
    cost_scale: float | None
    cost_quantile: float
    guard: bool
    guard_margin: float
    warmup: int
    random_state: int | None

    # ------------------------------------------------------------------ state
    def _setup(self, models: list[str], n_features: int, costs: FloatArray | None) -> None:
        self._validate_params()
        self.rng_ = np.random.default_rng(self.random_state)
        self.models_ = models
        self.n_features_in_ = n_features
        K, p = len(models), n_features + 1
        self.A_inv_ = np.tile(np.diag(1.0 / self._penalty(p)), (K, 1, 1))
        self.b_quality_ = np.zeros((K, p))
        self.b_cost_ = np.zeros((K, p))
        self.counts_ = np.zeros(K, dtype=np.int64)
        self.theta_quality_ = np.zeros((K, p))
        self.theta_cost_ = np.zeros((K, p))
        self.cost_history_ = CostHistory(costs)
        self.tau_online_ = self.cost_scale is None and costs is None
        self._refresh_scale()
        if self.cost_scale is None and costs is not None:
            # every training cost, not only the bounded online history
            self.cost_scale_ = calibrate_scale(costs, self.cost_quantile)
        self.guard_ = PolicyGuard(K, margin=self.guard_margin) if self.guard else None

    @property
    def scalarized_sweep(self) -> bool:
        """``False`` while the guard holds records: decisions then depend on the preference
        beyond a scalarization of the predictions (the evaluation sweep asks each price)."""
        guard = getattr(self, "guard_", None)
        return guard is None or guard.n_records == 0

    def _greedy_outcomes(self, X: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Quality (pessimistic when ``pessimism > 0``) and cost the greedy decisions act on."""
        quality, cost, width = self._predict(X, widths=self.pessimism > 0)
        return quality - self.pessimism * width, cost

    def _guard_record(
        self, xc: FloatArray, k: int, q: float, c: float | None, propensity: float
    ) -> None:
        """Record an outcome in the guard with the greedy choices and predictions of the router
        before it learns from it (progressive validation)."""
        assert self.guard_ is not None
        q_hat, c_hat = self._greedy_outcomes(xc)
        choices = greedy_choices(q_hat, c_hat, self.cost_scale_, self.guard_.prices)[0]
        cost = np.nan if c is None else c
        self.guard_.record(k, q, cost, propensity, choices, (q_hat[0], c_hat[0]))

    def _refresh_scale(self) -> None:
        """``tau``: the fixed ``cost_scale``, else the ``cost_quantile`` of the costs observed.

        Online, every model that has been tried counts once (the quantile of the models' mean
        observed costs), so ``tau`` spans the pool's prices whichever models the router happens
        to choose: counted per call, a router choosing mostly cheap models would shrink ``tau``,
        which makes every preference more cost-averse and the dear models still rarer.
        """
        if self.cost_scale is not None:
            self.cost_scale_ = float(self.cost_scale)
            return
        counts = getattr(self, "counts_", None)
        if self.tau_online_ and counts is not None and counts.any():
            means = self.b_cost_[counts > 0, -1] / counts[counts > 0]
            positive = means[means > 0]
            if positive.size:
                self.cost_scale_ = calibrate_scale(positive, self.cost_quantile)
                return
        self.cost_scale_ = self.cost_history_.scale(self.cost_quantile)

    def _penalty(self, p: int) -> FloatArray:
        """Prior precision: ``alpha`` on the weights, ``prior_strength`` on the intercept."""
        pen = np.full(p, float(self.alpha))
        pen[-1] = float(self.prior_strength)
        return pen

    def _fit_arm(self, k: int, X1: FloatArray, q: FloatArray, c: FloatArray) -> None:
        p = X1.shape[1]
        A = np.diag(self._penalty(p)) + X1.T @ X1
        self.A_inv_[k] = np.linalg.inv(A)
        self.b_quality_[k] = X1.T @ q
        self.b_cost_[k] = X1.T @ c
        self.counts_[k] = X1.shape[0]
        self._solve(k)

    def _solve(self, k: int) -> None:
        self.theta_quality_[k] = self.A_inv_[k] @ self.b_quality_[k]
        self.theta_cost_[k] = self.A_inv_[k] @ self.b_cost_[k]

    def _prior_quality(self) -> float:
        """The intercepts' prior mean: ``prior_quality``, or the pooled mean of revealed quality."""
        if self.prior_quality is not None:
            return float(self.prior_quality)
        n = int(self.counts_.sum())
        # the intercept column of b_quality_ holds each arm's sum of revealed qualities
        return float(self.b_quality_[:, -1].sum() / n) if n else 0.5

    def _quality_weights(self) -> FloatArray:
        """Quality weights shrunk toward the prior: ``A^-1 (b + strength * prior * e_intercept)``."""
        shift = self.prior_strength * self._prior_quality() * self.A_inv_[:, :, -1]
        return np.asarray(self.theta_quality_ + shift)

    def initialize(self, models: Sequence[str], n_features: int) -> Self:
        """Start from nothing (every prediction 0) so that :meth:`update` can learn online."""
        names = check_models(models, type(self).__name__)
        self._setup(names, check_n_features(n_features, type(self).__name__), None)
        return self

    # ------------------------------------------------------------------ learning
    def fit(
        self, X: ArrayLike, quality: ArrayLike, cost: ArrayLike | None, *, models: Sequence[str]
    ) -> Self:
        """Fit every arm on its observed cells of a full table (NaN cells are skipped).

        A cell with a quality but no cost (NaN) uses the arm's mean observed cost (0 if none).
        """
        Xc, names, Q, C, _ = check_table(X, quality, cost, models, type(self).__name__)
        self._setup(names, Xc.shape[1], C[np.isfinite(C)])
        X1 = _with_intercept(Xc)
        for k in range(len(names)):
            rows = np.isfinite(Q[:, k])
            self._fit_arm(k, X1[rows], Q[rows, k], _fill_mean(C[rows, k]))
        return self  # full information: the guard holds no record and never acts

    def fit_bandit(
        self,
        X: ArrayLike,
        chosen: Sequence[str],
        quality: ArrayLike,
        cost: ArrayLike | None,
        propensity: ArrayLike,
        *,
        models: Sequence[str],
        preferences: ArrayLike | None = None,
    ) -> Self:
        """Fit from a bandit log: each arm regresses on the rows where it was chosen.

        ``propensity`` is validated but unused (direct method); ``preferences`` are unused since
        quality and cost are modelled separately.
        """
        Xc, log = check_bandit_arrays(
            X, chosen, quality, cost, propensity, models, type(self).__name__,
            preferences=preferences,
        )  # fmt: skip
        cost_filled = log.filled_cost()
        self._setup(list(log.models), Xc.shape[1], log.cost[np.isfinite(log.cost)])
        X1 = _with_intercept(Xc)
        arms = log.arms
        for k in range(log.n_models):
            rows = arms == k
            self._fit_arm(k, X1[rows], log.quality[rows], cost_filled[rows])
        if self.guard_ is not None:
            self._guard_from_log(Xc, log.models, arms, log.quality, log.cost, log.propensity)
        return self

    def _guard_from_log(
        self,
        X: FloatArray,
        models: Sequence[str],
        arms: NDArray[np.intp],
        quality: FloatArray,
        cost: FloatArray,
        propensity: FloatArray,
    ) -> None:
        """Record a batch log in the guard with cross-fitted choices (two folds: each half's
        choices come from arms fitted on the other half, so no record judges its own fit)."""
        assert self.guard_ is not None
        n = X.shape[0]
        fold = np.random.default_rng(0).permutation(n) % 2
        choices = np.zeros((n, len(self.guard_.prices)), dtype=np.intp)
        pred_q, pred_c = np.full((n, len(models)), np.nan), np.full((n, len(models)), np.nan)
        params = {**self.get_params(), "guard": False}
        for f in (0, 1):
            train, held = fold != f, fold == f
            if not train.any() or not held.any():
                continue
            twin = type(self)(**params)
            twin._setup(list(models), X.shape[1], None)
            twin.cost_scale_ = self.cost_scale_
            X1 = _with_intercept(X[train])
            for k in range(len(models)):
                rows = arms[train] == k
                c = _fill_mean(cost[train][rows])
                twin._fit_arm(k, X1[rows], quality[train][rows], c)
            q_hat, c_hat = twin._greedy_outcomes(X[held])
            choices[held] = greedy_choices(q_hat, c_hat, self.cost_scale_, self.guard_.prices)
            pred_q[held], pred_c[held] = q_hat, c_hat
        self.guard_.record_batch(arms, quality, cost, propensity, choices, (pred_q, pred_c))

    def update(
        self,
        x: ArrayLike,
        model: str,
        quality: float,
        cost: float | None = None,
        *,
        propensity: float = 1.0,
        preference: PreferenceLike | None = None,
    ) -> Self:
        """Add one observed outcome to ``model``'s regression (Sherman-Morrison update).

        An unknown ``cost`` leaves the cost estimate where it is (the current prediction is used
        as the target).
        """
        xc = self._check_X(x, allow_1d=True)
        if xc.shape[0] != 1:
            raise DataError("update takes one prompt embedding; use fit_bandit for a batch.")
        k = model_index(self.models_, model)
        q, known_cost, _ = check_update(quality, cost, propensity, type(self).__name__)
        if self.guard_ is not None:
            self._guard_record(xc, k, q, known_cost, propensity)
        x1 = _with_intercept(xc)[0]
        if known_cost is None:
            c = float(x1 @ self.theta_cost_[k])
        else:
            c = known_cost
            self.cost_history_.add(c)
        Ax = self.A_inv_[k] @ x1
        self.A_inv_[k] -= np.outer(Ax, Ax) / (1.0 + x1 @ Ax)
        self.b_quality_[k] += q * x1
        self.b_cost_[k] += c * x1
        self.counts_[k] += 1
        self._solve(k)
        if self.tau_online_ and known_cost is not None:
            self._refresh_scale()
        return self

    # ------------------------------------------------------------------ routing
    def _predict(
        self, X: FloatArray, widths: bool = True
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Predicted quality, cost and the ridge width ``sqrt(x' A^-1 x)`` (zeros unless
        ``widths``), each ``(n, K)``."""
        X1 = _with_intercept(X)
        quality = X1 @ self._quality_weights().T
        cost = np.maximum(X1 @ self.theta_cost_.T, 0.0)
        if not widths:
            return quality, cost, np.zeros_like(quality)
        width = np.sqrt(np.maximum(np.einsum("ni,kij,nj->nk", X1, self.A_inv_, X1), 0.0))
        return quality, cost, width

    def confidence_width(self, X: ArrayLike) -> FloatArray:
        """``(n, K)`` ridge widths ``sqrt(x' A_k^-1 x)``: how thin each model's data is near ``x``.

        The width shrinks like ``1 / sqrt(n_k)`` with the number of outcomes logged for model
        ``k`` near the prompt; UCB adds it (times ``exploration_weight``) and ``pessimism``
        subtracts it.
        """
        return self._predict(self._check_X(X, allow_1d=True))[2]

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        if not explore:
            guarded = guarded_scores(
                self.guard_, X.shape[0], preference, self.cost_scale_
            )  # fmt: skip
            if guarded is not None:
                return guarded
        quality, cost, width = self._predict(X, widths=explore or self.pessimism > 0)
        if explore and self.warmup and int(self.counts_.min()) < self.warmup:
            # warm-up: a uniform draw among the models tried fewer than `warmup` times
            fresh = (self.counts_ < self.warmup).astype(np.float64)
            probs = np.tile(fresh / fresh.sum(), (X.shape[0], 1))
            mean = scalarize(preference, quality, cost, self.cost_scale_)
            return RouteScores(utility=mean, probabilities=probs, quality=quality, cost=cost)
        if explore:
            mean = scalarize(preference, quality, cost, self.cost_scale_)
            return self._explore(
                mean, width * (preference.quality + preference.cost), quality, cost
            )
        # greedy: act on the pessimistic quality (a lower confidence bound where data is thin)
        quality = quality - self.pessimism * width
        return RouteScores(
            utility=scalarize(preference, quality, cost, self.cost_scale_),
            quality=quality,
            cost=cost,
        )

    def _explore(
        self, mean: FloatArray, width: FloatArray, quality: FloatArray, cost: FloatArray
    ) -> RouteScores:
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        meta = {
            "models": list(self.models_),
            "n_features": self.n_features_in_,
            "cost_scale": self.cost_scale_,
            "tau_online": self.tau_online_,
            "rng_state": self._rng().bit_generator.state,
        }
        arrays: dict[str, NDArray[Any]] = {
            "A_inv": self.A_inv_,
            "b_quality": self.b_quality_,
            "b_cost": self.b_cost_,
            "counts": self.counts_,
            "cost_history": self.cost_history_.values,
        }
        if self.guard_ is not None:
            arrays.update(self.guard_.state())
        return meta, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.models_ = [str(m) for m in meta["models"]]
        self.n_features_in_ = int(meta["n_features"])
        self.cost_scale_ = float(meta["cost_scale"])
        self.tau_online_ = bool(meta["tau_online"])
        self.A_inv_ = np.array(arrays["A_inv"], dtype=np.float64)
        self.b_quality_ = np.array(arrays["b_quality"], dtype=np.float64)
        self.b_cost_ = np.array(arrays["b_cost"], dtype=np.float64)
        self.counts_ = np.array(arrays["counts"], dtype=np.int64)
        self.cost_history_ = CostHistory(arrays["cost_history"])
        K, p = len(self.models_), self.n_features_in_ + 1
        if self.A_inv_.shape != (K, p, p) or self.b_quality_.shape != (K, p):
            raise ValueError("saved bandit arrays do not match its models and n_features")
        if not (np.diagonal(self.A_inv_, axis1=1, axis2=2) > 0).all():
            raise ValueError("saved bandit A_inv is not positive definite")
        self.theta_quality_ = np.zeros((K, p))
        self.theta_cost_ = np.zeros((K, p))
        for k in range(K):
            self._solve(k)
        self.rng_ = np.random.default_rng(self.random_state)
        if "rng_state" in meta:
            self.rng_.bit_generator.state = dict(meta["rng_state"])
        self.guard_ = PolicyGuard(K, margin=self.guard_margin) if self.guard else None
        if self.guard_ is not None:
            self.guard_.load(arrays)


class LinUCBRouter(_LinearArmsRouter):
    """Disjoint LinUCB over quality and cost, scalarized by the caller's preference.

    Args:
        alpha: ridge penalty (prior precision) of each arm's regression.
        exploration_weight: UCB multiplier of the ridge width ``sqrt(x' A_k^-1 x)``.
        cost_scale: cost unit ``tau``; ``None`` calibrates it from training costs.
        cost_quantile: quantile of the training costs used as ``tau``.
        guard: make the constant choice at each price of quality where the router's own log
            does not show its greedy per-prompt decisions beating it
            (:class:`~shared.routers.guard.PolicyGuard`; fed by ``update`` and ``fit_bandit``,
            never by a full-table ``fit``). Exploration is never guarded.
        guard_margin: standard errors by which per-prompt decisions must beat the constant.
        warmup: with ``explore=True``, draw uniformly among the models tried fewer than this
            many times before the exploration rule takes over (logged propensity: one over
            their number), so that the dear models' means are known before the cost-aware rule
            decides whether they are worth their price.
        random_state: seed of the warm-up draws (the UCB rule itself is deterministic).

    Examples:
        >>> import numpy as np
        >>> from shared import LinUCBRouter
        >>> X = np.eye(4); Q = np.array([[1, 0], [1, 0], [0, 1], [0, 1]]); C = np.ones((4, 2))
        >>> router = LinUCBRouter(alpha=0.1).fit(X, Q, C, models=["a", "b"])
        >>> router.predict(X).tolist()
        ['a', 'a', 'b', 'b']
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **_LinearArmsRouter._parameter_constraints,
        "exploration_weight": [Interval(float, 0.0, None)],
    }

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        exploration_weight: float = 0.5,
        cost_scale: float | None = None,
        cost_quantile: float = 0.95,
        pessimism: float = 0.0,
        prior_quality: float | None = None,
        prior_strength: float = 1.0,
        guard: bool = False,
        guard_margin: float = 1.0,
        warmup: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.pessimism = pessimism
        self.prior_quality = prior_quality
        self.prior_strength = prior_strength
        self.exploration_weight = exploration_weight
        self.cost_scale = cost_scale
        self.cost_quantile = cost_quantile
        self.guard = guard
        self.guard_margin = guard_margin
        self.warmup = warmup
        self.random_state = random_state

    def _explore(
        self, mean: FloatArray, width: FloatArray, quality: FloatArray, cost: FloatArray
    ) -> RouteScores:
        ucb = mean + self.exploration_weight * width
        return RouteScores(utility=ucb, quality=quality, cost=cost)


class LinearThompsonRouter(_LinearArmsRouter):
    """Linear Thompson sampling on the scalarized utility, with Monte-Carlo propensities.

    With ``explore=True`` the routing distribution is the share of ``n_samples`` posterior draws
    ``u_k ~ N(mean_k, (posterior_scale * width_k)^2)`` in which each arm is best; sampling a model from
    it is Thompson sampling, and its probability is the logged propensity.

    Args:
        alpha: ridge penalty (prior precision) of each arm's regression.
        posterior_scale: noise scale ``v`` of the Gaussian posterior.
        n_samples: posterior draws used to estimate the routing distribution.
        cost_scale: cost unit ``tau``; ``None`` calibrates it from training costs.
        cost_quantile: quantile of the training costs used as ``tau``.
        guard: make the constant choice at each price of quality where the router's own log
            does not show its greedy per-prompt decisions beating it
            (:class:`~shared.routers.guard.PolicyGuard`; fed by ``update`` and ``fit_bandit``,
            never by a full-table ``fit``). Exploration is never guarded.
        guard_margin: standard errors by which per-prompt decisions must beat the constant.
        warmup: with ``explore=True``, draw uniformly among the models tried fewer than this
            many times before the exploration rule takes over (logged propensity: one over
            their number), so that the dear models' means are known before the cost-aware rule
            decides whether they are worth their price.
        random_state: seed of the posterior draws and the sampled choices.

    Examples:
        >>> import numpy as np
        >>> from shared import LinearThompsonRouter
        >>> X = np.eye(4); Q = np.array([[1, 0], [1, 0], [0, 1], [0, 1]]); C = np.ones((4, 2))
        >>> router = LinearThompsonRouter(random_state=0).fit(X, Q, C, models=["a", "b"])
        >>> router.decide(X[0]).propensity <= 1.0
        True
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **_LinearArmsRouter._parameter_constraints,
        "posterior_scale": [Interval(float, 0.0, None)],
        "n_samples": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        posterior_scale: float = 0.25,
        n_samples: int = 256,
        cost_scale: float | None = None,
        cost_quantile: float = 0.95,
        pessimism: float = 0.0,
        prior_quality: float | None = None,
        prior_strength: float = 1.0,
        guard: bool = False,
        guard_margin: float = 1.0,
        warmup: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.pessimism = pessimism
        self.prior_quality = prior_quality
        self.prior_strength = prior_strength
        self.posterior_scale = posterior_scale
        self.n_samples = n_samples
        self.cost_scale = cost_scale
        self.cost_quantile = cost_quantile
        self.guard = guard
        self.guard_margin = guard_margin
        self.warmup = warmup
        self.random_state = random_state

    def _explore(
        self, mean: FloatArray, width: FloatArray, quality: FloatArray, cost: FloatArray
    ) -> RouteScores:
        n, K = mean.shape
        noise = self._rng().standard_normal((n, self.n_samples, K))
        draws = mean[:, None, :] + self.posterior_scale * width[:, None, :] * noise
        best = np.argmax(draws, axis=2)
        probs = np.zeros((n, K))
        np.add.at(probs, (np.repeat(np.arange(n), self.n_samples), best.ravel()), 1.0)
        probs /= self.n_samples
        return RouteScores(utility=mean, probabilities=probs, quality=quality, cost=cost)


class EpsilonGreedyRouter(_LinearArmsRouter):
    """Greedy on per-arm linear predictions, a uniform arm with probability ``epsilon``.

    Args:
        alpha: ridge penalty (prior precision) of each arm's regression.
        epsilon: exploration probability; the logged propensity is
            ``1 - epsilon + epsilon / K`` for the greedy arm and ``epsilon / K`` otherwise.
        cost_scale: cost unit ``tau``; ``None`` calibrates it from training costs.
        cost_quantile: quantile of the training costs used as ``tau``.
        guard: make the constant choice at each price of quality where the router's own log
            does not show its greedy per-prompt decisions beating it
            (:class:`~shared.routers.guard.PolicyGuard`; fed by ``update`` and ``fit_bandit``,
            never by a full-table ``fit``). Exploration is never guarded.
        guard_margin: standard errors by which per-prompt decisions must beat the constant.
        warmup: with ``explore=True``, draw uniformly among the models tried fewer than this
            many times before the exploration rule takes over (logged propensity: one over
            their number), so that the dear models' means are known before the cost-aware rule
            decides whether they are worth their price.
        random_state: seed of the exploration draws.

    Examples:
        >>> import numpy as np
        >>> from shared import EpsilonGreedyRouter
        >>> X = np.eye(4); Q = np.array([[1, 0], [1, 0], [0, 1], [0, 1]]); C = np.ones((4, 2))
        >>> router = EpsilonGreedyRouter(epsilon=0.2, random_state=0)
        >>> router.fit(X, Q, C, models=["a", "b"]).predict(X).tolist()
        ['a', 'a', 'b', 'b']
        >>> router.decide(X[0]).propensity in {0.9, 0.1}
        True
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **_LinearArmsRouter._parameter_constraints,
        "epsilon": [Interval(float, 0.0, 1.0)],
    }

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        epsilon: float = 0.1,
        cost_scale: float | None = None,
        cost_quantile: float = 0.95,
        pessimism: float = 0.0,
        prior_quality: float | None = None,
        prior_strength: float = 1.0,
        guard: bool = False,
        guard_margin: float = 1.0,
        warmup: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.pessimism = pessimism
        self.prior_quality = prior_quality
        self.prior_strength = prior_strength
        self.epsilon = epsilon
        self.cost_scale = cost_scale
        self.cost_quantile = cost_quantile
        self.guard = guard
        self.guard_margin = guard_margin
        self.warmup = warmup
        self.random_state = random_state

    def _explore(
        self, mean: FloatArray, width: FloatArray, quality: FloatArray, cost: FloatArray
    ) -> RouteScores:
        n, K = mean.shape
        probs = np.full((n, K), self.epsilon / K)
        probs[np.arange(n), np.argmax(mean, axis=1)] += 1.0 - self.epsilon
        return RouteScores(utility=mean, probabilities=probs, quality=quality, cost=cost)
