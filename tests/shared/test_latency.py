"""Latency as a third objective: read from tables, learned, scored, logged, evaluated, or refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    BaRPRouter,
    BaseRouter,
    Decision,
    FeedbackStore,
    HashingEncoder,
    KNNRouter,
    LearnsLatency,
    ModelCard,
    ObjectiveError,
    OnlineLearner,
    Preference,
    RidgeRouter,
    RoutingEngine,
    load_router,
    read_table,
    write_table,
)
from shared._registry import router_classes
from shared.evaluation import bandit_log_from_table, choice_outcomes, simulate_bandit
from shared.tables import table_from_arrays

MODELS = ["slow", "fast"]
SLOW_FAST = Preference(quality=0.5, latency=0.5)


def _table(n: int = 60) -> tuple[Any, Any, Any, Any]:
    """The slow model is a little better; the fast one answers in a tenth of the time."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    Q = np.column_stack([np.full(n, 0.9), np.full(n, 0.8)]) + rng.normal(0, 0.01, (n, 2))
    C = np.full((n, 2), 0.001)
    L = np.column_stack([np.full(n, 4.0), np.full(n, 0.4)]) * rng.uniform(0.9, 1.1, (n, 2))
    return X, np.clip(Q, 0, 1), C, L


@pytest.mark.parametrize("router", [RidgeRouter(), RidgeRouter(alpha=1.0), KNNRouter(k=5)])
def test_a_latency_weight_changes_decisions_on_a_table_with_latency(router: BaseRouter) -> None:
    """Quality alone picks the slow model; a latency weight moves every choice to the fast one,
    and the decision logs the predicted latencies."""
    X, Q, C, L = _table()
    router.fit(X, Q, C, models=MODELS, latency=L)  # type: ignore[attr-defined]
    assert router.predicts_latency
    assert set(router.predict(X)) == {"slow"}
    assert set(router.predict(X, SLOW_FAST)) == {"fast"}
    decision = router.decide(X[0], SLOW_FAST)
    assert decision.latency is not None and decision.latency[0] > 5 * decision.latency[1]
    assert Decision.from_dict(decision.to_dict()).latency == decision.latency


def test_every_router_refuses_a_latency_weight_without_latencies() -> None:
    """Trained on a table without latency, every registered router (BaRP and the bandits
    included) raises ObjectiveError for a latency weight instead of ignoring it, and still
    routes a preference without one."""
    X, Q, C, _ = _table(30)
    checked = []
    for cls in router_classes(builtin=True).values():
        for params in cls._unit_test_params():
            router = cls(**params)
            if hasattr(router, "fit") and cls.__name__ != "DomainExpertRouter":
                router.fit(X, Q, C, models=MODELS)
            elif cls.__name__ == "DomainExpertRouter":
                router.fit(X, ["slow", "fast"] * 15)
            with pytest.raises(ObjectiveError, match="latency"):
                router.decide(X[0], SLOW_FAST)
            with pytest.raises(ObjectiveError):
                router.decision_function(X, {"latency": 1.0})
            assert router.decide(X[0], Preference(quality=1.0)).model in MODELS
            checked.append(cls.__name__)
    assert {"BaRPRouter", "LinUCBRouter", "RidgeRouter", "KNNRouter"} <= set(checked)


def test_routers_that_model_latency_declare_it() -> None:
    """LearnsLatency is declared by exactly the routers whose fit takes latency."""
    declared = {n for n, c in router_classes(builtin=True).items() if issubclass(c, LearnsLatency)}
    assert declared == {"KNNRouter", "RidgeRouter"}


def test_table_latency_from_outcomes_and_card_priors(tmp_path: Path) -> None:
    """outcomes.csv's latency_s column round-trips; a card's latency_s fills the cells the
    outcomes leave empty; a table with neither has no latency."""
    _, Q, C, L = _table(6)
    table = table_from_arrays(Q, C, MODELS, latency=L)
    write_table(table, tmp_path / "t")
    again = read_table(tmp_path / "t")
    assert again.has_latency and np.allclose(again.latency, L)
    assert np.allclose(again.subset([0, 2]).outcomes.latency, L[[0, 2]])
    plain = tmp_path / "plain"
    write_table(table_from_arrays(Q, C, MODELS), plain)
    assert read_table(plain).latency is None
    (plain / "models.json").write_text(
        json.dumps({"slow": {"latency_s": 3.0}, "fast": {}}), encoding="utf-8"
    )
    carded = read_table(plain)
    assert np.allclose(carded.latency[:, 0], 3.0) and np.isnan(carded.latency[:, 1]).all()
    with pytest.raises(Exception, match="latency"):
        table_from_arrays(Q, C, MODELS, latency=-L)


def test_ridge_latency_survives_save_load_and_cold_start_priors(tmp_path: Path) -> None:
    """prior_latency starts the latency heads; updates move them; save/load keeps them."""
    X = _table()[0]
    router = RidgeRouter().initialize(MODELS, 4, prior_latency={"slow": 4.0, "fast": 0.4})
    assert router.decide(X[0], SLOW_FAST).model == "fast"
    for i in range(5):
        router.update(X[i], "fast", 0.8, 0.001, latency=8.0)
    assert router.decide(X[0], SLOW_FAST).model == "slow"  # fast turned out slow
    router.save(str(tmp_path))
    again = load_router(tmp_path)
    assert again.predicts_latency
    np.testing.assert_allclose(
        again.decision_function(X, SLOW_FAST), router.decision_function(X, SLOW_FAST)
    )


