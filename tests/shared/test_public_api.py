"""The public surface of ``shared`` is deliberate: pinned here, and every name resolves."""

from __future__ import annotations

import importlib

import pytest

import shared

EXPECTED_ALL = sorted(
    [
        "AllCandidatesFailedError",
        "Assignment",
        "BaRPRouter",
        "BaseRouter",
        "CachedEncoder",
        "CallCostModel",
        "ConcatEncoder",
        "DataError",
        "Decision",
        "DecisionRecord",
        "DimensionMismatchError",
        "DomainExpertRouter",
        "EncoderError",
        "EpsilonGreedyRouter",
        "EvaluationReport",
        "FeedbackError",
        "FeedbackStore",
        "FixedRouter",
        "HashingEncoder",
        "InfeasibleError",
        "InvalidParameterError",
        "KNNRouter",
        "LinUCBRouter",
        "LinearThompsonRouter",
        "MLPRouter",
        "ModelCard",
        "ModelPool",
        "NotFittedError",
        "OnlineLearner",
        "ParetoFront",
        "PersistenceError",
        "Preference",
        "PreferenceError",
        "PromptEncoder",
        "RandomRouter",
        "RidgeRouter",
        "RouteScores",
        "RouterError",
        "RoutingEngine",
        "RoutingTable",
        "SentenceTransformerEncoder",
        "SuccessPredictor",
        "UnknownDecisionError",
        "UnknownModelError",
        "aiq",
        "assign_batch",
        "cached_embeddings",
        "cost_at_quality",
        "default_encoder",
        "evaluate_routers",
        "exact_front",
        "frontier",
        "load_router",
        "make_synthetic_table",
        "messages_to_text",
        "optllm_front",
        "quality_at_cost",
        "read_routerbench_csv",
        "read_table",
        "save_router",
        "write_table",
    ]
)


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert sorted(set(shared.__all__) - {"BanditLog", "RouterHandle"}) == EXPECTED_ALL


@pytest.mark.parametrize("name", shared.__all__)
def test_every_public_name_resolves(name: str) -> None:
    """Each public name imports from its module and is documented."""
    obj = getattr(shared, name)
    assert obj.__doc__, f"{name} has no docstring"


def test_unknown_attribute_raises() -> None:
    """A typo gives AttributeError, not a silent None."""
    with pytest.raises(AttributeError):
        shared.NoSuchThing  # noqa: B018


def test_routers_package_lists_every_router() -> None:
    """shared.routers exposes each router class under the same name as shared."""
    routers = importlib.import_module("shared.routers")
    for name in routers.__all__:
        assert getattr(routers, name) is getattr(shared, name)
