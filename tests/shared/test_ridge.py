"""RidgeRouter: closed form, incremental statistics, add/remove, cold start, exploration."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared import (
    DataError,
    DimensionMismatchError,
    InvalidParameterError,
    NotFittedError,
    Preference,
    RidgeRouter,
    UnknownModelError,
    load_router,
)
from shared.routers._linear import design, gcv_scores, loo_errors

MODELS = ["a", "b", "c"]


def _data(n: int = 120, d: int = 6, seed: int = 0, holes: bool = True) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Q = np.clip(0.5 + 0.2 * X[:, :3] + 0.05 * rng.normal(size=(n, 3)), 0, 1)
    C = np.abs(0.01 * (1 + X[:, 3:6])) + np.array([0.02, 0.005, 0.001])
    if holes:
        Q[rng.uniform(size=Q.shape) < 0.15] = np.nan
        C[rng.uniform(size=C.shape) < 0.1] = np.nan
    return X, Q, C


def _direct(X: Any, y: Any, alpha: float, penalize_intercept: bool, prior: float) -> Any:
    """Ridge weights (with intercept) solved directly from the data."""
    Xt = design(X, True)
    pen = np.full(Xt.shape[1], alpha)
    w0 = np.zeros(Xt.shape[1])
    w0[-1] = prior
    if not penalize_intercept:
        pen[-1] = 0.0
    return np.linalg.solve(Xt.T @ Xt + np.diag(pen), Xt.T @ y + pen * w0)


def _raw(router: RidgeRouter, X: Any) -> tuple[Any, Any]:
    """Unclipped quality and cost-head predictions."""
    Xt = design(np.asarray(X, float), router.fit_intercept)
    Wc = router.cost_heads_.weights()
    cost = Xt @ Wc if router.predict_cost else np.repeat(Wc, len(X), axis=0)
    return Xt @ router.quality_heads_.weights(), cost


@pytest.mark.parametrize("penalize_intercept", [False, True])
def test_fit_matches_direct_solution_per_model(penalize_intercept: bool) -> None:
    """Each head equals ridge solved directly on that model's observed rows (NaN skipped)."""
    X, Q, C = _data()
    router = RidgeRouter(alpha=2.0, penalize_intercept=penalize_intercept)
    router.fit(X, Q, C, models=MODELS)
    q_hat, c_hat = _raw(router, X)
    for k in range(3):
        obs = np.isfinite(Q[:, k])
        w = _direct(X[obs], Q[obs, k], 2.0, penalize_intercept, 0.5)
        np.testing.assert_allclose(q_hat[:, k], design(X, True) @ w, atol=1e-10)
        obs = np.isfinite(C[:, k])
        w = _direct(X[obs], C[obs, k], 2.0, penalize_intercept, 0.0)
        np.testing.assert_allclose(c_hat[:, k], design(X, True) @ w, atol=1e-10)


@pytest.mark.parametrize("solver", ["cholesky", "sherman_morrison"])
def test_one_record_at_a_time_equals_batch_fit(solver: str) -> None:
    """update() per observed cell, with decisions in between, reproduces fit() to 1e-8."""
    X, Q, C = _data(n=60)
    batch = RidgeRouter(alpha=1.5, solver=solver, cost_scale=0.01).fit(X, Q, C, models=MODELS)
    online = RidgeRouter(alpha=1.5, solver=solver, cost_scale=0.01)
    online.initialize(MODELS, X.shape[1])
    for i in range(len(X)):
        for k, m in enumerate(MODELS):
            if np.isfinite(Q[i, k]):
                cost = None if np.isnan(C[i, k]) else float(C[i, k])
                online.update(X[i], m, float(Q[i, k]), cost)
            elif np.isfinite(C[i, k]):
                online.partial_fit(X[i : i + 1], [[np.nan]], [[C[i, k]]], models=[m])
        online.decide(X[i])  # forces lazy solves between updates
    for got, want in zip(_raw(online, X), _raw(batch, X)):
        np.testing.assert_allclose(got, want, atol=1e-8)
    assert [d.model for d in online.decide_batch(X)] == [d.model for d in batch.decide_batch(X)]


