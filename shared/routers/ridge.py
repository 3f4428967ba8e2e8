"""RidgeRouter: closed-form ridge heads predicting each model's quality and cost from the prompt.

Each model ``m`` has a quality head and a cost head, ridge regressions on the prompt embedding kept
as sufficient statistics (``A_m = X̃_mᵀX̃_m``, ``b_m``, ``yᵀy``, ``n_m`` over the rows where ``m``
was observed). Because nothing is shared between models, adding or removing a model never touches
the others, ``partial_fit``/``update`` add statistics without revisiting data, and the weights are
re-solved lazily (only for changed models) at the next decision. Decisions maximize
``w_q * clip(q̂, 0, 1) - w_c * max(ĉ, 0) / cost_scale_``.

See ``docs/ridge.md`` for the method, the penalty selection and measured numbers.

Examples:
    >>> import numpy as np
    >>> from shared import Preference, RidgeRouter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Q = np.column_stack([X[:, 0] > 0, np.full(200, 0.6)]).astype(float)
    >>> C = np.column_stack([np.full(200, 0.01), np.full(200, 0.001)])
    >>> router = RidgeRouter(alpha="gcv").fit(X, Q, C, models=["large", "small"])
    >>> router.predict(np.array([[2.0, 0, 0, 0, 0], [-2.0, 0, 0, 0, 0]])).tolist()
    ['large', 'small']
    >>> router.decide(X[0], Preference(quality=1, cost=1)).model
    'small'
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any, Self, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter, RouteScores, calibrate_scale, scalarize
from .._validation import (
    Interval,
    Options,
    check_embeddings,
    check_models,
    check_n_features,
    check_outcome_arrays,
    check_table,
    check_task,
    check_tasks,
    check_update,
    coerce_per_model,
    is_alpha_grid,
    model_index,
)
from ..capabilities import (
    ColdStartsFromPriors,
    FitsBandit,
    FitsTable,
    LearnsLatency,
    LearnsOnline,
    LearnsTasks,
    Persists,
)
from ..exceptions import DataError, InvalidParameterError
from ..outcomes import check_bandit_arrays
from ..preference import Preference, PreferenceLike
from ._cost import CostHistory
from ._linear import DEFAULT_ALPHAS, RidgeHeads, design, gram
from ._penalty import select_penalties
from ._tasks import TaskLevels
from .guard import OnlineGuard, preference_price
from .ridge_stats import RidgeStatistics

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

__all__ = ["RidgeRouter"]


F = TypeVar("F", bound=Callable[..., Any])


def _synchronized(method: F) -> F:
    """Run ``method`` holding the router's lock: learning and routing never interleave, so a
    decision uses the statistics before or after an update, never half of one (and the
    weights cached by a decision include every update that finished before it)."""

    @functools.wraps(method)
    def wrapper(self: RidgeRouter, *args: Any, **kwargs: Any) -> Any:
        with self._lock():
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _xty(X: FloatArray, Y: FloatArray, fit_intercept: bool) -> FloatArray:
    """``X̃ᵀY`` without building ``X̃``."""
    XtY = X.T @ Y
    return np.vstack([XtY, Y.sum(axis=0)[None, :]]) if fit_intercept else XtY


class RidgeRouter(
    FitsTable,
    FitsBandit,
    ColdStartsFromPriors,
    LearnsOnline,
    LearnsLatency,
    LearnsTasks,
    Persists,
    BaseRouter,
):
    """Per-model ridge heads for quality and cost; closed form, incremental, explorable.

    Args:
        alpha: ``"cv"`` (default: exact leave-one-out error on the training rows, one
            eigendecomposition per head for the whole grid), ``"gcv"`` (generalized
            cross-validation from the sufficient statistics), or a fixed penalty (> 0). The
            choice is stored in ``alpha_``; before any data (``initialize``) it is 1.0.
        alphas: grid for ``"cv"``/``"gcv"`` (default: 29 values log-spaced in [1e-3, 1e4]).
        alpha_selection: what ``"cv"`` minimizes for the quality heads: ``"relative"`` (one
            penalty for every quality head, chosen on the leave-one-out error of each model's
            quality minus the mean over models on rows where all were observed: the part a
            routing decision depends on) or ``"per_model"`` (each head on its own error). Cost
            heads, ``"gcv"`` and partial fits always choose per model.
        fit_intercept: add an intercept to every head.
        penalize_intercept: shrink the intercept toward the prior like the other weights (the
            IR3DE and reference behaviour); ``False`` leaves it free once data exists.
        prior_strength: weight of each model's prior mean (``initialize``'s priors; 0.5 quality
            and 0 cost after ``fit``), in pseudo-observations: a model's predicted mean is
            ``(prior_strength * prior + sum of its outcomes) / (prior_strength + n)`` and the
            per-prompt ridge deviations (penalty ``alpha``) are learned on top of it, so one
            rating moves a model's predictions by exactly ``1 / (1 + prior_strength)`` of the
            gap on every prompt. ``0`` (default) lets the first observation replace the prior.
            Needs ``fit_intercept=True`` and ``penalize_intercept=False``.
        pooled_alpha: penalty of a prompt-level slope shared by every model's quality head,
            learned from all models' observations (fixed effects: each model's mean plus a common
            "this prompt is easy / hard" deviation, plus its own deviation with penalty
            ``alpha``). A rarely observed model then inherits what the others reveal about a
            prompt instead of being compared at its plain mean with well-observed models' prompt
            estimates, and a model observed mostly on hard prompts is not taken for a weak one.
            ``None`` (default): no shared slope. Needs an unpenalized intercept.
        task_strength: pseudo-observations behind the member level in each task's level (the
            middle of the hierarchy member -> task -> prompt). Outcomes learned with a task key
            (``update(..., task=)``, ``fit(..., tasks=)``) give each (model, task) an offset,
            the mean residual of the model's prediction on that task's prompts shrunk toward 0
            by ``task_strength``: one rating in a task moves that task's prediction toward the
            rating by ``1 / (1 + task_strength)`` of the gap and leaves the other tasks at the
            member level. Decisions use it when given the task (``decide(..., task=)``); no
            task, or a task never learned, routes exactly as without tasks.
        predict_cost: regress cost on the prompt; ``False`` predicts each model's mean cost.
        solver: ``"cholesky"`` re-factorizes a changed head at the next decision (best for
            batches); ``"sherman_morrison"`` keeps the inverse and updates it in ``O(p²)`` per
            record, re-factorizing every ``p`` steps (best when single updates and decisions
            interleave, and for UCB/Thompson, which need the inverse).
        exploration: ``"none"``, ``"ucb"`` (deterministic bonus
            ``exploration_weight * sigma * sqrt(x̃ᵀA⁻¹x̃)`` on quality), ``"thompson"``
            (probabilities of being best under ``w ~ N(ŵ, sigma² A⁻¹)``, estimated from
            ``n_draws`` Monte Carlo draws; ``decide`` samples from them and logs the propensity)
            or ``"safe"`` (Thompson sampling restricted to the plausible candidates, those
            whose optimistic utility under the call's preference, mean plus
            ``exploration_weight`` spreads, reaches the best candidate's, mixed with the greedy
            choice so that the expected regret of a call, by the router's own estimates, is at
            most ``max_regret``; a candidate that is surely worse under this preference is never
            sampled, an uncertain one keeps a small probability so that bad luck can be undone).
        exploration_weight: scale of the exploration.
        max_regret: utility (quality points at a pure-quality preference) ``"safe"``
            exploration may give up per call.
        guard: for a router started from priors (``initialize``, the cold start) and learning
            by ``update``, decide prompt by prompt only where the evidence supports it (see
            ``shared/routers/guard.py`` and ``docs/concepts.md``): at each price every prompt
            goes to the member with the best mean utility (the prior-shrunk member means, at
            the mean prompt seen), except at prices where a doubly robust estimate from the
            logged ratings and propensities (``guard_``) shows per-prompt decisions better than
            that constant choice by ``guard_margin`` standard errors. A router fitted in batch (``fit``, ``partial_fit``, ``fit_bandit``) has no
            such evidence and does not guard.
        guard_margin: standard errors of evidence the guard asks for.
        n_draws: Monte Carlo draws for the Thompson probabilities.
        cost_scale: fixed cost unit; default: 95th percentile of the training costs.
        random_state: seed of the exploration draws.
    """

    _parameter_constraints = {  # noqa: RUF012
        "alpha": [Interval(float, 0, None, closed="neither"), Options(("cv", "gcv"))],
        "alphas": [None, is_alpha_grid],
        "alpha_selection": [Options(("relative", "per_model"))],
        "fit_intercept": ["boolean"],
        "penalize_intercept": ["boolean"],
        "predict_cost": ["boolean"],
        "solver": [Options(("cholesky", "sherman_morrison"))],
        "prior_strength": [Interval(float, 0, None, closed="left")],
        "pooled_alpha": [None, Interval(float, 0, None, closed="neither")],
        "task_strength": [Interval(float, 0, None, closed="left")],
        "exploration": [Options(("none", "ucb", "thompson", "safe"))],
        "exploration_weight": [Interval(float, 0, None, closed="left")],
        "max_regret": [Interval(float, 0, None, closed="left")],
        "guard": ["boolean"],
        "guard_margin": [Interval(float, 0, None, closed="left")],
        "n_draws": [Interval(int, 2, None)],
        "cost_scale": [None, Interval(float, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [
            {},
            {"alpha": "cv", "exploration": "thompson", "n_draws": 16, "random_state": 0},
            {"alpha": "gcv", "solver": "sherman_morrison", "exploration": "ucb"},
        ]

    def __init__(
        self,
        *,
        alpha: float | str = "cv",
        alphas: Sequence[float] | None = None,
        alpha_selection: str = "relative",
        fit_intercept: bool = True,
        penalize_intercept: bool = False,
        prior_strength: float = 0.0,
        pooled_alpha: float | None = None,
        task_strength: float = 5.0,
        predict_cost: bool = True,
        solver: str = "cholesky",
        exploration: str = "none",
        exploration_weight: float = 1.0,
        max_regret: float = 0.05,
        guard: bool = False,
        guard_margin: float = 1.0,
        n_draws: int = 64,
        cost_scale: float | None = None,
        random_state: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.alphas = alphas
        self.alpha_selection = alpha_selection
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept
        self.prior_strength = prior_strength
        self.pooled_alpha = pooled_alpha
        self.task_strength = task_strength
        self.predict_cost = predict_cost
        self.solver = solver
        self.exploration = exploration
        self.exploration_weight = exploration_weight
        self.max_regret = max_regret
        self.guard = guard
        self.guard_margin = guard_margin
        self.n_draws = n_draws
        self.cost_scale = cost_scale
        self.random_state = random_state

    # ------------------------------------------------------------------ learned state
    def _lock(self) -> threading.RLock:
        """The router's lock (created on first use; not copied or pickled)."""
        lock = self.__dict__.get("_sync")
        if lock is None:
            lock = self.__dict__.setdefault("_sync", threading.RLock())
        return cast(threading.RLock, lock)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_sync", None)
        return state

    @property
    def alpha_(self) -> FloatArray:
        """Penalty of each model's quality head, shape ``(n_models,)``."""
        self._check_fitted()
        return self.quality_heads_.alpha.copy()

    @property
    def cost_alpha_(self) -> FloatArray:
        """Penalty of each model's cost head, shape ``(n_models,)``."""
        self._check_fitted()
        return self.cost_heads_.alpha.copy()

    @property
    def n_observations_(self) -> NDArray[np.int64]:
        """Number of quality observations per model."""
        self._check_fitted()
        return self.quality_heads_.n.astype(np.int64)

    @property
    def coef_(self) -> FloatArray:
        """Quality-head weights, shape ``(n_models, n_features)``."""
        self._check_fitted()
        return self.quality_heads_.weights()[: self.n_features_in_].T.copy()

    @property
    def intercept_(self) -> FloatArray:
        """Quality-head intercepts (zeros without ``fit_intercept``)."""
        self._check_fitted()
        if not self.fit_intercept:
            return np.zeros(len(self.models_))
        out: FloatArray = self.quality_heads_.weights()[-1].copy()
        return out

    # ------------------------------------------------------------------ set-up
    def _grid(self) -> FloatArray:
        grid = DEFAULT_ALPHAS if self.alphas is None else self.alphas
        return np.asarray(grid, dtype=np.float64)

    def _cost_design(self, Xt: FloatArray) -> FloatArray:
        return Xt if self.predict_cost else np.ones((Xt.shape[0], 1))

    def _setup(
        self, models: list[str], n_features: int, prior_quality: Any, prior_cost: Any
    ) -> None:
        K = len(models)
        p = n_features + int(self.fit_intercept)
        hierarchical = self.prior_strength > 0 or self.pooled_alpha is not None or self.guard
        if hierarchical and (not self.fit_intercept or self.penalize_intercept):
            raise InvalidParameterError(
                "prior_strength > 0, pooled_alpha and guard need fit_intercept=True and "
                "penalize_intercept=False (they act on each model's mean)."
            )
        self.models_ = list(models)
        self.n_features_in_ = int(n_features)
        pen, solver = self.penalize_intercept, self.solver
        self.quality_heads_ = RidgeHeads(
            K, p, fit_intercept=self.fit_intercept, penalize_intercept=pen, solver=solver
        )
        if self.predict_cost:
            self.cost_heads_ = RidgeHeads(
                K, p, fit_intercept=self.fit_intercept, penalize_intercept=pen, solver=solver
            )
        else:  # intercept-only design: the (prior-shrunk) mean cost
            self.cost_heads_ = RidgeHeads(
                K, 1, fit_intercept=True, penalize_intercept=pen, solver=solver
            )
        self.latency_heads_: RidgeHeads | None = None
        self.quality_heads_.set_prior(coerce_per_model(prior_quality, models, 0.5, "prior_quality"))
        self.cost_heads_.set_prior(coerce_per_model(prior_cost, models, 0.0, "prior_cost"))
        start = float(self.alpha) if isinstance(self.alpha, Real) else 1.0
        for heads in (self.quality_heads_, self.cost_heads_):
            heads.set_alpha(np.full(K, start))
            heads.set_strength(np.full(K, float(self.prior_strength)))
        self.quality_heads_.pooled_alpha = self.pooled_alpha
        self.task_levels_ = TaskLevels(K, {"q": p, "c": p if self.predict_cost else 1})
        self.rng_ = np.random.default_rng(self.random_state)
        self.guard_: OnlineGuard | None = None

    def _add(
        self,
        X: FloatArray,
        Q: FloatArray,
        C: FloatArray,
        cols: Sequence[int],
        tasks: Sequence[str | None] | None = None,
    ) -> None:
        """Add the finite cells of ``Q``/``C`` (columns ``cols`` of the router) to the heads,
        and to the task levels of the rows' ``tasks`` when given.

        Fully observed columns share one Gram matrix (a symmetric rank-k update) and one
        ``X̃ᵀY`` product; other columns add their observed rows.
        """
        if tasks is not None:
            self._add_tasks(X, Q, C, cols, tasks)
        n = X.shape[0]
        fi = self.fit_intercept
        full_q = np.asarray(np.isfinite(Q).all(axis=0), dtype=bool)
        full_c = np.asarray(np.isfinite(C).all(axis=0), dtype=bool)
        n_full = full_q.sum() + (full_c.sum() if self.predict_cost else 0)
        p = X.shape[1] + int(fi)
        # a few rows go row by row (keeps the Sherman-Morrison inverses up to date)
        G = gram(X, fi) if n_full > 1 and n > max(1, p // 4) else None
        BQ = _xty(X, Q[:, full_q], fi) if G is not None else None
        BC = _xty(X, C[:, full_c], fi) if G is not None and self.predict_cost else None
        Xt: FloatArray | None = None
        iq = ic = 0
        for j, k in enumerate(cols):
            if full_q[j] and BQ is not None and G is not None:
                self.quality_heads_.add_stats(k, G, BQ[:, iq], float(Q[:, j] @ Q[:, j]), n)
                iq += 1
            else:
                Xt = design(X, fi) if Xt is None else Xt
                obs = np.isfinite(Q[:, j])
                self.quality_heads_.add_rows(k, Xt[obs], Q[obs, j])
            obs_c = np.isfinite(C[:, j])
            if full_c[j] and BC is not None and G is not None:
                self.cost_heads_.add_stats(k, G, BC[:, ic], float(C[:, j] @ C[:, j]), n)
                ic += 1
            elif not self.predict_cost:
                c = C[obs_c, j]
                self.cost_heads_.add_stats(
                    k, np.array([[c.size]], float), np.array([c.sum()]), float(c @ c), c.size
                )
            else:
                Xt = design(X, fi) if Xt is None else Xt
                self.cost_heads_.add_rows(k, Xt[obs_c], C[obs_c, j])

    def _add_tasks(
        self,
        X: FloatArray,
        Q: FloatArray,
        C: FloatArray,
        cols: Sequence[int],
        tasks: Sequence[str | None],
    ) -> None:
        levels = self.task_levels_
        rows = levels.indices(tasks, add=True)
        if not (rows >= 0).any():
            return
        Xt = design(X, self.fit_intercept)
        Xc = self._cost_design(Xt)
        for j, k in enumerate(cols):
            obs = np.isfinite(Q[:, j])
            levels.add("q", k, rows[obs], Xt[obs], Q[obs, j])
            obs = np.isfinite(C[:, j])
            levels.add("c", k, rows[obs], Xc[obs], C[obs, j])

    @property
    def tasks_(self) -> list[str]:
        """The task keys learned so far, in order of first appearance (``[]`` before any)."""
        levels = getattr(self, "task_levels_", None)
        return [] if levels is None else list(levels.names)

    def _task_rows(self, tasks: Sequence[str | None] | None, n: int) -> NDArray[np.intp] | None:
        """Each row's task level (-1: no task or a task never learned), or ``None``."""
        checked = check_tasks(tasks, n, type(self).__name__)
        if checked is None or not self.task_levels_.n_tasks:
            return None
        rows = self.task_levels_.indices(checked, add=False)
        return rows if (rows >= 0).any() else None

    # ------------------------------------------------------------------ latency
    @property
    def scalarized_sweep(self) -> bool:
        """Whether an evaluation sweep may scalarize this router's predictions; not while the
        guard decides (its choices depend on the price beyond a scalarization)."""
        return getattr(self, "guard_", None) is None

    @property
    def predicts_latency(self) -> bool:
        """Whether latency heads exist (trained with ``latency=`` or ``prior_latency=``)."""
        return getattr(self, "latency_heads_", None) is not None

    def _setup_latency(self, prior: Any, observed: FloatArray | None) -> None:
        """Per-model mean latency heads (intercept only), shrunk toward ``prior`` like the
        quality means; the default prior is the mean observed latency. ``latency_scale_`` is
        the 95th percentile of the observed latencies, else of the priors."""
        K = len(self.models_)
        seen = np.zeros(0) if observed is None else observed[np.isfinite(observed)]
        default = float(seen.mean()) if seen.size else 0.0
        priors = coerce_per_model(prior, self.models_, default, "prior_latency")
        if (priors < 0).any():
            raise InvalidParameterError("'prior_latency' must be >= 0 (seconds).")
        heads = RidgeHeads(
            K, 1, fit_intercept=True, penalize_intercept=self.penalize_intercept,
            solver=self.solver,
        )  # fmt: skip
        heads.set_prior(priors)
        start = float(self.alpha) if isinstance(self.alpha, Real) else 1.0
        heads.set_alpha(np.full(K, start))
        heads.set_strength(np.full(K, float(self.prior_strength)))
        self.latency_heads_ = heads
        self.latency_scale_ = calibrate_scale(seen if seen.size else priors)

    def _add_latency(self, L: FloatArray, cols: Sequence[int]) -> None:
        heads = self.latency_heads_
        if heads is None:
            return
        for j, k in enumerate(cols):
            v = L[np.isfinite(L[:, j]), j]
            if v.size:
                heads.add_stats(
                    k, np.array([[v.size]], float), np.array([v.sum()]), float(v @ v), v.size
                )

    def _predict_latency(self, n: int) -> FloatArray | None:
        if self.latency_heads_ is None:
            return None
        return np.maximum(np.repeat(self.latency_heads_.weights(), n, axis=0), 0.0)

    def _select_alpha(
        self,
        Xt: FloatArray | None,
        Q: FloatArray | None,
        C: FloatArray | None,
        cols: Sequence[int] | None = None,
    ) -> None:
        """Choose the penalties on the training data ("cv": exact LOO on rows; else GCV)."""
        if not isinstance(self.alpha, str):
            return
        grid = self._grid()
        rows = self.alpha == "cv" and Xt is not None
        relative = self.alpha_selection == "relative" and cols is None
        select_penalties(
            self.quality_heads_, grid, Xd=Xt if rows else None, Y=Q, cols=cols, relative=relative
        )
        Xc = self._cost_design(Xt) if rows and Xt is not None else None
        select_penalties(self.cost_heads_, grid, Xd=Xc, Y=C, cols=cols)

    # ------------------------------------------------------------------ learning
    @_synchronized
    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike | None,
        *,
        models: Sequence[str],
        latency: ArrayLike | None = None,
        tasks: Sequence[str | None] | None = None,
    ) -> Self:
        """Fit every head from scratch on a full-information table (NaN cells skipped).

        Args:
            X: prompt embeddings ``(n_samples, n_features)``.
            quality: ``(n_samples, n_models)`` quality in [0, 1]; NaN = not observed.
            cost: ``(n_samples, n_models)`` USD per call (NaN = not observed), or ``None``.
            models: model names, one per column.
            latency: ``(n_samples, n_models)`` seconds per call (NaN = not observed), or
                ``None``; with it the router learns each model's mean latency and scores a
                preference's latency weight.
            tasks: each prompt's task key (``None`` for none), or ``None``: the task levels
                (see ``task_strength``).
        """
        self._validate_params()
        Xc, names, Q, C, L = check_table(
            X, quality, cost, models, type(self).__name__, latency=latency
        )
        rows_tasks = check_tasks(tasks, Xc.shape[0], type(self).__name__)
        self._setup(names, Xc.shape[1], None, None)
        self._set_cost_scale(C)
        self._add(Xc, Q, C, range(len(names)), rows_tasks)
        if L is not None:
            self._setup_latency(None, L)
            self._add_latency(L, range(len(names)))
        if self.alpha == "cv":
            self._select_alpha(design(Xc, self.fit_intercept), Q, C)
        else:
            self._select_alpha(None, None, None)
        return self

    def _set_cost_scale(self, C: FloatArray) -> None:
        self.cost_scale_ = float(self.cost_scale or calibrate_scale(C[np.isfinite(C)]))

    @_synchronized
    def partial_fit(
        self,
        X: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike | None,
        *,
        models: Sequence[str],
        latency: ArrayLike | None = None,
        tasks: Sequence[str | None] | None = None,
    ) -> Self:
        """Add a batch to the statistics (no refit); unknown model names become new models.

        The first call sets ``cost_scale_``; later calls keep it. With ``alpha="gcv"`` the
        penalties are re-chosen on the accumulated statistics (one eigendecomposition per head);
        with ``alpha="cv"`` (which needs the rows) they stay as the last ``fit`` chose them
        (1.0 before any ``fit``). ``latency`` is learned when the first call gave latencies or
        the router was started with ``prior_latency``.
        """
        first = not self._is_fitted()
        if first:
            self._validate_params()
        names = check_models(models, type(self).__name__)
        Xc = check_embeddings(
            X, n_features=None if first else self.n_features_in_, owner=type(self).__name__
        )
        Q, C, L = check_outcome_arrays(
            quality, cost, latency, (Xc.shape[0], len(names)), type(self).__name__
        )
        rows_tasks = check_tasks(tasks, Xc.shape[0], type(self).__name__)
        if first:
            self._setup(names, Xc.shape[1], None, None)
            self._set_cost_scale(C)
            if L is not None:
                self._setup_latency(None, L)
        cols = []
        for name in names:
            if name not in self.models_:
                self._append_model(name, None, None)
            cols.append(self.models_.index(name))
        self._add(Xc, Q, C, cols, rows_tasks)
        if L is not None:
            self._add_latency(L, cols)
        if self.alpha == "gcv":
            self._select_alpha(None, None, None)
        return self

    @_synchronized
    def update(
        self,
        x: ArrayLike,
        model: str,
        quality: float,
        cost: float | None = None,
        *,
        propensity: float = 1.0,
        preference: PreferenceLike | None = None,
        latency: float | None = None,
        task: str | None = None,
    ) -> Self:
        """Learn one rated outcome (``O(p²)`` with ``solver="sherman_morrison"``).

        The propensity and preference are checked but not needed: each head regresses its own
        model's outcomes (the direct method), which a preference does not change. ``latency``
        (seconds) updates the model's mean latency when the router has latency heads. ``task``
        (a task key) also updates the model's level in that task (see ``task_strength``).
        """
        xr = self._check_X(x, allow_1d=True)
        if xr.shape[0] != 1:
            raise DataError("update() takes the embedding of one prompt.")
        k = model_index(self.models_, model)
        q, c, lat = check_update(quality, cost, propensity, type(self).__name__, latency=latency)
        t = check_task(task, type(self).__name__)
        if self.guard_ is not None and propensity < 1.0:  # a sure choice shows no alternative
            self._observe_guard(xr, k, q, c, float(propensity))
        Q, C = np.array([[q]]), np.array([[np.nan if c is None else c]])
        self._add(xr, Q, C, [k], None if t is None else [t])
        if lat is not None:
            self._add_latency(np.array([[lat]]), [k])
        if getattr(self, "tau_online_", False) and np.isfinite(C[0, 0]):
            self.cost_history_.add(float(C[0, 0]))
            self.cost_scale_ = self.cost_history_.scale()
        return self

    @_synchronized
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
        latency: ArrayLike | None = None,
        tasks: Sequence[str | None] | None = None,
    ) -> Self:
        """Fit from a bandit log: each prompt's outcome trains only the chosen model's heads.

        Propensities and logged preferences are validated; the per-model regressions (the
        direct method) do not weight by them. ``latency``: the logged seconds per call (NaN
        where unknown). ``tasks``: each prompt's task key (``None`` for none).
        """
        Xc, log = check_bandit_arrays(
            X, chosen, quality, cost, propensity, models, type(self).__name__,
            preferences=preferences, latency=latency,
        )  # fmt: skip
        n, rows, arms = len(log), np.arange(len(log)), log.arms
        Q = np.full((n, log.n_models), np.nan)
        C = np.full((n, log.n_models), np.nan)
        Q[rows, arms] = log.quality
        C[rows, arms] = log.cost
        L = None
        if log.latency is not None:
            L = np.full((n, log.n_models), np.nan)
            L[rows, arms] = log.latency
        return self.fit(Xc, Q, C, models=list(log.models), latency=L, tasks=tasks)

    @_synchronized
    def fit_statistics(
        self, stats: RidgeStatistics, *, models: Sequence[str], cost_scale: float
    ) -> Self:
        """Fit from a bandit log's per-model sufficient statistics (summed over chunks/workers).

        Equals :meth:`fit_bandit` on the same rows (to rounding) when the penalty is fixed,
        ``"gcv"``, or ``"cv"`` with more than ``LOO_MAX_ROWS_PER_COLUMN`` rows per design column
        (there ``"cv"`` uses GCV too); with fewer rows ``"cv"`` needs the rows themselves, and
        GCV on the statistics is used instead.

        Args:
            stats: the statistics (``stats.fit_intercept`` must equal ``fit_intercept``).
            models: every model of the router, in its order (a superset of ``stats.heads``).
            cost_scale: the log's cost unit (``calibrate_scale`` of its costs); a fixed
                ``cost_scale`` parameter takes precedence.

        Raises:
            DataError: ``stats`` has a model outside ``models`` or another design.
        """
        self._validate_params()
        names = check_models(models, type(self).__name__)
        extra = sorted(set(stats.heads) - set(names))
        if extra:
            raise DataError(f"Statistics of models {extra} outside the router's models.")
        if stats.fit_intercept != self.fit_intercept:
            raise DataError("The statistics' fit_intercept differs from the router's.")
        self._setup(names, stats.n_features, None, None)
        self.cost_scale_ = float(self.cost_scale or cost_scale)
        for k, name in enumerate(names):
            head = stats.heads.get(name)
            if head is None:
                continue
            self.quality_heads_.add_stats(k, head.A, head.b_quality, head.qq, head.n)
            if self.predict_cost:
                self.cost_heads_.add_stats(k, head.A, head.b_cost, head.cc, head.n)
            else:
                one = np.array([[float(head.n)]])
                self.cost_heads_.add_stats(k, one, np.array([head.cost_sum]), head.cc, head.n)
        self._select_alpha(None, None, None)
        return self

    @_synchronized
    def initialize(
        self,
        models: Sequence[str],
        n_features: int,
        *,
        prior_quality: float | Sequence[float] | Mapping[str, float] | None = None,
        prior_cost: float | Sequence[float] | Mapping[str, float] | None = None,
        prior_latency: float | Sequence[float] | Mapping[str, float] | None = None,
    ) -> Self:
        """Cold start: a fitted router with no data whose predictions equal the priors.

        ``prior_latency`` (seconds per call, e.g. the cards' ``latency_s``) starts latency
        heads, so that a preference's latency weight is scored; without it latency is not
        modelled.

        Each head shrinks toward its prior (an intercept ``w0``: ``(A + αP) w = b + αP w0``).
        Defaults: quality 0.5, cost 0. ``cost_scale_`` is calibrated on the cost priors; without
        positive cost priors (and no ``cost_scale``) it follows the costs observed by
        :meth:`update` instead (the 95th percentile of the last observed costs).
        """
        self._validate_params()
        names = check_models(models, type(self).__name__)
        n_features = check_n_features(n_features, type(self).__name__)
        self._setup(names, n_features, prior_quality, prior_cost)
        self._set_cost_scale(self.cost_heads_.prior)
        # Without a fixed unit or informative cost priors, tau follows the costs seen online.
        self.tau_online_ = self.cost_scale is None and not np.any(self.cost_heads_.prior > 0)
        self.cost_history_ = CostHistory()
        if prior_latency is not None:
            self._setup_latency(prior_latency, None)
        self.guard_ = OnlineGuard(self.guard_margin) if self.guard else None
        return self

    # ------------------------------------------------------------------ model pool changes
    def _append_model(
        self, name: str, prior_quality: float | None, prior_cost: float | None
    ) -> int:
        start = float(self.alpha) if isinstance(self.alpha, Real) else 1.0
        s = float(self.prior_strength)
        self.quality_heads_.append(0.5 if prior_quality is None else prior_quality, start, s)
        self.cost_heads_.append(0.0 if prior_cost is None else prior_cost, start, s)
        if self.latency_heads_ is not None:  # a new model starts at the mean latency prior
            self.latency_heads_.append(float(self.latency_heads_.prior.mean()), start, s)
        self.task_levels_.append_model()
        self.models_.append(name)
        return len(self.models_) - 1

    @_synchronized
    def add_model(
        self,
        name: str,
        X: ArrayLike | None = None,
        quality: ArrayLike | None = None,
        cost: ArrayLike | None = None,
        *,
        prior_quality: float | None = None,
        prior_cost: float | None = None,
    ) -> Self:
        """Add a model (optionally with its outcomes on prompts ``X``); other heads are untouched.

        ``cost_scale_`` is kept so that existing preferences keep their meaning.
        """
        self._check_fitted()
        if not isinstance(name, str) or not name or name in self.models_:
            raise InvalidParameterError(f"Cannot add model {name!r}: empty or already present.")
        k = self._append_model(name, prior_quality, prior_cost)
        if X is None:
            return self
        try:
            Xc = self._check_X(X)
            Q, C, _ = check_outcome_arrays(
                np.asarray(quality, dtype=np.float64).reshape(-1, 1),
                None if cost is None else np.asarray(cost, dtype=np.float64).reshape(-1, 1),
                None,
                (Xc.shape[0], 1),
                type(self).__name__,
            )
        except Exception:
            self.remove_model(name)
            raise
        self._add(Xc, Q, C, [k])
        self._select_alpha(design(Xc, self.fit_intercept), Q, C, cols=[k])
        return self

    @_synchronized
    def remove_model(self, name: str) -> Self:
        """Forget a model and its statistics; the other heads are unchanged."""
        self._check_fitted()
        k = model_index(self.models_, name)
        if len(self.models_) == 1:
            raise InvalidParameterError("Cannot remove the last model of the router.")
        self.quality_heads_.delete(k)
        self.cost_heads_.delete(k)
        if self.latency_heads_ is not None:
            self.latency_heads_.delete(k)
        self.task_levels_.delete_model(k)
        del self.models_[k]
        return self

    # ------------------------------------------------------------------ prediction
    def _predict(
        self, X: FloatArray, task_rows: NDArray[np.intp] | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        q_raw, c, Xt = self._predict_design(design(X, self.fit_intercept))
        if task_rows is not None:  # each row's task level on top of the member level
            s = float(self.task_strength)
            Wq, Wc = self.quality_heads_.weights(), self.cost_heads_.weights()
            q_raw = q_raw + self.task_levels_.row_offsets("q", Wq, s, task_rows)
            c = c + self.task_levels_.row_offsets("c", Wc, s, task_rows)
        return q_raw, np.maximum(c, 0.0), Xt

    @_synchronized
    def predict_outcomes(
        self, X: ArrayLike, *, tasks: Sequence[str | None] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Predicted quality (clipped to [0, 1]) and cost (>= 0), each ``(n_samples, n_models)``;
        with ``tasks`` (one key or ``None`` per row) each row's task level is added."""
        Xc = self._check_X(X, allow_1d=True)
        q_raw, c, _ = self._predict(Xc, self._task_rows(tasks, Xc.shape[0]))
        return np.clip(q_raw, 0.0, 1.0), c

    @_synchronized
    def quality_std(self, X: ArrayLike) -> FloatArray:
        """Standard deviation of each predicted quality, ``(n_samples, n_models)``: the noise
        level of each head times the width of its posterior at the prompt (what exploration
        adds, per unit of ``exploration_weight``).

        Examples:
            >>> import numpy as np
            >>> r = RidgeRouter(alpha=1.0).fit(np.eye(3), np.eye(3)[:, :2], np.ones((3, 2)),
            ...                               models=["a", "b"])
            >>> r.quality_std(np.eye(3)[:1]).shape
            (1, 2)
        """
        Xt = design(self._check_X(X, allow_1d=True), self.fit_intercept)
        return np.asarray(self.quality_heads_.sigma() * self.quality_heads_.widths(Xt))

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        mask = np.ones(len(self.models_), dtype=bool)
        return self._call_scores(X, preference, explore, mask, None)

    def _member_means(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Each member's mean quality and cost at the mean prompt seen so far, and the standard
        deviation of that mean quality (what the guard's constant choice compares)."""
        heads = self.quality_heads_
        d = heads.p - 1
        seen = heads.n > 0
        xbar = heads.A[seen, :d, d].sum(axis=0) / heads.n[seen].sum() if seen.any() else 0.0
        xt = np.append(np.zeros(d) + xbar, 1.0)[None, :]
        q_raw, c, _ = self._predict_design(xt)
        std = heads.sigma() * heads.widths(xt)
        return np.clip(q_raw[0], 0.0, 1.0), np.maximum(c[0], 0.0), std[0]

    def _predict_design(self, Xt: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Raw (unclipped) quality and cost predictions on the design rows ``Xt``."""
        q_raw = Xt @ self.quality_heads_.weights()
        Wc = self.cost_heads_.weights()
        c = Xt @ Wc if self.predict_cost else np.repeat(Wc, Xt.shape[0], axis=0)
        return q_raw, c, Xt

    def _observe_guard(self, x: FloatArray, arm: int, q: float, c: float | None, p: float) -> None:
        """Add one rating to the guard's evidence, with the predictions made before it."""
        guard = self.guard_
        assert guard is not None
        q_raw, c_hat, _ = self._predict(x)
        tau = self.cost_scale_
        u_hat = guard.utilities(np.clip(q_raw[0], 0.0, 1.0), c_hat[0], tau)
        q_bar, c_bar, _ = self._member_means()
        constant = np.asarray(guard.utilities(q_bar, c_bar, tau).argmax(axis=1), dtype=np.intp)
        cost = c_hat[0, arm] if c is None else c
        observed = guard.utilities(np.array([q]), np.array([cost]), tau)[:, 0]
        guard.observe(
            u_hat,
            per_prompt=np.asarray(u_hat.argmax(axis=1), dtype=np.intp),
            constant=constant,
            arm=arm,
            propensity=p,
            observed=observed,
        )

    def _constant_scores(
        self, n: int, cost: FloatArray | None, task_rows: NDArray[np.intp] | None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The guard's constant scores for ``n`` prompts: each member's mean quality and cost
        (the call's ``cost`` when known), plus each row's task level, and the standard deviation
        of the mean quality."""
        q_bar, c_bar, std = self._member_means()
        shape = (n, len(q_bar))
        q = np.array(np.broadcast_to(q_bar, shape))
        c = np.array(np.broadcast_to(c_bar, shape) if cost is None else cost)
        if task_rows is not None:  # one choice per price and task
            s = float(self.task_strength)
            Wq, Wc = self.quality_heads_.weights(), self.cost_heads_.weights()
            q = np.clip(q + self.task_levels_.row_offsets("q", Wq, s, task_rows), 0.0, 1.0)
            if cost is None:
                c = np.maximum(c + self.task_levels_.row_offsets("c", Wc, s, task_rows), 0.0)
        return q, c, np.array(np.broadcast_to(std, shape))

    @_synchronized
    def _call_scores(
        self,
        X: FloatArray,
        preference: Preference,
        explore: bool,
        mask: NDArray[np.bool_],
        cost: FloatArray | None,
        tasks: Sequence[str | None] | None = None,
    ) -> RouteScores:
        lat = self._predict_latency(X.shape[0])
        l_scale = getattr(self, "latency_scale_", 1.0)
        guard = getattr(self, "guard_", None)
        std: FloatArray | None = None
        task_rows = self._task_rows(tasks, X.shape[0])
        if guard is not None and not guard.per_prompt_at(preference_price(preference)):
            q, c, std = self._constant_scores(X.shape[0], cost, task_rows)  # one choice
            q_raw = q
        else:
            q_raw, c_hat, Xt = self._predict(X, task_rows)
            c = c_hat if cost is None else cost
            q = np.clip(q_raw, 0.0, 1.0)
        utility = scalarize(preference, q, c, self.cost_scale_, lat, l_scale)
        if not explore or self.exploration == "none" or self.exploration_weight == 0:
            return RouteScores(utility=utility, quality=q, cost=c, latency=lat)
        if std is None:
            std = self.quality_heads_.sigma() * self.quality_heads_.widths(Xt)
        spread = self.exploration_weight * std
        if self.exploration == "ucb":
            bonus = utility + preference.quality * spread
            return RouteScores(utility=bonus, quality=q, cost=c, uncertainty=std, latency=lat)
        allowed = np.broadcast_to(mask, q.shape)
        masked = np.where(allowed, utility, -np.inf)
        best = masked.max(axis=1, keepdims=True)
        if self.exploration == "safe":  # plausible: the optimistic utility reaches the best
            allowed = allowed & (utility + preference.quality * spread >= best)
            allowed = allowed | (masked >= best)  # the greedy candidate, even with no spread
        z = self._rng().standard_normal((self.n_draws, *q_raw.shape))
        draws = scalarize(preference, q_raw + spread * z, c, self.cost_scale_, lat, l_scale)
        best_draw = np.where(allowed, draws, -np.inf).argmax(axis=2)
        probs = np.stack([(best_draw == k).mean(axis=0) for k in range(q.shape[1])], axis=1)
        if self.exploration == "safe":  # mix with greedy so the expected regret <= max_regret
            regret = (probs * np.where(allowed, best - utility, 0.0)).sum(axis=1, keepdims=True)
            share = np.minimum(1.0, self.max_regret / np.maximum(regret, 1e-300))
            greedy = np.zeros_like(probs)
            greedy[np.arange(q.shape[0]), masked.argmax(axis=1)] = 1.0
            probs = share * probs + (1.0 - share) * greedy
        return RouteScores(
            utility=utility, probabilities=probs, quality=q, cost=c, uncertainty=std, latency=lat
        )

    # ------------------------------------------------------------------ persistence
    @_synchronized
    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        meta = {
            "models": list(self.models_),
            "n_features_in": self.n_features_in_,
            "cost_scale": self.cost_scale_,
            "tau_online": bool(getattr(self, "tau_online_", False)),
        }
        arrays = {**self.quality_heads_.state("q_"), **self.cost_heads_.state("c_")}
        if getattr(self, "tau_online_", False):
            arrays["cost_history"] = self.cost_history_.values
        if self.latency_heads_ is not None:
            arrays.update(self.latency_heads_.state("l_"))
            meta["latency_scale"] = self.latency_scale_
        if self.task_levels_.n_tasks:
            meta["tasks"] = list(self.task_levels_.names)
            arrays.update(self.task_levels_.state("t_"))
        if self.guard_ is not None:
            arrays.update(self.guard_.state("g_"))
        return meta, arrays

    @_synchronized
    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._setup(list(meta["models"]), int(meta["n_features_in"]), None, None)
        self.quality_heads_.load("q_", dict(arrays))
        self.cost_heads_.load("c_", dict(arrays))
        self.cost_scale_ = float(meta["cost_scale"])
        self.tau_online_ = bool(meta.get("tau_online", False))
        if self.tau_online_:
            self.cost_history_ = CostHistory(arrays.get("cost_history"))
        if "latency_scale" in meta:
            self._setup_latency(None, None)
            assert self.latency_heads_ is not None
            self.latency_heads_.load("l_", dict(arrays))
            self.latency_scale_ = float(meta["latency_scale"])
        if meta.get("tasks"):
            self.task_levels_.load(list(meta["tasks"]), "t_", arrays)
        if "g_n" in arrays:
            self.guard_ = OnlineGuard.load("g_", arrays, self.guard_margin)
