"""Preference parsing and normalization."""

from __future__ import annotations

import math

import pytest

from shared import Preference, PreferenceError


def test_weights_are_normalized() -> None:
    """Weights are scaled to sum to one."""
    p = Preference(quality=3, cost=1)
    assert math.isclose(p.quality, 0.75) and math.isclose(p.cost, 0.25) and p.latency == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.25, (0.75, 0.25, 0.0)),
        ({"cost": 0.5}, (0.5, 0.5, 0.0)),
        ({"quality": 1, "latency": 1}, (0.5, 0.0, 0.5)),
        ({"cost": 0.2, "latency": 0.3}, (0.5, 0.2, 0.3)),
    ],
)
def test_coerce_accepts_user_forms(value: object, expected: tuple[float, float, float]) -> None:
    """A cost weight or a mapping becomes the right normalized preference."""
    p = Preference.coerce(value)  # type: ignore[arg-type]
    assert (p.quality, p.cost, p.latency) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"speed": 1}, "Unknown preference key"),
        (1.5, "cost weight"),
        (-0.1, "cost weight"),
        (True, "bool"),
        ("cheap", "Unknown preference"),
        (["quality"], "must be a Preference"),
        ({"cost": 0.8, "latency": 0.5}, "at most 1"),
        ({"quality": 0, "cost": 0}, "positive"),
        ({"quality": float("nan")}, "finite"),
    ],
)
def test_invalid_preferences_raise(value: object, message: str) -> None:
    """Malformed preferences raise PreferenceError with a clear message."""
    with pytest.raises(PreferenceError, match=message):
        Preference.coerce(value)  # type: ignore[arg-type]


def test_preference_error_is_a_value_error() -> None:
    """Code catching ValueError keeps working."""
    with pytest.raises(ValueError):
        Preference(quality=-1)


def test_from_price_maps_lambda() -> None:
    """A price of quality lam gives weights proportional to (1, lam); inf is pure cost."""
    assert Preference.from_price(3.0).cost == pytest.approx(0.75)
    assert Preference.from_price(math.inf).quality == 0.0
    with pytest.raises(PreferenceError):
        Preference.from_price(-1.0)


def test_as_dict_round_trip() -> None:
    """as_dict() feeds back into the constructor unchanged."""
    p = Preference(quality=0.2, cost=0.3, latency=0.5)
    assert Preference(**p.as_dict()) == p
