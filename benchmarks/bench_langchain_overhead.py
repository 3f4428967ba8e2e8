"""Overhead of ``RouterChatModel.invoke`` over calling an instant fake chat model directly.

Each configuration answers the same prompts with instant fakes (``FakeToolChatModel``), so the
difference between the router and the bare fake is the router's own cost: preference
resolution, conversation rendering, encoding, the routing decision and the delegation.

Configurations:

* ``direct``: ``fake.invoke(prompt)``, the baseline.
* ``router_cached``: the router with a warmed ``CachedEncoder(HashingEncoder)`` (embeddings are
  looked up, not computed): the overhead of routing without encoding.
* ``router_hashing``: the router encoding every prompt with ``HashingEncoder`` (no cache).

Reports p50/p99 latency per call over ``--calls`` timed calls after ``--warmup`` calls, the extra
p50 over ``direct`` and the ratio of p50s. BLAS is limited to one thread (tiny solves are much
slower with several spinning threads on a busy machine).

Usage:
    python benchmarks/bench_langchain_overhead.py --calls 2000 --json overhead.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from langchain_router import RouterChatModel
from langchain_router.testing import FakeToolChatModel
from shared import CachedEncoder, HashingEncoder, ModelCard

GOAL_EXTRA_P50_MS = 2.0


def _prompts(n: int) -> list[str]:
    topics = ["math", "poetry", "code", "history", "biology", "travel", "cooking", "law"]
    return [
        f"Question {i} about {topics[i % len(topics)]}: explain item {i * 7 % 101}."
        for i in range(n)
    ]


def _router(encoder: Any, n_members: int) -> RouterChatModel:
    names = [f"m{i}" for i in range(n_members)]
    return RouterChatModel(
        models={n: FakeToolChatModel(model_name=n, answer="ok") for n in names},
        pool={
            n: ModelCard(n, input_usd_per_1m=0.1 * 3**i, output_usd_per_1m=0.4 * 3**i)
            for i, n in enumerate(names)
        },
        encoder=encoder,
        explore=False,
    )


def _time(
    call: Callable[[str], Any], prompts: list[str], calls: int, warmup: int, label: str
) -> list[float]:
    for i in range(warmup):
        call(prompts[i % len(prompts)])
    out = []
    step = max(calls // 4, 1)
    for i in range(calls):
        prompt = prompts[i % len(prompts)]
        start = time.perf_counter_ns()
        call(prompt)
        out.append((time.perf_counter_ns() - start) / 1e6)
        if (i + 1) % step == 0:
            print(f"  {label}: {i + 1}/{calls}", file=sys.stderr)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    arr = np.asarray(ms)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
    }


def run(calls: int, warmup: int, n_members: int, n_prompts: int, n_features: int) -> dict[str, Any]:
    prompts = _prompts(n_prompts)
    direct = FakeToolChatModel(model_name="m0", answer="ok")
    cached = _router(CachedEncoder(HashingEncoder(n_features=n_features), maxsize=None), n_members)
    hashing = _router(HashingEncoder(n_features=n_features), n_members)
    configs: dict[str, Callable[[str], Any]] = {
        "direct": direct.invoke,
        "router_cached": lambda p: cached.invoke(p, preference="balanced"),
        "router_hashing": lambda p: hashing.invoke(p, preference="balanced"),
    }
    # interleave rounds so load changes on the machine hit every configuration alike
    samples: dict[str, list[float]] = {k: [] for k in configs}
    rounds = 4
    for r in range(rounds):
        for name, call in configs.items():
            print(f"round {r + 1}/{rounds} {name}", file=sys.stderr)
            samples[name] += _time(call, prompts, calls // rounds, warmup if r == 0 else 10, name)
    results = {name: _summary(ms) for name, ms in samples.items()}
    base = results["direct"]["p50_ms"]
    for name in ("router_cached", "router_hashing"):
        results[name]["extra_p50_ms"] = results[name]["p50_ms"] - base
        results[name]["ratio_p50"] = results[name]["p50_ms"] / base
    return {
        "benchmark": "langchain_overhead",
        "calls": rounds * (calls // rounds),
        "warmup": warmup,
        "members": n_members,
        "distinct_prompts": n_prompts,
        "n_features": n_features,
        "goal_extra_p50_ms_without_encoding": GOAL_EXTRA_P50_MS,
        "goal_met": results["router_cached"]["extra_p50_ms"] < GOAL_EXTRA_P50_MS,
        "python": platform.python_version(),
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, default=2000, help="timed calls per configuration (>= 1000)"
    )
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    parser.add_argument("--members", type=int, default=3, help="pool size")
    parser.add_argument("--prompts", type=int, default=200, help="distinct prompts cycled through")
    parser.add_argument("--n-features", type=int, default=384, help="HashingEncoder width")
    parser.add_argument("--json", dest="json_out", default=None, help="write the report here")
    args = parser.parse_args(argv)
    if args.calls < 1000:
        parser.error("--calls must be at least 1000")
    with threadpool_limits(limits=1):
        report = run(args.calls, args.warmup, args.members, args.prompts, args.n_features)
    res = report["results"]
    print(f"{'config':<16}{'p50 ms':>10}{'p99 ms':>10}{'extra p50':>12}{'ratio':>8}")
    for name, r in res.items():
        extra = f"{r['extra_p50_ms']:.3f}" if "extra_p50_ms" in r else "-"
        ratio = f"{r['ratio_p50']:.2f}" if "ratio_p50" in r else "-"
        print(f"{name:<16}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{extra:>12}{ratio:>8}")
    verdict = "met" if report["goal_met"] else "NOT met"
    print(f"goal: < {GOAL_EXTRA_P50_MS} ms extra p50 without encoding: {verdict}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
