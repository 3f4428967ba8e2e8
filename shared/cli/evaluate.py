"""``prefroute evaluate``: fit routers on a routing table's train split, report on its test split.

Examples:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="prefroute")
    >>> register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["evaluate", "--data", ".", "--routers", "ridge,knn"])
    >>> args.routers, args.encoder, args.feedback
    ('ridge,knn', 'minilm', 'full')
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._base import BaseRouter
from .._registry import router_class, router_short_names
from ..capabilities import (
    ColdStarts,
    FitsBandit,
    FitsLabels,
    FitsTable,
    LearnsOnline,
    latency_kwargs,
    require,
)
from ..encoders.named import ENCODER_CHOICES
from ..exceptions import InvalidParameterError
from ..tables import RoutingTable
from .args import int_at_least, output_file, zero_or_at_least
from .cluster import (
    PARTITIONS_HELP,
    TABLE_ENGINES,
    add_engine_options,
    check_table_engine,
    table_encoding,
)
from .tables import add_table_options, embed_table, load_any_table, load_table, require_splits

__all__ = [
    "PRESETS",
    "ROUTER_FACTORIES",
    "bandit_stream_options",
    "build_router",
    "expert_labels",
    "load_any_table",
    "register",
    "router_names",
    "run",
    "validate",
]

FloatArray = NDArray[np.float64]

#: Extra ``--routers`` names: ``name -> factory(seed, feedback) -> unfitted router``, consulted
#: before the presets and the registry (``feedback`` is ``"full"`` or ``"bandit"``).
ROUTER_FACTORIES: dict[str, Callable[[int, str], BaseRouter]] = {}

#: The linear bandits' settings under bandit feedback (train-only validation, docs/barp.md): a
#: prior of 4 pseudo-observations, ten uniform tries of every model first, and the guard.
_LINEAR_BANDIT: dict[str, Any] = {"alpha": 4.0, "prior_strength": 4.0, "warmup": 10, "guard": True}

#: Named configurations beyond the registry's defaults:
#: ``name: (class, full-information kwargs, extra kwargs under bandit feedback)``.
#: Every registered router is also available under its short name (see :func:`router_names`).
PRESETS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "ridge": (
        "RidgeRouter",
        {"alpha": "cv"},
        {
            "alpha": 1.0,
            "exploration": "thompson",
            "prior_strength": 4.0,
            "solver": "sherman_morrison",
            "guard": True,
        },
    ),
    "ridge-ref": ("RidgeRouter", {"alpha": 1.0, "penalize_intercept": True}, {}),
    "knn": ("KNNRouter", {"k": 40}, {}),
    "knn-ref": ("ReferenceKNNRouter", {"k": 40, "weights": "similarity"}, {}),
    # bandit settings chosen on train-only validation (benchmarks/bandit_protocol.py, docs/barp.md)
    "thompson": ("LinearThompsonRouter", {}, _LINEAR_BANDIT),
    "linucb": ("LinUCBRouter", {}, _LINEAR_BANDIT),
    "egreedy": ("EpsilonGreedyRouter", {}, _LINEAR_BANDIT),
    "barp": ("BaRPRouter", {}, {"off_policy": "dm"}),
    "experts": ("DomainExpertRouter", {}, {}),
}


#: The default ``--routers``: the default router first.
DEFAULT_ROUTERS = "auto,ridge,knn"


def router_names() -> dict[str, str]:
    """Every ``--routers`` name and its router class: the presets, then each registered router
    under its short name (``RidgeRouter`` -> ``ridge``, ``LinUCBRouter`` -> ``linucb``)."""
    names = {name: spec[0] for name, spec in PRESETS.items()}
    for short, cls in router_short_names().items():
        names.setdefault(short, cls.__name__)
    return names


#: Routers that learn from the stream by re-training off-policy on everything revealed so far
#: (``fit_bandit`` on a doubling schedule) rather than by one ``update`` per outcome.
_REFIT = frozenset({"barp"})


def bandit_stream_options(name: str, n_prompts: int) -> dict[str, Any]:
    """Extra ``simulate_bandit`` arguments with which router ``name`` learns from a stream.

    Examples:
        >>> bandit_stream_options("barp", 300)
        {'refit_at': (64, 128, 256)}
        >>> bandit_stream_options("thompson", 300)
        {}
    """
    from ..evaluation import doubling_schedule

    return {"refit_at": doubling_schedule(n_prompts)} if name in _REFIT else {}


def build_router(name: str, *, seed: int = 0, feedback: str = "full") -> BaseRouter:
    """A fresh router for a ``--routers`` name (``ROUTER_FACTORIES``, presets, then the registry).

    A router with a ``random_state`` parameter gets ``seed``.

    Raises:
        InvalidParameterError: unknown name.
    """
    if name in ROUTER_FACTORIES:
        return ROUTER_FACTORIES[name](seed, feedback)
    known = router_names()
    if name not in known:
        choices = sorted({*known, *ROUTER_FACTORIES})
        raise InvalidParameterError(f"Unknown router {name!r}; available routers are {choices}.")
    cls = router_class(known[name])
    kwargs, bandit_kwargs = PRESETS[name][1:] if name in PRESETS else ({}, {})
    params = {**kwargs, **(bandit_kwargs if feedback == "bandit" else {})}
    if "random_state" in cls._param_names():
        params.setdefault("random_state", seed)
    return cls(**params)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def expert_labels(t: RoutingTable) -> list[str]:
    """Each prompt's domain expert: the model with the best mean quality on its task (cheapest
    mean cost among ties); per prompt (best quality, cheapest) when the table has no tasks."""
    with np.errstate(invalid="ignore"):
        q_mean = np.nanmean(t.quality, axis=0)
    if not any(t.tasks):
        best = np.where(np.isnan(t.quality), -1.0, t.quality)
        cost = np.where(np.isnan(t.cost), np.inf, t.cost)
        top = best >= best.max(axis=1, keepdims=True)
        return [
            t.models[int(np.argmin(np.where(top[i], cost[i], np.inf)))] for i in range(len(best))
        ]
    labels: dict[str, str] = {}
    tasks = np.array(t.tasks, dtype=object)
    for task in sorted(set(t.tasks)):
        rows = tasks == task
        with np.errstate(invalid="ignore"):
            q = np.nanmean(t.quality[rows], axis=0)
            c = np.nanmean(t.cost[rows], axis=0)
        q = np.where(np.isnan(q), q_mean, q)
        top = np.flatnonzero(q >= np.nanmax(q))
        labels[task] = t.models[int(top[np.argmin(np.nan_to_num(c[top], nan=np.inf))])]
    return [labels[task] for task in t.tasks]


def _fit_full(router: BaseRouter, X: FloatArray, t: RoutingTable) -> BaseRouter:
    if isinstance(router, FitsTable):
        kwargs = latency_kwargs(router, t.latency)
        if getattr(router, "fit_accepts_tasks", False):
            kwargs["tasks"] = list(t.tasks)
        router.fit(X, t.quality, t.cost, models=list(t.models), **kwargs)
    elif isinstance(router, FitsLabels):
        router.fit(X, expert_labels(t), experts=list(t.models))
    else:
        require(router, FitsTable, "learn from a full-information table")
    return router


def _learns_from_bandit_feedback(router: BaseRouter) -> bool:
    online = isinstance(router, LearnsOnline) and (
        router.is_fitted or isinstance(router, ColdStarts)
    )
    if getattr(router, "needs_complete_rows", False):  # validates on every model's outcome
        return online or isinstance(router, FitsBandit)
    return online or isinstance(router, (FitsBandit, FitsTable))


def _train_bandit(
    name: str,
    X: FloatArray,
    train: RoutingTable,
    test: tuple[FloatArray, FloatArray, FloatArray],
    seed: int,
) -> tuple[BaseRouter, list[tuple[float, float]], str]:
    """Train router ``name`` from partial feedback; returns (router, learning curve, mode)."""
    from ..evaluation import bandit_log_from_table, router_aiq, simulate_bandit

    router = build_router(name, seed=seed, feedback="bandit")
    models = list(train.models)
    fractions = (0.1, 0.25, 0.5, 1.0)
    if isinstance(router, LearnsOnline) and (router.is_fitted or isinstance(router, ColdStarts)):

        def report(frac: float, _r: BaseRouter, value: float | None) -> None:
            _progress(f"  {name}: {frac:.0%} of the stream, test AIQ {value:.4f}")

        sim = simulate_bandit(
            router, X, train.quality, train.cost, models, seed=seed, checkpoints=fractions,
            on_checkpoint=report, test=test, **bandit_stream_options(name, len(X)),
        )  # fmt: skip
        mode = "bandit (stream, off-policy refits)" if name in _REFIT else "bandit (online)"
        return router, [(f, float(v)) for f, v in sim.curve if v is not None], mode
    log = bandit_log_from_table(train, seed=seed)
    order = np.random.default_rng(seed).permutation(len(log))
    curve: list[tuple[float, float]] = []
    mode = "bandit (off-policy log)" if isinstance(router, FitsBandit) else "bandit (partial table)"
    for frac in fractions:
        part = log.select(order[: max(1, round(frac * len(log)))])
        router = build_router(name, seed=seed, feedback="bandit")
        if isinstance(router, FitsBandit):
            args, kwargs = part.fit_bandit_args(X, router)
            router.fit_bandit(*args, **kwargs)
        else:
            require(router, FitsTable, "learn from bandit feedback")
            assert isinstance(router, FitsTable) and part.rows is not None
            Q = np.full((len(part), len(models)), np.nan)
            C = np.full_like(Q, np.nan)
            Q[np.arange(len(part)), part.arms] = part.quality
            C[np.arange(len(part)), part.arms] = part.cost
            L = None
            if part.latency is not None:
                L = np.full_like(Q, np.nan)
                L[np.arange(len(part)), part.arms] = part.latency
            router.fit(X[part.rows], Q, C, models=models, **latency_kwargs(router, L))
        value = router_aiq(router, *test, models)
        _progress(f"  {name}: {frac:.0%} of the log, test AIQ {value:.4f}")
        curve.append((frac, value))
    return router, curve, mode


def validate(args: argparse.Namespace) -> None:
    """Check what the parser cannot: the router names (``ROUTER_FACTORIES`` included) and the
    engine (``--scheduler`` needs the dask engine, which needs the dask extra)."""
    names = [n.strip() for n in args.routers.split(",") if n.strip()]
    if not names:
        raise InvalidParameterError("--routers needs at least one router name.")
    for n in names:
        build_router(n)  # raises the helpful unknown-router error before any work
    check_table_engine(args)


def run(args: argparse.Namespace) -> int:
    """Handler of ``prefroute evaluate``."""
    from ..evaluation import evaluate_routers, extra_plot_path, plot_learning_curves, plot_pareto

    names = [n.strip() for n in args.routers.split(",") if n.strip()]
    t0 = time.perf_counter()
    routing_log = logging.getLogger("prefroute.routing")
    if routing_log.getEffectiveLevel() > logging.INFO:  # AutoRouter's fit progress (rate, ETA)
        routing_log.setLevel(logging.INFO)
    _progress(f"loading {args.data}")
    loaded = load_table(args.data, args.on_duplicate)
    table = loaded.table
    require_splits(table, "train", complete=False)  # before encoding every prompt
    require_splits(table, "test")
    with table_encoding(args) as encode:  # a Dask cluster only on a cache miss
        X = embed_table(loaded, args.encoder, args.cache_dir, encode=encode)
    train_mask = np.array([s == "train" for s in table.splits])
    test_mask = np.array([s == "test" for s in table.splits]) & table.observed.all(axis=1)
    train = table.subset(train_mask)
    if args.max_train is not None and args.max_train < train.n_prompts:
        keep = np.random.default_rng(args.seed).permutation(train.n_prompts)[: args.max_train]
        train_idx = np.flatnonzero(train_mask)[np.sort(keep)]
        train = table.subset(train_idx)
        train_mask = np.zeros_like(train_mask)
        train_mask[train_idx] = True
    X_train, X_test = X[train_mask], X[test_mask]
    test = (X_test, table.quality[test_mask], table.cost[test_mask])
    models = list(table.models)
    fitted: dict[str, BaseRouter] = {}
    curves: dict[str, list[tuple[float, float]]] = {}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        if args.feedback == "bandit" and not _learns_from_bandit_feedback(build_router(name)):
            _progress(
                f"{name} learns from labels of the full table: trained on full information only"
            )
        elif args.feedback == "bandit":
            start = time.perf_counter()
            _progress(f"training {name} from bandit feedback on {train.n_prompts} prompts")
            router, curve, mode = _train_bandit(name, X_train, train, test, args.seed)
            label = f"{name} (bandit)"
            fitted[label], curves[label] = router, curve
            info[label] = {"feedback": mode, "fit_seconds": round(time.perf_counter() - start, 3)}
        start = time.perf_counter()
        _progress(f"fitting {name} on {train.n_prompts} prompts (full information)")
        label = f"{name} (full)" if args.feedback == "bandit" else name
        fitted[label] = _fit_full(build_router(name, seed=args.seed), X_train, train)
        info[label] = {"feedback": "full", "fit_seconds": round(time.perf_counter() - start, 3)}
    _progress("sweeping preferences on the test split")
    if args.bootstrap:
        _progress(f"paired bootstrap of each router against the hull ({args.bootstrap} resamples)")
    report = evaluate_routers(
        fitted, *test, models, dataset=table.name, learning_curves=curves, info=info,
        bootstrap=args.bootstrap, random_state=args.seed,
        meta={"encoder": args.encoder, "feedback": args.feedback, "seed": args.seed,
              "n_train": train.n_prompts, "seconds": round(time.perf_counter() - t0, 2)},
    )  # fmt: skip
    print(report.format_table())
    if args.json:
        json_path = Path(args.json)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(report.to_json() + "\n", encoding="utf-8")
        _progress(f"wrote {json_path}")
    if args.plot:
        plot_path = Path(args.plot)
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        plot_pareto(report, plot_path)
        _progress(f"wrote {plot_path}")
        if curves:
            curve_path = extra_plot_path(plot_path, "learning")
            plot_learning_curves(report, curve_path)
            _progress(f"wrote {curve_path}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``evaluate`` sub-command."""
    p = subparsers.add_parser(
        "evaluate",
        help="fit routers on a routing table and report cost/quality metrics",
        description="Fit routers on the train split of a routing table (long layout directory or "
        "RouterBench wide CSV), sweep preferences on the test split and report AIQ, anchored "
        "AIQ, Q@Cbest, C@Qbest and gap closed (see docs/evaluation.md).",
    )
    add_table_options(p)
    p.add_argument(
        "--routers",
        default=DEFAULT_ROUTERS,
        help="comma-separated router names: a preset (ridge, ridge-ref, knn, knn-ref, "
        "thompson, egreedy, experts) or any router's short name (auto, task, barp, linucb, mlp, "
        f"random, ...) (default: {DEFAULT_ROUTERS}; 'auto' is the default router: chosen on "
        "validation splits of the train prompts, with a constant-choice guard)",
    )
    p.add_argument(
        "--encoder",
        choices=ENCODER_CHOICES,
        default="minilm",
        help="prompt features: MiniLM (default), hashed words (fast, no model), or both side by "
        "side (MiniLM reads 256 word pieces; the hashing block sees the whole prompt); onnx / "
        "onnx-int8: MiniLM on ONNX Runtime (prefroute[onnx]); model2vec: a static encoder "
        "distilled from MiniLM (prefroute[model2vec]); see docs/encoders.md",
    )
    p.add_argument(
        "--feedback",
        choices=("full", "bandit"),
        default="full",
        help="'bandit': train from the chosen model's outcome only, with learning curves, "
        "beside the same router trained on full information",
    )
    add_engine_options(p, TABLE_ENGINES, partitions_help=PARTITIONS_HELP)
    p.add_argument("--json", metavar="OUT", type=output_file, help="write the report as JSON")
    p.add_argument(
        "--plot",
        metavar="OUT.png",
        type=output_file,
        help="write the Pareto plot (and, in bandit mode, the learning curves to OUT.learning.png)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the bandit simulation, --max-train and the bootstrap (default: 0)",
    )
    p.add_argument(
        "--max-train",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="subsample the train split to N prompts",
    )
    p.add_argument(
        "--bootstrap",
        type=zero_or_at_least(100),
        default=0,
        metavar="N",
        help="compare each router with the single models' hull by a paired bootstrap over the "
        "test prompts with N resamples (>= 100; 0, the default, skips it)",
    )
    p.set_defaults(func=run, validate=validate)
