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

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


def _public_api(init_file: str = __file__) -> dict[str, str]:
    """``{public name: defining module}``, read from the ``if TYPE_CHECKING:`` block below
    (or of the package ``__init__.py`` at ``init_file``: :mod:`shared.routers` lists its routers
    the same way).

    That block is the one list of the public API: type checkers and IDEs read its imports, and
    at run time this function reads the same imports (without executing them) so that each name
    is imported on first access (PEP 562), the way ``lazy_loader.attach_stub`` reads a stub.
    """
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            return {
                alias.asname or alias.name: "." * imp.level + (imp.module or "")
                for imp in node.body
                if isinstance(imp, ast.ImportFrom)
                for alias in imp.names
            }
    raise ImportError(f"{init_file} lost its TYPE_CHECKING block of public names")


_EXPORTS = _public_api()
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shared' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# The public API, listed once: each ``from M import N as N`` makes ``shared.N`` resolve to M.N.
if TYPE_CHECKING:
    from ._base import BaseRouter as BaseRouter
    from ._base import RouteScores as RouteScores
    from .assignment import Assignment as Assignment
    from .assignment import ParetoFront as ParetoFront
    from .assignment import SuccessPredictor as SuccessPredictor
    from .assignment import assign_batch as assign_batch
    from .assignment import exact_front as exact_front
    from .assignment import optllm_front as optllm_front
    from .capabilities import ColdStarts as ColdStarts
    from .capabilities import ColdStartsFromPriors as ColdStartsFromPriors
    from .capabilities import FitsBandit as FitsBandit
    from .capabilities import FitsLabels as FitsLabels
    from .capabilities import FitsTable as FitsTable
    from .capabilities import LearnsLatency as LearnsLatency
    from .capabilities import LearnsOnline as LearnsOnline
    from .capabilities import LearnsTasks as LearnsTasks
    from .capabilities import Persists as Persists
    from .capabilities import ensure_ready as ensure_ready
    from .costs import CallCostModel as CallCostModel
    from .decision import Decision as Decision
    from .encoders import CachedEncoder as CachedEncoder
    from .encoders import ConcatEncoder as ConcatEncoder
    from .encoders import HashingEncoder as HashingEncoder
    from .encoders import PromptEmbedding as PromptEmbedding
    from .encoders import PromptEncoder as PromptEncoder
    from .encoders import SentenceTransformerEncoder as SentenceTransformerEncoder
    from .encoders import cached_embeddings as cached_embeddings
    from .encoders import default_encoder as default_encoder
    from .encoders import messages_to_text as messages_to_text
    from .engine import RoutingEngine as RoutingEngine
    from .engine import estimate_tokens as estimate_tokens
    from .evaluation import EvaluationReport as EvaluationReport
    from .evaluation import aiq as aiq
    from .evaluation import anchored_aiq as anchored_aiq
    from .evaluation import cost_at_quality as cost_at_quality
    from .evaluation import evaluate_routers as evaluate_routers
    from .evaluation import frontier as frontier
    from .evaluation import quality_at_cost as quality_at_cost
    from .exceptions import AllCandidatesFailedError as AllCandidatesFailedError
    from .exceptions import CapabilityError as CapabilityError
    from .exceptions import ClusterUnavailableError as ClusterUnavailableError
    from .exceptions import DataError as DataError
    from .exceptions import DimensionMismatchError as DimensionMismatchError
    from .exceptions import EmptyStreamError as EmptyStreamError
    from .exceptions import EncoderError as EncoderError
    from .exceptions import EncoderMismatchError as EncoderMismatchError
    from .exceptions import FeedbackError as FeedbackError
    from .exceptions import FeedbackUnavailableError as FeedbackUnavailableError
    from .exceptions import InfeasibleError as InfeasibleError
    from .exceptions import InvalidParameterError as InvalidParameterError
    from .exceptions import NotFittedError as NotFittedError
    from .exceptions import ObjectiveError as ObjectiveError
    from .exceptions import PersistenceError as PersistenceError
    from .exceptions import PreferenceError as PreferenceError
    from .exceptions import RouterError as RouterError
    from .exceptions import UnknownDecisionError as UnknownDecisionError
    from .exceptions import UnknownModelError as UnknownModelError
    from .feedback import DecisionRecord as DecisionRecord
    from .feedback import FeedbackStore as FeedbackStore
    from .feedback import OnlineLearner as OnlineLearner
    from .feedback import RouterHandle as RouterHandle
    from .outcomes import BanditLog as BanditLog
    from .outcomes import Outcomes as Outcomes
    from .persistence import load_router as load_router
    from .persistence import save_router as save_router
    from .pool import ModelCard as ModelCard
    from .pool import ModelPool as ModelPool
    from .preference import Preference as Preference
    from .routers.auto import AutoRouter as AutoRouter
    from .routers.bandits import EpsilonGreedyRouter as EpsilonGreedyRouter
    from .routers.bandits import LinearThompsonRouter as LinearThompsonRouter
    from .routers.bandits import LinUCBRouter as LinUCBRouter
    from .routers.baselines import FixedRouter as FixedRouter
    from .routers.baselines import KNNRouter as KNNRouter
    from .routers.baselines import MLPRouter as MLPRouter
    from .routers.baselines import RandomRouter as RandomRouter
    from .routers.experts import DomainExpertRouter as DomainExpertRouter
    from .routers.policy import BaRPRouter as BaRPRouter
    from .routers.ridge import RidgeRouter as RidgeRouter
    from .routers.task import TaskRouter as TaskRouter
    from .synthetic import make_synthetic_table as make_synthetic_table
    from .tables import RoutingTable as RoutingTable
    from .tables import read_routerbench_csv as read_routerbench_csv
    from .tables import read_table as read_table
    from .tables import write_table as write_table
