"""Durability figures of docs/feedback.md ("Reliability"): router saves killed at random, and
writes across a PostgreSQL restart.

1. ``save_router`` SIGKILLed at random moments: a forked child saves two different routers in
   a loop; it is killed after a random delay (uniform over about three saves); the directory is
   then loaded and must be exactly one of the two routers. Reports old / new / broken counts.
2. A private PostgreSQL server (``initdb`` in a temporary directory, run as the ``postgres``
   user, Unix socket only; never the shared cluster) is restarted while threads record
   decisions, outcomes and ratings. Once with a restart shorter than ``retry_seconds`` (bridged
   by retries) and once with an outage longer than it (the local spool). Reports the writes
   acknowledged, the rows stored afterwards, the writes spooled and flushed.

Usage::

    nice python benchmarks/durability.py --kills 300 --json out.json
    nice python benchmarks/durability.py --kills 0 --restarts 3     # PostgreSQL part only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared import (
    Decision,
    FeedbackStore,
    KNNRouter,
    PersistenceError,
    Preference,
    RidgeRouter,
    load_router,
    save_router,
)
from shared._base import BaseRouter


def _routers() -> tuple[BaseRouter, BaseRouter]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    old = KNNRouter(k=3).fit(
        X, rng.uniform(size=(400, 2)), np.full((400, 2), 0.01), models=["a", "b"]
    )
    X2 = rng.normal(size=(30, 5))
    new = RidgeRouter().fit(
        X2, rng.uniform(size=(30, 3)), np.full((30, 3), 0.01), models=list("xyz")
    )
    return old, new


def _which(router: BaseRouter, refs: dict[str, BaseRouter]) -> str:
    for label, ref in refs.items():
        if type(router) is type(ref) and router.models_ == ref.models_:
            probe = np.linspace(-1, 1, ref.n_features_in_)[None, :]
            if np.allclose(router.decision_function(probe), ref.decision_function(probe)):
                return label
    return "broken"


def kill_saves(trials: int, seed: int) -> dict[str, Any]:
    """SIGKILL a saving child ``trials`` times; count what each directory then loads as."""
    old, new = _routers()
    counts = {"old": 0, "new": 0, "broken": 0}
    max_entries = 0
    with tempfile.TemporaryDirectory() as d:
        path = Path(d)
        start = time.perf_counter()
        save_router(old, path)
        save_router(old, path)
        span = 1.5 * (time.perf_counter() - start)
        rng = random.Random(seed)
        t0 = time.perf_counter()
        for trial in range(trials):
            pid = os.fork()
            if pid == 0:  # the child saves until it is killed
                try:
                    while True:
                        save_router(new, path)
                        save_router(old, path)
                finally:
                    os._exit(0)
            time.sleep(rng.uniform(0.0, span))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            try:
                counts[_which(load_router(path), {"old": old, "new": new})] += 1
            except PersistenceError:
                counts["broken"] += 1
            max_entries = max(max_entries, len(list(path.iterdir())))
            if (trial + 1) % 50 == 0:
                rate = (trial + 1) / (time.perf_counter() - t0)
                eta = (trials - trial - 1) / rate
                print(f"[kills] {trial + 1}/{trials} ({rate:.1f}/s, ETA {eta:.0f} s)", flush=True)
        save_router(new, path)
        left = sorted(p.name for p in path.iterdir())
    return {
        "trials": trials,
        **counts,
        "save_ms": round(1000 * span / 3, 1),
        "max_entries_after_a_kill": max_entries,
        "entries_after_next_save": left,
    }


def _decision(name: str) -> Decision:
    return Decision(
        model="small",
        models=("big", "small"),
        scores=(0.0, 1.0),
        propensity=0.6,
        preference=Preference(),
        ranking=("small", "big"),
        decision_id=name,
    )


def restart_writes(
    url: str, server: Any, *, down_s: float, retry_seconds: float, threads: int, tag: str
) -> dict[str, Any]:
    """Threads write decision + outcome + rating triples while the server restarts."""
    stop = threading.Event()
    done = [0] * threads
    failures: list[str] = []
    with FeedbackStore(url, retry_seconds=retry_seconds) as store:

        def write(worker: int) -> None:
            i = 0
            try:
                while not stop.is_set():
                    name = f"{tag}-{worker}-{i}"
                    store.record_decision(_decision(name), run_id=f"r-{name}", prompt="p")
                    store.record_outcome(f"r-{name}", input_tokens=10)
                    store.rate(name, 0.5)
                    i += 1
                    time.sleep(0.05)
            except Exception as err:  # reported: a write the caller saw fail
                failures.append(f"{type(err).__name__}: {err}")
            done[worker] = i

        pool = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
        for t in pool:
            t.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        server.restart(down_s=down_s)
        outage = time.perf_counter() - t0
        time.sleep(0.5)
        stop.set()
        for t in pool:
            t.join()
        store.flush_spool()
        spool = store.spool_stats()
        stats = store.stats()
    acknowledged = sum(done)
    return {
        "outage_s": round(outage, 2),
        "retry_seconds": retry_seconds,
        "acknowledged_triples": acknowledged,
        "failed_calls": len(failures),
        "spooled_writes": spool["spooled"],
        "flushed_writes": spool["flushed"],
        "rejected_writes": spool["failed"],
        "stored_decisions": stats["decisions"],
        "stored_ratings": stats["ratings"],
        "lost": acknowledged - min(stats["decisions"], stats["ratings"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300, help="SIGKILL trials (0: skip)")
    parser.add_argument("--restarts", type=int, default=2, help="PostgreSQL restarts per mode")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.kills:
        out["kills"] = kill_saves(args.kills, args.seed)
        print(json.dumps(out["kills"]), flush=True)
    if args.restarts:
        from shared.feedback._schema import METADATA
        from tests.private_postgres import private_postgres

        runs = []
        with private_postgres() as server:
            for n in range(args.restarts):
                for mode, down, budget in (("retry", 0.5, 15.0), ("spool", 3.0, 0.5)):
                    with FeedbackStore(server.url) as s:
                        METADATA.drop_all(s._engine)
                    row = restart_writes(
                        server.url,
                        server,
                        down_s=down,
                        retry_seconds=budget,
                        threads=args.threads,
                        tag=f"{mode}{n}",
                    )
                    row["mode"] = mode
                    runs.append(row)
                    print(json.dumps(row), flush=True)
        out["restarts"] = runs
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
