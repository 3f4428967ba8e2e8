"""Tests of the bandit routers' constant-choice guard (shared.routers.guard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    DataError,
    EpsilonGreedyRouter,
    LinearThompsonRouter,
    LinUCBRouter,
    Preference,
    load_router,
)
from shared.evaluation import route_sweep, simulate_bandit
from shared.routers.guard import (
    DEFAULT_GUARD_PRICES,
    PolicyGuard,
    greedy_choices,
    nearest_price,
    preference_price,
)

MODELS = ["big", "small"]
P = len(DEFAULT_GUARD_PRICES)


def _log(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Uniform log of two models: big 0.9 / $1e-2 everywhere; small 0.95 on 'easy' rows (half),
    0.2 elsewhere, $1e-4. Returns (easy, arms, quality, cost, propensity)."""
    rng = np.random.default_rng(seed)
    easy = rng.random(n) < 0.5
    arms = rng.integers(0, 2, size=n)
    q = np.where(arms == 0, 0.9, np.where(easy, 0.95, 0.2)) + rng.normal(0, 0.02, n)
    c = np.where(arms == 0, 1e-2, 1e-4)
    return easy, arms, q, c, np.full(n, 0.5)


def test_routing_that_loses_to_a_model_gets_the_constant_choice() -> None:
    """A router always choosing small (worse on half of the prompts) is overruled at the
    pure-quality end by big, the best model by its logged mean."""
    _, arms, q, c, p = _log(400)
    guard = PolicyGuard(2)
    guard.record_batch(arms, q, c, p, np.ones((400, P), dtype=int))
    assert guard.constant(0, cost_scale=1e-2) == 0
    # at the pure-cost end the constant choice is small, which is what the router does anyway
    assert guard.constant(P - 1, cost_scale=1e-2) == 1


def test_routing_that_wins_is_kept_and_margin_is_respected() -> None:
    """Choosing small on easy prompts and big elsewhere beats both constants: kept, unless the
    margin asks for more standard errors than the evidence holds."""
    easy, arms, q, c, p = _log(400)
    choices = np.tile(np.where(easy, 1, 0)[:, None], (1, P))
    guard = PolicyGuard(2, margin=1.0)
    guard.record_batch(arms, q, c, p, choices)
    _, gain, se = guard.evaluate(1e-2)
    assert guard.constant(0, cost_scale=1e-2) is None
    assert gain[0] > 3 * se[0] > 0
    strict = PolicyGuard(2, margin=float(gain[0] / se[0]) + 1.0)
    strict.record_batch(arms, q, c, p, choices)
    assert strict.constant(0, cost_scale=1e-2) == 0


def test_thin_data_makes_the_constant_choice_from_the_observed_means() -> None:
    easy, arms, q, c, p = _log(20)
    guard = PolicyGuard(2, min_records=50)
    assert guard.constant(0, cost_scale=1e-2) is None  # nothing recorded: the router decides
    guard.record_batch(arms, q, c, p, np.tile(np.where(easy, 1, 0)[:, None], (1, P)))
    assert guard.constant(0, cost_scale=1e-2) == 0
    assert guard.constant(P - 1, cost_scale=1e-2) == 1


def test_importance_weights_undo_a_biased_logging_policy() -> None:
    """Small is logged mostly on easy prompts (propensity 0.9 there, 0.1 on hard ones): its plain
    mean looks better than big's, its SNIPS mean does not."""
    rng = np.random.default_rng(1)
    n = 4000
    easy = rng.random(n) < 0.5
    p_small = np.where(easy, 0.9, 0.1)
    arms = (rng.random(n) < p_small).astype(int)
    q = np.where(arms == 0, 0.9, np.where(easy, 0.95, 0.2))
    prop = np.where(arms == 1, p_small, 1 - p_small)
    guard = PolicyGuard(2, prior_strength=0.0, max_weight=100.0)
    guard.record_batch(arms, q, np.where(arms == 0, 1e-2, 1e-4), prop, np.zeros((n, P), int))
    assert q[arms == 1].mean() > 0.85  # the naive mean of small
    means = guard.arm_means()[0]
    assert means[1] == pytest.approx(0.575, abs=0.03) and means[0] == pytest.approx(0.9)


def test_verdicts_are_recomputed_on_a_growth_schedule() -> None:
    _, arms, q, c, p = _log(400)
    guard = PolicyGuard(2, refresh=0.1)
    guard.record_batch(arms, q, c, p, np.ones((400, P), dtype=int))
    first = guard.evaluate(1e-2)[0]
    guard.record(0, 0.9, 1e-2, 0.5, np.ones(P, dtype=int))
    assert guard.evaluate(1e-2)[0] is first  # 1 new record of 401: cached
    guard.record_batch(arms[:40], q[:40], c[:40], p[:40], np.ones((40, P), dtype=int))
    assert guard.evaluate(1e-2)[0] is not first