def test_engine_scores_latency_from_card_priors_or_refuses() -> None:
    """The engine's cold-start router starts from the cards' latency_s; without any, a latency
    weight is refused; learned latencies come from rated records."""
    enc = HashingEncoder(n_features=32)
    cards = [
        ModelCard("slow", input_usd_per_1m=1.0, output_usd_per_1m=1.0, latency_s=6.0),
        ModelCard("fast", input_usd_per_1m=1.0, output_usd_per_1m=1.0, latency_s=0.3),
    ]
    engine = RoutingEngine(cards, encoder=enc, prior_quality={"slow": 0.9, "fast": 0.8},
                           explore=False)  # fmt: skip
    assert engine.route("hello", {"quality": 1.0}).model == "slow"
    assert engine.route("hello", SLOW_FAST).model == "fast"
    for _ in range(20):
        engine.learn("hello", "fast", 0.8, 0.0, latency=30.0)
    assert engine.route("hello", SLOW_FAST).model == "slow"
    blind = RoutingEngine([ModelCard("a"), ModelCard("b")], encoder=enc)
    with pytest.raises(ObjectiveError):
        blind.route("hello", SLOW_FAST)


def test_store_logs_and_learner_learns_latency() -> None:
    """Recorded latencies reach the bandit log; retraining a ridge router learns them."""
    enc = HashingEncoder(n_features=16)
    with FeedbackStore("sqlite://") as store:
        for i in range(8):
            model = MODELS[i % 2]
            d = Decision(model=model, models=tuple(MODELS), scores=(0.0, 0.0), propensity=0.5,
                         preference=Preference(), ranking=(model, *[m for m in MODELS if m != model]),
                         decision_id=f"d{i}", latency=(4.0, 0.4))  # fmt: skip
            store.record_decision(d, prompt=f"prompt {i}")
            store.record_outcome(f"d{i}", cost_usd=0.001, latency_s=4.0 if model == "slow" else 0.4)
            store.rate(f"d{i}", 0.9 if model == "slow" else 0.8)
        log = store.export_bandit_log()
        assert log.latency is not None and sorted(set(log.latency.round(1))) == [0.4, 4.0]
        router = OnlineLearner(RidgeRouter(alpha=1.0), enc).retrain(store)
    X = enc.encode(["prompt 1"])
    assert router.predict(X).tolist() == ["slow"]
    assert router.predict(X, SLOW_FAST).tolist() == ["fast"]


def test_evaluation_measures_the_latency_of_choices() -> None:
    """choice_outcomes reports the mean latency of the chosen cells; the latency weight lowers
    it at a small quality cost; bandit simulation logs and teaches latency too."""
    X, Q, C, L = _table()
    router = RidgeRouter().fit(X, Q, C, models=MODELS, latency=L)
    quality_only = choice_outcomes(router, X, Q, C, L, preference={"quality": 1.0})
    weighted = choice_outcomes(router, X, Q, C, L, preference=SLOW_FAST)
    assert quality_only["latency"] > 3.5 > 0.5 > weighted["latency"]
    assert quality_only["quality"] > weighted["quality"]
    log = bandit_log_from_table(table_from_arrays(Q, C, MODELS, latency=L), seed=0)
    assert log.latency is not None and log.latency.shape == (len(X),)
    online = RidgeRouter(alpha=1.0).initialize(MODELS, 4, prior_latency=1.0)
    sim = simulate_bandit(online, X, Q, C, MODELS, latency=L, seed=0, checkpoints=(1.0,))
    assert sim.log.latency is not None
    assert online.predict(X[:5], SLOW_FAST).tolist() == ["fast"] * 5


def test_bandit_log_arguments_carry_latency_to_routers_that_learn_it() -> None:
    """fit_bandit_args passes the logged latencies to a LearnsLatency router (ridge learns them
    and a latency weight then picks the fast model) and leaves them out for BaRP."""
    X, Q, C, L = _table()
    log = bandit_log_from_table(table_from_arrays(Q, C, MODELS, latency=L), seed=0)
    ridge = RidgeRouter(alpha=1.0)
    args, kwargs = log.fit_bandit_args(X, ridge)
    np.testing.assert_array_equal(kwargs["latency"], log.latency)
    ridge.fit_bandit(*args, **kwargs)
    assert ridge.predicts_latency
    assert ridge.predict(X[:5], SLOW_FAST).tolist() == ["fast"] * 5
    barp = BaRPRouter(n_steps=5, batch_size=16, random_state=0)
    args, kwargs = log.fit_bandit_args(X, barp)
    assert "latency" not in kwargs
    barp.fit_bandit(*args, **kwargs)
    no_latency = bandit_log_from_table(table_from_arrays(Q, C, MODELS), seed=0)
    assert "latency" not in no_latency.fit_bandit_args(X, RidgeRouter())[1]


def test_bandit_refits_learn_latency() -> None:
    """simulate_bandit(refit_at=...) re-trains with the revealed latencies too."""
    X, Q, C, L = _table()
    router = RidgeRouter(alpha=1.0)
    simulate_bandit(router, X, Q, C, MODELS, latency=L, seed=0, checkpoints=(1.0,), refit_at=[30])
    assert router.predicts_latency
    assert router.predict(X[:5], SLOW_FAST).tolist() == ["fast"] * 5


def test_evaluate_bandit_feedback_passes_latency_to_a_table_router() -> None:
    """`prefroute evaluate --feedback bandit` trains kNN on the partial table of a log with the
    logged latencies (it used to drop them)."""
    from shared.cli.evaluate import _train_bandit

    X, Q, C, L = _table()
    train = table_from_arrays(Q, C, MODELS, latency=L)
    router, _, mode = _train_bandit("knn", X, train, (X, Q, C), seed=0)
    assert mode == "bandit (partial table)" and router.predicts_latency
    assert router.predict(X[:5], SLOW_FAST).tolist() == ["fast"] * 5
