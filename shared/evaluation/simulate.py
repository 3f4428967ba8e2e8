"""Bandit feedback on a full table: reveal only the outcome of the model that was chosen.

* :func:`simulate_bandit` streams training prompts through a router (``decide`` with exploration,
  then ``update`` with the chosen model's quality, cost and propensity) and measures the test AIQ at
  checkpoints of the stream: the learning curve of ``docs/evaluation.md``.
* :func:`bandit_log_from_table` builds an off-policy log (one chosen model per prompt with its
  propensity) from a uniform-random or given logging policy, for routers with ``fit_bandit``.

Examples:
    >>> import numpy as np
    >>> from shared.tables import table_from_arrays
    >>> t = table_from_arrays([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[0.1, 0.2]] * 3, ["a", "b"])
    >>> log = bandit_log_from_table(t, seed=0)
    >>> len(log), log.propensity.tolist()
    (3, [0.5, 0.5, 0.5])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter
from ..capabilities import FitsBandit, LearnsOnline, ensure_ready, latency_kwargs, require
from ..exceptions import DataError, InvalidParameterError
from ..outcomes import BanditLog
from ..preference import Preference, PreferenceLike
from ..tables import RoutingTable
from .report import router_aiq

__all__ = [
    "BanditSimulation",
    "bandit_log_from_table",
    "default_preference_sampler",
    "doubling_schedule",
    "simulate_bandit",
]

FloatArray = NDArray[np.float64]


def default_preference_sampler(rng: np.random.Generator) -> Preference:
    """A price of quality drawn log-uniformly in [0.01, 100] (``Preference.from_price``)."""
    return Preference.from_price(float(10.0 ** rng.uniform(-2.0, 2.0)))


def bandit_log_from_table(
    table: RoutingTable,
    *,
    policy: str | ArrayLike = "uniform",
    seed: int | None = 0,
    preferences: Sequence[PreferenceLike] | None = None,
) -> BanditLog:
    """Log one outcome per prompt of ``table`` under a logging policy.

    Args:
        table: the full-information table (e.g. the train split).
        policy: ``"uniform"`` (uniform over the models observed on each prompt) or an ``(n, K)``
            array of non-negative choice weights, renormalized over observed models per row.
        seed: seed of the sampling.
        preferences: the preference in force for each prompt, recorded in the log.

    Raises:
        DataError: a prompt has no observed model or no positive weight, or shapes disagree.
    """
    obs = table.observed
    if isinstance(policy, str):
        if policy != "uniform":
            raise InvalidParameterError(f"policy must be 'uniform' or an array, got {policy!r}.")
        weights = obs.astype(np.float64)
    else:
        weights = np.asarray(policy, dtype=np.float64)
        if weights.shape != obs.shape or not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise DataError(f"policy must be a non-negative finite array of shape {obs.shape}.")
        weights = np.where(obs, weights, 0.0)
    totals = weights.sum(axis=1)
    bad = np.flatnonzero(totals <= 0)
    if bad.size:
        raise DataError(f"Prompt {table.ids[int(bad[0])]!r} has no observed model to log.")
    probs = weights / totals[:, None]
    rng = np.random.default_rng(seed)
    u = rng.random(table.n_prompts)[:, None]
    choice = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), table.n_models - 1)
    rows = np.arange(table.n_prompts)
    pref_arr = None
    if preferences is not None:
        if len(preferences) != table.n_prompts:
            raise DataError("preferences needs one entry per prompt of the table.")
        pref_arr = np.array([_pref_row(Preference.coerce(p)) for p in preferences])
    return BanditLog(
        rows=rows.astype(np.intp),
        chosen=tuple(table.models[j] for j in choice),
        quality=table.quality[rows, choice].copy(),
        cost=table.cost[rows, choice].copy(),
        propensity=probs[rows, choice],
        preferences=pref_arr,
        models=table.models,
        latency=None if table.latency is None else table.latency[rows, choice].copy(),
    )


def _pref_row(p: Preference) -> tuple[float, float, float]:
    return (p.quality, p.cost, p.latency)


@dataclass(frozen=True)
class BanditSimulation:
    """Result of :func:`simulate_bandit`.

    Attributes:
        router: the router after the stream (updated in place).
        curve: ``((fraction, test AIQ or None), ...)`` at each checkpoint.
        log: what was revealed during the stream (rows index the training ``X``).
        mean_quality: mean quality of the choices made while learning.
        mean_cost: mean cost of those choices.
    """

    router: BaseRouter
    curve: tuple[tuple[float, float | None], ...]
    log: BanditLog
    mean_quality: float
    mean_cost: float


def doubling_schedule(total: int, first: int = 64) -> tuple[int, ...]:
    """Re-training points ``first, 2 first, 4 first, ...`` below ``total`` (for ``refit_at``).

    Examples:
        >>> doubling_schedule(600, first=100)
        (100, 200, 400)
    """
    if first < 1:
        raise InvalidParameterError(f"first must be >= 1, got {first!r}.")
    out: list[int] = []
    step = int(first)
    while step < total:
        out.append(step)
        step *= 2
    return tuple(out)


def simulate_bandit(
    router: BaseRouter,
    X: ArrayLike,
    quality: ArrayLike,
    cost: ArrayLike,
    models: Sequence[str],
    *,
    preferences: Sequence[PreferenceLike] | None = None,
    preference_sampler: Callable[[np.random.Generator], PreferenceLike] | None = None,
    seed: int | None = 0,
    n_passes: int = 1,
    checkpoints: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
    on_checkpoint: Callable[[float, BaseRouter, float | None], None] | None = None,
    test: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
    lambdas: ArrayLike | None = None,
    latency: ArrayLike | None = None,
    refit_at: Sequence[int] | None = None,
) -> BanditSimulation:
    """Train ``router`` from bandit feedback on a full table, measuring a learning curve.

    The training prompts are streamed in a random order (``n_passes`` times). For each, the router
    decides with ``explore=True`` among the models observed on that prompt, and only the chosen
    model's quality and cost are revealed through ``router.update(x, model, q, c,
    propensity=..., preference=...)``. A router that is not fitted yet is started with
    ``router.initialize(models, n_features)``.

    Args:
        router: a :class:`~shared.LearnsOnline` router, fitted or :class:`~shared.ColdStarts`.
        X: ``(n, d)`` training embeddings.
        quality: ``(n, K)`` true quality (the hidden full table); NaN = not observed.
        cost: ``(n, K)`` true cost.
        models: column names.
        preferences: the preference of each training prompt (one per row); otherwise
            ``preference_sampler(rng)`` draws one per step (default
            :func:`default_preference_sampler`).
        preference_sampler: see ``preferences``.
        seed: seed of the stream order and of the preference draws.
        n_passes: number of passes over the training prompts.
        checkpoints: fractions of the stream (in (0, 1]) after which to measure.
        on_checkpoint: called as ``on_checkpoint(fraction, router, test_aiq)`` at each checkpoint.
        test: ``(X_test, quality_test, cost_test)`` to measure the test AIQ at checkpoints.
        lambdas: sweep settings of the test AIQ.
        latency: ``(n, K)`` true latency in seconds (NaN = unknown); the chosen model's is
            revealed to a :class:`~shared.LearnsLatency` router with each update.
        refit_at: learn by periodic re-training instead of ``update``: after each of these step
            counts (and at every checkpoint) the router is re-fitted with ``fit_bandit`` on
            everything revealed so far (chosen model, quality, cost and the logged propensity;
            no preferences, so that one log teaches every preference), as a deployment that
            retrains from its feedback store does. :func:`doubling_schedule` gives one.

    Raises:
        CapabilityError: the router cannot learn online (or, with ``refit_at``, cannot
            ``fit_bandit``).
        NotFittedError: the router is not fitted and cannot cold-start.
        InvalidParameterError: bad ``n_passes`` or ``checkpoints``.
        DataError: shapes disagree.
    """
    Xa = np.asarray(X, dtype=np.float64)
    Q = np.asarray(quality, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    names = list(models)
    if Xa.ndim != 2 or Q.shape != C.shape or Q.shape != (Xa.shape[0], len(names)):
        raise DataError(f"X {Xa.shape}, quality {Q.shape}, cost {C.shape} disagree.")
    La = None if latency is None else np.asarray(latency, dtype=np.float64)
    if La is not None and La.shape != Q.shape:
        raise DataError(f"latency {La.shape} and quality {Q.shape} disagree.")
    if refit_at is not None:
        require(router, FitsBandit, "re-train from a bandit log (fit_bandit)")
    if n_passes < 1 or any(not 0 < f <= 1 for f in checkpoints):
        raise InvalidParameterError("n_passes must be >= 1 and checkpoints in (0, 1].")
    if preferences is not None and len(preferences) != Xa.shape[0]:
        raise DataError("preferences needs one entry per training prompt.")
    ensure_ready(router, names, Xa.shape[1], online=refit_at is None)
    rng = np.random.default_rng(seed)
    sampler = preference_sampler or default_preference_sampler
    order = np.concatenate([rng.permutation(Xa.shape[0]) for _ in range(n_passes)])
    total = len(order)
    marks = {max(1, math.ceil(f * total)): float(f) for f in checkpoints}
    refits = {int(r) for r in refit_at or ()}
    obs = ~np.isnan(Q)
    col = {m: j for j, m in enumerate(names)}
    chosen: list[str] = []
    qs, cs, ps, ls = (np.empty(total) for _ in range(4))
    pref_rows = np.empty((total, 3))
    curve: list[tuple[float, float | None]] = []
    for step, i in enumerate(order, 1):
        row_obs = obs[i]
        if not row_obs.any():
            raise DataError(f"Training row {int(i)} has no observed model.")
        pref = Preference.coerce(preferences[i] if preferences is not None else sampler(rng))
        candidates = None if row_obs.all() else [m for m, o in zip(names, row_obs) if o]
        decision = router.decide(Xa[i], pref, candidates=candidates, explore=True)
        j = col[decision.model]
        q, c = float(Q[i, j]), float(C[i, j])
        lat = None if La is None or np.isnan(La[i, j]) else float(La[i, j])
        chosen.append(decision.model)
        qs[step - 1], cs[step - 1], ps[step - 1] = q, c, decision.propensity
        ls[step - 1] = np.nan if lat is None else lat
        pref_rows[step - 1] = _pref_row(pref)
        if refit_at is None:
            assert isinstance(router, LearnsOnline)
            router.update(
                Xa[i], decision.model, q, c, propensity=decision.propensity, preference=pref,
                **latency_kwargs(router, lat),
            )  # fmt: skip
        elif step in refits or step in marks:
            assert isinstance(router, FitsBandit)
            router.fit_bandit(
                Xa[order[:step]], chosen, qs[:step], cs[:step], ps[:step], models=names,
                **latency_kwargs(router, None if La is None else ls[:step]),
            )  # fmt: skip
        if step in marks:
            value = None if test is None else router_aiq(router, *test, names, lambdas=lambdas)
            curve.append((marks[step], value))
            if on_checkpoint is not None:
                on_checkpoint(marks[step], router, value)
    log = BanditLog(
        rows=order.astype(np.intp),
        chosen=tuple(chosen),
        quality=qs,
        cost=cs,
        propensity=ps,
        preferences=pref_rows,
        models=tuple(names),
        latency=None if La is None else ls,
    )
    return BanditSimulation(
        router=router,
        curve=tuple(curve),
        log=log,
        mean_quality=float(qs.mean()),
        mean_cost=float(cs.mean()),
    )