def test_partial_fit_batches_equal_fit() -> None:
    """Two partial_fit batches give the same heads as one fit on their union."""
    X, Q, C = _data()
    full = RidgeRouter(alpha=0.7).fit(X, Q, C, models=MODELS)
    part = RidgeRouter(alpha=0.7).partial_fit(X[:50], Q[:50], C[:50], models=MODELS)
    part.partial_fit(X[50:], Q[50:], C[50:], models=MODELS)
    for got, want in zip(_raw(part, X), _raw(full, X)):
        np.testing.assert_allclose(got, want, atol=1e-8)


def test_update_equals_partial_fit_of_one_cell() -> None:
    """update(x, m, q, c) equals partial_fit with a one-row, one-model table."""
    X, Q, C = _data()
    a = RidgeRouter(alpha=1.0).fit(X, Q, C, models=MODELS)
    b = RidgeRouter(alpha=1.0).fit(X, Q, C, models=MODELS)
    x = np.linspace(-1, 1, X.shape[1])
    a.update(x, "b", 0.25, 0.003)
    b.partial_fit(x[None, :], [[0.25]], [[0.003]], models=["b"])
    for got, want in zip(_raw(a, X), _raw(b, X)):
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("predict_cost", [True, False])
@pytest.mark.parametrize("solver", ["cholesky", "sherman_morrison"])
def test_add_and_remove_model_equal_fit_from_scratch(predict_cost: bool, solver: str) -> None:
    """add_model then remove_model match from-scratch fits on the same data to 1e-8."""
    X, Q, C = _data()
    kw: dict[str, Any] = {
        "alpha": 0.9,
        "predict_cost": predict_cost,
        "solver": solver,
        "cost_scale": 0.01,
    }
    small = RidgeRouter(**kw).fit(X, Q[:, :2], C[:, :2], models=["a", "b"])
    small.predict_outcomes(X)
    small.add_model("c", X, Q[:, 2], C[:, 2])
    full = RidgeRouter(**kw).fit(X, Q, C, models=MODELS)
    assert small.models_ == MODELS
    for got, want in zip(_raw(small, X), _raw(full, X)):
        np.testing.assert_allclose(got, want, atol=1e-8)
    full.remove_model("a")
    rest = RidgeRouter(**kw).fit(X, Q[:, 1:], C[:, 1:], models=["b", "c"])
    for got, want in zip(_raw(full, X), _raw(rest, X)):
        np.testing.assert_allclose(got, want, atol=1e-8)


def test_add_model_with_cv_selects_its_own_alpha() -> None:
    """With alpha='cv' an added model gets a penalty from the grid; others keep theirs."""
    X, Q, C = _data(holes=False)
    router = RidgeRouter(alpha="cv", alpha_selection="per_model", alphas=[0.01, 1.0, 100.0])
    router.fit(X, Q[:, :2], C[:, :2], models=["a", "b"])
    before = router.alpha_.copy()
    router.add_model("c", X, Q[:, 2], C[:, 2])
    assert np.array_equal(router.alpha_[:2], before)
    assert router.alpha_[2] in {0.01, 1.0, 100.0}


def test_bad_add_model_keeps_the_router_unchanged() -> None:
    """A failing add_model does not leave a half-added model behind."""
    X, Q, C = _data()
    router = RidgeRouter().fit(X, Q, C, models=MODELS)
    with pytest.raises(DataError):
        router.add_model("d", X, np.full(len(X), 2.0))
    assert router.models_ == MODELS
    with pytest.raises(InvalidParameterError):
        router.add_model("a")
    with pytest.raises(UnknownModelError):
        router.remove_model("zzz")


