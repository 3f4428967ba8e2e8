"""RoutingEngine: candidates, cold start, routing, online learning, hot swap."""

from __future__ import annotations

import numpy as np
import pytest

from shared import (
    HashingEncoder,
    InvalidParameterError,
    ModelCard,
    NotFittedError,
    RidgeRouter,
    RoutingEngine,
    UnknownModelError,
)
from shared.engine import estimate_tokens

CARDS = [
    ModelCard("big", input_usd_per_1m=10, output_usd_per_1m=30, context_window=100_000),
    ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4, context_window=50),
    ModelCard("notools", input_usd_per_1m=0.2, output_usd_per_1m=0.5, supports_tools=False),
]


def _engine(**kw: object) -> RoutingEngine:
    return RoutingEngine(CARDS, encoder=HashingEncoder(n_features=32), explore=False, **kw)  # type: ignore[arg-type]


def test_cold_start_follows_prices_and_preference() -> None:
    """Without data, quality-only calls go to the priciest model and cost-heavy ones to the cheapest."""
    engine = _engine()
    assert engine.route("Prove Fermat's last theorem.", {"quality": 1}).model == "big"
    assert engine.route("hello", {"cost": 1.0}).model == "small"


def test_prior_quality_overrides_price_prior() -> None:
    """User priors replace the price-based prior."""
    engine = _engine(prior_quality={"notools": 0.99, "big": 0.1, "small": 0.1})
    assert engine.route("hi", {"quality": 1}).model == "notools"


def test_candidates_filter_capabilities_and_context() -> None:
    """Tool calls exclude members without tools; long prompts exclude small context windows."""
    engine = _engine()
    assert engine.candidates(needs_tools=True) == ["big", "small"]
    assert engine.candidates(input_tokens=60) == ["big", "notools"]
    d = engine.route("x " * 400, {"cost": 1.0})
    assert d.model != "small"
    assert "small" not in d.ranking
    with pytest.raises(InvalidParameterError, match="needs tool calling"):
        engine.candidates(needs_tools=True, allowed=["notools"])
    with pytest.raises(UnknownModelError):
        engine.candidates(allowed=["nope"])


def test_route_sticky_pins_owner_with_propensity_one_and_fallbacks() -> None:
    """A sticky turn is the owner with propensity 1.0, then the others in normal-route order."""
    engine = _engine()
    normal = engine.route("hello", {"cost": 1.0})
    decision, sticky = engine.route_sticky("hello", "big", {"cost": 1.0}, decision_id="d1")
    assert sticky and decision.model == "big" and decision.propensity == 1.0
    assert decision.decision_id == "d1"
    assert decision.ranking == ("big", *(m for m in normal.ranking if m != "big"))
    alone, _ = engine.route_sticky("hello", "big", {"cost": 1.0}, fallback=False)
    assert alone.ranking == ("big",)


def test_route_sticky_routes_normally_when_owner_cannot_serve() -> None:
    """An owner excluded by capabilities gives a normal, non-sticky decision."""
    engine = _engine()
    decision, sticky = engine.route_sticky("hello", "notools", {"cost": 1.0}, needs_tools=True)
    assert not sticky and decision.model == "small" and "notools" not in decision.ranking
    with pytest.raises(UnknownModelError):
        engine.route_sticky("hello", "nope")


def test_online_learning_changes_decisions() -> None:
    """Ratings move the router: a cheap model rated perfect on a topic wins that topic."""
    engine = _engine()
    prompt = "translate this sentence into French"
    assert engine.route(prompt, {"quality": 1}).model == "big"
    for _ in range(30):
        engine.learn(prompt, "notools", 1.0, 1e-5)
        engine.learn(prompt, "big", 0.2, 0.01)
    assert engine.route(prompt, {"quality": 1}).model == "notools"


def test_learn_record_learns_like_learn_from_the_stored_fields() -> None:
    """A rated store record teaches the engine exactly what learn() with its fields would."""
    from shared import FeedbackStore

    prompt = "translate this sentence into French"
    by_record, by_fields = _engine(), _engine()
    with FeedbackStore("sqlite://") as store:
        decision = by_record.route(prompt, {"quality": 1})
        store.record_decision(decision, prompt=prompt)
        record = store.rate(decision.decision_id, 0.25)
        with pytest.raises(InvalidParameterError, match="prompt and a rating"):
            by_record.learn_record(store.record_decision(by_record.route("unrated", None)))
    by_record.learn_record(record)
    by_fields.learn(
        prompt,
        record.model,
        0.25,
        record.cost_usd,
        propensity=record.learning_propensity,
        preference=record.preference,
    )
    a = by_record.router.scores(by_record.embed(prompt)[None, :])  # type: ignore[union-attr]
    b = by_fields.router.scores(by_fields.embed(prompt)[None, :])  # type: ignore[union-attr]
    assert np.array_equal(a.utility, b.utility)


