"""BaRP trained from bandit feedback only, against full information and linear bandits.

For each dataset (train split to learn, test split to report, metrics of docs/evaluation.md):

1. Paper protocol: the train table is only a simulator. ``BaRPRouter(feedback="bandit")`` samples a
   preference and a model from its policy and sees that outcome only; ``feedback="full"`` trains the
   same policy on the exact expected reward (every outcome). Learning curve: test AIQ after 10, 25,
   50 and 100 % of the optimizer steps (same seed).
2. One shared log: ``--passes`` passes over the train prompts, each revealing one uniformly chosen
   model (propensity 1/K), no preferences logged. BaRP (off-policy, clipped importance weights,
   preferences resampled), RidgeRouter, LinUCB, linear Thompson and epsilon-greedy all learn from
   that same log with ``fit_bandit``. Learning curve: test AIQ after 10/25/50/100 % of the log.
3. Streaming (``--stream-passes``, default 1): each router starts from nothing
   (``initialize``) and decides with its own exploration on a preference drawn per prompt; only the
   chosen outcome is revealed through ``update`` (``shared.evaluation.simulate_bandit``).
4. ``--tau``: sensitivity of BaRP (paper protocol) to the cost cap quantile.

    python benchmarks/barp_bandit_feedback.py --json barp.json
    python benchmarks/barp_bandit_feedback.py --datasets routerbench_zs --embeddings /tmp/emb

Embeddings: MiniLM through shared.cached_embeddings (encoded once per machine), or precomputed
matrices with --embeddings DIR (DIR/<dataset>.npy rows in prompts.jsonl order, DIR/<dataset>.ids.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shared import (
    BaRPRouter,
    EpsilonGreedyRouter,
    LinearThompsonRouter,
    LinUCBRouter,
    RidgeRouter,
    RoutingTable,
    read_table,
)
from shared.evaluation import (
    bandit_log_from_table,
    evaluate_routers,
    plot_learning_curves,
    plot_pareto,
    router_aiq,
    simulate_bandit,
)

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("routerbench_zs", "llmrouter_nim")
FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def embed(table: RoutingTable, dataset: str, emb_dir: str | None) -> np.ndarray:
    if emb_dir:
        E = np.load(Path(emb_dir) / f"{dataset}.npy")
        ids = json.loads((Path(emb_dir) / f"{dataset}.ids.json").read_text())
        pos = {i: k for k, i in enumerate(ids)}
        return np.asarray(E[[pos[i] for i in table.ids]], dtype=np.float64)
    from shared import cached_embeddings, default_encoder

    return np.asarray(cached_embeddings(list(table.prompts), default_encoder(), progress=True))


def shared_log(train: RoutingTable, passes: int, seed: int) -> dict[str, Any]:
    parts = [bandit_log_from_table(train, seed=seed + p) for p in range(passes)]
    order = np.random.default_rng(seed).permutation(passes * train.n_prompts)
    rows = np.concatenate([p.rows for p in parts])[order]
    chosen = [m for p in parts for m in p.chosen]
    return {
        "rows": rows,
        "chosen": [chosen[i] for i in order],
        "quality": np.concatenate([p.quality for p in parts])[order],
        "cost": np.concatenate([p.cost for p in parts])[order],
        "propensity": np.concatenate([p.propensity for p in parts])[order],
    }


def run_dataset(ds: str, args: argparse.Namespace) -> dict[str, Any]:
    table = read_table(Path(args.data_root) / ds, on_duplicate="first")
    X_all = embed(table, ds, args.embeddings)
    splits = np.asarray(table.splits)
    tr, te = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "test")
    train = table.subset(tr).complete()
    keep = np.flatnonzero(table.subset(tr).observed.all(axis=1))
    Xtr, Xte = X_all[tr][keep], X_all[te]
    Qte, Cte = table.quality[te], table.cost[te]
    models = list(table.models)
    test = (Xte, Qte, Cte)
    log(f"[{ds}] train {train.n_prompts} prompts, test {len(te)}, {len(models)} models")

    routers: dict[str, Any] = {}
    curves: dict[str, list[tuple[float, float]]] = {}
    info: dict[str, dict[str, Any]] = {}
    barp_params = dict(json.loads(args.barp_params), random_state=args.seed)
    n_steps = int(barp_params.pop("n_steps", args.n_steps))

    # 1. paper protocol: the table as a simulator
    for feedback in ("bandit", "full"):
        name = f"BaRP ({feedback} feedback, simulator)"
        curve = []
        for f in FRACTIONS:
            r = BaRPRouter(n_steps=max(1, int(f * n_steps)), feedback=feedback, **barp_params)
            t0 = time.perf_counter()
            r.fit(Xtr, train.quality, train.cost, models=models)
            elapsed = time.perf_counter() - t0
            curve.append((f, router_aiq(r, *test, models)))
            log(
                f"[{ds}] {name} {f:.0%} of {n_steps} steps: AIQ {curve[-1][1]:.4f} ({elapsed:.1f}s)"
            )
        routers[name], curves[name] = r, curve
        per_prompt = r.n_actions if feedback == "bandit" else len(models)
        reveals = n_steps * r.batch_size * per_prompt
        info[name] = {"fit_seconds": round(elapsed, 2), "n_steps": n_steps, "reveals": reveals}

    # 2. one shared uniform log for every router
    L = shared_log(train, args.passes, args.seed)
    n_log = len(L["rows"])
    makers: dict[str, Callable[[], Any]] = {
        "BaRP (off-policy, shared log)": lambda: BaRPRouter(n_steps=n_steps, **barp_params),
        "Ridge (shared log)": lambda: RidgeRouter(random_state=args.seed),
        "LinUCB (shared log)": lambda: LinUCBRouter(random_state=args.seed),
        "Thompson (shared log)": lambda: LinearThompsonRouter(random_state=args.seed),
        "eps-greedy (shared log)": lambda: EpsilonGreedyRouter(random_state=args.seed),
    }
    for name, make in makers.items():
        curve = []
        for f in FRACTIONS:
            m = max(1, int(f * n_log))
            rb = make()
            t0 = time.perf_counter()
            rb.fit_bandit(
                Xtr[L["rows"][:m]],
                L["chosen"][:m],
                L["quality"][:m],
                L["cost"][:m],
                L["propensity"][:m],
                models=models,
            )
            elapsed = time.perf_counter() - t0
            curve.append((f, router_aiq(rb, *test, models)))
            log(
                f"[{ds}] {name} {f:.0%} of {n_log} records: AIQ {curve[-1][1]:.4f} ({elapsed:.1f}s)"
            )
        routers[name], curves[name] = rb, curve
        info[name] = {"fit_seconds": round(elapsed, 2), "reveals": n_log}

    # 3. streaming: every router explores for itself, one revealed outcome per decision
    if args.stream_passes:
        streamers: dict[str, Callable[[], Any]] = {
            "Ridge UCB (stream)": lambda: RidgeRouter(
                exploration="ucb", solver="sherman_morrison", random_state=args.seed
            ),
            "LinUCB (stream)": lambda: LinUCBRouter(random_state=args.seed),
            "Thompson (stream)": lambda: LinearThompsonRouter(random_state=args.seed),
            "eps-greedy (stream)": lambda: EpsilonGreedyRouter(random_state=args.seed),
            "BaRP online update (stream)": lambda: BaRPRouter(**barp_params),
        }
        for name, make in streamers.items():
            t0 = time.perf_counter()
            sim = simulate_bandit(
                make(),
                Xtr,
                train.quality,
                train.cost,
                models,
                seed=args.seed,
                n_passes=args.stream_passes,
                checkpoints=FRACTIONS,
                test=test,
            )
            elapsed = time.perf_counter() - t0
            curve = [(f, float(v)) for f, v in sim.curve if v is not None]
            log(f"[{ds}] {name}: curve {[round(v, 4) for _, v in curve]} ({elapsed:.1f}s)")
            routers[name], curves[name] = sim.router, curve
            info[name] = {
                "stream_seconds": round(elapsed, 2),
                "reveals": args.stream_passes * train.n_prompts,
                "stream_mean_quality": sim.mean_quality,
                "stream_mean_cost": sim.mean_cost,
            }

    report = evaluate_routers(
        routers,
        Xte,
        Qte,
        Cte,
        models,
        dataset=ds,
        learning_curves=curves,
        info=info,
        meta={
            "seed": args.seed,
            "passes": args.passes,
            "barp_params": barp_params,
            "n_steps": n_steps,
            "embeddings": args.embeddings or "minilm (cached_embeddings)",
        },
    )
    print(report.format_table())
    img = Path(args.img_dir)
    img.mkdir(parents=True, exist_ok=True)
    plot_pareto(
        report, img / f"barp_{ds}_frontier.png", title=f"{ds}: routers trained from bandit feedback"
    )
    plot_learning_curves(report, img / f"barp_{ds}_learning.png")
    out: dict[str, Any] = {"report": json.loads(report.to_json())}

    # 3. tau sensitivity (paper protocol, bandit feedback)
    if args.tau:
        sens = []
        for qtl in args.tau:
            r = BaRPRouter(n_steps=n_steps, cost_quantile=qtl, **barp_params)
            r.fit(Xtr, train.quality, train.cost, models=models)
            sub = evaluate_routers({"barp": r}, Xte, Qte, Cte, models, dataset=ds)
            res = sub.routers["barp"]
            sens.append(
                {
                    "quantile": qtl,
                    "tau": r.cost_scale_,
                    "aiq": res.aiq,
                    "q_at_cbest": res.q_at_cbest,
                }
            )
            log(
                f"[{ds}] tau quantile {qtl}: tau {r.cost_scale_:.3g} AIQ {res.aiq:.4f} Q@Cbest {res.q_at_cbest:.4f}"
            )
        out["tau_sensitivity"] = sens
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--embeddings", help="directory of precomputed embeddings (see above)")
    ap.add_argument("--n-steps", type=int, default=2000, help="BaRP optimizer steps")
    ap.add_argument("--barp-params", default="{}", help="JSON of extra BaRPRouter parameters")
    ap.add_argument("--passes", type=int, default=10, help="passes of the shared uniform log")
    ap.add_argument("--stream-passes", type=int, default=1, help="0 skips the streaming protocol")
    ap.add_argument("--tau", nargs="*", type=float, default=[], help="cost quantiles to try")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--img-dir", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--json", help="write all results to this file")
    args = ap.parse_args()
    log(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    results = {ds: run_dataset(ds, args) for ds in args.datasets}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
