"""Bandit-feedback simulation and logged datasets built from a full table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared import (
    CapabilityError,
    ColdStarts,
    DataError,
    InvalidParameterError,
    LearnsOnline,
    NotFittedError,
    Preference,
    RidgeRouter,
)
from shared._base import BaseRouter, RouteScores
from shared.evaluation import bandit_log_from_table, simulate_bandit
from shared.tables import table_from_arrays

MODELS = ["a", "b", "c"]


class _MeanBandit(ColdStarts, LearnsOnline, BaseRouter):
    """Per-model running means with uniform exploration; records every update it receives."""

    def __init__(self, *, random_state: int | None = 0) -> None:
        self.random_state = random_state

    def initialize(self, models: list[str], n_features: int) -> _MeanBandit:
        self.models_, self.n_features_in_, self.cost_scale_ = list(models), n_features, 1.0
        self.sums_ = np.zeros((len(models), 2))
        self.counts_ = np.zeros(len(models))
        self.updates_: list[tuple[Any, ...]] = []
        return self

    def _route_scores(self, X: Any, preference: Preference, explore: bool) -> RouteScores:
        n = np.maximum(self.counts_, 1)
        q = np.tile(self.sums_[:, 0] / n, (len(X), 1))
        c = np.tile(self.sums_[:, 1] / n, (len(X), 1))
        probs = np.full(q.shape, 1 / len(self.models_))
        return RouteScores(q - preference.cost * c, probabilities=probs, quality=q, cost=c)

    def update(self, x: Any, model: str, quality: float, cost: float | None = None, *,
               propensity: float = 1.0, preference: Any = None) -> _MeanBandit:  # fmt: skip
        j = self.models_.index(model)
        self.sums_[j] += (quality, cost or 0.0)
        self.counts_[j] += 1
        self.updates_.append((np.asarray(x).copy(), model, quality, cost, propensity, preference))
        return self


def _full(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Q = rng.integers(0, 2, size=(n, 3)).astype(float)
    C = np.tile([0.01, 0.002, 0.0005], (n, 1))
    return X, Q, C


def test_only_the_chosen_outcome_is_revealed_with_its_propensity() -> None:
    """Every update carries the chosen model's true outcome on that prompt and propensity 1/3."""
    X, Q, C = _full()
    router = _MeanBandit()
    sim = simulate_bandit(router, X, Q, C, MODELS, seed=1, checkpoints=(1.0,))
    assert len(router.updates_) == len(X) == len(sim.log)
    for (x, model, q, c, p, pref), i in zip(router.updates_, sim.log.rows):
        j = MODELS.index(model)
        np.testing.assert_array_equal(x, X[i])
        assert (q, c) == (Q[i, j], C[i, j])
        assert p == pytest.approx(1 / 3)
        assert isinstance(pref, Preference)
    assert sorted(sim.log.rows.tolist()) == list(range(len(X)))  # one pass, each prompt once


def test_cold_router_is_initialized_and_curve_measured_at_checkpoints() -> None:
    """initialize(models, n_features) starts the router; the test AIQ is measured at 50%, 100%."""
    X, Q, C = _full()
    calls: list[tuple[float, float | None]] = []
    router = _MeanBandit()

    def on_checkpoint(frac: float, r: BaseRouter, value: float | None) -> None:
        assert r is router
        calls.append((frac, value))

    sim = simulate_bandit(
        router, X[:30], Q[:30], C[:30], MODELS, seed=0, checkpoints=(0.5, 1.0),
        on_checkpoint=on_checkpoint, test=(X[30:], Q[30:], C[30:]),
    )  # fmt: skip
    assert sim.router.n_features_in_ == 3
    assert [f for f, _ in sim.curve] == [0.5, 1.0]
    assert calls == list(sim.curve)
    assert all(v is not None and 0 <= v <= 1 for _, v in sim.curve)
    assert len(sim.router.updates_) == 30  # type: ignore[attr-defined]