def test_initialize_predicts_priors_until_data_arrives() -> None:
    """A cold-started router predicts exactly its priors, then moves toward the data."""
    router = RidgeRouter().initialize(
        MODELS, 4, prior_quality={"a": 0.9, "b": 0.6}, prior_cost=[0.01, 0.002, 0.0005]
    )
    q, c = router.predict_outcomes(np.ones((2, 4)))
    np.testing.assert_allclose(q, [[0.9, 0.6, 0.5]] * 2)
    np.testing.assert_allclose(c, [[0.01, 0.002, 0.0005]] * 2)
    assert router.cost_scale_ == pytest.approx(np.quantile([0.01, 0.002, 0.0005], 0.95))
    assert router.decide(np.ones(4)).model == "a"
    router.update(np.ones(4), "a", 0.0, 0.01)
    assert router.predict_outcomes(np.ones((1, 4)))[0][0, 0] < 0.1
    assert router.predict_outcomes(np.ones((1, 4)))[0][0, 1] == pytest.approx(0.6)


def test_penalized_intercept_shrinks_toward_prior() -> None:
    """With penalize_intercept the prior acts like alpha pseudo-observations."""
    router = RidgeRouter(alpha=1.0, penalize_intercept=True)
    router.initialize(["a"], 2, prior_quality=0.8)
    router.update(np.zeros(2), "a", 0.0)
    q, _ = router.predict_outcomes(np.zeros((1, 2)))
    assert q[0, 0] == pytest.approx(0.4)


def test_fit_bandit_equals_fit_on_the_masked_table() -> None:
    """fit_bandit trains each model only on the prompts where it was chosen."""
    X, Q, C = _data(holes=False)
    rng = np.random.default_rng(1)
    chosen = rng.integers(0, 3, size=len(X))
    rows = np.arange(len(X))
    Qm = np.full_like(Q, np.nan)
    Cm = np.full_like(C, np.nan)
    Qm[rows, chosen] = Q[rows, chosen]
    Cm[rows, chosen] = C[rows, chosen]
    bandit = RidgeRouter().fit_bandit(
        X,
        [MODELS[j] for j in chosen],
        Q[rows, chosen],
        C[rows, chosen],
        np.full(len(X), 1 / 3),
        models=MODELS,
        preferences=np.tile([1.0, 0.0, 0.0], (len(X), 1)),
    )
    masked = RidgeRouter().fit(X, Qm, Cm, models=MODELS)
    np.testing.assert_allclose(_raw(bandit, X)[0], _raw(masked, X)[0], atol=1e-10)
    with pytest.raises(DataError):
        RidgeRouter().fit_bandit(
            X, ["a"] * len(X), Q[:, 0], C[:, 0], np.zeros(len(X)), models=MODELS
        )


def test_loo_errors_match_brute_force() -> None:
    """The eigendecomposition LOO equals refitting without each row."""
    X, Q, _ = _data(n=25, holes=False)
    y = Q[:, 0]
    alphas = np.array([0.1, 3.0])
    for pen in (False, True):
        fast = loo_errors(design(X, True), y, alphas, fit_intercept=True, penalize_intercept=pen)
        slow = []
        for a in alphas:
            errs = []
            for i in range(len(y)):
                keep = np.arange(len(y)) != i
                w = _direct(X[keep], y[keep], a, pen, 0.0)
                errs.append((y[i] - design(X[i : i + 1], True) @ w)[0] ** 2)
            slow.append(np.mean(errs))
        np.testing.assert_allclose(fast, slow, rtol=1e-8)


def test_gcv_scores_match_hat_matrix_formula() -> None:
    """GCV from sufficient statistics equals n*RSS/(n - tr H)^2 from the explicit hat matrix."""
    X, Q, _ = _data(n=40, holes=False)
    y = Q[:, 1]
    Xt = design(X, True)
    alphas = np.array([0.05, 2.0, 50.0])
    got = gcv_scores(
        Xt.T @ Xt,
        (Xt.T @ y)[:, None],
        np.array([y @ y]),
        len(y),
        alphas,
        fit_intercept=True,
        penalize_intercept=False,
    )
    want = []
    for a in alphas:
        pen = np.full(Xt.shape[1], a)
        pen[-1] = 0.0
        H = Xt @ np.linalg.solve(Xt.T @ Xt + np.diag(pen), Xt.T)
        rss = np.sum((y - H @ y) ** 2)
        want.append(len(y) * rss / (len(y) - np.trace(H)) ** 2)
    np.testing.assert_allclose(got, want, rtol=1e-8)


