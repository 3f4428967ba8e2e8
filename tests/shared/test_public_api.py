"""The public surface of ``shared`` is deliberate: pinned here, and every name resolves."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
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


def test_shared_routers_lists_every_registered_router() -> None:
    """The TYPE_CHECKING block of shared/routers/__init__.py (which types the routers for mypy
    users and gives ``__all__``) names exactly the registry's routers of shared.routers."""
    routers = importlib.import_module("shared.routers")
    registered = {
        name: cls
        for name, cls in router_classes(builtin=True).items()
        if cls.__module__.startswith("shared.routers.")
    }
    missing = [
        f"from .{cls.__module__.rsplit('.', 1)[1]} import {name} as {name}"
        for name, cls in registered.items()
        if name not in routers.__all__
    ]
    assert not missing, f"add to the TYPE_CHECKING block of shared/routers/__init__.py: {missing}"
    assert routers.__all__ == sorted(registered)
    for name in routers.__all__:
        assert getattr(routers, name) is registered[name]
    namespace: dict[str, object] = {}
    exec("from shared.routers import *", namespace)
    assert {n for n in namespace if not n.startswith("__")} == set(registered)


USER_SNIPPET = """
from shared import RidgeRouter as TopLevelRidge
from shared.routers import KNNRouter, RidgeRouter


class MyRouter(RidgeRouter):  # subclassing an untyped (Any) name is an error under --strict
    pass


def train() -> RidgeRouter:
    return RidgeRouter(alpha=0.1)


same: type[TopLevelRidge] = RidgeRouter
knn = KNNRouter(k=3)
wrong: int = train()  # the one error: proves the names are typed, not Any
"""


def test_mypy_strict_types_imports_from_shared_routers() -> None:
    """A mypy --strict user of ``from shared.routers import X`` gets the real classes: the
    snippet's only error is the deliberate one (with Any types there would be none there and
    one at the subclass). Uses the project's mypy config and cache (CI runs mypy first)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "-c", USER_SNIPPET],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    lines = USER_SNIPPET.splitlines()
    wrong_line = 1 + next(i for i, line in enumerate(lines) if line.startswith("wrong:"))
    assert len(errors) == 1, done.stdout + done.stderr
    assert errors[0].startswith(f"<string>:{wrong_line}: error: Incompatible types"), errors
