"""The default router ``auto`` on the shared tables, beside today's ridge, kNN and the hull.

For each table: every router is fitted on the train split only (``AutoRouter`` chooses its
candidate and its guard on k-fold splits of the train rows, never the test rows), swept over the
price of quality on the test split (prompts with every model observed), and compared by a paired
bootstrap over the test prompts (``shared.evaluation.paired_bootstrap``, 1,000 resamples, 95%
percentile intervals) with the single models' hull, with the best single model alone and with
``RidgeRouter(alpha="cv")``. Prints, per table, AIQ, anchored AIQ, Q@Cbest and C@Qbest, the
intervals, and what ``auto`` chose and why.

Usage (from the repository root, with the MiniLM embeddings cached in ``PREFROUTE_CACHE_DIR``)::

    python benchmarks/auto_router.py [--data-root ../shared/data]
        [--datasets routerbench_zs,llmrouter_nim,domain_experts_7b] [--json OUT]
        [--n-folds 5] [--n-repeats 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from shared import KNNRouter, RidgeRouter, cached_embeddings, read_table
from shared._base import BaseRouter
from shared.encoders import SentenceTransformerEncoder
from shared.evaluation import (
    evaluate_routers,
    paired_bootstrap,
    route_sweep,
    single_model_choices,
)
from shared.routers import AutoRouter

PEERS = {  # the shared data README: peers' own packages on these splits (test Q@Cbest)
    "routerbench_zs": 0.8804,
    "llmrouter_nim": 0.5850,
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_dataset(name: str, data_root: Path, n_folds: int, n_repeats: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    table = read_table(data_root / name, on_duplicate="keep")
    encoder = SentenceTransformerEncoder(batch_size=64)
    X = np.asarray(cached_embeddings(list(table.prompts), encoder), dtype=np.float64)
    train = np.array([s == "train" for s in table.splits])
    test = np.array([s == "test" for s in table.splits]) & table.observed.all(axis=1)
    models = list(table.models)
    tasks = [t for t, k in zip(table.tasks, train) if k]
    Xtr, Qtr, Ctr = X[train], table.quality[train], table.cost[train]
    routers: dict[str, BaseRouter] = {}
    fit_seconds: dict[str, float] = {}
    candidates: dict[str, BaseRouter] = {
        "auto": AutoRouter(n_folds=n_folds, n_repeats=n_repeats),
        'ridge (alpha="cv")': RidgeRouter(alpha="cv"),
        "knn (k=40)": KNNRouter(k=40),
    }
    for label, router in candidates.items():
        start = time.perf_counter()
        progress(f"[{name}] fitting {label} on {int(train.sum())} train prompts")
        if isinstance(router, AutoRouter):
            router.fit(Xtr, Qtr, Ctr, models=models, tasks=tasks)
        else:
            getattr(router, "fit")(Xtr, Qtr, Ctr, models=models)  # noqa: B009
        fit_seconds[label] = round(time.perf_counter() - start, 1)
        routers[label] = router
    Q, C = table.quality[test], table.cost[test]
    report = evaluate_routers(routers, X[test], Q, C, models, dataset=name, bootstrap=1000)
    sweeps = {label: route_sweep(r, X[test], models)[0] for label, r in routers.items()}
    best = models.index(report.best_single)
    best_only = single_model_choices(len(models), Q.shape[0])[best : best + 1]
    vs = {
        "best single model": paired_bootstrap(
            sweeps["auto"], best_only, Q, C, n_resamples=1000, random_state=0
        ),
        'ridge (alpha="cv")': paired_bootstrap(
            sweeps["auto"], sweeps['ridge (alpha="cv")'], Q, C, n_resamples=1000, random_state=0
        ),
    }
    auto = routers["auto"]
    assert isinstance(auto, AutoRouter)
    print(report.format_table())
    print("\nauto against (paired bootstrap, 1,000 resamples, 95% intervals):")
    for label, b in vs.items():
        (alo, ahi), (qlo, qhi) = b.aiq_interval, b.q_at_cbest_interval
        nlo, nhi = b.anchored_aiq_interval
        print(
            f"  {label:<22} dAIQ {b.aiq_diff:+.4f} [{alo:+.4f}, {ahi:+.4f}]  danchored "
            f"{b.anchored_aiq_diff:+.4f} [{nlo:+.4f}, {nhi:+.4f}]  dQ@Cbest "
            f"{b.q_at_cbest_diff:+.4f} [{qlo:+.4f}, {qhi:+.4f}]"
        )
    r = report.routers["auto"]
    if name in PEERS:
        print(f"  best peer Q@Cbest {PEERS[name]:.4f}: auto {r.q_at_cbest:.4f}")
    print(f"auto chose {auto.chosen_}: {auto.report_['why']}")
    ranked = sorted(auto.report_["candidates"].items(), key=lambda kv: -kv[1]["score"])
    for cand, fig in ranked[:6]:
        print(
            f"    validation {cand:<60} anchored {fig['anchored_aiq']:.4f}  Q@Cbest "
            f"{fig['q_at_cbest']:.4f}"
        )
    print(f"fit seconds {fit_seconds}; total {time.perf_counter() - t0:.0f} s\n", flush=True)
    return {
        "report": report.to_dict(),
        "auto_vs": {k: b.to_dict() for k, b in vs.items()},
        "auto_choice": auto.report_,
        "fit_seconds": fit_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="../shared/data", type=Path)
    p.add_argument("--datasets", default="routerbench_zs,llmrouter_nim,domain_experts_7b")
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--n-repeats", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    out = {
        name: run_dataset(name, args.data_root, args.n_folds, args.n_repeats)
        for name in args.datasets.split(",")
    }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
