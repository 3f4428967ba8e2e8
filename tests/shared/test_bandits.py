"""Tests of the linear bandit routers: LinUCB, linear Thompson sampling and epsilon-greedy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    DataError,
    EpsilonGreedyRouter,
    InvalidParameterError,
    LinearThompsonRouter,
    LinUCBRouter,
    Preference,
    UnknownModelError,
    load_router,
)

MODELS = ["big", "mid", "small"]
PRICES = np.array([0.01, 0.002, 0.0002])
CLASSES: list[type[Any]] = [LinUCBRouter, LinearThompsonRouter, EpsilonGreedyRouter]


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, ...]:
    """Synthetic table whose per-model quality is linear in the embedding, prices fixed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    coef = rng.normal(size=(6, 3)) * 0.04
    Q = np.clip(np.array([0.7, 0.5, 0.3]) + X @ coef, 0.0, 1.0)
    C = np.tile(PRICES, (300, 1)) * (1.0 + 0.1 * np.abs(X[:, :1]))
    return X, Q, C


def uniform_log(table: tuple[np.ndarray, ...], seed: int = 1) -> tuple[Any, ...]:
    """One uniformly chosen model per prompt, with propensity 1/3."""
    X, Q, C = table
    arms = np.random.default_rng(seed).integers(0, 3, size=(X.shape[0],))
    rows = np.arange(X.shape[0])
    return (
        X,
        [MODELS[int(a)] for a in list(arms)],
        Q[rows, arms],
        C[rows, arms],
        np.full(X.shape[0], 1 / 3),
    )


@pytest.mark.parametrize("cls", CLASSES)
def test_fit_predicts_quality_and_cost(cls, table):
    """A full-information fit predicts each model's quality and cost closely."""
    X, Q, C = table
    router = cls(alpha=0.1, random_state=0).fit(X, Q, C, models=MODELS)
    rs = router.scores(X)
    assert rs.quality is not None and rs.cost is not None
    assert np.abs(rs.quality - Q).mean() < 0.02
    assert np.abs(rs.cost - C).mean() < 0.1 * PRICES.mean()


@pytest.mark.parametrize("cls", CLASSES)
def test_fit_bandit_matches_fit_on_a_log_with_every_arm(cls, table):
    """fit_bandit on a log that reveals every model of every prompt equals the full-table fit."""
    X, Q, C = table
    n = X.shape[0]
    Xl = np.repeat(X, 3, axis=0)
    arms = np.tile(np.arange(3), n)
    chosen = [MODELS[a] for a in arms]
    a = cls(random_state=0).fit(X, Q, C, models=MODELS)
    b = cls(random_state=0).fit_bandit(
        Xl, chosen, Q.ravel(), C.ravel(), np.ones(3 * n), models=MODELS
    )
    np.testing.assert_allclose(a.decision_function(X, 0.3), b.decision_function(X, 0.3), atol=1e-9)


@pytest.mark.parametrize("cls", CLASSES)
def test_online_updates_equal_the_batch_fit(cls, table):
    """initialize + one update per logged outcome reproduces fit_bandit on the same log."""
    X, chosen, q, c, p = uniform_log(table)
    batch = cls(cost_scale=0.01).fit_bandit(X, chosen, q, c, p, models=MODELS)
    online = cls(cost_scale=0.01).initialize(MODELS, X.shape[1])
    for i in range(X.shape[0]):
        online.update(X[i], chosen[i], q[i], c[i], propensity=p[i])
    np.testing.assert_allclose(
        online.decision_function(X, 0.5), batch.decision_function(X, 0.5), atol=1e-8
    )


@pytest.mark.parametrize("cls", CLASSES)
def test_greedy_cost_is_monotone_in_the_cost_weight(cls, table):
    """Scalarizing separate quality and cost models serves every preference: cost falls with w_c."""
    X, chosen, q, c, p = uniform_log(table)
    router = cls().fit_bandit(X, chosen, q, c, p, models=MODELS)
    rows = np.arange(X.shape[0])
    costs = [
        table[2][rows, router.route_indices(X, Preference.from_cost_weight(w))].mean()
        for w in np.linspace(0, 1, 21)
    ]
    assert np.all(np.diff(costs) <= 1e-12)
    assert costs[0] > costs[-1]


@pytest.mark.parametrize("cls", CLASSES)
def test_save_load_gives_identical_decisions(cls, table, tmp_path: Path):
    """A saved and reloaded bandit scores and explores exactly like the original."""
    X, chosen, q, c, p = uniform_log(table)
    router = cls(random_state=7).fit_bandit(X, chosen, q, c, p, models=MODELS)
    router.save(str(tmp_path))
    again = load_router(tmp_path)
    assert type(again).__name__ == cls.__name__
    np.testing.assert_array_equal(again.decision_function(X, 0.2), router.decision_function(X, 0.2))
    fresh = cls(random_state=7).fit_bandit(X, chosen, q, c, p, models=MODELS)
    assert [d.model for d in again.decide_batch(X[:20], 0.2)] == [
        d.model for d in fresh.decide_batch(X[:20], 0.2)
    ]


