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


def test_explain_lists_every_candidate_and_the_reason() -> None:
    """explain(): a row per candidate (quality, std, cost, utility, probability), the chosen one
    starred, and a reason naming the trade-off against the runner-up."""
    from shared import Decision, Preference

    d = Decision(model="mini", models=("gpt", "mini", "mid"), scores=(0.40, 0.55, 0.50),
                 propensity=0.7, preference=Preference(quality=0.6, cost=0.4),
                 ranking=("mini", "mid", "gpt"), quality=(0.9, 0.7, 0.75),
                 cost=(0.02, 0.001, 0.004), probabilities=(0.1, 0.7, 0.2),
                 uncertainty=(0.01, 0.05, 0.03), router="RidgeRouter")  # fmt: skip
    lines = d.explain().splitlines()
    assert lines[0] == (
        "routed to mini (preference quality 0.60, cost 0.40, latency 0.00; RidgeRouter, "
        "sampled with probability 0.700)"
    )
    assert [line.split()[0] for line in lines[2:5]] == ["*", "mid", "gpt"]
    assert lines[2].split()[1:] == ["mini", "0.7000", "0.050", "1.000e-03", "0.5500", "0.700"]
    assert lines[5] == (
        "mini has the highest utility (0.5500 vs 0.5000 for mid): mid is predicted 0.050 "
        "better in quality but costs 4x as much, and the preference puts 40% of its weight on cost."
    )
    rows = d.candidates()
    assert [r["model"] for r in rows] == ["mini", "mid", "gpt"]
    assert rows[2] == {"model": "gpt", "quality": 0.9, "uncertainty": 0.01, "cost": 0.02, "latency": None,
                       "utility": 0.4, "probability": 0.1, "chosen": False}  # fmt: skip
    explored = Decision(model="gpt", models=d.models, scores=d.scores, propensity=0.1,
                        preference=d.preference, ranking=("gpt", "mini", "mid"),
                        probabilities=d.probabilities)  # fmt: skip
    assert "drawn with probability 0.10 by the router's exploration" in explored.reason()
    assert Decision.from_dict(d.to_dict()) == d
