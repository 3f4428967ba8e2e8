"""Preference sweep, evaluate_routers, the report's JSON/table, plots and the yardstick routers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    DataError,
    EvaluationReport,
    InvalidParameterError,
    Preference,
    UnknownModelError,
    evaluate_routers,
)
from shared._base import BaseRouter, RouteScores
from shared.evaluation import (
    ReferenceKNNRouter,
    ReferenceRidgeRouter,
    default_lambdas,
    plot_learning_curves,
    plot_pareto,
    scalarized_choices,
    sweep_points,
)

MODELS = ["big", "small"]


class _Fixed(BaseRouter):
    """Test router returning given predictions (utilities only when ``predictive`` is False)."""

    def __init__(self, *, q: Any = None, c: Any = None, predictive: bool = True) -> None:
        self.q, self.c, self.predictive = q, c, predictive
        self.seen: list[Preference] = []

    def fit(self, models: list[str]) -> _Fixed:
        self.models_, self.n_features_in_, self.cost_scale_ = models, 1, 1.0
        return self

    def _route_scores(self, X: Any, preference: Preference, explore: bool) -> RouteScores:
        self.seen.append(preference)
        q = np.asarray(self.q, dtype=float)[: len(X)]
        c = np.asarray(self.c, dtype=float)[: len(X)]
        util = preference.quality * q - preference.cost * c
        if self.predictive:
            return RouteScores(util, quality=q, cost=c)
        return RouteScores(util)


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.zeros((4, 1))
    Q = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    C = np.array([[1.0, 0.1]] * 4)
    return X, Q, C


def test_scalarized_sweep_uses_median_of_positive_predicted_costs() -> None:
    """c_hat = [[1, .1], [3, 0]]: the positive predictions are 1, .1, 3, median 1; at lambda .5
    prompt 1 compares .9 - .5 = .4 with .5 - .05 = .45 -> small; prompt 2 .9 - 1.5 < .2 - 0 ->
    small; lambda 0 -> big twice; inf -> cheapest (small) twice."""
    choices = scalarized_choices(
        [[0.9, 0.5], [0.9, 0.2]], [[1.0, 0.1], [3.0, 0.0]], [0, 0.5, np.inf]
    )
    assert choices.tolist() == [[0, 0], [1, 1], [1, 1]]


def test_sweep_points_are_mean_true_outcomes_of_the_choices() -> None:
    """A predictive router choosing big at lambda 0 and small at lambda inf gives the points
    (1, .75) and (.1, .25) on the true outcomes."""
    X, Q, C = _data()
    r = _Fixed(q=[[0.9, 0.5]] * 4, c=[[1.0, 0.1]] * 4).fit(MODELS)
    res = sweep_points(r, X, Q, C, MODELS, lambdas=[0.0, np.inf])
    assert res.scalarized
    np.testing.assert_allclose(res.points, [[1.0, 0.75], [0.1, 0.25]])


def test_non_predictive_router_is_asked_with_preference_from_price() -> None:
    """A router without predicted outcomes gets route_indices(X, Preference.from_price(lam))."""
    X, Q, C = _data()
    r = _Fixed(q=[[0.9, 0.5]] * 4, c=[[1.0, 0.1]] * 4, predictive=False).fit(MODELS)
    res = sweep_points(r, X, Q, C, MODELS, lambdas=[0.0, 2.0, np.inf])
    assert not res.scalarized
    assert r.seen[1:] == [Preference.from_price(v) for v in (0.0, 2.0, np.inf)]
    assert res.choices[:, 0].tolist() == [0, 1, 1]


def test_router_columns_map_to_table_columns_by_name() -> None:
    """A router whose models_ are in another order is mapped by name; unknown names raise."""
    X, Q, C = _data()
    r = _Fixed(q=[[0.5, 0.9]] * 4, c=[[0.1, 1.0]] * 4).fit(["small", "big"])
    res = sweep_points(r, X, Q, C, MODELS, lambdas=[0.0])
    assert res.choices[0].tolist() == [0, 0, 0, 0]
    with pytest.raises(UnknownModelError):
        sweep_points(_Fixed(q=Q, c=C).fit(["x", "y"]), X, Q, C, MODELS)


def test_default_lambdas_cover_zero_logspace_and_pure_cost() -> None:
    """The sweep has 0, 60 log-spaced values from 1e-3 to 1e3, then inf."""
    lam = default_lambdas()
    assert lam.shape == (62,) and lam[0] == 0 and np.isinf(lam[-1])
    np.testing.assert_allclose(lam[1:-1], np.logspace(-3, 3, 60))


def test_evaluate_routers_report_values_and_json_schema(tmp_path: Path) -> None:
    """On _data the best single model is big (q .75, c 1), the small one (q .25, c .1); the
    oracle picks small on prompt 1 (tie) and 4 (all zero): cost (.1+1+1+.1)/4 = .55, quality .75.
    The router's points (1,.75) and (.1,.25) equal the hull: AIQ = .1*.25 + .9*(.25+.75)/2 = .475."""
    X, Q, C = _data()
    r = _Fixed(q=[[0.9, 0.5]] * 4, c=[[1.0, 0.1]] * 4).fit(MODELS)
    rep = evaluate_routers({"fixed": r}, X, Q, C, MODELS, dataset="toy")
    assert isinstance(rep, EvaluationReport)
    assert rep.best_single == "big" and rep.n_test == 4
    assert rep.oracle.cost == pytest.approx(0.55) and rep.oracle.quality == pytest.approx(0.75)
    res = rep.routers["fixed"]
    assert res.aiq == pytest.approx(0.475) == rep.hull.aiq
    assert res.anchored_aiq == pytest.approx(0.475) == rep.hull.anchored_aiq
    assert res.q_at_cbest == pytest.approx(0.75) and res.c_at_qbest == pytest.approx(1.0)
    assert res.gap_closed is None  # the oracle is no better than the best model here
    data = json.loads(rep.to_json())
    assert data["dataset"] == "toy" and data["n_test"] == 4
    assert data["best_single"] == {"model": "big", "quality": 0.75, "cost": 1.0}
    assert set(data["oracle"]) == {"quality", "cost"}
    assert set(data["routers"]["fixed"]) >= {
        "aiq",
        "anchored_aiq",
        "q_at_cbest",
        "c_at_qbest",
        "gap_closed",
        "points",
    }
    assert [1.0, 0.75] in data["routers"]["fixed"]["points"]
    assert set(data["single_models"]) == set(MODELS) and "aiq" in data["hull"]
    text = rep.format_table()
    assert "fixed" in text and "single models' hull" in text and "0.4750" in text
    assert "anchored" in text