@pytest.mark.parametrize("cls", CLASSES)
def test_tau_uses_every_training_cost(cls):
    """The cost scale is the 95th percentile of all training costs, even beyond 4,096 cells."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2))
    C = np.tile(PRICES, (2000, 1)) * np.linspace(2.0, 1.0, 2000)[:, None]
    router = cls().fit(X, rng.uniform(size=(2000, 3)), C, models=MODELS)
    assert router.cost_scale_ == pytest.approx(np.quantile(C, 0.95))


def test_linucb_explores_by_optimism(table):
    """LinUCB's exploring utility is the mean plus a non-negative bonus, larger for rare arms."""
    X, chosen, q, c, p = uniform_log(table)
    keep = np.array([m != "small" for m in chosen])
    keep[:3] = True
    router = LinUCBRouter(exploration_weight=1.0).fit_bandit(
        X[keep], [m for m, k in zip(chosen, keep) if k], q[keep], c[keep], p[keep], models=MODELS
    )
    mean = router.decision_function(X, 0.5)
    bonus = router._route_scores(X, Preference.from_cost_weight(0.5), True).utility - mean
    assert (bonus >= 0).all()
    assert bonus[:, 2].mean() > 2 * bonus[:, 0].mean()
    assert router.decide(X[0], 0.5).propensity == 1.0


def test_thompson_logs_monte_carlo_propensities(table):
    """Thompson sampling reports a routing distribution and the probability of the sampled arm."""
    X, chosen, q, c, p = uniform_log(table)
    router = LinearThompsonRouter(posterior_scale=5.0, random_state=0)
    router.fit_bandit(X[:20], chosen[:20], q[:20], c[:20], p[:20], models=MODELS)
    d = router.decide(X[0], 0.5)
    assert d.probabilities is not None
    assert sum(d.probabilities) == pytest.approx(1.0)
    assert d.propensity == pytest.approx(d.probabilities[MODELS.index(d.model)])
    assert max(d.probabilities) < 1.0


def test_epsilon_greedy_probabilities(table):
    """Epsilon-greedy gives 1 - eps + eps/K to the greedy arm and eps/K to the others."""
    X, Q, C = table
    router = EpsilonGreedyRouter(epsilon=0.3, random_state=0).fit(X, Q, C, models=MODELS)
    d = router.decide(X[0], 0.0)
    greedy = router.predict(X[:1], 0.0)[0]
    expected = [0.8 if m == greedy else 0.1 for m in MODELS]
    assert d.probabilities is not None
    np.testing.assert_allclose(np.asarray(d.probabilities), np.asarray(expected))
    assert router.decide(X[0], 0.0, explore=False).model == greedy


@pytest.mark.parametrize("cls", CLASSES)
def test_invalid_inputs_raise_typed_errors(cls, table):
    """Bad parameters, models and outcomes raise the library's typed errors."""
    X, Q, C = table
    with pytest.raises(InvalidParameterError):
        cls(alpha=-1.0).fit(X, Q, C, models=MODELS)
    router = cls().fit(X, Q, C, models=MODELS)
    with pytest.raises(UnknownModelError):
        router.update(X[0], "nope", 0.5, 0.01)
    with pytest.raises(DataError):
        router.update(X[0], "big", 1.5, 0.01)
    with pytest.raises(InvalidParameterError):
        cls().initialize(MODELS, 0)


@pytest.mark.parametrize("cls", CLASSES)
def test_online_cost_unit_counts_each_tried_model_once(cls):
    """tau follows the models' mean observed costs, not the router's own mix of calls: 99 cheap
    calls and one dear one give a tau near the dear model's cost."""
    router = cls(random_state=0).initialize(["dear", "cheap"], 2)
    x = np.array([1.0, 0.0])
    for _ in range(99):
        router.update(x, "cheap", 0.5, 1e-4)
    assert router.cost_scale_ == pytest.approx(1e-4)
    router.update(x, "dear", 0.9, 1e-2)
    assert router.cost_scale_ > 0.9e-2


@pytest.mark.parametrize("cls", CLASSES)
def test_warmup_tries_every_model_before_the_exploration_rule(cls):
    """With warmup=3, the first 3 * K explored decisions try each model 3 times (uniformly among
    the under-tried ones, with that propensity); greedy decisions are not affected."""
    router = cls(warmup=3, random_state=0).initialize(MODELS, 2)
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(9):
        x = rng.normal(size=2)
        under = sum(router.counts_ < 3)
        d = router.decide(x, Preference.from_price(100.0))
        assert d.propensity == pytest.approx(1 / under)
        seen.append(d.model)
        router.update(x, d.model, 0.5, 1e-3)
    assert sorted(seen) == sorted(MODELS * 3)
    assert router.predict(rng.normal(size=(1, 2)))[0] in MODELS
