"""Model cards and pools."""

from __future__ import annotations

import pytest

from shared import InvalidParameterError, ModelCard, ModelPool, UnknownModelError


def test_cost_from_tokens() -> None:
    """The cost of a call adds token prices and the per-call fee."""
    card = ModelCard("m", input_usd_per_1m=2.0, output_usd_per_1m=8.0, usd_per_call=0.001)
    assert card.cost(1_000_000, 0) == pytest.approx(2.001)
    assert card.cost(500, 250) == pytest.approx(0.001 + 0.001 + 0.002)
    assert card.expected_cost(1000) == pytest.approx(card.cost(1000, 256))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_usd_per_1m": -1.0},
        {"output_usd_per_1m": float("inf")},
        {"context_window": 0},
        {"latency_s": -0.5},
        {"expected_output_tokens": -1},
    ],
)
def test_bad_cards_rejected(kwargs: dict[str, float]) -> None:
    """Negative or non-finite prices and bad sizes raise InvalidParameterError."""
    with pytest.raises(InvalidParameterError):
        ModelCard("m", **kwargs)  # type: ignore[arg-type]


def test_negative_tokens_rejected() -> None:
    """A negative token count is an error, not a discount."""
    with pytest.raises(InvalidParameterError):
        ModelCard("m").cost(-1, 0)


def test_pool_lookup_and_errors() -> None:
    """Pools keep order, reject duplicates and name the known models on a miss."""
    pool = ModelPool([ModelCard("a", input_usd_per_1m=1), "b"])
    assert pool.names == ("a", "b") and len(pool) == 2 and "a" in pool
    assert pool.index("b") == 1
    with pytest.raises(UnknownModelError, match="Known models: a, b"):
        pool["c"]
    with pytest.raises(InvalidParameterError, match="Duplicate"):
        ModelPool(["a", "a"])
    with pytest.raises(InvalidParameterError):
        ModelPool([])


def test_pool_dict_round_trip_keeps_notes() -> None:
    """to_dict/from_dict round-trips cards, keeping unknown keys in extra."""
    pool = ModelPool.from_dict({"a": {"input_usd_per_1m": 0.2, "note": "estimated"}})
    assert pool["a"].extra["note"] == "estimated"
    again = ModelPool.from_dict(pool.to_dict())
    assert again["a"] == pool["a"]