@pytest.mark.parametrize("alpha", ["cv", "gcv"])
@pytest.mark.parametrize("selection", ["relative", "per_model"])
def test_alpha_selection_picks_from_the_grid(alpha: str, selection: str) -> None:
    """Penalty selection stores grid values and prefers little shrinkage on a clean signal."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    Q = np.clip(np.column_stack([0.5 + 0.2 * X[:, 0], 0.5 - 0.2 * X[:, 0]]), 0, 1)
    grid = [1e-3, 1e4]
    router = RidgeRouter(alpha=alpha, alphas=grid, alpha_selection=selection)
    router.fit(X, Q, np.full((200, 2), 0.01), models=["a", "b"])
    assert router.alpha_.tolist() == [1e-3, 1e-3]


def test_ucb_bonus_is_deterministic_and_shrinks_with_data() -> None:
    """UCB adds a deterministic bonus (propensity 1) that decreases as a model gets data."""
    X, Q, C = _data(holes=False)
    router = RidgeRouter(exploration="ucb", exploration_weight=2.0).fit(X, Q, C, models=MODELS)
    greedy = router.scores(X[:5]).utility
    explored = router._route_scores(X[:5], Preference(), True).utility
    assert np.all(explored > greedy)
    assert router.decide(X[0]).propensity == 1.0
    cold = RidgeRouter(exploration="ucb").initialize(["a", "b"], 6)
    for _ in range(30):
        cold.update(X[0], "a", 0.5)
    bonus = cold._route_scores(X[:1], Preference(), True).utility - 0.5
    assert bonus[0, 0] < bonus[0, 1]


def test_thompson_logs_probabilities_and_is_seeded() -> None:
    """Thompson decisions carry Monte Carlo probabilities and propensities in (0, 1]."""
    X, Q, C = _data(holes=False)
    router = RidgeRouter(exploration="thompson", random_state=0, n_draws=64)
    router.fit(X, Q, C, models=MODELS)
    decisions = router.decide_batch(X[:20], Preference(quality=1, cost=1))
    for d in decisions:
        assert d.probabilities is not None
        assert 0.0 < d.propensity <= 1.0
        assert sum(d.probabilities) == pytest.approx(1.0)
        assert d.propensity == pytest.approx(d.probabilities[d.models.index(d.model)])
    again = RidgeRouter(exploration="thompson", random_state=0, n_draws=64)
    again.fit(X, Q, C, models=MODELS)
    assert [d.model for d in again.decide_batch(X[:20], Preference(quality=1, cost=1))] == [
        d.model for d in decisions
    ]
    assert router.decide(X[0], explore=False).propensity == 1.0


def test_decision_uses_clipped_quality_and_calibrated_cost_scale() -> None:
    """Scores are w_q*clip(q) - w_c*max(c, 0)/cost_scale_ with the 95th-percentile scale."""
    X, Q, C = _data()
    router = RidgeRouter().fit(X, Q, C, models=MODELS)
    assert router.cost_scale_ == pytest.approx(np.quantile(C[np.isfinite(C)], 0.95))
    rs = router.scores(X, Preference(quality=1, cost=1))
    assert rs.quality is not None and rs.cost is not None
    assert rs.quality.min() >= 0 and rs.quality.max() <= 1 and rs.cost.min() >= 0
    np.testing.assert_allclose(rs.utility, 0.5 * rs.quality - 0.5 * rs.cost / router.cost_scale_)


def test_errors_at_the_boundary() -> None:
    """Unfitted use, wrong width, bad outcomes and bad updates raise typed errors."""
    X, Q, C = _data()
    with pytest.raises(NotFittedError):
        RidgeRouter().predict_outcomes(X)
    with pytest.raises(NotFittedError):
        RidgeRouter().update(X[0], "a", 1.0)
    router = RidgeRouter().fit(X, Q, C, models=MODELS)
    with pytest.raises(DimensionMismatchError):
        router.decide(np.zeros(X.shape[1] + 1))
    with pytest.raises(DimensionMismatchError):
        router.partial_fit(np.zeros((1, 2)), [[0.5] * 3], None, models=MODELS)
    with pytest.raises(DataError):
        RidgeRouter().fit(X, Q * 2, C, models=MODELS)
    with pytest.raises(DataError):
        RidgeRouter().fit(X, Q, -C, models=MODELS)
    with pytest.raises(DataError):
        RidgeRouter().fit(X, Q[:, :2], C, models=MODELS)
    with pytest.raises(UnknownModelError):
        router.update(X[0], "zzz", 1.0)
    with pytest.raises(DataError, match="propensity"):
        router.update(X[0], "a", 1.0, propensity=0.0)
    with pytest.raises(InvalidParameterError):
        RidgeRouter().fit(X, Q, C, models=["a", "a", "b"])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": -1.0}, "'alpha' parameter of RidgeRouter"),
        ({"alpha": "loo"}, "'alpha' parameter"),
        ({"alphas": []}, "'alphas' parameter"),
        ({"alpha_selection": "x"}, "'alpha_selection' parameter"),
        ({"solver": "qr"}, "'solver' parameter"),
        ({"exploration": "egreedy"}, "'exploration' parameter"),
        ({"exploration_weight": -0.1}, "'exploration_weight' parameter"),
        ({"n_draws": 1}, "'n_draws' parameter"),
        ({"cost_scale": 0.0}, "'cost_scale' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
        ({"fit_intercept": 1}, "'fit_intercept' parameter"),
    ],
)
def test_invalid_parameters_are_rejected_at_fit(params: dict[str, Any], match: str) -> None:
    """Each invalid constructor argument raises InvalidParameterError naming it, at fit time."""
    X, Q, C = _data(n=10)
    router = RidgeRouter(**params)  # storing never validates
    with pytest.raises(InvalidParameterError, match=match):
        router.fit(X, Q, C, models=MODELS)


def test_learned_attributes() -> None:
    """coef_, intercept_, n_observations_ and alpha_ describe the quality heads."""
    X, Q, C = _data()
    router = RidgeRouter(alpha=0.5).fit(X, Q, C, models=MODELS)
    assert router.coef_.shape == (3, X.shape[1])
    np.testing.assert_allclose(
        X @ router.coef_.T + router.intercept_, _raw(router, X)[0], atol=1e-12
    )
    assert router.n_observations_.tolist() == np.isfinite(Q).sum(axis=0).tolist()
    assert router.alpha_.tolist() == [0.5] * 3


def test_cv_on_many_rows_uses_gcv_and_groups_share_one_decomposition() -> None:
    """Above 20 rows per column 'cv' equals 'gcv'; below, per-model LOO matches loo_errors."""
    from shared.routers._penalty import LOO_MAX_ROWS_PER_COLUMN

    rng = np.random.default_rng(5)
    d = 2
    n = LOO_MAX_ROWS_PER_COLUMN * (d + 1) + 5
    X = rng.normal(size=(n, d))
    Q = np.clip(0.5 + 0.1 * X + 0.2 * rng.normal(size=(n, 2)), 0, 1)
    C = np.full((n, 2), 0.01)
    kw: dict[str, Any] = {"alpha_selection": "per_model", "alphas": list(np.logspace(-2, 3, 11))}
    cv = RidgeRouter(alpha="cv", **kw).fit(X, Q, C, models=["a", "b"])
    gcv = RidgeRouter(alpha="gcv", **kw).fit(X, Q, C, models=["a", "b"])
    assert cv.alpha_.tolist() == gcv.alpha_.tolist()
    small = RidgeRouter(alpha="cv", **kw).fit(X[:30], Q[:30], C[:30], models=["a", "b"])
    grid = np.asarray(kw["alphas"])
    for k in range(2):
        errs = loo_errors(
            design(X[:30], True), Q[:30, k], grid, fit_intercept=True, penalize_intercept=False
        )
        assert small.alpha_[k] == grid[int(np.argmin(errs))]


def test_partial_fit_with_a_new_model_name_adds_that_model() -> None:
    """partial_fit with an unknown name appends a model trained only on that batch."""
    X, Q, C = _data(holes=False)
    router = RidgeRouter(alpha=1.0).fit(X[:60], Q[:60, :2], C[:60, :2], models=["a", "b"])
    router.partial_fit(X[60:], Q[60:, 1:], C[60:, 1:], models=["b", "c"])
    assert router.models_ == MODELS
    alone = RidgeRouter(alpha=1.0).fit(X[60:], Q[60:, 2:], C[60:, 2:], models=["c"])
    np.testing.assert_allclose(_raw(router, X)[0][:, 2], _raw(alone, X)[0][:, 0], atol=1e-8)
    assert router.n_observations_.tolist() == [60, 120, 60]


def test_cv_penalty_with_an_unobserved_model() -> None:
    """alpha="cv" fits when a model has no (or one) observed row; that head keeps its prior."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    Q = rng.uniform(size=(30, 3))
    C = np.full((30, 3), 0.01)
    Q[:, 2] = np.nan
    C[:, 2] = np.nan
    Q[0, 2], C[0, 2] = 1.0, 0.02
    router = RidgeRouter(alpha="cv").fit(X, Q, C, models=["a", "b", "c"])
    assert router.predict(X[:3]).shape == (3,)
    chosen = ["a"] * 15 + ["b"] * 15
    logged = RidgeRouter(alpha="cv").fit_bandit(
        X, chosen, Q[:, 0], C[:, 0], np.full(30, 0.5), models=["a", "b", "c"]
    )
    assert logged.models_ == ["a", "b", "c"]


