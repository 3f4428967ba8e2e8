"""Tests of BaRPRouter: the three ways to learn, routing, determinism, persistence, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared import (
    BaRPRouter,
    DataError,
    DimensionMismatchError,
    InvalidParameterError,
    NotFittedError,
    Preference,
    UnknownModelError,
    load_router,
)
from shared._base import calibrate_scale

MODELS = ["big", "mid", "small"]
PRICES = np.array([0.01, 0.002, 0.0002])


def make_table(n: int = 400, d: int = 8, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Synthetic table: 'big' is always good and dear, 'mid' good on half, 'small' cheap and weak."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    easy = X[:, 0] > 0
    Q = np.stack(
        [np.full(n, 0.95), np.where(easy, 0.9, 0.4), np.where(X[:, 1] > 0.3, 0.85, 0.2)], axis=1
    )
    C = np.tile(PRICES, (n, 1)) * rng.uniform(0.8, 1.2, size=(n, 1))
    return X, Q, C


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, ...]:
    """The shared synthetic table."""
    return make_table()


@pytest.fixture(scope="module")
def fitted(table: tuple[np.ndarray, ...]) -> BaRPRouter:
    """A BaRP policy trained from simulated bandit feedback on the synthetic table."""
    X, Q, C = table
    return BaRPRouter(n_steps=400, random_state=0).fit(X, Q, C, models=MODELS)


def mean_cost_curve(router: BaRPRouter, X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Mean cost of greedy decisions for cost weights 0, 0.05, ..., 1."""
    rows = np.arange(X.shape[0])
    return np.array(
        [
            C[rows, router.route_indices(X, Preference.from_cost_weight(w))].mean()
            for w in np.linspace(0.0, 1.0, 21)
        ]
    )


def test_one_policy_serves_every_preference(fitted, table):
    """Raising the cost weight never raises the mean cost of greedy decisions, over the full range."""
    X, _, C = table
    curve = mean_cost_curve(fitted, X, C)
    assert np.all(np.diff(curve) <= 0.02 * PRICES[0])
    assert curve[0] > 0.8 * PRICES[0] and curve[-1] < 2 * PRICES[2]


@pytest.mark.parametrize(
    "params",
    [
        {"head": "mlp"},
        {"feedback": "full"},
        {"baseline": "ema"},
        {"factored": False},
        {"aux_weight": 0.0},
    ],
)
def test_variants_trade_quality_for_cost(table, params):
    """Every head, feedback mode and baseline yields a policy whose cost falls with the cost weight."""
    X, Q, C = table
    router = BaRPRouter(n_steps=300, random_state=1, **params).fit(X, Q, C, models=MODELS)
    curve = mean_cost_curve(router, X, C)
    assert curve[0] > 0.5 * PRICES[0] > curve[-1]


def test_same_seed_same_weights(table):
    """Two fits with the same seed give identical weights; another seed gives different ones."""
    X, Q, C = table
    a = BaRPRouter(n_steps=50, random_state=3).fit(X, Q, C, models=MODELS)
    b = BaRPRouter(n_steps=50, random_state=3).fit(X, Q, C, models=MODELS)
    c = BaRPRouter(n_steps=50, random_state=4).fit(X, Q, C, models=MODELS)
    assert all(np.array_equal(a.params_[k], b.params_[k]) for k in a.params_)
    assert not np.array_equal(a.params_["W"], c.params_["W"])


def test_scores_are_log_probabilities(fitted, table):
    """Utility is the policy's log-probability, probabilities sum to one, no quality/cost given."""
    X, _, _ = table
    rs = fitted.scores(X[:5], Preference.balanced())
    assert rs.probabilities is not None
    np.testing.assert_allclose(rs.probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(rs.utility), rs.probabilities)
    assert rs.quality is None and rs.cost is None


def test_decide_samples_with_propensity_or_takes_argmax(fitted, table):
    """explore=True logs the sampled model's probability; explore=False takes the argmax."""
    X, _, _ = table
    d = fitted.decide(X[0], 0.5)
    assert d.probabilities is not None
    assert d.propensity == pytest.approx(d.probabilities[MODELS.index(d.model)])
    greedy = fitted.decide(X[0], 0.5, explore=False)
    assert greedy.propensity == 1.0
    assert greedy.model == fitted.predict(X[:1], 0.5)[0]


def test_tau_is_the_95th_percentile_of_training_costs(fitted, table):
    """The calibrated cost unit is calibrate_scale(training costs, 0.95) unless cost_scale is set."""
    X, Q, C = table
    assert fitted.cost_scale_ == pytest.approx(calibrate_scale(C, 0.95))
    fixed = BaRPRouter(n_steps=1, cost_scale=0.5, random_state=0).fit(X, Q, C, models=MODELS)
    assert fixed.cost_scale_ == 0.5


