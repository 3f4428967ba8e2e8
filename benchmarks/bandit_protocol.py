"""Every shipped bandit router under ``prefroute evaluate --feedback bandit``, with intervals.

The protocol is the CLI's (``shared.cli.evaluate``): each router is built with its bandit settings
(``build_router(name, feedback="bandit")``) and streamed once over the train split from nothing.
For each prompt (in a random order) a preference is drawn (price of quality log-uniform in
[0.01, 100]), the router decides with its own exploration, and only the chosen model's outcome is
revealed, with the propensity of the choice. Online routers learn by ``update``; BaRP learns by
re-training off-policy (``fit_bandit``, doubly robust) on everything revealed so far, on a
doubling schedule, as a deployment re-training from its feedback store does.

At 25 %, 50 % and 100 % of the stream, the router's test sweep is compared by a paired bootstrap
(``shared.evaluation.paired_bootstrap``, 95 % percentile intervals over the test prompts) with
the single models' hull, and at 100 % with the same router trained on full information.

    python benchmarks/bandit_protocol.py --datasets routerbench_zs llmrouter_nim --json out.json
    python benchmarks/bandit_protocol.py --validation   # train-only: 80/20 split of train

``--validation`` replaces the test split by a random 20 % of the train split (the stream uses
the other 80 %): that is how the bandit settings were chosen, never on test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from shared import cached_embeddings, default_encoder, read_table
from shared.cli.evaluate import bandit_stream_options, build_router
from shared.evaluation import (
    aiq,
    frontier,
    paired_bootstrap,
    route_sweep,
    simulate_bandit,
    single_model_choices,
    single_model_points,
)
from shared.evaluation.metrics import best_single_index

DATASETS = ("routerbench_zs", "llmrouter_nim")
ROUTERS = ("thompson", "linucb", "egreedy", "ridge", "barp")
FRACTIONS = (0.25, 0.5, 1.0)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def splits(table: Any, validation: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and evaluation row indices (evaluation rows have every model observed)."""
    names = np.asarray(table.splits)
    train = np.flatnonzero(names == "train")
    if validation:
        perm = np.random.default_rng(100 + seed).permutation(train)
        n_val = len(train) // 5
        evaluation, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    else:
        evaluation = np.flatnonzero(names == "test")
    complete = table.observed[evaluation].all(axis=1)
    return train, evaluation[complete]


def run_router(
    name: str, table: Any, X: np.ndarray, tr: np.ndarray, ev: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    models = list(table.models)
    Q, C = table.quality[ev], table.cost[ev]
    hull = single_model_choices(len(models), len(ev))
    boot = {"n_resamples": args.resamples, "random_state": args.seed}
    rows: list[dict[str, Any]] = []
    snapshots: dict[float, np.ndarray] = {}
    start = time.perf_counter()

    def checkpoint(frac: float, router: Any, _value: float | None) -> None:
        snapshots[frac] = route_sweep(router, X[ev], models)[0]
        log(f"  {name}: {frac:.0%} of the stream ({time.perf_counter() - start:.0f} s)")

    router = build_router(name, seed=args.seed, feedback="bandit")
    router.set_params(**args.params.get(name, {}))
    simulate_bandit(
        router, X[tr], table.quality[tr], table.cost[tr], models, seed=args.seed,
        checkpoints=FRACTIONS, on_checkpoint=checkpoint, **bandit_stream_options(name, len(tr)),
    )  # fmt: skip
    full = build_router(name, seed=args.seed, feedback="full")
    full.fit(X[tr], table.quality[tr], table.cost[tr], models=models)
    full_choices = route_sweep(full, X[ev], models)[0]
    for frac in FRACTIONS:
        vs_hull = paired_bootstrap(snapshots[frac], hull, Q, C, **boot)
        row: dict[str, Any] = {"router": name, "fraction": frac, "vs_hull": vs_hull.to_dict()}
        if frac == 1.0:
            row["vs_full"] = paired_bootstrap(snapshots[frac], full_choices, Q, C, **boot).to_dict()
        rows.append(row)
    return {"rows": rows, "seconds": round(time.perf_counter() - start, 1)}


def _interval(d: dict[str, Any], key: str) -> str:
    lo, hi = d[f"{key}_interval"]
    return f"{d[f'{key}_diff']:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def markdown(ds: str, hull: dict[str, float], results: dict[str, Any]) -> str:
    lines = [
        f"### {ds}: hull AIQ {hull['aiq']:.4f}, best single model Q {hull['q_best']:.4f}",
        "",
        "| router | stream | AIQ | - hull (95 % interval) | Q@Cbest - best single | AIQ - full twin |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, res in results.items():
        for row in res["rows"]:
            h = row["vs_hull"]
            twin = _interval(row["vs_full"], "aiq") if "vs_full" in row else ""
            lines.append(
                f"| {name} | {row['fraction']:.0%} | {hull['aiq'] + h['aiq_diff']:.4f} "
                f"| {_interval(h, 'aiq')} | {_interval(h, 'q_at_cbest')} | {twin} |"
            )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default="/work/shared/data")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--routers", nargs="+", default=list(ROUTERS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--validation", action="store_true", help="evaluate on 20 %% of train")
    p.add_argument("--json", default=None)
    p.add_argument(
        "--params",
        type=json.loads,
        default={},
        help='bandit-setting overrides per router, as JSON: \'{"linucb": {"guard": false}}\' '
        "(how settings are compared on --validation)",
    )
    args = p.parse_args()
    out: dict[str, Any] = {
        "seed": args.seed,
        "validation": args.validation,
        "params": args.params,
        "datasets": {},
    }
    for ds in args.datasets:
        table = read_table(Path(args.data_root) / ds, on_duplicate="keep")
        X = np.asarray(cached_embeddings(list(table.prompts), default_encoder()), dtype=float)
        tr, ev = splits(table, args.validation, args.seed)
        Q, C = table.quality[ev], table.cost[ev]
        pts = single_model_points(Q, C)
        hull = {
            "aiq": aiq(frontier(pts), float(pts[:, 0].max())),
            "q_best": float(pts[best_single_index(pts), 1]),
        }
        log(f"[{ds}] stream of {len(tr)} train prompts, {len(ev)} evaluation prompts")
        results = {name: run_router(name, table, X, tr, ev, args) for name in args.routers}
        out["datasets"][ds] = {"hull": hull, "routers": results}
        print(markdown(ds, hull, results), flush=True)
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