def test_cold_start_without_cost_priors_learns_the_cost_unit_online(tmp_path) -> None:
    """With no cost priors, cost_scale_ follows the observed costs, and survives save/load."""
    from shared import load_router

    router = RidgeRouter(alpha=1.0, solver="sherman_morrison").initialize(["a", "b"], 3)
    assert router.cost_scale_ == 1.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        router.update(rng.normal(size=3), "a", 1.0, 0.002)
        router.update(rng.normal(size=3), "b", 0.5, 0.0001)
    assert router.cost_scale_ == pytest.approx(0.002)
    router.save(str(tmp_path / "r"))
    again = load_router(str(tmp_path / "r"))
    assert again.cost_scale_ == router.cost_scale_
    for _ in range(10):
        again.update(rng.normal(size=3), "a", 1.0, 0.004)
    assert again.cost_scale_ == pytest.approx(0.004)
    fixed = RidgeRouter(alpha=1.0).initialize(["a"], 3, prior_cost={"a": 0.01})
    fixed.update(rng.normal(size=3), "a", 1.0, 5.0)
    assert fixed.cost_scale_ == pytest.approx(0.01)


def _prior_router(**kw: Any) -> RidgeRouter:
    router = RidgeRouter(alpha=1.0, prior_strength=5.0, solver="sherman_morrison", **kw)
    return router.initialize(["a", "b", "c"], 6, prior_quality=[0.8, 0.6, 0.4], prior_cost=0.01)


