"""Concurrent ratings against the feedback store: no loss, no duplicate, throughput and latency.

N processes (default 8) each rate M distinct decisions (default 2,000) at the same moment through
their own :class:`shared.FeedbackStore`, then re-send a fraction of their ratings (default 10%)
to exercise idempotence. Afterwards the script checks that every rating is stored exactly once
with the right value, and reports throughput and per-rating latency (p50/p99).

    python benchmarks/bench_feedback_store.py                        # SQLite in a temp dir
    python benchmarks/bench_feedback_store.py --postgres URL         # and PostgreSQL
    python benchmarks/bench_feedback_store.py --json results.json

The PostgreSQL tables are dropped and re-created: point it at a scratch database
(``eval "$(scripts/start-postgres.sh)"`` then ``--postgres "$PREFROUTE_TEST_POSTGRES_URL"``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shared import FeedbackStore
from shared.feedback._schema import DECISIONS, METADATA

MODELS = ["big", "small"]


def _log(msg: str) -> None:
    print(f"[bench_feedback_store] {msg}", file=sys.stderr, flush=True)


def _score(i: int) -> float:
    return (i * 7919 % 101) / 100


def _seed(url: str, n: int, fresh: bool) -> None:
    """Insert n decisions in bulk (not measured): d<i> with run id run-<i>."""
    store = FeedbackStore(url)
    if fresh:
        METADATA.drop_all(store._engine)
        METADATA.create_all(store._engine)
    now = datetime.now(UTC)
    rows = [
        {
            "decision_id": f"d{i}",
            "run_id": f"run-{i}",
            "created_at": now,
            "router": "bench",
            "chosen_model": MODELS[i % 2],
            "model": MODELS[i % 2],
            "models": MODELS,
            "propensity": 0.5,
            "preference": {"quality": 1.0, "cost": 0.0, "latency": 0.0},
            "prompt": f"prompt {i}",
            "scores": {"big": 0.0, "small": 0.0},
            "fallbacks": [MODELS[(i + 1) % 2]],
            "predictions": None,
            "metadata": {},
        }
        for i in range(n)
    ]
    with store._engine.begin() as conn:
        for start in range(0, n, 2000):
            conn.execute(DECISIONS.insert(), rows[start : start + 2000])
    store.close()


def _worker(
    url: str, worker: int, per: int, resend: float, barrier: Any, counter: Any, out: Any
) -> None:
    rng = np.random.default_rng(worker)
    ids = list(range(worker * per, (worker + 1) * per))
    repeats = rng.choice(ids, size=round(resend * per), replace=False).tolist()
    latencies: list[float] = []
    with FeedbackStore(url) as store:
        store.stats()  # connect before the start line
        barrier.wait()
        start = time.perf_counter()
        for n, i in enumerate([*ids, *repeats]):
            key = f"run-{i}" if i % 2 else f"d{i}"
            t0 = time.perf_counter()
            store.rate(key, _score(i), source="bench")
            latencies.append(time.perf_counter() - t0)
            if n % 100 == 99:
                with counter.get_lock():
                    counter.value += 100
        elapsed = time.perf_counter() - start
    out.put((worker, elapsed, latencies))


def run_backend(name: str, url: str, processes: int, per: int, resend: float) -> dict[str, Any]:
    """Seed, run the workers, verify, and return the figures for one database."""
    total = processes * per
    _log(f"{name}: seeding {total} decisions")
    _seed(url, total, fresh=name == "postgresql")
    ctx = multiprocessing.get_context("spawn")
    barrier, counter, out = ctx.Barrier(processes + 1), ctx.Value("i", 0), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, w, per, resend, barrier, counter, out))
        for w in range(processes)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    wall_start = time.perf_counter()
    expected_calls = total + processes * round(resend * per)
    results: list[tuple[int, float, list[float]]] = []
    while len(results) < processes:
        try:
            results.append(out.get(timeout=5))
        except Exception:  # queue.Empty: report progress and keep waiting
            done = counter.value
            _log(f"{name}: {done}/{expected_calls} ratings ({100 * done // expected_calls}%)")
            if not any(p.is_alive() for p in procs) and out.empty():
                raise RuntimeError("a worker died; see its traceback above") from None
    wall = time.perf_counter() - wall_start
    for p in procs:
        p.join()
    lat = np.concatenate([np.asarray(r[2]) for r in results]) * 1000.0
    _log(f"{name}: verifying")
    with FeedbackStore(url) as store:
        stats = store.stats()
        records = store.records(rated_only=True)
    wrong = sum(
        1
        for r in records
        if r.ratings != {"bench": _score(int(r.decision_id[1:]))} or r.score != r.ratings["bench"]
    )
    ok = stats["ratings"] == total and stats["rated"] == total and wrong == 0
    return {
        "backend": name,
        "processes": processes,
        "ratings_per_process": per,
        "resent": expected_calls - total,
        "calls": int(lat.size),
        "wall_s": round(wall, 3),
        "throughput_per_s": round(lat.size / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "stored_ratings": stats["ratings"],
        "rated_decisions": stats["rated"],
        "wrong_values": wrong,
        "exactly_once": ok,
    }


def _table(rows: list[dict[str, Any]]) -> str:
    cols = [
        ("backend", "backend"),
        ("processes", "procs"),
        ("calls", "calls"),
        ("resent", "resent"),
        ("wall_s", "wall s"),
        ("throughput_per_s", "ratings/s"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("stored_ratings", "stored"),
        ("exactly_once", "exactly once"),
    ]
    widths = [max(len(h), *(len(str(r[k])) for r in rows)) for k, h in cols]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(cols, widths))]
    lines += ["  ".join(str(r[k]).ljust(w) for (k, _), w in zip(cols, widths)) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--ratings", type=int, default=2000, help="ratings per process")
    parser.add_argument("--resend", type=float, default=0.1, help="fraction re-sent (idempotence)")
    parser.add_argument("--sqlite", help="SQLite file to use (default: a new temp file)")
    parser.add_argument("--postgres", help="PostgreSQL URL (scratch database; tables dropped)")
    parser.add_argument("--no-sqlite", action="store_true", help="only run PostgreSQL")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            path = Path(args.sqlite) if args.sqlite else Path(tmp) / "bench.sqlite3"
            if path.exists():
                parser.error(f"{path} exists; give a new file")
            rows.append(
                run_backend(
                    "sqlite", f"sqlite:///{path}", args.processes, args.ratings, args.resend
                )
            )
        if args.postgres:
            rows.append(
                run_backend("postgresql", args.postgres, args.processes, args.ratings, args.resend)
            )
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0 if all(r["exactly_once"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