def test_tau_uses_every_training_cost():
    """tau is calibrated on all training costs, beyond the bounded online cost history."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4))
    Q = rng.uniform(size=(2000, 3))
    C = np.tile(PRICES, (2000, 1)) * np.linspace(2.0, 1.0, 2000)[:, None]
    router = BaRPRouter(n_steps=1, random_state=0).fit(X, Q, C, models=MODELS)
    assert router.cost_scale_ == pytest.approx(calibrate_scale(C, 0.95))


def test_full_table_nan_cells_are_never_revealed(table):
    """A table with unobserved cells trains without error and never on NaN outcomes."""
    X, Q, C = table
    Q2, C2 = Q.copy(), C.copy()
    Q2[::3, 0] = np.nan
    C2[::3, 0] = np.nan
    for feedback in ("bandit", "full"):
        router = BaRPRouter(n_steps=30, feedback=feedback, random_state=0)
        router.fit(X, Q2, C2, models=MODELS)
        assert all(np.isfinite(v).all() for v in router.params_.values())


@pytest.mark.parametrize("off_policy", ["clip", "snips"])
def test_fit_bandit_learns_from_a_uniform_log(table, off_policy):
    """Off-policy training on a uniformly logged bandit log prefers 'big' for quality, 'small' for cost."""
    X, Q, C = table
    rng = np.random.default_rng(5)
    arms = rng.integers(0, 3, size=X.shape[0])
    rows = np.arange(X.shape[0])
    router = BaRPRouter(n_steps=600, off_policy=off_policy, random_state=0)
    router.fit_bandit(
        X,
        [MODELS[a] for a in arms],
        Q[rows, arms],
        C[rows, arms],
        np.full(X.shape[0], 1 / 3),
        models=MODELS,
    )
    assert np.mean(router.predict(X, 0.0) == "big") > 0.7
    assert np.mean(router.predict(X, 1.0) == "small") > 0.7


def test_fit_bandit_uses_logged_preferences(table):
    """Logged preferences are accepted as (n, 3) weights; a wrong shape is rejected."""
    X, Q, C = table
    n = X.shape[0]
    prefs = np.tile([0.5, 0.5, 0.0], (n, 1))
    args = (X, ["big"] * n, Q[:, 0], C[:, 0], np.ones(n))
    router = BaRPRouter(n_steps=5, random_state=0).fit_bandit(
        *args, models=MODELS, preferences=prefs
    )
    assert router.is_fitted
    with pytest.raises(DataError, match="preferences must have shape"):
        BaRPRouter(n_steps=5).fit_bandit(*args, models=MODELS, preferences=prefs[:, :1])


def test_online_learning_from_nothing(table):
    """initialize gives a uniform policy; one-at-a-time updates then learn which model is best."""
    X, Q, C = table
    router = BaRPRouter(learning_rate=0.01, random_state=0).initialize(MODELS, X.shape[1])
    probs = router.scores(X[:3]).probabilities
    assert probs is not None
    np.testing.assert_allclose(probs, 1 / 3)
    assert router.cost_scale_ == 1.0
    for i in range(300):
        d = router.decide(X[i], 0.0)
        k = MODELS.index(d.model)
        router.update(X[i], d.model, Q[i, k], C[i, k], propensity=d.propensity, preference=0.0)
    assert np.mean(router.predict(X, 0.0) == "big") > 0.8
    assert router.cost_scale_ == pytest.approx(calibrate_scale(router.cost_history_.values))


def test_save_load_gives_identical_decisions(fitted, table, tmp_path: Path):
    """A saved and reloaded policy scores, routes and keeps learning exactly like the original."""
    X, Q, C = table
    fitted.save(str(tmp_path / "barp"))
    again = load_router(tmp_path / "barp")
    assert isinstance(again, BaRPRouter)
    for w in (0.0, 0.3, 1.0):
        np.testing.assert_array_equal(again.decision_function(X, w), fitted.decision_function(X, w))
    a = BaRPRouter(**fitted.get_params()).fit(X, Q, C, models=MODELS)
    a.save(str(tmp_path / "a"))
    b = load_router(tmp_path / "a")
    for r in (a, b):
        r.update(X[0], "mid", 0.9, 0.002, propensity=0.5, preference=0.4)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X))


def test_invalid_inputs_raise_typed_errors(fitted, table):
    """Bad parameters, shapes, models, outcomes and unfitted use raise the library's errors."""
    X, Q, C = table
    with pytest.raises(InvalidParameterError):
        BaRPRouter(head="bilinear").fit(X, Q, C, models=MODELS)
    with pytest.raises(DataError, match="shape"):
        BaRPRouter().fit(X, Q[:, :2], C, models=MODELS)
    with pytest.raises(DataError):
        BaRPRouter().fit(X, Q * 2, C, models=MODELS)
    with pytest.raises(NotFittedError):
        BaRPRouter().predict(X)
    with pytest.raises(UnknownModelError):
        fitted.update(X[0], "nope", 1.0, 0.01)
    with pytest.raises(DataError):
        fitted.update(X[0], "big", 1.0, 0.01, propensity=0.0)
    with pytest.raises(DimensionMismatchError):
        fitted.predict(X[:, :3])
    with pytest.raises(UnknownModelError):
        BaRPRouter().fit_bandit(X[:2], ["x", "big"], [1, 1], [0, 0], [1, 1], models=MODELS)
