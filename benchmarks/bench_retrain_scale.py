"""Retrain from a large feedback store: in-memory vs streaming vs a 2-worker Dask local cluster.

Generates ``--n`` synthetic rated decisions with stored float16 embeddings (random unit vectors
of ``--dim`` dimensions, 4 models, costs, ratings) directly in a PostgreSQL database (bulk
INSERTs, not stored in the repository), then times each engine in a fresh subprocess and reports
its wall time and peak resident memory (``ru_maxrss``). Every engine's router is checked against
the streaming one (max |coef| difference).

Usage (a separate database, niced; the machine is shared)::

    runuser -u postgres -- createdb -O prefroute prefroute_bench
    nice python benchmarks/bench_retrain_scale.py --n 200000 \
        --url 'postgresql+psycopg://prefroute:prefroute@127.0.0.1:5432/prefroute_bench'

The encoding cost of rows *without* stored embeddings is sampled separately
(``--encode-sample`` prompts through MiniLM) and extrapolated linearly; it is reported, not run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

MODELS = ("m-large", "m-mid", "m-small", "m-tiny")


def generate(url: str, n: int, dim: int, seed: int) -> float:
    """Insert ``n`` rated decisions with float16 embeddings; returns seconds taken."""
    from sqlalchemy import insert

    from shared import FeedbackStore
    from shared.feedback._schema import DECISIONS, METADATA, RATINGS

    start = time.perf_counter()
    store = FeedbackStore(url)
    METADATA.drop_all(store._engine)
    store.close()
    store = FeedbackStore(url)
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5000
    for lo in range(0, n, batch):
        k = min(batch, n - lo)
        X = rng.normal(size=(k, dim)).astype(np.float32)
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        chosen = rng.integers(len(MODELS), size=k)
        quality = np.clip(0.5 + X[:, 0] * (chosen - 1.5) + 0.1 * rng.normal(size=k), 0, 1)
        cost = 0.001 * (4 - chosen) * rng.uniform(0.5, 1.5, size=k)
        ids = [uuid.uuid4().hex for _ in range(k)]
        rows: list[dict[str, Any]] = []
        for i in range(k):
            m = MODELS[int(chosen[i])]
            rows.append(
                {
                    "decision_id": ids[i],
                    "run_id": None,
                    "created_at": t0 + timedelta(seconds=lo + i),
                    "router": "RidgeRouter",
                    "chosen_model": m,
                    "model": m,
                    "models": list(MODELS),
                    "propensity": 1.0,
                    "preference": {"quality": 1.0, "cost": 0.0, "latency": 0.0},
                    "prompt": f"synthetic prompt {lo + i}",
                    "scores": dict.fromkeys(MODELS, 0.0),
                    "fallbacks": [],
                    "cost_usd": float(cost[i]) if i % 10 else None,
                    "metadata": {},
                    "embedding": X[i].astype("<f2").tobytes(),
                    "embedding_encoder": f"hashing:{dim}",
                    "embedding_fingerprint": _fingerprint(dim),
                    "embedding_dim": dim,
                    "embedding_dtype": "float16",
                }
            )
        ratings = [
            {"decision_id": ids[i], "source": "user", "score": float(quality[i]), "rated_at": t0}
            for i in range(k)
        ]
        with store._engine.begin() as conn:
            conn.execute(insert(DECISIONS), rows)
            conn.execute(insert(RATINGS), ratings)
        print(f"generated {lo + k}/{n}", file=sys.stderr, flush=True)
    store.close()
    return time.perf_counter() - start


def _fingerprint(dim: int) -> str:
    from shared import HashingEncoder
    from shared.embedding import encoder_fingerprint

    return encoder_fingerprint(HashingEncoder(n_features=dim))


def run_engine(url: str, engine: str, dim: int) -> dict[str, Any]:
    """Run one engine in this process (called in a subprocess); prints a JSON line."""
    import functools

    from shared import FeedbackStore, HashingEncoder, RidgeRouter
    from shared.feedback.training import LogReader, fit_ridge_streaming, read_log

    encoder = HashingEncoder(n_features=dim)  # never called: every row has a stored embedding
    start = time.perf_counter()
    with FeedbackStore(url) as store:
        if engine == "stream":
            result = fit_ridge_streaming(RidgeRouter(alpha="gcv"), store, encoder)
            router, rows, encoded = result.router, result.rows, result.encoded
        elif engine == "dask":
            from distributed import Client, LocalCluster

            from shared.feedback.distributed import fit_ridge_dask

            with (
                LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl,
                Client(cl) as client,
            ):
                factory = functools.partial(HashingEncoder, n_features=dim)
                result = fit_ridge_dask(
                    RidgeRouter(alpha="gcv"), store, factory, client=client, partitions=8
                )
            router, rows, encoded = result.router, result.rows, result.encoded
        else:
            from shared.feedback.learner import fill_missing_costs

            log, X, encoded = read_log(LogReader(store, encoder))
            router = RidgeRouter(alpha="gcv").fit_bandit(
                X, list(log.chosen), log.quality, fill_missing_costs(log), log.propensity,
                models=list(log.models),
            )  # fmt: skip
            rows = len(log)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.save(f"/tmp/bench_retrain_{engine}.npy", router.coef_)
    return {"engine": engine, "rows": rows, "encoded": encoded, "seconds": seconds,
            "peak_rss_mb": peak_mb}  # fmt: skip


def sample_encoding(k: int) -> float:
    """MiniLM seconds per prompt on ``k`` prompts of ~200 characters (batched)."""
    from shared.encoders import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder()
    texts = [f"question {i}: " + "explain the trade-off between cost and quality " * 4
             for i in range(k)]  # fmt: skip
    enc.encode(texts[:8])  # load
    start = time.perf_counter()
    enc.encode(texts)
    return (time.perf_counter() - start) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", default="stream,memory,dask")
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--encode-sample", type=int, default=0)
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # subprocess mode
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args.url, args.engine, args.dim)))
        return
    if not args.skip_generate:
        print(
            f"generate {args.n} decisions: {generate(args.url, args.n, args.dim, args.seed):.1f} s"
        )
    results = []
    for engine in args.engines.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--url", args.url, "--dim", str(args.dim),
             "--engine", engine],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{engine:7s} rows {r['rows']}  encoded {r['encoded']}  {r['seconds']:.1f} s  "
              f"{r['rows'] / r['seconds']:.0f} rows/s  peak RSS {r['peak_rss_mb']:.0f} MB")  # fmt: skip
    ref = np.load("/tmp/bench_retrain_stream.npy")
    for r in results:
        diff = float(np.abs(np.load(f"/tmp/bench_retrain_{r['engine']}.npy") - ref).max())
        print(f"{r['engine']:7s} max |coef - stream coef| = {diff:.2e}")
    if args.encode_sample:
        per = sample_encoding(args.encode_sample)
        print(f"MiniLM encoding: {1e3 * per:.2f} ms per prompt (batched, 1 process) -> "
              f"{per * args.n:.0f} s for {args.n} prompts without stored embeddings")  # fmt: skip


if __name__ == "__main__":
    main()
