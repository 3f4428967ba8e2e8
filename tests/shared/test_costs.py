"""CallCostModel: card prices x tokens, output length shrunk toward the card's nominal."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared import CallCostModel, InvalidParameterError, ModelCard, ModelPool, UnknownModelError

POOL = ModelPool(
    [
        ModelCard("big", input_usd_per_1m=2.5, output_usd_per_1m=10, expected_output_tokens=300),
        ModelCard("mini", input_usd_per_1m=0.15, output_usd_per_1m=0.6, usd_per_call=1e-5),
        ModelCard("free"),
    ]
)


def test_prediction_is_the_card_price_of_the_calls_tokens() -> None:
    """Without observations: usd_per_call + input x input price + nominal output x output price."""
    costs = CallCostModel(POOL)
    got = costs.predict(["big", "mini"], input_tokens=1000)
    expected = [POOL["big"].cost(1000, 300), POOL["mini"].cost(1000, 256)]
    np.testing.assert_allclose(got, expected)


def test_output_length_is_a_shrunk_mean() -> None:
    """Observed completions move the output length by (sum + s * nominal) / (s + n)."""
    costs = CallCostModel(POOL, prior_strength=3)
    costs.observe("big", output_tokens=100)
    assert costs.output_tokens("big") == pytest.approx((3 * 300 + 100) / 4)
    for _ in range(99):
        costs.observe("big", output_tokens=100)
    assert costs.output_tokens("big") == pytest.approx((3 * 300 + 100 * 100) / 103)
    assert costs.output_tokens("mini") == 256.0


def test_output_tokens_inferred_from_a_cost() -> None:
    """A cost without usage implies its completion tokens from the card (input tokens known)."""
    costs = CallCostModel(POOL, prior_strength=0)
    cost = POOL["mini"].cost(400, 50)
    costs.observe("mini", cost=cost, input_tokens=400)
    assert costs.output_tokens("mini") == pytest.approx(50)
    costs.observe("free", cost=0.3)  # no output price: nothing to learn
    assert costs.output_tokens("free") == 256.0


def test_priced_and_validation() -> None:
    """Unpriced cards are reported; bad values and unknown models are typed errors."""
    costs = CallCostModel(POOL)
    assert costs.priced(["big", "mini"]) and not costs.priced(["big", "free"])
    with pytest.raises(InvalidParameterError):
        CallCostModel(POOL, prior_strength=-1)
    with pytest.raises(InvalidParameterError):
        costs.observe("big", output_tokens=-3)
    with pytest.raises(InvalidParameterError):
        costs.observe("big", cost=math.nan)
    with pytest.raises(UnknownModelError):
        costs.observe("nope", output_tokens=3)
