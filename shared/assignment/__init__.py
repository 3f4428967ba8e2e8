"""Batch assignment (OptLLM style): give each query of a batch one model under a budget.

* :class:`SuccessPredictor` predicts each model's success probability from prompt embeddings
  (a bootstrap ensemble, with a robust ``p + alpha * sigma`` score).
* :func:`exact_front` computes the Pareto-optimal cost/accuracy trade-offs exactly by a price
  sweep; :func:`assign_batch` picks the best assignment under a budget or for an accuracy target.
* :func:`optllm_front` (the paper's search) and :func:`nsga2_front` (its NSGA-II baseline) are
  there for comparison, scored against the true front by :func:`score_front`;
  :func:`compare_fronts` runs the whole protocol on a routing table's outcomes.
"""

from __future__ import annotations

from .exact import assign_batch, exact_front
from .experiment import FrontComparison, compare_fronts, split_batch
from .front import Assignment, ParetoFront, nondominated
from .metrics import (
    FrontScore,
    best_single_model,
    hypervolume,
    igd,
    saving_at_accuracy,
    score_front,
    spread,
    true_front,
)
from .nsga2 import nsga2_available, nsga2_front
from .optllm import optllm_front
from .predictor import SuccessPredictor

__all__ = [
    "Assignment",
    "FrontComparison",
    "FrontScore",
    "ParetoFront",
    "SuccessPredictor",
    "assign_batch",
    "best_single_model",
    "compare_fronts",
    "exact_front",
    "hypervolume",
    "igd",
    "nondominated",
    "nsga2_available",
    "nsga2_front",
    "optllm_front",
    "saving_at_accuracy",
    "score_front",
    "split_batch",
    "spread",
    "true_front",
]
