"""MiniLM encoding throughput: one local process vs a Dask LocalCluster of 1 and of 2 workers.

Usage::

    OMP_NUM_THREADS=1 nice python benchmarks/bench_encode_dask.py            # 2,000 prompts
    python benchmarks/bench_encode_dask.py --n 500 --workers 1,2,4 --json out.json
    python benchmarks/bench_encode_dask.py --generated                        # synthetic text
    python benchmarks/bench_encode_dask.py --sessions   # each worker its own scheduling group

The same prompts (``--n`` sampled with ``--seed`` from ``<data>/routerbench_zs/prompts.jsonl``,
``--data`` defaulting to ``../shared/data`` next to the repository; synthetic text without it)
are encoded by the packaged all-MiniLM-L6-v2:

* ``local``: :func:`shared.encoders.disk.encode_in_chunks` in this process, torch limited to 1
  thread;
* ``dask-N``: :func:`shared.feedback.distributed.encode_dask` on a ``LocalCluster`` of N
  single-threaded worker processes (``OMP_NUM_THREADS=1`` inherited), default partitions.
  With ``--sessions`` the scheduler and each worker are instead started as ``dask scheduler`` /
  ``dask worker`` processes in sessions of their own (on 127.0.0.1): Linux's autogroup
  scheduling gives one CPU share per session, so the workers of a ``LocalCluster`` share the
  share of this one session whatever their number, while separate sessions compete like
  separate machines' workers would not have to.

Each setup is warmed first (the model loaded in this process, or on every worker through
``client.run``); the start-up (cluster + model load) is reported beside the timed encoding, which
is what the throughput (prompts/s) and the ratios measure. Every setup runs in the same process
run, in the order local, dask-1, dask-2, ... repeated ``--rounds`` times, so the ratios compare
figures measured minutes apart on the same machine; the best round of each setup is reported
(the least disturbed by other load). The rows are checked against the local rows (max abs diff).

The machine's CPU count and its load average before and after are printed, and the CPU
seconds each setup got (this process's, or the sum over the workers'): on a shared machine the
other processes take cores from the workers, so the wall-clock ratio is a lower bound of what
free cores give, while prompts per CPU-second shows the per-core cost of each setup (the
overhead of Dask). The 1M-prompt column extrapolates linearly from each setup's rate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os

os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # workers killed at close: no noise
import platform
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from shared import SentenceTransformerEncoder
from shared.encoders.disk import encode_in_chunks
from shared.feedback import distributed as dd

REPO = Path(__file__).resolve().parents[1]
TOPICS = ["algebra", "poetry", "python code", "world history", "chemistry", "travel plans"]


def load_prompts(data: Path, n: int, seed: int, generated: bool) -> tuple[list[str], str]:
    """``n`` prompts sampled from routerbench_zs, or synthetic ones; and where they came from."""
    path = data / "routerbench_zs" / "prompts.jsonl"
    if not generated and path.is_file():
        rows = [json.loads(line)["prompt"] for line in path.read_text().splitlines() if line]
        rng = random.Random(seed)
        picked = [rows[rng.randrange(len(rows))] for _ in range(n)]
        return picked, f"routerbench_zs prompts ({n} sampled with seed {seed})"
    rng = random.Random(seed)
    prompts = [
        f"Question {i} on {rng.choice(TOPICS)}: explain step by step how to solve problem "
        f"{rng.randrange(10_000)} and why the answer is {rng.randrange(100)}."
        for i in range(n)
    ]
    return prompts, f"synthetic prompts ({n}, seed {seed})"


def _warm_worker() -> str:
    """Run on every worker: load the worker's MiniLM once (the tasks reuse it)."""
    dd._worker_encoder(SentenceTransformerEncoder()).encode(["warm up"])
    return "ok"


def time_local(prompts: list[str]) -> tuple[dict[str, Any], np.ndarray]:
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    enc = SentenceTransformerEncoder()
    enc.encode(["warm up"])
    startup = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    X = encode_in_chunks(prompts, enc, desc="local")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _figures(len(prompts), startup, seconds, cpu), X


