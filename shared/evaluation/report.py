"""Evaluate fitted routers on a test set and collect every headline metric in one report.

Examples:
    >>> import numpy as np
    >>> from shared.evaluation import ReferenceRidgeRouter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> Q = np.column_stack([np.ones(40), (X[:, 0] > 0).astype(float)])
    >>> C = np.column_stack([np.full(40, 1.0), np.full(40, 0.1)])
    >>> router = ReferenceRidgeRouter(alpha=1.0).fit(X[:30], Q[:30], C[:30], models=["big", "small"])
    >>> report = evaluate_routers({"ridge": router}, X[30:], Q[30:], C[30:], ["big", "small"])
    >>> report.best_single, report.n_test, report.routers["ridge"].aiq >= report.hull.aiq
    ('big', 10, True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter
from .._validation import Interval, validate_params
from ..exceptions import DataError
from .bootstrap import PairedBootstrap, paired_bootstrap, single_model_choices
from .metrics import (
    OutcomePoint,
    aiq,
    anchored_aiq,
    best_single_index,
    cost_at_quality,
    frontier,
    gap_closed,
    oracle_point,
    quality_at_cost,
    random_point,
    single_model_points,
)
from .sweep import sweep_points

__all__ = ["EvaluationReport", "RouterResult", "evaluate_routers", "summarize_points"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RouterResult:
    """Headline metrics of one router (or of the single models' hull).

    Attributes:
        name: the label in the report.
        points: ``(m, 2)`` (mean cost, mean quality) of each sweep setting.
        frontier: ``(h, 2)`` the points' non-decreasing upper convex hull.
        aiq: area under the frontier over cost normalized by ``c_max``.
        anchored_aiq: area under the frontier of the router's points together with the single
            models' points (:func:`~shared.evaluation.anchored_aiq`): a router with one
            operating point is no longer credited with its quality at every cost. ``None`` when
            the single models were not given.
        q_at_cbest: frontier quality at the best single model's cost.
        c_at_qbest: least frontier cost reaching the best single model's quality, divided by that
            model's cost; ``None`` if never reached.
        gap_closed: ``(q_at_cbest - q_best) / (q_oracle - q_best)``; ``None`` without a gap.
        learning_curve: ``((fraction of the training stream, test AIQ), ...)`` for routers
            trained from bandit feedback.
        info: free-form details (fit time, feedback mode, protocol...).
        vs_hull: paired bootstrap of this router against the single models' hull, when
            :func:`evaluate_routers` was asked for one (``bootstrap > 0``).
    """

    name: str
    points: FloatArray
    frontier: FloatArray
    aiq: float
    q_at_cbest: float
    c_at_qbest: float | None
    gap_closed: float | None
    learning_curve: tuple[tuple[float, float], ...] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    vs_hull: PairedBootstrap | None = None
    anchored_aiq: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out: dict[str, Any] = {
            "aiq": self.aiq,
            "anchored_aiq": self.anchored_aiq,
            "q_at_cbest": self.q_at_cbest,
            "c_at_qbest": self.c_at_qbest,
            "gap_closed": self.gap_closed,
            "points": self.points.tolist(),
            "frontier": self.frontier.tolist(),
        }
        if self.learning_curve is not None:
            out["learning_curve"] = [list(p) for p in self.learning_curve]
        if self.info:
            out["info"] = dict(self.info)
        if self.vs_hull is not None:
            out["vs_hull"] = self.vs_hull.to_dict()
        return out


@dataclass(frozen=True)
class EvaluationReport:
    """Every figure of one evaluation run (see ``docs/evaluation.md`` for the definitions).

    Attributes:
        dataset: label of the data.
        n_test: number of test prompts (every model observed).
        models: model names.
        single: mean (cost, quality) of each single model.
        best_single: the single model with the highest mean quality (cheapest among ties).
        oracle: per-prompt best quality, cheapest among ties.
        random: uniform random routing.
        hull: the single models' hull as a router row.
        routers: results by router name, in insertion order.
        c_max: largest single-model mean cost (the AIQ normalizer).
    """

    dataset: str
    n_test: int
    models: tuple[str, ...]
    single: Mapping[str, OutcomePoint]
    best_single: str
    oracle: OutcomePoint
    random: OutcomePoint
    hull: RouterResult
    routers: Mapping[str, RouterResult]
    c_max: float
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def q_best(self) -> float:
        """Mean quality of the best single model."""
        return self.single[self.best_single].quality

    @property
    def c_best(self) -> float:
        """Mean cost of the best single model."""
        return self.single[self.best_single].cost

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        best = self.single[self.best_single]
        return {
            "dataset": self.dataset,
            "n_test": self.n_test,
            "models": list(self.models),
            "c_max": self.c_max,
            "best_single": {"model": self.best_single, "quality": best.quality, "cost": best.cost},
            "oracle": {"quality": self.oracle.quality, "cost": self.oracle.cost},
            "random": {"quality": self.random.quality, "cost": self.random.cost},
            "single_models": {
                m: {"quality": p.quality, "cost": p.cost} for m, p in self.single.items()
            },
            "hull": self.hull.to_dict(),
            "routers": {name: r.to_dict() for name, r in self.routers.items()},
            "meta": dict(self.meta),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` serialized as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def format_table(self) -> str:
        """A readable, aligned text table of the headline metrics."""
        best = self.single[self.best_single]
        lines = [
            f"dataset {self.dataset}: {self.n_test} test prompts, {len(self.models)} models",
            f"best single model {self.best_single}: quality {best.quality:.4f}, "
            f"mean cost ${best.cost:.3g}; oracle quality {self.oracle.quality:.4f} "
            f"(${self.oracle.cost:.3g}); random {self.random.quality:.4f} "
            f"(${self.random.cost:.3g})",
            "",
        ]
        rows = [("single models' hull", self.hull), *self.routers.items()]
        width = max(len(name) for name, _ in rows)

        def fmt(v: float | None, spec: str) -> str:
            return "n/a" if v is None else format(v, spec)

        lines.append(
            f"{'router':<{width}}  {'AIQ':>7}  {'anchored':>8}  {'Q@Cbest':>7}  {'C@Qbest':>7}  "
            f"{'gap':>7}"
        )
        lines.append("-" * (width + 48))
        for name, r in rows:
            lines.append(
                f"{name:<{width}}  {r.aiq:>7.4f}  {fmt(r.anchored_aiq, '.4f'):>8}  "
                f"{r.q_at_cbest:>7.4f}  "
                f"{fmt(r.c_at_qbest, '.3f'):>7}  {fmt(r.gap_closed, '.3f'):>7}"
            )
        curves = [(n, r.learning_curve) for n, r in self.routers.items() if r.learning_curve]
        if curves:
            lines += ["", "learning curves (test AIQ after a share of the training stream):"]
            for name, curve in curves:
                assert curve is not None
                pts = "  ".join(f"{frac:>4.0%}: {value:.4f}" for frac, value in curve)
                lines.append(f"{name:<{width}}  {pts}")
        compared = [(n, r.vs_hull) for n, r in self.routers.items() if r.vs_hull is not None]
        if compared:
            first = compared[0][1]
            assert first is not None
            lines += [
                "",
                f"against the single models' hull (paired bootstrap, {first.n_resamples} "
                f"resamples, {first.confidence:.0%} intervals):",
                f"{'router':<{width}}  {'dAIQ':>7}  {'interval':>17}  {'danchored':>9}  "
                f"{'interval':>17}  {'dQ@Cbest':>8}  {'interval':>17}  {'AIQ wins':>8}",
            ]
            for name, b in compared:
                assert b is not None
                (alo, ahi), (qlo, qhi) = b.aiq_interval, b.q_at_cbest_interval
                nlo, nhi = b.anchored_aiq_interval
                lines.append(
                    f"{name:<{width}}  {b.aiq_diff:>+7.4f}  [{alo:+.4f}, {ahi:+.4f}]  "
                    f"{b.anchored_aiq_diff:>+9.4f}  [{nlo:+.4f}, {nhi:+.4f}]  "
                    f"{b.q_at_cbest_diff:>+8.4f}  [{qlo:+.4f}, {qhi:+.4f}]  "
                    f"{b.share_better:>8.0%}"
                )
        mwidth = max(len(m) for m in self.models)
        lines += ["", f"{'single model':<{mwidth}}  {'quality':>7}  {'mean cost':>9}"]
        for m, p in sorted(self.single.items(), key=lambda kv: kv[1].cost):
            lines.append(f"{m:<{mwidth}}  {p.quality:>7.4f}  {p.cost:>9.3g}")
        return "\n".join(lines)


def summarize_points(
    name: str,
    points: ArrayLike,
    *,
    c_max: float,
    c_best: float,
    q_best: float,
    q_oracle: float,
    single_points: ArrayLike | None = None,
    learning_curve: Sequence[tuple[float, float]] | None = None,
    info: Mapping[str, Any] | None = None,
) -> RouterResult:
    """The headline metrics of a set of (cost, quality) points.

    ``single_points`` (the ``(K, 2)`` single models' mean cost and quality) gives the anchored
    AIQ; without them ``anchored_aiq`` is ``None``.
    """
    pts = np.asarray(points, dtype=np.float64)
    front = frontier(pts)
    q_at = quality_at_cost(front, c_best)
    c_at = cost_at_quality(front, q_best)
    return RouterResult(
        name=name,
        points=pts,
        frontier=front,
        aiq=aiq(front, c_max),
        anchored_aiq=None if single_points is None else anchored_aiq(pts, single_points, c_max),
        q_at_cbest=q_at,
        c_at_qbest=None if c_at is None else c_at / c_best,
        gap_closed=gap_closed(q_at, q_best, q_oracle),
        learning_curve=None
        if learning_curve is None
        else tuple((float(a), float(b)) for a, b in learning_curve),
        info=dict(info or {}),
    )


def complete_rows(quality: ArrayLike, cost: ArrayLike) -> NDArray[np.bool_]:
    """Rows where every model was observed (non-NaN quality and cost)."""
    Q = np.asarray(quality, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    return np.asarray(~(np.isnan(Q) | np.isnan(C)).any(axis=1))


def evaluate_routers(
    routers: Mapping[str, BaseRouter],
    X_test: ArrayLike,
    quality_test: ArrayLike,
    cost_test: ArrayLike,
    models: Sequence[str],
    *,
    dataset: str = "table",
    lambdas: ArrayLike | None = None,
    learning_curves: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    info: Mapping[str, Mapping[str, Any]] | None = None,
    meta: Mapping[str, Any] | None = None,
    bootstrap: int = 0,
    random_state: int | None = 0,
) -> EvaluationReport:
    """Sweep every fitted router over preferences on the test set and compute the metrics.

    Test rows with an unobserved model are left out (the protocol uses prompts where every model
    was observed).

    Args:
        routers: fitted routers by display name.
        X_test: ``(n, d)`` test prompt embeddings.
        quality_test: ``(n, K)`` true quality; columns follow ``models``.
        cost_test: ``(n, K)`` true USD cost per call.
        models: the column names (a router may know a subset of them).
        dataset: label for the report.
        lambdas: sweep settings (default :func:`~shared.evaluation.default_lambdas`).
        learning_curves: per router name, ``(fraction, test AIQ)`` pairs to attach.
        info: per router name, details to attach (fit time, feedback mode...).
        meta: run-level details (encoder, seed...).
        bootstrap: when > 0 (at least 100), compare each router with the single models' hull by
            a paired bootstrap with this many resamples (:func:`paired_bootstrap`) and attach
            it as ``RouterResult.vs_hull``.
        random_state: seed of the bootstrap resampling.

    Raises:
        DataError: shapes disagree, or no test row has every model observed.
        InvalidParameterError: ``bootstrap`` is between 1 and 99.
    """
    X = np.asarray(X_test, dtype=np.float64)
    Q = np.asarray(quality_test, dtype=np.float64)
    C = np.asarray(cost_test, dtype=np.float64)
    if X.ndim != 2 or Q.shape != C.shape or Q.shape != (X.shape[0], len(models)):
        raise DataError(
            f"X_test {X.shape}, quality {Q.shape} and cost {C.shape} disagree with "
            f"{len(models)} models."
        )
    if bootstrap:
        validate_params(
            "evaluate_routers", {"bootstrap": bootstrap}, {"bootstrap": [Interval(int, 100, None)]}
        )
    keep = complete_rows(Q, C)
    if not keep.any():
        raise DataError("No test prompt has every model observed.")
    X, Q, C = X[keep], Q[keep], C[keep]
    single_pts = single_model_points(Q, C)
    single = {
        m: OutcomePoint(cost=float(c), quality=float(q)) for m, (c, q) in zip(models, single_pts)
    }
    b = best_single_index(single_pts)
    c_best, q_best = float(single_pts[b, 0]), float(single_pts[b, 1])
    c_max = float(single_pts[:, 0].max())
    oracle = oracle_point(Q, C)
    common: dict[str, Any] = {
        "c_max": c_max,
        "c_best": c_best,
        "q_best": q_best,
        "q_oracle": oracle.quality,
        "single_points": single_pts,
    }
    hull = summarize_points("single models' hull", single_pts, **common)
    curves = learning_curves or {}
    details = info or {}
    results: dict[str, RouterResult] = {}
    hull_choices = single_model_choices(len(models), Q.shape[0]) if bootstrap else None
    for name, router in routers.items():
        sweep = sweep_points(router, X, Q, C, models, lambdas=lambdas)
        extra = {"protocol": "scalarized" if sweep.scalarized else "route_indices"}
        extra.update(details.get(name, {}))
        result = summarize_points(
            name, sweep.points, learning_curve=curves.get(name), info=extra, **common
        )
        if hull_choices is not None:
            vs_hull = paired_bootstrap(
                sweep.choices, hull_choices, Q, C, n_resamples=bootstrap, random_state=random_state
            )
            result = replace(result, vs_hull=vs_hull)
        results[name] = result
    return EvaluationReport(
        dataset=dataset,
        n_test=int(Q.shape[0]),
        models=tuple(models),
        single=single,
        best_single=str(models[b]),
        oracle=oracle,
        random=random_point(Q, C),
        hull=hull,
        routers=results,
        c_max=c_max,
        meta=dict(meta or {}),
    )


def router_aiq(
    router: BaseRouter,
    X_test: ArrayLike,
    quality_test: ArrayLike,
    cost_test: ArrayLike,
    models: Sequence[str],
    *,
    lambdas: ArrayLike | None = None,
) -> float:
    """Test AIQ of one router (the learning-curve measure); ``c_max`` from the single models."""
    Q = np.asarray(quality_test, dtype=np.float64)
    C = np.asarray(cost_test, dtype=np.float64)
    keep = complete_rows(Q, C)
    X = np.asarray(X_test, dtype=np.float64)[keep]
    Q, C = Q[keep], C[keep]
    sweep = sweep_points(router, X, Q, C, models, lambdas=lambdas)
    return aiq(frontier(sweep.points), float(single_model_points(Q, C)[:, 0].max()))
