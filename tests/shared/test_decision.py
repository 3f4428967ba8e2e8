"""The Decision record."""

from __future__ import annotations

import pytest

from shared import Decision, InvalidParameterError, Preference


def _decision(**kw: object) -> Decision:
    base: dict[str, object] = {
        "model": "a",
        "models": ("a", "b", "c"),
        "scores": (0.9, 0.5, 0.1),
        "propensity": 0.8,
        "preference": Preference(quality=1, cost=1),
        "ranking": ("a", "c", "b"),
        "quality": (0.9, 0.6, 0.2),
        "cost": (0.01, 0.001, 0.0001),
        "probabilities": (0.8, 0.1, 0.1),
    }
    base.update(kw)
    return Decision(**base)  # type: ignore[arg-type]


def test_dict_round_trip() -> None:
    """to_dict/from_dict give back an equal decision."""
    d = _decision()
    assert Decision.from_dict(d.to_dict()) == d


def test_fallbacks_and_with_model() -> None:
    """Fallbacks follow the ranking; with_model keeps the id and the propensity."""
    d = _decision()
    assert d.fallbacks == ("c", "b")
    f = d.with_model("c")
    assert f.model == "c" and f.ranking == ("c", "a", "b")
    assert f.decision_id == d.decision_id and f.propensity == d.propensity
    with pytest.raises(InvalidParameterError):
        d.with_model("z")


@pytest.mark.parametrize(
    "kw",
    [{"model": "z"}, {"propensity": 0.0}, {"propensity": 1.5}, {"ranking": ("b", "a")}],
)
def test_invalid_decisions(kw: dict[str, object]) -> None:
    """Inconsistent decisions are rejected."""
    with pytest.raises(InvalidParameterError):
        _decision(**kw)


def test_ids_are_unique() -> None:
    """Each decision gets its own id."""
    assert _decision().decision_id != _decision().decision_id
