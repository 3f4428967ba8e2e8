"""AutoRouter: the default batch-trained router, chosen on validation splits of the training data.

``fit`` cross-validates a fixed menu of the project's routers on the training rows only (k folds,
optionally repeated): ridge heads at several penalties (today's ``RidgeRouter(alpha="cv")``
among them), ridge heads on targets relative to a reference model (each model's quality minus the
best training model's, as pairwise peers do), similarity-weighted kNN with wide neighbourhoods, the
predicted-task router, and the means of the two and three best of them. Every candidate predicts
quality; cost comes from one ridge cost head (``RidgeRouter(alpha="cv")``) for all. Each
candidate's out-of-fold predictions are swept over the price of quality exactly as
``prefroute evaluate`` sweeps a router; the candidate with the best decision metric (anchored AIQ + Q@Cbest on the
validation folds, not squared error) is refitted on every training row.

**The guard.** For each price of quality in the sweep, validation also compares the chosen
candidate's per-prompt decisions with the best constant choice at that price (the single model
with the best mean utility). Where per-prompt decisions do not beat the constant by more than
``guard_margin`` standard errors of the paired difference, the router makes the constant choice at
that price: its scores become the models' training means. So at the pure-quality end the router
calls the best training model unless validation shows that routing beats it.

``saved form``: JSON + ``.npz`` (no pickle); ``router.json`` records every candidate's validation
figures, the choice and the guard's verdict at each price (:attr:`AutoRouter.report_`).

Examples:
    >>> import numpy as np
    >>> from shared import Preference
    >>> from shared.routers import AutoRouter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> easy = X[:, 0] > 0
    >>> Q = np.column_stack([rng.random(300) < 0.9, np.where(easy, rng.random(300) < 0.9, 0.0)])
    >>> C = np.column_stack([np.full(300, 1.0), np.full(300, 0.05)])
    >>> router = AutoRouter(n_folds=3).fit(X, Q.astype(float), C, models=["big", "small"])
    >>> router.chosen_ in router.report_["candidates"]
    True
    >>> router.predict([[3.0, 0, 0, 0], [-3.0, 0, 0, 0]], Preference.from_price(0.2)).tolist()
    ['small', 'big']
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter, RouteScores, calibrate_scale, scalarize
from .._validation import Interval, check_table
from ..capabilities import FitsTable, Persists
from ..exceptions import DataError, InvalidParameterError
from ..preference import Preference

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

__all__ = ["CANDIDATE_GROUPS", "AutoRouter"]

logger = logging.getLogger("prefroute.routing")


@dataclass(frozen=True)
class _Spec:
    """One candidate: a router class with parameters; ``relative`` shifts the quality targets."""

    name: str
    cls: str
    params: Mapping[str, Any] = field(default_factory=dict)
    relative: bool = False


#: The candidate menu by group (``AutoRouter(candidates=...)`` picks groups by name).
CANDIDATE_GROUPS: dict[str, tuple[_Spec, ...]] = {
    "ridge": (
        _Spec("ridge(alpha=cv)", "RidgeRouter", {"alpha": "cv"}),
        *(_Spec(f"ridge(alpha={a:g})", "RidgeRouter", {"alpha": a}) for a in (3.0, 10.0, 30.0)),
    ),
    "relative": tuple(
        _Spec(f"relative ridge(alpha={a:g})", "RidgeRouter", {"alpha": a}, relative=True)
        for a in (10.0, 30.0, 100.0)
    ),
    "knn": tuple(
        _Spec(f"knn(k={k}, similarity)", "KNNRouter", {"k": k, "weights": "similarity"})
        for k in (40, 80, 160)
    ),
    "task": tuple(_Spec(f"task(C={c:g})", "TaskRouter", {"C": c}) for c in (1.0, 10.0)),
}

#: The one cost head every candidate's decisions use (candidates differ in predicted quality).
_COST_HEAD = _Spec("cost head", "RidgeRouter", {"alpha": "cv"})


def _router_class(name: str) -> type[BaseRouter]:
    from .._registry import router_class

    return router_class(name)


def _price(preference: Preference) -> float:
    """The price of quality ``w_c / w_q`` of a preference (``inf`` for pure cost)."""
    if preference.quality <= 0:
        return math.inf if preference.cost > 0 else 0.0
    return float(preference.cost / preference.quality)


def _grid() -> FloatArray:
    from ..evaluation.sweep import default_lambdas

    return default_lambdas()


def _utilities(Q: FloatArray, C: FloatArray, lam: float, scale: float) -> FloatArray:
    """Per-cell utility at price ``lam`` (pure cost at ``inf``)."""
    if math.isinf(lam):
        return np.asarray(-C / scale, dtype=np.float64)
    return np.asarray(Q - lam * C / scale, dtype=np.float64)


def _choices(q: FloatArray, c: FloatArray, lambdas: FloatArray, scale: float) -> IntArray:
    """``(m, n)`` argmax of predicted utility per price (pure cost: quality breaks ties)."""
    out = np.empty((len(lambdas), q.shape[0]), dtype=np.intp)
    for i, lam in enumerate(lambdas):
        u = _utilities(q, c, float(lam), scale)
        if math.isinf(lam):
            u = u + 1e-9 * q
        out[i] = np.argmax(u, axis=1)
    return out


@dataclass
class _Validation:
    """Validation figures of one candidate (averaged over repeats) and its guard."""

    score: float
    aiq: float
    anchored_aiq: float
    q_at_cbest: float
    gain: FloatArray  # per price: mean utility of routing minus the best constant
    se: FloatArray  # its standard error
    constant: IntArray  # per price: the best constant model


class AutoRouter(FitsTable, Persists, BaseRouter):
    """The default router: a validated choice among the project's routers, with a guard.

    Args:
        candidates: groups of :data:`CANDIDATE_GROUPS` to consider (default: all of ``"ridge"``,
            ``"relative"``, ``"knn"``, ``"task"``).
        ensembles: also consider the means of the best two and best three candidates.
        n_folds: folds of the training rows for validation (>= 2).
        n_repeats: repetitions of the k-fold split with fresh shuffles.
        guard: make the constant choice at each price where validation shows per-prompt decisions
            do not beat it.
        guard_margin: per-prompt decisions are kept at a price only if they beat the constant
            choice by more than this many standard errors of the paired validation difference.
        cost_scale: fixed cost unit; default: 95th percentile of the training costs.
        random_state: seed of the fold shuffles (and of the members that take one).

    Attributes:
        chosen_: name of the chosen candidate.
        members_: the fitted member routers (several for an ensemble) with the affine map
            ``(a, b)`` of each one's quality (``a * q̂ + b``; not the identity for relative
            targets); the mapped quality predictions are averaged.
        cost_head_: the ``RidgeRouter(alpha="cv")`` whose cost predictions every candidate's
            decisions use (the candidates differ only in predicted quality).
        report_: JSON-able record of the choice: every candidate's validation figures, the choice
            and the guard's verdict at each price.
    """

    fit_accepts_tasks: ClassVar[bool] = True
    #: Validation needs every model's outcome on a prompt: no training from bandit feedback.
    needs_complete_rows: ClassVar[bool] = True
    #: Decisions depend on the preference beyond a scalarization of the returned predictions, so
    #: the evaluation sweep asks ``route_indices`` at each price.
    scalarized_sweep: ClassVar[bool] = False

    _parameter_constraints = {  # noqa: RUF012
        "candidates": [None, list, tuple],
        "ensembles": ["boolean"],
        "n_folds": [Interval(int, 2, None)],
        "n_repeats": [Interval(int, 1, None)],
        "guard": ["boolean"],
        "guard_margin": [Interval(float, 0, None, closed="left")],
        "cost_scale": [None, Interval(float, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        candidates: Sequence[str] | None = None,
        ensembles: bool = True,
        n_folds: int = 5,
        n_repeats: int = 1,
        guard: bool = True,
        guard_margin: float = 0.0,
        cost_scale: float | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.candidates = candidates
        self.ensembles = ensembles
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.guard = guard
        self.guard_margin = guard_margin
        self.cost_scale = cost_scale
        self.random_state = random_state

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"n_folds": 2, "candidates": ["ridge", "knn"]}]

    # ------------------------------------------------------------------ fitting
    def _specs(self) -> list[_Spec]:
        groups = list(CANDIDATE_GROUPS) if self.candidates is None else list(self.candidates)
        unknown = [g for g in groups if g not in CANDIDATE_GROUPS]
        if unknown or not groups:
            raise InvalidParameterError(
                f"AutoRouter: candidates must be among {sorted(CANDIDATE_GROUPS)}, got {groups}."
            )
        return [spec for g in groups for spec in CANDIDATE_GROUPS[g]]

    def _fit_member(
        self,
        spec: _Spec,
        X: FloatArray,
        Q: FloatArray,
        C: FloatArray,
        tasks: Sequence[str] | None,
    ) -> tuple[BaseRouter, tuple[float, float]]:
        """The fitted member and the affine map ``(a, b)`` of its quality: ``a * q̂ + b``."""
        cls = _router_class(spec.cls)
        params = dict(spec.params)
        if "random_state" in cls._param_names():
            params["random_state"] = self.random_state
        router = cls(**params)
        targets, affine = Q, (1.0, 0.0)
        if spec.relative:  # (q_m - q_ref + 1) / 2 in [0, 1], mapped back at prediction
            ref = int(np.nanargmax(np.nanmean(Q, axis=0)))
            targets = (Q - Q[:, [ref]] + 1.0) / 2.0
            affine = (2.0, float(np.nanmean(Q[:, ref])) - 1.0)
        kwargs: dict[str, Any] = {"models": self.models_}
        if getattr(cls, "fit_accepts_tasks", False):
            kwargs["tasks"] = tasks
        fit = getattr(router, "fit")  # noqa: B009 - every member class defines its own fit
        fit(X, targets, C, **kwargs)
        return router, affine

    @staticmethod
    def _quality(
        members: Sequence[tuple[BaseRouter, tuple[float, float]]], X: FloatArray
    ) -> FloatArray:
        """Mean of the members' mapped quality predictions."""
        qs = []
        for m, (a, b) in members:
            rs = m.scores(X, Preference())
            assert rs.quality is not None
            qs.append(a * rs.quality + b)
        return np.asarray(np.mean(qs, axis=0), dtype=np.float64)

    @staticmethod
    def _cost(head: BaseRouter, X: FloatArray) -> FloatArray:
        c = head.scores(X, Preference()).cost
        assert c is not None
        return np.asarray(np.maximum(c, 0.0), dtype=np.float64)

    def _validate(
        self, oof: Sequence[tuple[FloatArray, FloatArray]], Q: FloatArray, C: FloatArray
    ) -> _Validation:
        """Sweep out-of-fold predictions (one pair per repeat) on the complete rows."""
        from ..evaluation.metrics import aiq as area
        from ..evaluation.metrics import (
            anchored_aiq,
            best_single_index,
            frontier,
            quality_at_cost,
            single_model_points,
        )

        lambdas, scale = _grid(), self.cost_scale_
        rows = np.arange(Q.shape[0])
        single = single_model_points(Q, C)
        c_max, c_best = float(single[:, 0].max()), float(single[best_single_index(single), 0])
        figures, gains, ses = [], [], []
        constant = np.empty(len(lambdas), dtype=np.intp)
        for q_hat, c_hat in oof:
            choices = _choices(q_hat, c_hat, lambdas, scale)
            gain, se = np.empty(len(lambdas)), np.empty(len(lambdas))
            for i, lam in enumerate(lambdas):
                U = _utilities(Q, C, float(lam), scale)
                best = int(np.argmax(U.mean(axis=0) + (1e-9 * Q.mean(axis=0))))
                constant[i] = best
                diff = U[rows, choices[i]] - U[:, best]
                gain[i] = diff.mean()
                se[i] = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
                if self.guard and not gain[i] > self.guard_margin * se[i]:
                    choices[i] = best
            gains.append(gain)
            ses.append(se)
            pts = np.column_stack([C[rows, choices].mean(axis=1), Q[rows, choices].mean(axis=1)])
            front = frontier(pts)
            figures.append(
                (
                    area(front, c_max),
                    anchored_aiq(pts, single, c_max),
                    quality_at_cost(front, c_best),
                )
            )
        a, anchored, q_at = np.mean(figures, axis=0)
        return _Validation(
            score=float(anchored + q_at),
            aiq=float(a),
            anchored_aiq=float(anchored),
            q_at_cbest=float(q_at),
            gain=np.mean(gains, axis=0),
            se=np.mean(ses, axis=0),
            constant=constant,
        )

    def fit(
        self,
        X: ArrayLike,
        quality: ArrayLike,
        cost: ArrayLike | None,
        *,
        models: Sequence[str],
        tasks: Sequence[str] | None = None,
    ) -> Self:
        """Validate every candidate on folds of the training rows, choose, refit on all rows.

        Args:
            X: ``(n, d)`` prompt embeddings of the training prompts.
            quality: ``(n, K)`` observed quality in [0, 1] (NaN where unobserved).
            cost: ``(n, K)`` USD per call (NaN where unobserved), or ``None``.
            models: the ``K`` model names.
            tasks: each prompt's task label, if known (used by the task router; without it the
                task router clusters the embeddings).

        Raises:
            DataError: bad shapes, or fewer than ``2 * n_folds`` rows with every model observed
                (validation needs complete rows).
        """
        self._validate_params()
        owner = type(self).__name__
        Xc, names, Q, C, _ = check_table(X, quality, cost, models, owner)
        if tasks is not None and len(tasks) != Xc.shape[0]:
            raise DataError(f"{owner}: {len(tasks)} task labels for {Xc.shape[0]} prompts.")
        complete = np.asarray(np.isfinite(Q).all(axis=1) & np.isfinite(C).all(axis=1))
        if complete.sum() < 2 * self.n_folds:
            raise DataError(
                f"{owner} validates on prompts with every model observed: {int(complete.sum())} "
                f"found, at least {2 * self.n_folds} needed."
            )
        self.models_ = names
        self.n_features_in_ = int(Xc.shape[1])
        self.cost_scale_ = float(self.cost_scale or calibrate_scale(C[np.isfinite(C)]))
        specs = self._specs()
        task_list = None if tasks is None else [str(t) for t in tasks]
        oof = self._out_of_fold(specs, Xc, Q, C, task_list, complete)
        Qv, Cv = Q[complete], C[complete]
        results = {s.name: self._validate(oof[s.name], Qv, Cv) for s in specs}
        groups: dict[str, list[_Spec]] = {s.name: [s] for s in specs}
        if self.ensembles and len(specs) >= 3:
            ranked = sorted(specs, key=lambda s: -results[s.name].score)
            for size in (2, 3):
                top = ranked[:size]
                name = "mean of " + " + ".join(s.name for s in top)
                preds = [
                    (
                        np.mean([oof[s.name][r][0] for s in top], axis=0),
                        np.mean([oof[s.name][r][1] for s in top], axis=0),
                    )
                    for r in range(self.n_repeats)
                ]
                results[name] = self._validate(preds, Qv, Cv)
                groups[name] = top
        chosen = max(results, key=lambda n: results[n].score)
        self.chosen_ = chosen
        self.members_ = [self._fit_member(s, Xc, Q, C, task_list) for s in groups[chosen]]
        self.cost_head_ = self._fit_member(_COST_HEAD, Xc, Q, C, task_list)[0]
        val = results[chosen]
        self.quality_mean_ = np.nanmean(Q, axis=0)
        self.cost_mean_ = np.nanmean(C, axis=0)
        self.guard_prices_ = _grid()
        keep = (val.gain > self.guard_margin * val.se) | (not self.guard)
        self.guard_constant_ = np.where(keep, -1, val.constant).astype(np.intp)
        self.report_ = self._report(results, val)
        return self

    def _out_of_fold(
        self,
        specs: Sequence[_Spec],
        X: FloatArray,
        Q: FloatArray,
        C: FloatArray,
        tasks: list[str] | None,
        complete: NDArray[np.bool_],
    ) -> dict[str, list[tuple[FloatArray, FloatArray]]]:
        """Per candidate and repeat, out-of-fold predictions on the complete rows."""
        rng = np.random.default_rng(self.random_state)
        idx = np.flatnonzero(complete)
        out: dict[str, list[tuple[FloatArray, FloatArray]]] = {s.name: [] for s in specs}
        total, done, start = self.n_repeats * self.n_folds * len(specs), 0, time.perf_counter()
        K = len(self.models_)
        for _ in range(self.n_repeats):
            folds = np.array_split(rng.permutation(idx.size), self.n_folds)
            preds = {s.name: (np.empty((idx.size, K)), np.empty((idx.size, K))) for s in specs}
            for f in folds:
                val_rows = idx[f]
                train = np.ones(X.shape[0], dtype=bool)
                train[val_rows] = False
                sub_tasks = None if tasks is None else [t for t, k in zip(tasks, train) if k]
                head = self._fit_member(_COST_HEAD, X[train], Q[train], C[train], sub_tasks)[0]
                c = self._cost(head, X[val_rows])
                for s in specs:
                    member = self._fit_member(s, X[train], Q[train], C[train], sub_tasks)
                    preds[s.name][0][f] = self._quality([member], X[val_rows])
                    preds[s.name][1][f] = c
                    done += 1
                    elapsed = time.perf_counter() - start
                    if done % max(1, total // 10) and done != total:
                        continue  # progress about every 10% of the fits
                    logger.info(
                        "AutoRouter validation: %d/%d fits (%.2f fits/s, ETA %.0f s)",
                        done,
                        total,
                        done / max(elapsed, 1e-9),
                        elapsed / done * (total - done),
                    )
            for s in specs:
                out[s.name].append(preds[s.name])
        return out

    def _report(self, results: Mapping[str, _Validation], val: _Validation) -> dict[str, Any]:
        guard = []
        for lam, const, gain, se in zip(self.guard_prices_, self.guard_constant_, val.gain, val.se):
            guard.append(
                {
                    "price": "inf" if math.isinf(lam) else float(lam),
                    "choice": "per-prompt" if const < 0 else self.models_[int(const)],
                    "validation_gain": float(gain),
                    "standard_error": float(se),
                }
            )
        n_const = int((self.guard_constant_ >= 0).sum())
        return {
            "chosen": self.chosen_,
            "why": (
                f"highest validation anchored AIQ + Q@Cbest ({val.score:.4f}) over "
                f"{self.n_repeats} x {self.n_folds}-fold splits of the training rows; the guard "
                f"makes the constant choice at {n_const} of {len(self.guard_prices_)} prices"
            ),
            "candidates": {
                name: {
                    "score": r.score,
                    "aiq": r.aiq,
                    "anchored_aiq": r.anchored_aiq,
                    "q_at_cbest": r.q_at_cbest,
                }
                for name, r in results.items()
            },
            "guard": guard,
        }

    # ------------------------------------------------------------------ routing
    def _guard_choice(self, price: float) -> int:
        """Constant model index at ``price`` (nearest guard price), ``-1`` for per-prompt."""
        grid = self.guard_prices_
        if math.isinf(price):
            i = int(np.flatnonzero(np.isinf(grid))[0]) if np.isinf(grid).any() else len(grid) - 1
        elif price <= 0:
            i = int(np.argmin(grid))
        else:
            finite = np.flatnonzero(np.isfinite(grid) & (grid > 0))
            i = int(finite[np.argmin(np.abs(np.log(grid[finite]) - math.log(price)))])
        return int(self.guard_constant_[i])

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        if self._guard_choice(_price(preference)) >= 0:
            q = np.repeat(self.quality_mean_[None, :], X.shape[0], axis=0)
            c = np.repeat(self.cost_mean_[None, :], X.shape[0], axis=0)
        else:
            q, c = self._quality(self.members_, X), self._cost(self.cost_head_, X)
        return RouteScores(scalarize(preference, q, c, self.cost_scale_), quality=q, cost=c)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        arrays: dict[str, NDArray[Any]] = {
            "quality_mean": self.quality_mean_,
            "cost_mean": self.cost_mean_,
            "guard_constant": self.guard_constant_,
        }
        members = []
        for i, (m, affine) in enumerate([*self.members_, (self.cost_head_, (1.0, 0.0))]):
            assert isinstance(m, Persists)
            meta, sub = m._get_state()
            members.append(
                {
                    "class": type(m).__name__,
                    "params": m.get_params(),
                    "state": meta,
                    "quality_affine": list(affine),
                }
            )
            arrays.update({f"member{i}.{k}": v for k, v in sub.items()})
        meta_out = {
            "models": list(self.models_),
            "n_features_in": self.n_features_in_,
            "cost_scale": self.cost_scale_,
            "chosen": self.chosen_,
            # JSON, not the .npz: the pure-cost end is an infinite price
            "guard_prices": ["inf" if math.isinf(p) else float(p) for p in self.guard_prices_],
            "members": members,  # the quality members, then the cost head
            "report": self.report_,
        }
        return meta_out, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.models_ = [str(m) for m in meta["models"]]
        self.n_features_in_ = int(meta["n_features_in"])
        self.cost_scale_ = float(meta["cost_scale"])
        self.chosen_ = str(meta["chosen"])
        self.report_ = dict(meta["report"])
        self.quality_mean_ = np.asarray(arrays["quality_mean"], dtype=np.float64)
        self.cost_mean_ = np.asarray(arrays["cost_mean"], dtype=np.float64)
        self.guard_prices_ = np.array([float(p) for p in meta["guard_prices"]], dtype=np.float64)
        self.guard_constant_ = np.asarray(arrays["guard_constant"], dtype=np.intp)
        members: list[tuple[BaseRouter, tuple[float, float]]] = []
        for i, doc in enumerate(meta["members"]):
            router = _router_class(str(doc["class"]))(**dict(doc["params"]))
            prefix = f"member{i}."
            sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            if not isinstance(router, Persists):
                raise DataError(f"AutoRouter: member class {doc['class']!r} cannot be loaded.")
            router._set_state(doc["state"], sub)
            a, b = (float(v) for v in doc["quality_affine"])
            members.append((router, (a, b)))
        self.members_, self.cost_head_ = members[:-1], members[-1][0]