def test_report_anchored_aiq_of_a_one_point_router_is_the_hulls() -> None:
    """A router that always calls big scores its quality .75 at every cost by plain AIQ; its
    anchored AIQ is the single models' hull's .475 (see the test above)."""
    X, Q, C = _data()
    r = _Fixed(q=[[0.9, 0.5]] * 4, c=[[0.0, 0.0]] * 4).fit(MODELS)
    res = evaluate_routers({"big only": r}, X, Q, C, MODELS).routers["big only"]
    assert res.aiq == pytest.approx(0.75)
    assert res.anchored_aiq == pytest.approx(0.475)


def test_evaluate_routers_drops_incomplete_test_rows_and_checks_shapes() -> None:
    """Test rows with an unobserved model are left out; mismatched shapes raise DataError."""
    X, Q, C = _data()
    Q2, C2 = Q.copy(), C.copy()
    Q2[3, 1], C2[3, 1] = np.nan, np.nan
    r = _Fixed(q=[[0.9, 0.5]] * 4, c=[[1.0, 0.1]] * 4).fit(MODELS)
    assert evaluate_routers({"r": r}, X, Q2, C2, MODELS).n_test == 3
    with pytest.raises(DataError):
        evaluate_routers({"r": r}, X[:2], Q, C, MODELS)


