"""Evaluation of routers on routing tables: metrics, preference sweeps, reports, plots and the
bandit-feedback simulation. ``docs/evaluation.md`` describes the protocol.

* :mod:`.metrics`: :func:`frontier`, :func:`aiq`, :func:`anchored_aiq`, :func:`quality_at_cost`,
  :func:`cost_at_quality`, :func:`gap_closed`, oracle / single-model / random points, and the
  RouteLLM-style :func:`pgr_curve`, :func:`apgr`, :func:`cpt`.
* :mod:`.sweep`: the preference sweep (:func:`default_lambdas`, :func:`sweep_points`).
* :mod:`.bootstrap`: :func:`paired_bootstrap` (two routers on the same prompts, with intervals).
* :mod:`.report`: :func:`evaluate_routers` -> :class:`EvaluationReport`.
* :mod:`.simulate`: :func:`simulate_bandit`, :func:`bandit_log_from_table`.
* :mod:`.yardsticks`: the README reference routers (:class:`ReferenceKNNRouter`,
  :class:`ReferenceRidgeRouter`).
* :mod:`.plots`: :func:`plot_pareto`, :func:`plot_learning_curves` (imports matplotlib lazily).
"""

from __future__ import annotations

from ..outcomes import BanditLog
from .bootstrap import PairedBootstrap, paired_bootstrap, single_model_choices
from .metrics import (
    OutcomePoint,
    aiq,
    anchored_aiq,
    apgr,
    best_single_index,
    cost_at_quality,
    cpt,
    frontier,
    gap_closed,
    oracle_point,
    pgr_curve,
    quality_at_cost,
    random_point,
    single_model_points,
)
from .objectives import choice_outcomes
from .plots import extra_plot_path, frontier_curve, plot_learning_curves, plot_pareto
from .report import EvaluationReport, RouterResult, evaluate_routers, router_aiq
from .simulate import (
    BanditSimulation,
    bandit_log_from_table,
    default_preference_sampler,
    doubling_schedule,
    simulate_bandit,
)
from .sweep import (
    SweepResult,
    default_lambdas,
    points_of_choices,
    route_sweep,
    scalarized_choices,
    sweep_points,
)
from .yardsticks import ReferenceKNNRouter, ReferenceRidgeRouter

__all__ = [
    "BanditLog",
    "BanditSimulation",
    "EvaluationReport",
    "OutcomePoint",
    "PairedBootstrap",
    "ReferenceKNNRouter",
    "ReferenceRidgeRouter",
    "RouterResult",
    "SweepResult",
    "aiq",
    "anchored_aiq",
    "apgr",
    "bandit_log_from_table",
    "best_single_index",
    "choice_outcomes",
    "cost_at_quality",
    "cpt",
    "default_lambdas",
    "default_preference_sampler",
    "doubling_schedule",
    "evaluate_routers",
    "extra_plot_path",
    "frontier",
    "frontier_curve",
    "gap_closed",
    "oracle_point",
    "paired_bootstrap",
    "pgr_curve",
    "plot_learning_curves",
    "plot_pareto",
    "points_of_choices",
    "quality_at_cost",
    "random_point",
    "route_sweep",
    "router_aiq",
    "scalarized_choices",
    "simulate_bandit",
    "single_model_choices",
    "single_model_points",
    "sweep_points",
]
