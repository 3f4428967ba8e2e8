"""Speed of RidgeRouter: fit, one decision, online updates, add/remove (random data).

Usage:
    python benchmarks/bench_ridge.py [--n 30000] [--d 384] [--models 11] [--decisions 2000]
                                     [--threads 1] [--json OUT]
    python benchmarks/bench_ridge.py --compare routerbench_zs llmrouter_nim [--data DIR]
                                     [--embeddings-dir DIR] [--json OUT]

``--compare`` fits RidgeRouter (default: alpha chosen by leave-one-out on train), the reference
ridge yardstick (alpha=1, intercept penalized) and KNNRouter on each dataset's train split, and
prints the project's evaluation table (AIQ, Q@Cbest, C@Qbest on the test split). Embeddings come
from ``shared.cached_embeddings(prompts, shared.default_encoder())`` or, with
``--embeddings-dir``, from ``<dir>/<dataset>.npy`` (rows in prompts.jsonl order).

Goals (issue 2): fit on 30,000 x 384 with 11 models < 0.5 s; one decision from a given embedding
p50 < 100 us. Times are wall-clock on this machine; the ``route_scores`` row isolates the router's
own arithmetic from :meth:`BaseRouter.decide` (validation, Decision object, ranking).
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


def _timeit(fn: Callable[[], Any], repeat: int, warmup: int = 50) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = np.empty(repeat)
    for i in range(repeat):
        t0 = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t0
    return {
        "p50_us": float(np.percentile(times, 50) * 1e6),
        "p99_us": float(np.percentile(times, 99) * 1e6),
        "mean_us": float(times.mean() * 1e6),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from shared import Preference, RidgeRouter

    rng = np.random.default_rng(0)
    n, d, K = args.n, args.d, args.models
    X = rng.normal(size=(n, d)).astype(np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = (rng.uniform(size=(n, K)) < 0.6).astype(np.float64)
    C = rng.uniform(1e-4, 1e-2, size=(n, K))
    models = [f"m{k}" for k in range(K)]
    pref = Preference(quality=1, cost=1)
    out: dict[str, Any] = {"n": n, "d": d, "models": K, "threads": args.threads}
    out["load_average"] = os.getloadavg()[0]

    print("fit ...", file=sys.stderr)
    fits = []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        router = RidgeRouter(alpha=1.0).fit(X, Q, C, models=models)
        t1 = time.perf_counter()
        router.predict_outcomes(X[:1])  # the lazy solve
        fits.append((t1 - t0, time.perf_counter() - t0, time.process_time() - c0))
    out["fit_s"] = min(f[0] for f in fits)
    out["fit_and_solve_s"] = min(f[1] for f in fits)
    out["fit_and_solve_cpu_s"] = min(f[2] for f in fits)
    for alpha in ("gcv", "cv"):
        t0 = time.perf_counter()
        RidgeRouter(alpha=alpha).fit(X, Q, C, models=models).predict_outcomes(X[:1])
        out[f"fit_{alpha}_s"] = time.perf_counter() - t0

    print("decisions ...", file=sys.stderr)
    x = X[0]
    xr = X[:1]
    out["decide"] = _timeit(lambda: router.decide(x, pref), args.decisions)
    out["route_scores"] = _timeit(lambda: router._route_scores(xr, pref, False), args.decisions)
    ucb = RidgeRouter(alpha=1.0, exploration="ucb").fit(X[:5000], Q[:5000], C[:5000], models=models)
    out["decide_ucb"] = _timeit(lambda: ucb.decide(x, pref), args.decisions // 2)
    ts = RidgeRouter(alpha=1.0, exploration="thompson", random_state=0)
    ts.fit(X[:5000], Q[:5000], C[:5000], models=models)
    out["decide_thompson"] = _timeit(lambda: ts.decide(x, pref), args.decisions // 2)

    print("online updates ...", file=sys.stderr)
    for solver in ("cholesky", "sherman_morrison"):
        online = RidgeRouter(alpha=1.0, solver=solver).fit(
            X[:5000], Q[:5000], C[:5000], models=models
        )
        online.predict_outcomes(xr)
        m = args.updates
        t0 = time.perf_counter()
        for i in range(m):
            online.update(X[i], models[i % K], float(Q[i, i % K]), float(C[i, i % K]))
        t_upd = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(m):
            online.update(X[i], models[i % K], float(Q[i, i % K]), float(C[i, i % K]))
            online.decide(X[i + 1], pref)
        t_loop = time.perf_counter() - t0
        out[f"update_{solver}_per_s"] = m / t_upd
        out[f"update_then_decide_{solver}_per_s"] = m / t_loop
    t0 = time.perf_counter()
    part = RidgeRouter(alpha=1.0).initialize(models, d)
    for i in range(0, 5000, 100):
        part.partial_fit(X[i : i + 100], Q[i : i + 100], C[i : i + 100], models=models)
    part.predict_outcomes(xr)
    out["partial_fit_rows_per_s"] = 5000 / (time.perf_counter() - t0)

    print("add/remove ...", file=sys.stderr)
    t0 = time.perf_counter()
    router.add_model("new", X, Q[:, 0], C[:, 0])
    router.predict_outcomes(xr)
    out["add_model_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    router.remove_model("new")
    router.predict_outcomes(xr)
    out["remove_model_s"] = time.perf_counter() - t0
    return out


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """AIQ of RidgeRouter against the reference ridge on real routing tables (test split)."""
    from shared import KNNRouter, RidgeRouter, cached_embeddings, default_encoder, read_table
    from shared.evaluation import ReferenceRidgeRouter, evaluate_routers

    out: dict[str, Any] = {}
    for name in args.compare:
        table = read_table(Path(args.data) / name, on_duplicate="keep")
        if args.embeddings_dir:
            X = np.load(Path(args.embeddings_dir) / f"{name}.npy").astype(np.float64)
        else:
            X = np.asarray(cached_embeddings(list(table.prompts), default_encoder()), np.float64)
        splits = np.asarray(table.splits)
        tr, te = splits == "train", splits == "test"
        models = list(table.models)
        routers: dict[str, Any] = {
            "RidgeRouter()": RidgeRouter(),
            "reference ridge (alpha=1)": ReferenceRidgeRouter(alpha=1.0),
            "KNNRouter(k=40)": KNNRouter(k=40),
        }
        info = {}
        for label, router in routers.items():
            print(f"{name}: fitting {label} ...", file=sys.stderr)
            t0 = time.perf_counter()
            router.fit(X[tr], table.quality[tr], table.cost[tr], models=models)
            info[label] = {"fit_s": time.perf_counter() - t0}
        report = evaluate_routers(
            routers, X[te], table.quality[te], table.cost[te], models, dataset=name, info=info
        )
        print(report.format_table())
        alpha = routers["RidgeRouter()"].alpha_
        print(f"  RidgeRouter alpha_ chosen on train: {sorted(set(alpha.tolist()))}\n")
        out[name] = json.loads(report.to_json())
    return out


def _table(r: dict[str, Any]) -> str:
    rows = [
        ("fit (statistics)", f"{r['fit_s'] * 1e3:.0f} ms"),
        ("fit + first solve", f"{r['fit_and_solve_s'] * 1e3:.0f} ms  (goal < 500 ms)"),
        ("fit + first solve, CPU time", f"{r['fit_and_solve_cpu_s'] * 1e3:.0f} ms"),
        ("fit alpha='gcv' + solve", f"{r['fit_gcv_s'] * 1e3:.0f} ms"),
        ("fit alpha='cv' + solve", f"{r['fit_cv_s'] * 1e3:.0f} ms"),
    ]
    for key, label in (
        ("decide", "decide() p50 / p99"),
        ("route_scores", "_route_scores p50 / p99"),
        ("decide_ucb", "decide() UCB p50 / p99"),
        ("decide_thompson", "decide() Thompson p50 / p99"),
    ):
        rows.append((label, f"{r[key]['p50_us']:.0f} / {r[key]['p99_us']:.0f} us"))
    for solver in ("cholesky", "sherman_morrison"):
        rows.append((f"update/s ({solver})", f"{r[f'update_{solver}_per_s']:,.0f}"))
        rows.append(
            (f"update+decide/s ({solver})", f"{r[f'update_then_decide_{solver}_per_s']:,.0f}")
        )
    rows += [
        ("partial_fit rows/s (100-row batches)", f"{r['partial_fit_rows_per_s']:,.0f}"),
        ("add_model (n rows) + solve", f"{r['add_model_s'] * 1e3:.0f} ms"),
        ("remove_model", f"{r['remove_model_s'] * 1e3:.2f} ms"),
    ]
    head = (
        f"RidgeRouter, n={r['n']}, d={r['d']}, models={r['models']}, threads={r['threads']}, "
        f"load average {r['load_average']:.1f}"
    )
    width = max(len(a) for a, _ in rows)
    return "\n".join([head] + [f"  {a:<{width}}  {b}" for a, b in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--models", type=int, default=11)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--json", dest="json_out", default=None, help="write the results here")
    parser.add_argument("--compare", nargs="+", default=None, help="dataset folder names")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    parser.add_argument("--embeddings-dir", default=None)
    args = parser.parse_args(argv)
    if args.compare:
        result = compare(args)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result, indent=2), encoding="utf-8")
        return 0
    if args.threads is not None:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        import shared.routers.ridge  # noqa: F401  (load scipy's BLAS before limiting it)

        with threadpool_limits(limits=args.threads):
            result = run(args)
    else:
        result = run(args)
    print(_table(result))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