def test_learning_curves_and_plots_are_written(tmp_path: Path) -> None:
    """Learning curves appear in the table and JSON; both PNG plots are written."""
    X, Q, C = _data()
    r = _Fixed(q=[[0.9, 0.5]] * 4, c=[[1.0, 0.1]] * 4).fit(MODELS)
    rep = evaluate_routers(
        {"r": r}, X, Q, C, MODELS, learning_curves={"r": [(0.5, 0.4), (1.0, 0.47)]}
    )
    assert rep.to_dict()["routers"]["r"]["learning_curve"] == [[0.5, 0.4], [1.0, 0.47]]
    assert "learning curves" in rep.format_table()
    plot_pareto(rep, tmp_path / "p.png")
    plot_learning_curves(rep, tmp_path / "l.png")
    for name in ("p.png", "l.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_ridge_matches_closed_form_with_penalized_intercept() -> None:
    """With X = [[0],[1],[2]], y = [0,1,2], penalty 1 on slope and intercept: A = [[x,1]],
    A^T A + I = [[6,3],[3,4]], A^T y = [5,3] -> w = [11/15, 1/5]; prediction at x=3 is 2.4."""
    X = np.array([[0.0], [1.0], [2.0]])
    y = np.array([0.0, 1.0, 2.0]) / 2  # quality in [0, 1]: halve, predictions halve too
    r = ReferenceRidgeRouter(alpha=1.0).fit(
        X, np.column_stack([y, y]), np.ones((3, 2)), models=MODELS
    )
    q, _ = r._predict(np.array([[3.0]]))
    assert q[0, 0] == pytest.approx(1.2)


def test_reference_knn_ties_share_weight_independently_of_order() -> None:
    """k=2 with three identical training prompts of quality 1, 1, 0 for model a: the tie shares
    the two slots, prediction 2/3 whatever the row order."""
    X = np.ones((3, 2))
    Q = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    C = np.full((3, 2), 0.1)
    for order in ([0, 1, 2], [2, 0, 1]):
        r = ReferenceKNNRouter(k=2).fit(X[order], Q[order], C[order], models=MODELS)
        q, c = r._predict(np.ones((1, 2)))
        assert q[0, 0] == pytest.approx(2 / 3) and c[0, 1] == pytest.approx(0.1)


def test_reference_knn_similarity_weights_follow_cosine() -> None:
    """Two neighbours at cosine 1.0 and 0.5 with quality 1 and 0: similarity weights give 2/3,
    plain means 1/2."""
    X = np.array([[1.0, 0.0], [0.5, np.sqrt(0.75)]])
    Q = np.array([[1.0, 0.0], [0.0, 1.0]])
    C = np.array([[0.3, 0.1], [0.6, 0.1]])
    plain = ReferenceKNNRouter(k=2).fit(X, Q, C, models=MODELS)
    weighted = ReferenceKNNRouter(k=2, weights="similarity").fit(X, Q, C, models=MODELS)
    q, c = weighted._predict(np.array([[1.0, 0.0]]))
    assert q[0, 0] == pytest.approx(2 / 3) and c[0, 0] == pytest.approx(0.4)
    assert plain._predict(np.array([[1.0, 0.0]]))[0][0, 0] == pytest.approx(0.5)


def test_reference_knn_similarity_falls_back_to_plain_means_without_positive_similarity() -> None:
    X = np.array([[-1.0, 0.0], [0.0, -1.0]])
    Q = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = ReferenceKNNRouter(k=2, weights="similarity").fit(X, Q, np.ones((2, 2)), models=MODELS)
    assert r._predict(np.array([[1.0, 1.0]]))[0][0].tolist() == pytest.approx([0.5, 0.5])


def test_reference_knn_rejects_unknown_weights() -> None:
    with pytest.raises(InvalidParameterError, match="weights"):
        ReferenceKNNRouter(weights="distance").fit(
            np.eye(2), np.eye(2), np.ones((2, 2)), models=MODELS
        )