def test_learn_validates_inputs() -> None:
    """Scores outside [0, 1] and bad propensities are rejected before touching the router."""
    engine = _engine()
    with pytest.raises(InvalidParameterError):
        engine.learn("p", "big", 1.5)
    with pytest.raises(InvalidParameterError):
        engine.learn("p", "big", 0.5, propensity=0.0)


def test_fitted_router_and_hot_swap() -> None:
    """A fitted router is used as is; set_router swaps it and rejects foreign models."""
    enc = HashingEncoder(n_features=32)
    X = enc.encode(["a b", "c d", "e f", "g h"])
    Q = np.array([[0.1, 0.9, 0.5]] * 4)
    C = np.array([[0.01, 0.001, 0.002]] * 4)
    router = RidgeRouter(alpha=0.1).fit(X, Q, C, models=["big", "small", "notools"])
    engine = RoutingEngine(CARDS, router=router, encoder=enc, explore=False)
    assert engine.route("a b", {"quality": 1}).model == "small"
    other = RidgeRouter(alpha=0.1).fit(X, Q[:, [1, 0, 2]], C, models=["big", "small", "notools"])
    engine.set_router(other)
    assert engine.route("a b", {"quality": 1}).model == "big"
    foreign = RidgeRouter(alpha=0.1).fit(X, Q[:, :2], C[:, :2], models=["big", "zzz"])
    with pytest.raises(InvalidParameterError, match="outside the pool"):
        engine.set_router(foreign)


def test_unfitted_router_without_cold_start_is_an_error() -> None:
    """A router that cannot start from priors says how to fix it."""
    from shared import KNNRouter

    engine = RoutingEngine(CARDS, router=KNNRouter(), encoder=HashingEncoder(n_features=8))
    with pytest.raises(NotFittedError, match="no cold start"):
        engine.route("hi")


def test_invalid_priors() -> None:
    """Priors must name pool members and lie in [0, 1]."""
    with pytest.raises(UnknownModelError):
        RoutingEngine(CARDS, prior_quality={"zzz": 0.5})
    with pytest.raises(InvalidParameterError):
        RoutingEngine(CARDS, prior_quality={"big": 2.0})


def test_token_estimate() -> None:
    """About four characters per token, at least one."""
    assert estimate_tokens("") == 1
    assert estimate_tokens("x" * 400) == 100


def test_describe_is_json_friendly() -> None:
    """describe() summarizes the engine."""
    info = _engine().describe()
    assert info["models"] == ["big", "small", "notools"]
    assert info["fitted"] is False


def test_fit_table_trains_the_default_auto_router_on_the_train_split() -> None:
    """fit_table encodes the train rows with the engine's encoder and fits AutoRouter by default
    (with the table's tasks); the engine then routes with it. An explicit router is used as
    given; models outside the pool and an empty split are rejected."""
    from shared import AutoRouter, DataError, KNNRouter
    from shared.synthetic import SYNTHETIC_CARDS, make_synthetic_table

    table = make_synthetic_table(n_prompts=240, seed=0)
    engine = RoutingEngine(SYNTHETIC_CARDS, encoder=HashingEncoder(n_features=64), explore=False)
    router = engine.fit_table(table)
    assert isinstance(router, AutoRouter) and engine.router is router
    assert router.chosen_ in router.report_["candidates"]
    n_train = sum(s == "train" for s in table.splits)
    assert n_train < table.n_prompts
    assert engine.route(table.prompts[0], "quality").model in table.models
    knn = engine.fit_table(table, router=KNNRouter(k=5), split=None)
    assert engine.router is knn and knn.X_train_.shape[0] == table.n_prompts
    with pytest.raises(DataError, match="no 'validation' rows"):
        engine.fit_table(table, split="validation")
    small = RoutingEngine(SYNTHETIC_CARDS[:2], encoder=HashingEncoder(n_features=64))
    with pytest.raises(InvalidParameterError, match="outside the pool"):
        small.fit_table(table)
