"""Retrain from a large feedback store: in-memory vs streaming vs a 2-worker Dask local cluster.

Generates ``--n`` synthetic rated decisions (random unit vectors of ``--dim`` dimensions stored as
``--embeddings`` bytes, 4 models, 10% unknown costs, one rating each) directly in a PostgreSQL
database with ``COPY`` (not stored in the repository; progress with rate and ETA), prints the
tables' ``pg_total_relation_size``, then times each engine in a fresh subprocess: wall time, peak
resident memory (``ru_maxrss``; the Dask workers' own peaks too) and the load average before and
after. Every engine's router is checked against the streaming one (max |coef| difference), and
the time and memory ratios to the streaming engine of the same run are printed.

Usage (separate databases, niced, one heavy job at a time; the machine is shared)::

    runuser -u postgres -- createdb -O prefroute prefroute_bench
    URL='postgresql+psycopg://prefroute:prefroute@127.0.0.1:5432/prefroute_bench'
    nice python benchmarks/bench_retrain_scale.py --n 1000000 --url "$URL" --encode-sample 200
    # storage per format; without stored embeddings, read + encode the first 2,000 rows
    nice python benchmarks/bench_retrain_scale.py --n 1000000 --url "$URL32" \
        --embeddings float32 --storage-only
    nice python benchmarks/bench_retrain_scale.py --n 1000000 --url "$URLOFF" --embeddings off \
        --engines encode --encode-rows 2000

The encoding cost of rows *without* stored embeddings is sampled, never run on the whole log:
``--encode-sample`` prompts of ~200 characters through MiniLM, and the ``encode`` engine (the
streaming read of the first ``--encode-rows`` ids of a store without embeddings, MiniLM encoding
each short synthetic prompt), both extrapolated linearly to ``--n``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

MODELS = ("m-large", "m-mid", "m-small", "m-tiny")


def generate(url: str, n: int, dim: int, seed: int, embeddings: str | None = "float16") -> float:
    """Write ``n`` rated decisions (embeddings as ``embeddings`` bytes, or none) with ``COPY``.

    Drops and recreates the store's tables first. Rows go in blocks of 20,000 through one
    ``COPY ... FROM STDIN`` per table and block; progress (rate, ETA) on stderr. Returns seconds.
    """
    from tqdm import tqdm

    from shared import FeedbackStore
    from shared.feedback._schema import DECISIONS, METADATA, RATINGS

    start = time.perf_counter()
    store = FeedbackStore(url)
    METADATA.drop_all(store._engine)
    store.close()
    store = FeedbackStore(url)
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    models_json = json.dumps(list(MODELS))
    pref_json = json.dumps({"quality": 1.0, "cost": 0.0, "latency": 0.0})
    scores_json = json.dumps(dict.fromkeys(MODELS, 0.0))
    fp = _fingerprint(dim)
    dec_cols = (
        "decision_id, created_at, router, chosen_model, model, models, propensity, preference, "
        "prompt, scores, fallbacks, cost_usd, metadata, embedding, embedding_encoder, "
        "embedding_fingerprint, embedding_dim, embedding_dtype"
    )
    batch = 20_000
    raw = store._engine.raw_connection()
    try:
        with (
            tqdm(total=n, desc="generate", unit="rows", file=sys.stderr, mininterval=2.0) as bar,
            raw.cursor() as cur,
        ):
            for lo in range(0, n, batch):
                k = min(batch, n - lo)
                X = rng.normal(size=(k, dim)).astype(np.float32)
                X /= np.linalg.norm(X, axis=1, keepdims=True)
                chosen = rng.integers(len(MODELS), size=k)
                quality = np.clip(0.5 + X[:, 0] * (chosen - 1.5) + 0.1 * rng.normal(size=k), 0, 1)
                cost = 0.001 * (4 - chosen) * rng.uniform(0.5, 1.5, size=k)
                ids = [uuid.UUID(bytes=rng.bytes(16)).hex for _ in range(k)]
                vectors = X.astype("<f2" if embeddings == "float16" else "<f4")
                with cur.copy(f"COPY {DECISIONS.name} ({dec_cols}) FROM STDIN") as copy:
                    for i in range(k):
                        m = MODELS[int(chosen[i])]
                        stored = embeddings is not None
                        copy.write_row(
                            (
                                ids[i], t0 + timedelta(seconds=lo + i), "RidgeRouter", m, m,
                                models_json, 1.0, pref_json, f"synthetic prompt {lo + i}",
                                scores_json, "[]", float(cost[i]) if i % 10 else None, "{}",
                                vectors[i].tobytes() if stored else None,
                                f"hashing:{dim}" if stored else None,
                                fp if stored else None,
                                dim if stored else None,
                                embeddings,
                            )
                        )  # fmt: skip
                with cur.copy(
                    f"COPY {RATINGS.name} (decision_id, source, score, rated_at) FROM STDIN"
                ) as copy:
                    for i in range(k):
                        copy.write_row((ids[i], "user", float(quality[i]), t0))
                raw.commit()
                bar.update(k)
        raw.driver_connection.autocommit = True  # VACUUM runs outside a transaction
        with raw.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {DECISIONS.name}")
            cur.execute(f"VACUUM ANALYZE {RATINGS.name}")
    finally:
        raw.close()
    store.close()
    return time.perf_counter() - start


def storage(url: str) -> dict[str, int]:
    """``pg_total_relation_size`` (table, TOAST, indexes) of both store tables, in bytes."""
    from sqlalchemy import text

    from shared import FeedbackStore
    from shared.feedback._schema import DECISIONS, RATINGS

    with FeedbackStore(url) as store, store._engine.connect() as conn:
        return {
            t.name: int(
                conn.execute(text(f"SELECT pg_total_relation_size('{t.name}')")).scalar_one()
            )
            for t in (DECISIONS, RATINGS)
        }


def _fingerprint(dim: int) -> str:
    from shared import HashingEncoder
    from shared.embedding import encoder_fingerprint

    return encoder_fingerprint(HashingEncoder(n_features=dim))


def _worker_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(url: str, engine: str, dim: int, encode_rows: int) -> dict[str, Any]:
    """Run one engine in this process (called in a subprocess); returns its figures.

    ``encode``: the streaming read of the first ``encode_rows`` row ids with MiniLM encoding
    every prompt (a store without stored embeddings), timed per row.
    """
    import functools

    from shared import FeedbackStore, HashingEncoder, RidgeRouter
    from shared.feedback.training import (
        LogReader,
        TrainingPlan,
        accumulate,
        fit_ridge_streaming,
        read_log,
    )
    from shared.routers.ridge_stats import RidgeStatistics

    encoder = HashingEncoder(n_features=dim)  # never called: every row has a stored embedding
    out: dict[str, Any] = {"engine": engine, "load_before": os.getloadavg()[0]}
    start = time.perf_counter()
    router = None
    with FeedbackStore(url) as store:
        if engine == "stream":
            plan = LogReader(store, encoder).plan()
            out["plan_seconds"] = time.perf_counter() - start
            result = fit_ridge_streaming(RidgeRouter(alpha="gcv"), store, encoder, plan=plan)
            router, rows, encoded = result.router, result.rows, result.encoded
        elif engine == "encode":
            from shared.encoders import SentenceTransformerEncoder

            minilm = SentenceTransformerEncoder()
            minilm.encode(["warm up"])
            start = time.perf_counter()
            reader = LogReader(store, minilm, chunk_size=1000)
            plan = TrainingPlan(encode_rows, 1, encode_rows, {}, 1.0)
            stats = RidgeStatistics(n_features=int(minilm.dimension))
            _, encoded = accumulate(reader, plan, stats, upto=encode_rows)
            rows = stats.rows
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
                out["worker_peak_rss_mb"] = sorted(client.run(_worker_peak_mb).values())
            router, rows, encoded = result.router, result.rows, result.encoded
        else:
            from shared.feedback.learner import fill_missing_costs

            log, X, encoded = read_log(LogReader(store, encoder))
            out["read_seconds"] = time.perf_counter() - start
            router = RidgeRouter(alpha="gcv").fit_bandit(
                X, list(log.chosen), log.quality, fill_missing_costs(log), log.propensity,
                models=list(log.models),
            )  # fmt: skip
            rows = len(log)
    out["seconds"] = time.perf_counter() - start
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_after"] = os.getloadavg()[0]
    if router is not None:
        np.save(f"/tmp/bench_retrain_{engine}.npy", router.coef_)
    return {**out, "rows": rows, "encoded": encoded}


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
    parser.add_argument(
        "--embeddings",
        choices=("float16", "float32", "off"),
        default="float16",
        help="stored embedding bytes of the generated rows (off: none, every row is encoded)",
    )
    parser.add_argument(
        "--storage-only",
        action="store_true",
        help="generate (unless --skip-generate), print the tables' sizes, run no engine",
    )
    parser.add_argument(
        "--encode-rows",
        type=int,
        default=2000,
        help="rows read and MiniLM-encoded by the 'encode' engine (run it on --embeddings off)",
    )
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # subprocess mode
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args.url, args.engine, args.dim, args.encode_rows)))
        return
    stored = None if args.embeddings == "off" else args.embeddings
    if not args.skip_generate:
        seconds = generate(args.url, args.n, args.dim, args.seed, stored)
        print(f"generate {args.n} decisions ({args.embeddings} embeddings): {seconds:.1f} s "
              f"({args.n / seconds:.0f} rows/s)")  # fmt: skip
    sizes = storage(args.url)
    print("storage: " + ", ".join(f"{t} {b / 1e6:.1f} MB" for t, b in sizes.items())
          + f", total {sum(sizes.values()) / 1e6:.1f} MB for {args.n} decisions")  # fmt: skip
    if args.storage_only:
        return
    results = []
    for engine in args.engines.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--url", args.url, "--dim", str(args.dim),
             "--engine", engine, "--encode-rows", str(args.encode_rows)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = results[-1]
        extra = "".join(f"  {k} {r[k]:.1f} s" for k in ("plan_seconds", "read_seconds") if k in r)
        if "worker_peak_rss_mb" in r:
            extra += "  workers' peak RSS " + "/".join(f"{m:.0f}" for m in r["worker_peak_rss_mb"])
        print(f"{engine:7s} rows {r['rows']}  encoded {r['encoded']}  {r['seconds']:.1f} s  "
              f"{r['rows'] / r['seconds']:.0f} rows/s  peak RSS {r['peak_rss_mb']:.0f} MB"
              f"{extra}  load {r['load_before']:.1f} -> {r['load_after']:.1f}", flush=True)  # fmt: skip
        if engine == "encode":
            per = r["seconds"] / max(r["rows"], 1)
            print(f"encode  {1e3 * per:.2f} ms per row read + MiniLM-encoded -> "
                  f"{per * args.n:.0f} s ({per * args.n / 3600:.1f} h) for {args.n} rows "
                  "without stored embeddings, one process", flush=True)  # fmt: skip
    timed = {r["engine"]: r for r in results if r["engine"] != "encode"}
    if "stream" in timed:
        ref = np.load("/tmp/bench_retrain_stream.npy")
        for name, r in timed.items():
            diff = float(np.abs(np.load(f"/tmp/bench_retrain_{name}.npy") - ref).max())
            ratio = r["seconds"] / timed["stream"]["seconds"]
            print(f"{name:7s} max |coef - stream coef| = {diff:.2e}  time / stream time = "
                  f"{ratio:.2f}  peak RSS / stream = "
                  f"{r['peak_rss_mb'] / timed['stream']['peak_rss_mb']:.2f}")  # fmt: skip
    if args.encode_sample:
        per = sample_encoding(args.encode_sample)
        print(f"MiniLM encoding: {1e3 * per:.2f} ms per prompt (batched, 1 process) -> "
              f"{per * args.n:.0f} s for {args.n} prompts without stored embeddings")  # fmt: skip


if __name__ == "__main__":
    main()
