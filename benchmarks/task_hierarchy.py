"""A known task key vs none: the engine's online router on held-out TRAIN prompts of real tables.

The tables' prompts carry their source benchmark (``task``: routerbench_zs ARC / MBPP /
Winogrande; llmrouter_nim 14 tasks, ...). In production that key is the chain, node or template
name the adapters pass with ``task_key=``. This script streams 80% of a table's train prompts
through :class:`shared.RoutingEngine` (the default cold-start router, the demo's replay cards,
one preference per prompt with a Beta(1, 1) cost weight) and measures the learned router on the
other 20% (the test split is never read), twice per seed and in the same order:

* ``none``: the engine as before, no task key;
* ``task``: every route and rating carries the prompt's task (``task_strength`` from
  ``--strengths``; the default router's is 5).

Two protocols: ``bandit`` (each prompt is routed and only the chosen model's outcome is learned:
what users give) and ``full`` (every model's outcome of each stream prompt is learned: a
full-information replay, ``RidgeRouter.partial_fit`` with and without tasks). Held-out decisions
use the router's predictions (with the prompt's task in ``task``) swept over the price of quality;
reported: AIQ and Q@Cbest after 10/25/50/100% of the stream, and ``task - none`` with a 95%
paired bootstrap interval over the held-out prompts of every seed pooled.

    python benchmarks/task_hierarchy.py --data-root ../shared/data --datasets routerbench_zs \\
        llmrouter_nim --seeds 0 1 2 --json out/task_hierarchy.json

Progress (rate, ETA) goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from langchain_router.demo import PrecomputedEncoder
from shared import Preference, RidgeRouter, RoutingEngine, cached_embeddings, default_encoder
from shared.engine import cold_start_router, estimate_tokens
from shared.evaluation.bootstrap import paired_bootstrap
from shared.evaluation.metrics import (
    aiq,
    best_single_index,
    frontier,
    quality_at_cost,
    single_model_points,
)
from shared.evaluation.sweep import default_lambdas, points_of_choices, scalarized_choices
from shared.tables import read_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from online_prior import USD_PER_TOKEN, replay_cards

CHECKPOINTS = (0.1, 0.25, 0.5, 1.0)
FloatArray = NDArray[np.float64]


def choices_of(router: RidgeRouter, X: FloatArray, tasks: list[str] | None) -> NDArray[np.intp]:
    """The held-out sweep: predicted quality and cost, scalarized at every price."""
    q, c = router.predict_outcomes(X, tasks=tasks)
    return scalarized_choices(q, c, default_lambdas())


def figures(choices: NDArray[np.intp], Q: FloatArray, C: FloatArray) -> tuple[float, float]:
    single = single_model_points(Q, C)
    c_max, c_best = float(single[:, 0].max()), float(single[best_single_index(single), 0])
    front = frontier(points_of_choices(choices, Q, C))
    return aiq(front, c_max), quality_at_cost(front, c_best)


class Checkpoints:
    """At each checkpoint step: the held-out sweep's figures into ``run["curve"]`` and its
    choices into ``pooled[(protocol, arm, share)]`` (for the pooled bootstrap)."""

    def __init__(
        self,
        marks: dict[int, float],
        X: FloatArray,
        Q: FloatArray,
        C: FloatArray,
        tasks: list[str],
        run: dict[str, Any],
        pooled: dict[tuple[str, str, float], list[NDArray[np.intp]]],
    ) -> None:
        self.marks, self.X, self.Q, self.C, self.tasks = marks, X, Q, C, tasks
        self.run, self.pooled = run, pooled

    def __call__(self, step: int, router: RidgeRouter) -> None:
        share = self.marks.get(step)
        if share is None:
            return
        run = self.run
        ch = choices_of(router, self.X, None if run["arm"] == "none" else self.tasks)
        a, q = figures(ch, self.Q, self.C)
        run["curve"].append({"share": share, "aiq": a, "q_at_cbest": q})
        self.pooled.setdefault((run["protocol"], run["arm"], share), []).append(ch)


def stream_bandit(
    engine: RoutingEngine,
    prompts: list[str],
    tasks: list[str] | None,
    Q: FloatArray,
    C: FloatArray,
    models: list[str],
    w_costs: FloatArray,
    on_mark: Checkpoints,
) -> None:
    for step, prompt in enumerate(prompts, start=1):
        task = None if tasks is None else tasks[step - 1]
        pref = Preference(quality=1.0 - w_costs[step - 1], cost=w_costs[step - 1])
        d = engine.route(prompt, pref, input_tokens=estimate_tokens(prompt), task=task)
        j = models.index(d.model)
        c = float(C[step - 1, j])
        engine.learn(
            prompt,
            d.model,
            float(Q[step - 1, j]),
            c,
            propensity=d.propensity,
            preference=pref,
            input_tokens=0,
            output_tokens=round(c / USD_PER_TOKEN),
            task=task,
        )
        assert isinstance(engine.router, RidgeRouter)
        on_mark(step, engine.router)


def run_dataset(args: argparse.Namespace, name: str) -> dict[str, Any]:
    table = read_table(Path(args.data_root) / name, on_duplicate="keep")
    encoder = default_encoder()
    every = cached_embeddings(list(table.prompts), encoder)  # the whole table: the cached file
    keep = np.array([s == "train" for s in table.splits], dtype=bool)
    keep &= np.isfinite(table.quality).all(axis=1) & np.isfinite(table.cost).all(axis=1)
    train = table.subset(keep)
    vectors = np.asarray(every[keep], dtype=np.float32)
    X = np.asarray(vectors, dtype=np.float64)
    fast = PrecomputedEncoder(encoder, list(train.prompts), vectors)
    models = list(train.models)
    task_arr = np.array(train.tasks, dtype=object)
    arms = ["none", *(f"task s={s:g}" for s in args.strengths)]
    out: dict[str, Any] = {"dataset": name, "n_train": train.n_prompts, "runs": []}
    pooled: dict[tuple[str, str, float], list[NDArray[np.intp]]] = {}
    pooled_rows: list[NDArray[np.intp]] = []
    total = len(args.seeds) * len(args.protocols) * len(arms)
    done, started = 0, time.perf_counter()
    for seed in args.seeds:
        perm = np.random.default_rng(seed).permutation(train.n_prompts)
        cut = round((1 - args.holdout) * len(perm))
        stream, val = perm[:cut], perm[cut:]
        if args.limit:
            stream = stream[: args.limit]
        pooled_rows.append(val)
        w_costs = np.random.default_rng(seed + 1000).beta(1.0, 1.0, size=len(stream))
        marks = {max(1, round(f * len(stream))): f for f in CHECKPOINTS}
        Xv, Qv, Cv = X[val], train.quality[val], train.cost[val]
        val_tasks = [str(t) for t in task_arr[val]]
        for protocol in args.protocols:
            for arm in arms:
                strength = float(arm.split("=")[1]) if arm != "none" else None
                tasks = None if strength is None else [str(t) for t in task_arr[stream]]
                run: dict[str, Any] = {"seed": seed, "protocol": protocol, "arm": arm, "curve": []}

                mark = Checkpoints(marks, Xv, Qv, Cv, val_tasks, run, pooled)
                base = replace_strength(cold_start_router(random_state=seed), strength)
                if protocol == "bandit":
                    engine = RoutingEngine(
                        replay_cards(models, train.cost[stream]), router=base, encoder=fast
                    )
                    stream_bandit(
                        engine,
                        [train.prompts[i] for i in stream],
                        tasks,
                        train.quality[stream],
                        train.cost[stream],
                        models,
                        w_costs,
                        mark,
                    )
                else:  # full information: every model's outcome of each prompt, in order
                    router = base.set_params(exploration="none")
                    prev = 0
                    for step in sorted(marks):
                        rows = stream[prev:step]
                        router.partial_fit(
                            X[rows],
                            train.quality[rows],
                            train.cost[rows],
                            models=models,
                            tasks=None if tasks is None else tasks[prev:step],
                        )
                        prev = step
                        mark(step, router)
                out["runs"].append(run)
                done += 1
                rate = (time.perf_counter() - started) / done
                last = run["curve"][-1]
                print(
                    f"[{name} {done}/{total}, {rate:.0f} s/run, ETA {rate * (total - done):.0f} s]"
                    f" seed {seed} {protocol} {arm}: AIQ {last['aiq']:.4f} Q@Cbest "
                    f"{last['q_at_cbest']:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
    rows = np.concatenate(pooled_rows)
    Qp, Cp = train.quality[rows], train.cost[rows]
    out["pooled"] = []
    for protocol in args.protocols:
        for arm in arms[1:]:
            for share in CHECKPOINTS:
                a = np.concatenate(pooled[(protocol, arm, share)], axis=1)
                b = np.concatenate(pooled[(protocol, "none", share)], axis=1)
                boot = paired_bootstrap(a, b, Qp, Cp, n_resamples=args.resamples, random_state=0)
                out["pooled"].append(
                    {
                        "protocol": protocol,
                        "arm": arm,
                        "share": share,
                        "aiq": figures(a, Qp, Cp)[0],
                        "aiq_none": figures(b, Qp, Cp)[0],
                        "aiq_diff": boot.aiq_diff,
                        "aiq_interval": boot.aiq_interval,
                        "q_at_cbest": figures(a, Qp, Cp)[1],
                        "q_at_cbest_none": figures(b, Qp, Cp)[1],
                        "q_at_cbest_diff": boot.q_at_cbest_diff,
                        "q_at_cbest_interval": boot.q_at_cbest_interval,
                    }
                )
    return out


def replace_strength(router: RidgeRouter, strength: float | None) -> RidgeRouter:
    """The default router, with the task strength of an arm (unused by ``none``)."""
    return router if strength is None else router.set_params(task_strength=strength)


def summarize(results: list[dict[str, Any]]) -> None:
    print(
        f"{'dataset':<16} {'protocol':<7} {'arm':<10} {'share':>5} {'AIQ':>7} {'none':>7} "
        f"{'diff [95% CI]':>27} {'Q@Cb':>7} {'none':>7} {'diff [95% CI]':>27}"
    )
    for res in results:
        for p in res["pooled"]:
            lo, hi = p["aiq_interval"]
            qlo, qhi = p["q_at_cbest_interval"]
            print(
                f"{res['dataset']:<16} {p['protocol']:<7} {p['arm']:<10} {p['share']:>5.0%} "
                f"{p['aiq']:>7.4f} {p['aiq_none']:>7.4f} "
                f"{p['aiq_diff']:>+8.4f} [{lo:+.4f}, {hi:+.4f}] "
                f"{p['q_at_cbest']:>7.4f} {p['q_at_cbest_none']:>7.4f} "
                f"{p['q_at_cbest_diff']:>+8.4f} [{qlo:+.4f}, {qhi:+.4f}]"
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", required=True, help="folder holding the routing tables")
    p.add_argument("--datasets", nargs="+", default=["routerbench_zs", "llmrouter_nim"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--holdout", type=float, default=0.2, help="share of train held out")
    p.add_argument("--strengths", type=float, nargs="+", default=[5.0])
    p.add_argument("--protocols", nargs="+", default=["bandit", "full"], choices=["bandit", "full"])
    p.add_argument("--limit", type=int, default=0, help="stream at most this many prompts")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--json", default=None, help="write every run here")
    args = p.parse_args(argv)
    results = [run_dataset(args, name) for name in args.datasets]
    summarize(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
