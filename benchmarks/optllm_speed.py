"""Time the full exact front on a synthetic batch (default 10,000 queries x 12 models; goal < 1 s).

    python benchmarks/optllm_speed.py --json speed.json
    python benchmarks/optllm_speed.py --n 10000 --k 12 --repeats 5 --optllm-n 2000

Probabilities are uniform; per-model prices are log-spaced over two decades times a per-query
length factor, like real price tables. Also times OptLLM (gn=50) on a smaller batch for scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from shared import exact_front, optllm_front


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--optllm-n", type=int, default=2000, help="batch size for the OptLLM timing (0: skip)"
    )
    ap.add_argument("--json", help="write the timings to this file")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    P = rng.random((args.n, args.k))
    C = np.logspace(-4, -2, args.k)[None, :] * rng.uniform(0.5, 2.0, (args.n, 1))
    exact_front(P[:10], C[:10])  # warm-up
    times = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        front = exact_front(P, C)
        times.append(time.perf_counter() - t0)
        print(f"repeat {r + 1}/{args.repeats}: {times[-1]:.3f} s", file=sys.stderr)
    out = {
        "n": args.n,
        "k": args.k,
        "exact_seconds_min": min(times),
        "exact_seconds_median": float(np.median(times)),
        "n_points": len(front),
        "n_supported": int(front.supported.sum()) if front.supported is not None else None,
    }
    print(
        f"exact front of {args.n} x {args.k}: min {min(times):.3f} s, median {np.median(times):.3f} s, {len(front)} points"
    )
    if args.optllm_n:
        m = args.optllm_n
        t0 = time.perf_counter()
        exact_small = exact_front(P[:m], C[:m])
        t_exact = time.perf_counter() - t0
        print(f"OptLLM (gn=50) on {m} x {args.k}...", file=sys.stderr)
        t0 = time.perf_counter()
        opt = optllm_front(P[:m], C[:m], gn=50)
        t_opt = time.perf_counter() - t0
        out.update(
            optllm_n=m,
            optllm_seconds=t_opt,
            optllm_points=len(opt),
            exact_small_seconds=t_exact,
            exact_small_points=len(exact_small),
        )
        print(
            f"on {m} x {args.k}: exact {t_exact:.3f} s ({len(exact_small)} points), OptLLM gn=50 {t_opt:.2f} s ({len(opt)} points)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