def test_prior_strength_survives_save_and_load(tmp_path: Any) -> None:
    """The shrunk means (and the per-model strengths) round-trip through save/load."""
    rng = np.random.default_rng(1)
    router = _prior_router()
    X = rng.normal(size=(12, 6))
    for i, x in enumerate(X):
        router.update(x, "abc"[i % 3], float(i % 2), 0.01)
    router.save(str(tmp_path / "r"))
    loaded = load_router(str(tmp_path / "r"))
    np.testing.assert_allclose(loaded.predict_outcomes(X)[0], router.predict_outcomes(X)[0])


def test_prior_strength_needs_a_free_intercept() -> None:
    """The prior is on each model's mean: it needs an unpenalized intercept."""
    with pytest.raises(InvalidParameterError, match="prior_strength"):
        RidgeRouter(prior_strength=2.0, penalize_intercept=True).initialize(["a"], 3)


def test_safe_exploration_never_leaves_the_candidates_or_the_regret_bound() -> None:
    """Only plausible candidates get mass, and the expected regret is at most max_regret."""
    for bound in (0.25, 0.02):
        router = _prior_router(exploration="safe", max_regret=bound, random_state=0)
        x = np.ones(6)
        decisions = [router.decide(x, "quality", candidates=["b", "c"]) for _ in range(20)]
        for d in decisions:
            assert d.probabilities is not None and d.probabilities[0] == 0.0
            regret = sum(p * (d.scores[1] - u) for p, u in zip(d.probabilities, d.scores) if p)
            assert regret <= bound + 1e-9
        assert {d.model for d in decisions} <= {"b", "c"}
        assert max(d.probabilities[2] for d in decisions if d.probabilities) > 0.0
    sure = RidgeRouter(alpha=1.0, prior_strength=1e6, exploration="safe", random_state=0)
    sure.initialize(["a", "b"], 6, prior_quality=[0.8, 0.3], prior_cost=0.01)
    assert {sure.decide(np.zeros(6), "quality").model for _ in range(20)} == {"a"}