def test_passes_preferences_and_is_seeded() -> None:
    """Given preferences are passed through; two runs with the same seed make the same choices."""
    X, Q, C = _full(20)
    prefs = [Preference.from_price(float(i)) for i in range(20)]
    a = simulate_bandit(_MeanBandit(), X, Q, C, MODELS, preferences=prefs, seed=3, n_passes=2)
    b = simulate_bandit(_MeanBandit(), X, Q, C, MODELS, preferences=prefs, seed=3, n_passes=2)
    assert a.log.chosen == b.log.chosen and len(a.log) == 40
    first = a.router.updates_[0]  # type: ignore[attr-defined]
    assert first[5] == prefs[int(a.log.rows[0])]


def test_partially_observed_rows_only_offer_observed_models() -> None:
    """On a row where only model b was observed the router can only choose b."""
    X, Q, C = _full(10)
    Q[:, [0, 2]] = np.nan
    C[:, [0, 2]] = np.nan
    sim = simulate_bandit(_MeanBandit(), X, Q, C, MODELS, seed=0)
    assert set(sim.log.chosen) == {"b"}


def test_routers_that_cannot_learn_online_are_rejected() -> None:
    """An unfitted router without a cold start raises NotFittedError, one that is not
    LearnsOnline CapabilityError (an InvalidParameterError)."""
    X, Q, C = _full(5)

    class _NoInit(LearnsOnline, BaseRouter):
        update = _MeanBandit.update
        _route_scores = _MeanBandit._route_scores

    class _Offline(ColdStarts, BaseRouter):
        initialize = _MeanBandit.initialize
        _route_scores = _MeanBandit._route_scores

    with pytest.raises(NotFittedError, match="no cold start"):
        simulate_bandit(_NoInit(), X, Q, C, MODELS)
    with pytest.raises(CapabilityError, match="online"):
        simulate_bandit(_Offline(), X, Q, C, MODELS)
    assert issubclass(CapabilityError, InvalidParameterError)
    with pytest.raises(DataError):
        simulate_bandit(_MeanBandit(), X, Q[:3], C, MODELS)


def test_uniform_log_propensity_is_one_over_observed_models() -> None:
    """Uniform logging over observed cells: 1/3 on complete rows, 1/2 where one model is NaN."""
    Q = np.array([[1.0, 0.0, 1.0], [np.nan, 1.0, 0.0]])
    C = np.array([[0.1, 0.01, 0.001], [np.nan, 0.01, 0.001]])
    log = bandit_log_from_table(table_from_arrays(Q, C, MODELS), seed=0)
    assert log.propensity.tolist() == pytest.approx([1 / 3, 1 / 2])
    assert log.chosen[1] != "a"
    for i, m in enumerate(log.chosen):
        assert log.quality[i] == Q[i, MODELS.index(m)]


def test_given_logging_policy_and_fit_bandit_arguments() -> None:
    """A deterministic policy logs its model with propensity 1; fit_bandit_args slices X."""
    Q = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    C = np.full((2, 3), 0.1)
    table = table_from_arrays(Q, C, MODELS)
    log = bandit_log_from_table(table, policy=[[0, 0, 2], [0, 5, 0]], preferences=[0.2, 0.5])
    assert log.chosen == ("c", "b") and log.propensity.tolist() == [1.0, 1.0]
    args, kwargs = log.fit_bandit_args(np.arange(4).reshape(2, 2), RidgeRouter())
    assert args[0].shape == (2, 2) and args[1] == ["c", "b"] and kwargs["models"] == MODELS
    np.testing.assert_allclose(kwargs["preferences"], [[0.8, 0.2, 0.0], [0.5, 0.5, 0.0]])
    with pytest.raises(DataError, match="no observed model"):
        bandit_log_from_table(table, policy=[[0, 0, 0], [1, 1, 1]])
    with pytest.raises(InvalidParameterError):
        bandit_log_from_table(table, policy="greedy")