def _figures(n: int, startup: float, seconds: float, cpu: float) -> dict[str, Any]:
    return {
        "startup_s": startup,
        "seconds": seconds,
        "rate": n / seconds,
        "cpu_s": cpu,
        "cores_used": cpu / seconds,
        "per_cpu_second": n / cpu,
    }


@contextmanager
def session_cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded workers, each in a session of its own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    local = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    commands = [[sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", str(port)]]
    commands += [
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"]
    ] * workers
    procs = []
    try:
        for command in commands:
            procs.append(
                subprocess.Popen(
                    [*command, *local],
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            if len(procs) == 1:
                time.sleep(3)  # the scheduler listens before the workers connect
        yield address
    finally:
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def time_dask(
    prompts: list[str], workers: int, reference: np.ndarray, sessions: bool
) -> dict[str, Any]:
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        address = stack.enter_context(session_cluster(workers)) if sessions else None
        if address is not None:
            dd.CONNECT_TIMEOUT = 60.0
        client = stack.enter_context(dd.dask_client(address, n_workers=workers))
        client.wait_for_workers(workers)
        client.run(_warm_worker)
        startup = time.perf_counter() - start
        cpu = sum(client.run(time.process_time).values())
        start = time.perf_counter()
        X = dd.encode_dask(prompts, SentenceTransformerEncoder(), client=client, progress=True)
        seconds = time.perf_counter() - start
        cpu = sum(client.run(time.process_time).values()) - cpu
    return {
        **_figures(len(prompts), startup, seconds, cpu),
        "max_abs_diff_vs_local": float(np.abs(X - reference).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="prompts (default: 2000)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--generated", action="store_true", help="synthetic prompts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", default="1,2", help="cluster sizes (default: 1,2)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every setup (default: 1)")
    parser.add_argument(
        "--sessions", action="store_true", help="scheduler and workers in sessions of their own"
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    sizes = [int(w) for w in args.workers.split(",") if w.strip()]
    prompts, source = load_prompts(args.data, args.n, args.seed, args.generated)
    load_before = os.getloadavg()
    print(
        f"{source}; {os.cpu_count()} CPUs; load average {load_before[0]:.2f} (1 min) "
        f"{load_before[1]:.2f} (5 min); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        file=sys.stderr,
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {"local": [], **{f"dask-{w}": [] for w in sizes}}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: local", file=sys.stderr, flush=True)
        local, reference = time_local(prompts)
        runs["local"].append(local)
        for w in sizes:
            print(f"round {r + 1}/{args.rounds}: Dask, {w} workers", file=sys.stderr, flush=True)
            runs[f"dask-{w}"].append(time_dask(prompts, w, reference, args.sessions))
    load_after = os.getloadavg()
    best = {name: max(rs, key=lambda x: x["rate"]) for name, rs in runs.items()}
    base = best["local"]["rate"]
    one = best.get("dask-1", {}).get("rate")
    print(f"\n{len(prompts)} prompts, best of {args.rounds} round(s)")
    print(f"{'setup':<8} {'start-up':>9} {'encode':>9} {'prompts/s':>10} {'x local':>8} "
          f"{'x 1 worker':>10} {'cores got':>9} {'per CPU-s':>9} {'1M prompts':>11} "
          f"{'max |diff|':>11}")  # fmt: skip
    for name, fig in best.items():
        rate = fig["rate"]
        vs_one = f"{rate / one:.2f}" if one else "-"
        diff = fig.get("max_abs_diff_vs_local")
        print(
            f"{name:<8} {fig['startup_s']:>8.1f}s {fig['seconds']:>8.1f}s {rate:>10.1f} "
            f"{rate / base:>8.2f} {vs_one:>10} {fig['cores_used']:>9.2f} "
            f"{fig['per_cpu_second']:>9.1f} {1e6 / rate / 3600:>10.1f}h "
            f"{'-' if diff is None else f'{diff:.1e}':>11}"
        )
    print(
        f"load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min); "
        f"{os.cpu_count()} CPUs shared with other processes"
    )
    if args.json:
        doc = {
            "source": source,
            "n": len(prompts),
            "rounds": runs,
            "best": best,
            "sessions": args.sessions,
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_after,
            "python": platform.python_version(),
        }
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
