"""prefroute core: framework-free, preference-aware LLM routing.

Routers learn, from prompt embeddings, which model of a pool best fits a quality/cost preference:

* :class:`RidgeRouter` (IR3DE-style closed-form ridge heads; add/remove models without refitting),
* :class:`BaRPRouter` (one preference-conditioned policy learned from bandit feedback),
* :func:`assign_batch` / :class:`SuccessPredictor` (OptLLM-style optimal batch assignment),

with yardsticks, encoders, routing tables, metrics and a feedback store around them.
Names are imported lazily: ``import shared`` loads neither scikit-learn nor torch.

Examples:
    >>> import numpy as np
    >>> from shared import HashingEncoder, Preference, RidgeRouter
    >>> enc = HashingEncoder(n_features=64)
    >>> X = enc.encode(["add two numbers", "write a poem", "prove a theorem", "say hi"])
    >>> Q = np.array([[0.9, 0.2], [0.6, 0.5], [1.0, 0.1], [0.9, 0.9]])
    >>> C = np.array([[0.01, 0.001]] * 4)
    >>> router = RidgeRouter(alpha=0.1).fit(X, Q, C, models=["big", "small"])
    >>> decision = router.decide(enc.encode(["say hi"])[0], Preference(quality=1, cost=1))
    >>> decision.model in {"big", "small"}
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> defining module (relative to this package)
_EXPORTS: dict[str, str] = {
    # errors
    "AllCandidatesFailedError": ".exceptions",
    "DataError": ".exceptions",
    "DimensionMismatchError": ".exceptions",
    "EncoderError": ".exceptions",
    "FeedbackError": ".exceptions",
    "InfeasibleError": ".exceptions",
    "InvalidParameterError": ".exceptions",
    "NotFittedError": ".exceptions",
    "PersistenceError": ".exceptions",
    "PreferenceError": ".exceptions",
    "RouterError": ".exceptions",
    "UnknownDecisionError": ".exceptions",
    "UnknownModelError": ".exceptions",
    # basic types
    "Preference": ".preference",
    "Decision": ".decision",
    "ModelCard": ".pool",
    "ModelPool": ".pool",
    "BaseRouter": "._base",
    "RouteScores": "._base",
    "RoutingEngine": ".engine",
    "CallCostModel": ".costs",
    "save_router": ".persistence",
    "load_router": ".persistence",
    # encoders
    "PromptEncoder": ".encoders",
    "HashingEncoder": ".encoders",
    "SentenceTransformerEncoder": ".encoders",
    "CachedEncoder": ".encoders",
    "ConcatEncoder": ".encoders",
    "default_encoder": ".encoders",
    "messages_to_text": ".encoders",
    "cached_embeddings": ".encoders",
    # routers
    "RidgeRouter": ".routers",
    "DomainExpertRouter": ".routers",
    "KNNRouter": ".routers",
    "MLPRouter": ".routers",
    "RandomRouter": ".routers",
    "FixedRouter": ".routers",
    "BaRPRouter": ".routers",
    "LinUCBRouter": ".routers",
    "LinearThompsonRouter": ".routers",
    "EpsilonGreedyRouter": ".routers",
    # data and evaluation
    "RoutingTable": ".tables",
    "read_table": ".tables",
    "read_routerbench_csv": ".tables",
    "write_table": ".tables",
    "make_synthetic_table": ".synthetic",
    "frontier": ".evaluation",
    "aiq": ".evaluation",
    "quality_at_cost": ".evaluation",
    "cost_at_quality": ".evaluation",
    "evaluate_routers": ".evaluation",
    "EvaluationReport": ".evaluation",
    # batch assignment
    "SuccessPredictor": ".assignment",
    "assign_batch": ".assignment",
    "exact_front": ".assignment",
    "optllm_front": ".assignment",
    "ParetoFront": ".assignment",
    "Assignment": ".assignment",
    # feedback
    "FeedbackStore": ".feedback",
    "DecisionRecord": ".feedback",
    "OnlineLearner": ".feedback",
    "BanditLog": ".feedback",
    "RouterHandle": ".feedback",
}

__all__ = [
    "AllCandidatesFailedError",
    "Assignment",
    "BaRPRouter",
    "BanditLog",
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
    "RouterHandle",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shared' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # real imports for type checkers and IDEs
    from ._base import BaseRouter, RouteScores
    from .assignment import (
        Assignment,
        ParetoFront,
        SuccessPredictor,
        assign_batch,
        exact_front,
        optllm_front,
    )
    from .costs import CallCostModel
    from .decision import Decision
    from .encoders import (
        CachedEncoder,
        ConcatEncoder,
        HashingEncoder,
        PromptEncoder,
        SentenceTransformerEncoder,
        cached_embeddings,
        default_encoder,
        messages_to_text,
    )
    from .engine import RoutingEngine
    from .evaluation import (
        EvaluationReport,
        aiq,
        cost_at_quality,
        evaluate_routers,
        frontier,
        quality_at_cost,
    )
    from .exceptions import (
        AllCandidatesFailedError,
        DataError,
        DimensionMismatchError,
        EncoderError,
        FeedbackError,
        InfeasibleError,
        InvalidParameterError,
        NotFittedError,
        PersistenceError,
        PreferenceError,
        RouterError,
        UnknownDecisionError,
        UnknownModelError,
    )
    from .feedback import BanditLog, DecisionRecord, FeedbackStore, OnlineLearner, RouterHandle
    from .persistence import load_router, save_router
    from .pool import ModelCard, ModelPool
    from .preference import Preference
    from .routers import (
        BaRPRouter,
        DomainExpertRouter,
        EpsilonGreedyRouter,
        FixedRouter,
        KNNRouter,
        LinearThompsonRouter,
        LinUCBRouter,
        MLPRouter,
        RandomRouter,
        RidgeRouter,
    )
    from .synthetic import make_synthetic_table
    from .tables import RoutingTable, read_routerbench_csv, read_table, write_table
