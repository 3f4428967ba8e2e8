"""``prefroute assign``: OptLLM-style batch assignment on a routing table, fronts compared.

Pools every prompt of the table (with all models observed), trains the success predictor on a
``--train-share`` of them, validates on as many, and assigns the rest as one batch: prints how the
exact, OptLLM and NSGA-II fronts compare with the true front, and with ``--budget`` / ``--target``
the chosen assignment's real accuracy and cost.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from ..encoders.named import ENCODER_CHOICES
from ..exceptions import DataError, InvalidParameterError
from .args import float_in, int_at_least, names_from, output_file
from .cluster import (
    PARTITIONS_HELP,
    TABLE_ENGINES,
    add_engine_options,
    check_table_engine,
    table_encoding,
)
from .tables import add_table_options, embed_table, load_table

__all__ = ["FRONT_METHODS", "register", "run", "validate"]


FRONT_METHODS = ("exact", "exact_thin", "optllm", "nsga2")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``assign`` sub-command."""
    p = subparsers.add_parser(
        "assign",
        help="assign a batch of prompts to models under a budget (OptLLM) and compare fronts",
        description=__doc__,
    )
    add_table_options(p)
    p.add_argument(
        "--train-share",
        type=float_in(0.0, 0.5, low_open=True, high_open=True),
        default=0.01,
        help="share of prompts to train on, in (0, 0.5); as many validate (default: 0.01)",
    )
    goal = p.add_mutually_exclusive_group()
    goal.add_argument(
        "--budget",
        type=float_in(0.0, math.inf, low_open=True),
        help="USD for the whole batch: best accuracy",
    )
    goal.add_argument(
        "--target", type=float_in(0.0, 1.0), help="expected accuracy to reach at least cost"
    )
    p.add_argument("--encoder", choices=ENCODER_CHOICES, default="minilm", help="prompt features")
    p.add_argument(
        "--estimator",
        choices=("random_forest", "logistic"),
        default="random_forest",
        help="success predictor",
    )
    p.add_argument(
        "--n-bootstrap", type=int_at_least(1), default=10, help="bootstrap ensemble size"
    )
    p.add_argument("--alpha", type=float, default=1.0, help="robust score p + alpha * sigma")
    p.add_argument("--gn", type=int_at_least(1), default=50, help="OptLLM steps per direction")
    p.add_argument(
        "--methods",
        type=names_from(FRONT_METHODS),
        default="exact,optllm,nsga2",
        help=f"comma-separated fronts to compute among {', '.join(FRONT_METHODS)} "
        "(default: exact,optllm,nsga2)",
    )
    p.add_argument(
        "--nsga2-seconds",
        type=float_in(0.0, math.inf, low_open=True),
        default=120.0,
        help="NSGA-II time cap",
    )
    add_engine_options(p, TABLE_ENGINES, partitions_help=PARTITIONS_HELP)
    p.add_argument("--plot", metavar="OUT.png", type=output_file, help="write a PNG of the fronts")
    p.add_argument("--json", metavar="OUT", type=output_file, help="write the report as JSON")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the split, the success predictor and NSGA-II (default: 0)",
    )
    p.set_defaults(func=run, validate=validate)


def validate(args: argparse.Namespace) -> None:
    """``--budget`` / ``--target`` need the exact front; ``--scheduler`` needs the dask engine,
    which needs the dask extra."""
    methods = args.methods.split(",")
    if (args.budget is not None or args.target is not None) and "exact" not in methods:
        raise InvalidParameterError(
            "--budget and --target pick from the exact front: add exact to --methods."
        )
    check_table_engine(args)


def run(args: argparse.Namespace) -> int:
    """Handler of ``prefroute assign``; returns the exit code."""
    from ..assignment import SuccessPredictor, compare_fronts

    loaded = load_table(args.data, args.on_duplicate)
    complete = loaded.table.observed.all(axis=1)
    table = loaded.table.subset(complete)
    if table.n_prompts < 10:
        raise DataError(
            f"{args.data}: only {table.n_prompts} prompts have every model observed; "
            "at least 10 are needed."
        )
    print(f"{table.name}: {table.n_prompts} prompts x {table.n_models} models", file=sys.stderr)
    with table_encoding(args) as encode:  # a Dask cluster only on a cache miss
        X = embed_table(loaded, args.encoder, args.cache_dir, encode=encode)[complete]
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
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        comparison.plot(args.plot, f"{table.name}: train share {args.train_share}")
        print(f"plot written to {args.plot}", file=sys.stderr)
    try:
        if args.budget is not None or args.target is not None:
            front = comparison.fronts["exact"]
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
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
            print(f"JSON written to {args.json}", file=sys.stderr)
    return 0
