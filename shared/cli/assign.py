"""``prefroute assign``: OptLLM-style batch assignment on a routing table, fronts compared.

Pools every prompt of the table (with all models observed), trains the success predictor on a
``--train-share`` of them, validates on as many, and assigns the rest as one batch: prints how the
exact, OptLLM and NSGA-II fronts compare with the true front, and with ``--budget`` / ``--target``
the chosen assignment's real accuracy and cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.named import ENCODER_CHOICES
from ..exceptions import DataError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``assign`` sub-command."""
    p = subparsers.add_parser(
        "assign",
        help="assign a batch of prompts to models under a budget (OptLLM) and compare fronts",
        description=__doc__,
    )
    p.add_argument("--data", required=True, help="routing table directory (long layout)")
    p.add_argument("--train-share", type=float, default=0.01, help="share of prompts to train on")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--budget", type=float, help="USD for the whole batch: best accuracy")
    goal.add_argument("--target", type=float, help="expected accuracy to reach at least cost")
    p.add_argument("--encoder", choices=ENCODER_CHOICES, default="minilm")
    p.add_argument("--estimator", choices=("random_forest", "logistic"), default="random_forest")
    p.add_argument("--n-bootstrap", type=int, default=10, help="bootstrap ensemble size")
    p.add_argument("--alpha", type=float, default=1.0, help="robust score p + alpha * sigma")
    p.add_argument("--gn", type=int, default=50, help="OptLLM steps per direction")
    p.add_argument(
        "--methods", default="exact,optllm,nsga2", help="comma-separated fronts to compute"
    )
    p.add_argument("--nsga2-seconds", type=float, default=120.0, help="NSGA-II time cap")
    p.add_argument("--plot", metavar="OUT.png", help="write a PNG of the fronts")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _embed(prompts: tuple[str, ...], encoder_name: str) -> Any:
    from ..encoders import cached_embeddings
    from ..encoders.named import named_encoder

    return cached_embeddings(list(prompts), named_encoder(encoder_name), progress=True)


def run(args: argparse.Namespace) -> int:
    """Handler of ``prefroute assign``; returns the exit code."""
    from ..assignment import SuccessPredictor, compare_fronts
    from ..tables import read_table

    table = read_table(args.data, on_duplicate="first").complete()
    if table.n_prompts < 10:
        raise DataError(
            f"{args.data}: only {table.n_prompts} prompts have every model observed; "
            "at least 10 are needed."
        )
    print(f"{table.name}: {table.n_prompts} prompts x {table.n_models} models", file=sys.stderr)
    X = _embed(table.prompts, args.encoder)
    predictor = SuccessPredictor(
        estimator=args.estimator,
        n_bootstrap=args.n_bootstrap,
        alpha=args.alpha,
        random_state=args.seed,
    )
    comparison = compare_fronts(
        X,
        table.quality,
        table.cost,
        table.models,
        train_share=args.train_share,
        seed=args.seed,
        predictor=predictor,
        gn=args.gn,
        methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        nsga2_seconds=args.nsga2_seconds,
        progress=True,
    )
    print(comparison.format_table())
    report = comparison.to_dict()
    report["table"] = table.name
    if args.plot:
        comparison.plot(args.plot, f"{table.name}: train share {args.train_share}")
        print(f"plot written to {args.plot}", file=sys.stderr)
    try:
        if args.budget is not None or args.target is not None:
            front = comparison.fronts.get("exact")
            if front is None:
                raise DataError("--budget/--target need the exact front (add it to --methods).")
            if args.budget is not None:
                choice = front.best_under_budget(args.budget)
            else:
                choice = front.cheapest_reaching(args.target)
            true_cost, true_acc = choice.evaluate(comparison.quality, comparison.cost)
            counts = np.bincount(choice.choices, minlength=table.n_models)
            mix = {m: int(k) for m, k in zip(table.models, counts) if k}
            report["choice"] = {
                "budget": args.budget,
                "target": args.target,
                "expected_accuracy": choice.expected_accuracy,
                "accuracy": true_acc,
                "cost": true_cost,
                "models": mix,
            }
            print(
                f"chosen assignment: expected accuracy {choice.expected_accuracy:.4f}, "
                f"real accuracy {true_acc:.4f}, cost ${true_cost:.6g}"
            )
            print("  " + ", ".join(f"{m}: {k}" for m, k in mix.items()))
    finally:
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
            print(f"JSON written to {args.json}", file=sys.stderr)
    return 0