def test_bad_records_are_refused() -> None:
    guard = PolicyGuard(2)
    with pytest.raises(DataError):
        guard.record(2, 0.5, 0.1, 0.5, np.zeros(P, dtype=int))
    with pytest.raises(DataError):
        guard.record(0, 0.5, 0.1, 0.5, np.zeros(3, dtype=int))


def test_price_grid_helpers() -> None:
    assert nearest_price(DEFAULT_GUARD_PRICES, preference_price(Preference.from_price(1.0))) == int(
        np.argmin(np.abs(DEFAULT_GUARD_PRICES - 1))
    )
    assert (
        nearest_price(DEFAULT_GUARD_PRICES, preference_price(Preference(quality=0.0, cost=1.0)))
        == P - 1
    )
    ch = greedy_choices([[0.9, 0.5]], [[1.0, 0.1]], 1.0)
    assert ch[0, 0] == 0 and ch[0, -1] == 1


def _stream(router: Any, n: int = 600, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Stream a two-model table through ``router``: big is better everywhere at a 100x price,
    and no embedding feature tells anything (per-prompt routing has nothing to learn)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    Q = np.column_stack([rng.random(n) < 0.9, rng.random(n) < 0.6]).astype(float)
    C = np.column_stack([np.full(n, 1e-2), np.full(n, 1e-4)])
    simulate_bandit(router, X, Q, C, MODELS, seed=seed, checkpoints=(1.0,))
    return X, Q, C


@pytest.mark.parametrize(
    "router",
    [
        LinUCBRouter(guard=True, random_state=0),
        LinearThompsonRouter(guard=True, random_state=0),
        EpsilonGreedyRouter(guard=True, epsilon=0.3, random_state=0),
    ],
    ids=lambda r: type(r).__name__,
)
def test_guarded_routers_call_the_best_model_at_the_quality_end(
    router: Any, tmp_path: Path
) -> None:
    """After a stream where routing has nothing to learn, greedy decisions at price 0 all go to
    the best model; the sweep asks each price; a saved router decides the same."""
    X, _, _ = _stream(router)
    assert router.guard_.n_records == 600
    assert set(router.predict(X[:50], Preference.from_price(0.0))) == {"big"}
    assert not router.scalarized_sweep
    choices, scalarized = route_sweep(router, X[:50], MODELS)
    assert not scalarized and (choices[0] == 0).all()
    router.save(tmp_path / "r")
    again = load_router(tmp_path / "r")
    assert again.guard_.n_records == 600
    np.testing.assert_array_equal(route_sweep(again, X[:50], MODELS)[0], choices)
    # exploration is not guarded: the stream keeps learning every model
    assert {d.model for d in router.decide_batch(X[:200], Preference.from_price(0.5))} <= set(
        MODELS
    )


def test_full_information_fit_leaves_the_guard_inactive() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    Q = np.column_stack([np.full(100, 0.9), np.where(X[:, 0] > 0, 0.95, 0.2)])
    C = np.column_stack([np.full(100, 1e-2), np.full(100, 1e-4)])
    for cls in (LinUCBRouter, LinearThompsonRouter):
        guarded = cls(guard=True, random_state=0).fit(X, Q, C, models=MODELS)
        plain = cls(random_state=0).fit(X, Q, C, models=MODELS)
        assert guarded.scalarized_sweep
        np.testing.assert_array_equal(guarded.predict(X), plain.predict(X))


def test_fit_bandit_records_cross_fitted_choices() -> None:
    easy, arms, q, c, p = _log(300)
    X = np.column_stack([easy.astype(float), np.random.default_rng(2).normal(size=300)])
    router = LinUCBRouter(guard=True, alpha=0.1, random_state=0)
    router.fit_bandit(X, [MODELS[a] for a in arms], q, c, p, models=MODELS)
    assert router.guard_.n_records == 300
    # the embedding tells easy from hard: routing small to easy prompts is kept at mid prices
    lam = Preference.from_price(0.5)
    assert router.guard_.constant(lam, cost_scale=router.cost_scale_) is None
    assert set(router.predict(X[easy][:20], lam)) == {"small"}


def test_current_predictions_judge_the_current_choices() -> None:
    """With recorded contexts and a ``predict`` function, the guard judges the choices that the
    predictions imply, not the recorded ones: a router that now predicts the easy/hard split
    keeps routing although its recorded (early) choices were bad."""
    easy, arms, q, c, p = _log(400)
    X = np.column_stack([easy.astype(float), np.zeros(400)])
    guard = PolicyGuard(2)
    guard.record_batch(arms, q, c, p, np.ones((400, P), dtype=int), contexts=X)

    def predict(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        small = np.where(Xc[:, 0] > 0.5, 0.95, 0.2)
        return np.column_stack([np.full(len(Xc), 0.9), small]), np.tile([1e-2, 1e-4], (len(Xc), 1))

    assert guard.constant(0, cost_scale=1e-2) == 0  # the recorded choices: always small
    assert guard.constant(0, cost_scale=1e-2, predict=predict) is None
    assert guard.contexts is not None and guard.contexts.shape == (400, 2)
