"""The public surface of ``shared`` is deliberate: pinned here, and every name resolves."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import shared
from shared._registry import router_classes

EXPECTED_ALL = sorted(
    [
        "AllCandidatesFailedError",
        "Assignment",
        "AutoRouter",
        "BaRPRouter",
        "BanditLog",
        "BaseRouter",
        "CachedEncoder",
        "CallCostModel",
        "CapabilityError",
        "ClusterUnavailableError",
        "ColdStarts",
        "ColdStartsFromPriors",
        "ConcatEncoder",
        "DataError",
        "Decision",
        "DecisionRecord",
        "DimensionMismatchError",
        "DomainExpertRouter",
        "EmptyStreamError",
        "EncoderError",
        "EncoderMismatchError",
        "EpsilonGreedyRouter",
        "EvaluationReport",
        "FeedbackError",
        "FeedbackUnavailableError",
        "FeedbackStore",
        "FitsBandit",
        "FitsLabels",
        "FitsTable",
        "FixedRouter",
        "HashingEncoder",
        "InfeasibleError",
        "InvalidParameterError",
        "KNNRouter",
        "LearnsLatency",
        "LearnsOnline",
        "LearnsTasks",
        "LinUCBRouter",
        "LinearThompsonRouter",
        "MLPRouter",
        "ModelCard",
        "ModelPool",
        "NotFittedError",
        "ObjectiveError",
        "OnlineLearner",
        "Outcomes",
        "ParetoFront",
        "PersistenceError",
        "Persists",
        "Preference",
        "PreferenceError",
        "PromptEmbedding",
        "PromptEncoder",
        "RandomRouter",
        "RidgeRouter",
        "RouteScores",
        "RouterError",
        "RouterHandle",
        "RoutingEngine",
        "RoutingTable",
        "SentenceTransformerEncoder",
        "SuccessPredictor",
        "TaskRouter",
        "UnknownDecisionError",
        "UnknownModelError",
        "aiq",
        "anchored_aiq",
        "assign_batch",
        "cached_embeddings",
        "cost_at_quality",
        "default_encoder",
        "estimate_tokens",
        "ensure_ready",
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
    assert shared.__all__ == EXPECTED_ALL


def test_the_public_api_is_listed_once() -> None:
    """``__all__`` and the lazy map are both read from the TYPE_CHECKING block of
    shared/__init__.py: each name resolves to the object of the module that block names."""
    source = Path(shared.__file__).read_text(encoding="utf-8")
    block = source[source.index("if TYPE_CHECKING:") :]
    for name in shared.__all__:
        assert f" as {name}\n" in block, name
        module = importlib.import_module(shared._EXPORTS[name], "shared")
        assert getattr(shared, name) is getattr(module, name)


@pytest.mark.parametrize("name", shared.__all__)
def test_every_public_name_resolves(name: str) -> None:
    """Each public name imports from its module and is documented."""
    obj = getattr(shared, name)
    assert obj.__doc__, f"{name} has no docstring"


def test_unknown_attribute_raises() -> None:
    """A typo gives AttributeError, not a silent None."""
    with pytest.raises(AttributeError):
        shared.NoSuchThing  # noqa: B018
    with pytest.raises(AttributeError):
        importlib.import_module("shared.routers").NoSuchRouter  # noqa: B018


def test_exported_routers_come_from_the_registry() -> None:
    """Every router class shared exports is a registered router of shared.routers, and
    shared.routers resolves every registered one (found by the registry, listed nowhere else;
    exporting one at the top level as well is a deliberate change to EXPECTED_ALL)."""
    routers = importlib.import_module("shared.routers")
    in_package = {
        name
        for name, cls in router_classes(builtin=True).items()
        if cls.__module__.startswith("shared.routers.")
    }
    exported = {
        n for n in shared.__all__ if isinstance(getattr(shared, n), type)
        and issubclass(getattr(shared, n), shared.BaseRouter) and n != "BaseRouter"
    }  # fmt: skip
    assert exported <= in_package and len(exported) >= 10
    for name in in_package:
        assert getattr(routers, name) is router_classes()[name]
    for name in exported:
        assert getattr(routers, name) is getattr(shared, name)
