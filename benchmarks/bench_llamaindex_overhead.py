"""Overhead of ``RouterLLM.chat`` over calling an instant mock LLM directly.

Measures per-call wall time (``time.perf_counter_ns``) of

* ``direct``: ``member.chat(messages)`` on an instant mock (``llamaindex_router.testing.MockChatLLM``);
* ``router/no-encoding``: ``RouterLLM.chat`` over two such mocks with a constant encoder, i.e. the
  adapter plus the engine (candidate filtering, cold-start ridge scoring, decision event, stamp);
* ``router/hashing``: the same with the ``HashingEncoder`` (384 features) encoding every prompt;
* ``router/minilm`` (``--minilm``): the same with the packaged all-MiniLM-L6-v2 on CPU.

Each variant runs ``--warmup`` calls first, then ``--calls`` timed calls; p50/p99 and the ratio
to the direct p50 are printed (and written with ``--json OUT``).

Usage:
    python benchmarks/bench_llamaindex_overhead.py --calls 2000 --json overhead.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from numpy.typing import NDArray

from llamaindex_router import RouterLLM
from llamaindex_router.testing import MockChatLLM
from shared import HashingEncoder, ModelCard

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "Prove that there are infinitely many primes.",
    "Translate 'good morning' into Spanish.",
]


class ConstantEncoder:
    """A prompt encoder that returns one fixed unit vector (no encoding cost)."""

    name = "constant:16"
    dimension = 16

    def __init__(self) -> None:
        vec = np.ones(self.dimension, dtype=np.float32)
        self._vec = vec / np.linalg.norm(vec)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.tile(self._vec, (len(texts), 1))


def make_router(encoder: Any) -> RouterLLM:
    cards = [
        ModelCard("big", input_usd_per_1m=10.0, output_usd_per_1m=30.0),
        ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4),
    ]
    llms = {"big": MockChatLLM(reply="ok"), "small": MockChatLLM(reply="ok")}
    return RouterLLM(llms, pool=cards, encoder=encoder)


def measure(
    name: str, call: Callable[[list[ChatMessage]], Any], calls: int, warmup: int
) -> dict[str, Any]:
    conversations = [[ChatMessage(role=MessageRole.USER, content=p)] for p in PROMPTS]
    for i in range(warmup):
        call(conversations[i % len(conversations)])
    times = np.empty(calls, dtype=np.float64)
    step = max(calls // 10, 1)
    for i in range(calls):
        messages = conversations[i % len(conversations)]
        start = time.perf_counter_ns()
        call(messages)
        times[i] = (time.perf_counter_ns() - start) / 1e3
        if (i + 1) % step == 0:
            print(f"  {name}: {i + 1}/{calls}", file=sys.stderr, flush=True)
    return {
        "variant": name,
        "calls": calls,
        "p50_us": float(np.percentile(times, 50)),
        "p99_us": float(np.percentile(times, 99)),
        "mean_us": float(times.mean()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per variant (>= 1000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    parser.add_argument("--minilm", action="store_true", help="also time the MiniLM encoder")
    parser.add_argument("--json", dest="json_out", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.calls < 1000:
        parser.error("--calls must be at least 1000 for a meaningful p99")

    direct = MockChatLLM(reply="ok")
    variants: list[tuple[str, Callable[[list[ChatMessage]], Any]]] = [
        ("direct", direct.chat),
        ("router/no-encoding", make_router(ConstantEncoder()).chat),
        ("router/hashing", make_router(HashingEncoder(n_features=384)).chat),
    ]
    if args.minilm:
        from shared import SentenceTransformerEncoder

        variants.append(("router/minilm", make_router(SentenceTransformerEncoder()).chat))

    results = []
    for name, call in variants:
        print(f"timing {name} ...", file=sys.stderr, flush=True)
        results.append(measure(name, call, args.calls, args.warmup))
    base = results[0]["p50_us"]
    for row in results:
        row["ratio_p50"] = row["p50_us"] / base
        row["overhead_p50_us"] = row["p50_us"] - base

    print(f"{'variant':<20} {'p50 us':>10} {'p99 us':>10} {'ratio p50':>10} {'+p50 us':>10}")
    for row in results:
        print(
            f"{row['variant']:<20} {row['p50_us']:>10.1f} {row['p99_us']:>10.1f} "
            f"{row['ratio_p50']:>10.2f} {row['overhead_p50_us']:>10.1f}"
        )
    if args.json_out:
        report = {
            "benchmark": "llamaindex_overhead",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "calls": args.calls,
            "warmup": args.warmup,
            "results": results,
        }
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