def test_known_call_costs_replace_predicted_costs() -> None:
    """decide(cost=...) scores with the given costs; a bad shape is a DataError."""
    router = _prior_router()
    x = np.zeros(6)
    assert router.decide(x, "cost").model == "a"  # equal predicted costs: a tie, the first
    decision = router.decide(x, "cost", cost=[0.1, 0.01, 0.001])
    assert decision.model == "c" and decision.cost == (0.1, 0.01, 0.001)
    with pytest.raises(DataError):
        router.decide(x, "cost", cost=[0.1, 0.2])
    with pytest.raises(DataError):
        router.decide(x, "cost", cost=[0.1, -0.2, 0.0])


def test_pooled_slope_carries_what_other_models_reveal_about_a_prompt() -> None:
    """Model a is only observed on hard prompts; the slope shared with b (seen everywhere)
    tells it that easy prompts are easier, and the one-rating bound still holds."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    easy, hard = np.eye(8)[0] * 1.5, -np.eye(8)[0] * 1.5
    errors = {}
    for pooled in (None, 1.0):
        router = RidgeRouter(alpha=30.0, prior_strength=10.0, pooled_alpha=pooled)
        router.initialize(["a", "b"], 8, prior_quality=[0.7, 0.5], prior_cost=0.01)
        for x in X:
            router.update(x, "b", float(np.clip(0.5 + 0.2 * x[0], 0, 1)), 0.001)
            if x[0] < -0.5:
                router.update(x, "a", float(np.clip(0.8 + 0.2 * x[0], 0, 1)), 0.01)
        q, _ = router.predict_outcomes(np.vstack([easy, hard]))
        truth = np.array([[1.0, 0.8], [0.5, 0.2]])
        errors[pooled] = float(np.abs(q - truth).max())
    assert errors[1.0] < 0.03 < 0.2 < errors[None]
    fresh = RidgeRouter(alpha=1.0, prior_strength=4.0, pooled_alpha=1.0)
    fresh.initialize(["a", "b"], 8, prior_quality=[0.7, 0.5], prior_cost=0.01)
    fresh.update(X[0], "a", 0.2, 0.01)
    q, _ = fresh.predict_outcomes(X)
    np.testing.assert_allclose(q[:, 0], 0.7 - 0.5 / 5, atol=1e-9)
