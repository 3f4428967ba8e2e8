"""The demo's online loop on a held-out part of a table's TRAIN prompts: choose the online router.

Replays ``prefroute demo``'s stream without LangChain (same cards, same preferences, same
learning calls through :class:`shared.RoutingEngine`) on 80% of the train prompts and measures the
learned router on the other 20% (the test split is never read). For each configuration and seed:
AIQ and Q@Cbest of the learned router after 10/25/50/100% of the stream, against the single models'
hull on the held-out prompts, and the quality at the best single model's cost with its gap.

    python benchmarks/online_prior.py --data ../shared/data/routerbench_zs --seeds 0 1 2 \\
        --config "ridge s=10 a=1 r=0.05" --config "linucb w=1" --json out/online_prior.json

A configuration is a router kind and ``key=value`` settings: ``ridge`` (the engine's cold-start
``RidgeRouter``; ``s`` prior strength, ``a`` ridge penalty, ``p`` pooled (shared) slope penalty, ``r`` max regret, ``w`` exploration
weight, ``e`` exploration kind, ``g`` the guard's margin in standard errors, no guard without it) or ``linucb`` (``w`` exploration weight, ``a`` penalty).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from langchain_router.demo import PrecomputedEncoder
from shared import (
    LinUCBRouter,
    ModelCard,
    Preference,
    RidgeRouter,
    RoutingEngine,
    default_encoder,
)
from shared.cli.tables import embed_rows, load_table, require_splits
from shared.engine import estimate_tokens
from shared.evaluation import evaluate_routers

#: Price of one reported output token of the demo's replay members.
USD_PER_TOKEN = 1e-7
CHECKPOINTS = (0.1, 0.25, 0.5, 1.0)


def parse_config(spec: str) -> tuple[str, dict[str, str]]:
    kind, *pairs = spec.split()
    return kind, dict(p.split("=", 1) for p in pairs)


def make_router(spec: str, seed: int) -> Any:
    kind, opts = parse_config(spec)
    if kind == "linucb":
        return LinUCBRouter(
            alpha=float(opts.get("a", 1.0)),
            exploration_weight=float(opts.get("w", 1.0)),
            random_state=seed,
        )
    if kind != "ridge":
        raise SystemExit(f"unknown router kind {kind!r}")
    return RidgeRouter(
        alpha=float(opts.get("a", 1.0)),
        prior_strength=float(opts.get("s", 10.0)),
        pooled_alpha=float(opts["p"]) if "p" in opts else None,
        exploration=opts.get("e", "safe"),
        exploration_weight=float(opts.get("w", 1.0)),
        max_regret=float(opts.get("r", 0.05)),
        guard="g" in opts,
        guard_margin=float(opts.get("g", 1.0)),
        solver="sherman_morrison",
        random_state=seed,
    )


def replay_cards(models: list[str], cost: np.ndarray) -> list[ModelCard]:
    """The cards ``ReplayChatModel.card()`` gives: output price per token, median cost."""
    cards = []
    for j, m in enumerate(models):
        median = float(np.sort(cost[:, j])[cost.shape[0] // 2])
        cards.append(
            ModelCard(
                m,
                output_usd_per_1m=USD_PER_TOKEN * 1e6,
                expected_output_tokens=round(median / USD_PER_TOKEN),
            )
        )
    return cards


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    loaded = load_table(args.data)  # the demo's loader: duplicate prompt ids merged
    table = loaded.table
    require_splits(table, "train")
    train = table.split("train")
    models = list(table.models)
    encoder = default_encoder()
    vectors = embed_rows(loaded, encoder, None)
    fast = PrecomputedEncoder(encoder, list(table.prompts), vectors.astype(np.float32))
    X = fast.encode(list(train.prompts)).astype(np.float64)
    rows: list[dict[str, Any]] = []
    total = len(args.seeds) * len(args.config)
    started = time.perf_counter()
    done = 0
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(train.n_prompts)
        cut = round((1 - args.holdout) * len(perm))
        stream, val = perm[:cut], perm[cut:]
        w_costs = np.random.default_rng(seed + 1000).beta(1.0, 1.0, size=len(stream))
        marks = {max(1, round(f * len(stream))): f for f in CHECKPOINTS}
        cards = replay_cards(models, train.cost[stream])
        for spec in args.config:
            engine = RoutingEngine(cards, router=make_router(spec, seed), encoder=fast)
            row: dict[str, Any] = {"config": spec, "seed": seed, "curve": []}
            for step, i in enumerate(stream, start=1):
                prompt = train.prompts[i]
                pref = Preference(quality=1.0 - w_costs[step - 1], cost=w_costs[step - 1])
                d = engine.route(prompt, pref, input_tokens=estimate_tokens(prompt))
                j = models.index(d.model)
                c = float(train.cost[i, j])
                engine.learn(
                    prompt,
                    d.model,
                    float(train.quality[i, j]),
                    c,
                    propensity=d.propensity,
                    preference=pref,
                    input_tokens=0,
                    output_tokens=round(c / USD_PER_TOKEN),
                )
                if step in marks:
                    rep = evaluate_routers(
                        {"online": engine.router},
                        X[val],
                        train.quality[val],
                        train.cost[val],
                        models,
                    )
                    r = rep.routers["online"]
                    row["curve"].append(
                        {
                            "share": marks[step],
                            "aiq": r.aiq,
                            "q_at_cbest": r.q_at_cbest,
                            "hull_aiq": rep.hull.aiq,
                            "q_best": rep.q_best,
                        }
                    )
            rows.append(row)
            done += 1
            rate = (time.perf_counter() - started) / done
            print(
                f"[{done}/{total}, ETA {rate * (total - done):.0f} s] seed {seed} {spec!r}: "
                + ", ".join(
                    f"{p['share']:.0%} AIQ {p['aiq']:.4f} (hull {p['hull_aiq']:.4f}) "
                    f"Q@Cbest {p['q_at_cbest']:.4f} (best {p['q_best']:.4f})"
                    for p in row["curve"]
                ),
                file=sys.stderr,
                flush=True,
            )
    return rows


def summarize(rows: list[dict[str, Any]]) -> None:
    print(f"{'config':<36} {'share':>5} {'AIQ-hull':>9} {'Q@Cb-best':>10} {'min over seeds':>15}")
    for spec in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == spec]
        for k, share in enumerate(CHECKPOINTS):
            da = [r["curve"][k]["aiq"] - r["curve"][k]["hull_aiq"] for r in mine]
            dq = [r["curve"][k]["q_at_cbest"] - r["curve"][k]["q_best"] for r in mine]
            print(
                f"{spec:<36} {share:>5.0%} {np.mean(da):>+9.4f} {np.mean(dq):>+10.4f} "
                f"{min(da):>+7.4f}/{min(dq):>+7.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="routing table directory")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--holdout", type=float, default=0.2, help="share of train held out")
    p.add_argument("--config", action="append", default=None, help="router configuration")
    p.add_argument("--json", default=None, help="write every run here")
    args = p.parse_args(argv)
    args.config = args.config or ["ridge s=10 a=1 r=0.05", "linucb w=1"]
    rows = run(args)
    summarize(rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
