"""Time per prompt of the prompt encoders: single-prompt calls and batches of 64.

Usage::

    python benchmarks/bench_encoders.py                      # 200 prompts, both encoders
    python benchmarks/bench_encoders.py --n 500 --json out.json
    python benchmarks/bench_encoders.py --encoders hashing   # skip MiniLM
    python benchmarks/bench_encoders.py --generated          # short generated prompts
    python benchmarks/bench_encoders.py --torch-threads 1    # on a busy machine

Prompts come from ``<data>/routerbench_zs/prompts.jsonl`` (``--data``, default ``../shared/data``
relative to the repository root) when it exists, else from generated text. Timings are wall
clock per prompt (mean and median over calls), after one warm-up call that also loads MiniLM;
the load time is reported separately. Numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from shared import HashingEncoder, PromptEncoder, SentenceTransformerEncoder

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "explain",
    "the",
    "difference",
    "between",
    "a",
    "list",
    "and",
    "a",
    "tuple",
    "in",
    "python",
    "write",
    "a",
    "short",
    "poem",
    "about",
    "the",
    "sea",
    "what",
    "is",
    "the",
    "derivative",
    "of",
    "x",
    "squared",
    "translate",
    "this",
    "sentence",
    "into",
    "french",
    "summarize",
    "the",
    "following",
    "article",
    "about",
    "climate",
    "policy",
    "prove",
    "that",
    "there",
    "are",
    "infinitely",
    "many",
    "primes",
]


def load_prompts(data: Path, n: int, seed: int, generated: bool) -> tuple[list[str], str]:
    """The first ``n`` RouterBench prompts, or ``n`` generated ones (8-120 words)."""
    path = data / "routerbench_zs" / "prompts.jsonl"
    if path.exists() and not generated:
        prompts: list[str] = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                prompts.append(json.loads(line)["prompt"])
                if len(prompts) == n:
                    break
        return prompts, str(path)
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(8, 120))) for _ in range(n)], "generated"


def time_calls(
    encoder: PromptEncoder, prompts: list[str], batch: int, label: str
) -> dict[str, float]:
    """Per-prompt seconds over consecutive calls of ``batch`` prompts."""
    per_prompt: list[float] = []
    total = 0.0
    cpu0 = time.process_time()
    for start in range(0, len(prompts), batch):
        if start and start % 50 < batch and batch < len(prompts):
            print(f"[{label}] {start}/{len(prompts)} prompts", file=sys.stderr, flush=True)
        chunk = prompts[start : start + batch]
        t0 = time.perf_counter()
        encoder.encode(chunk)
        elapsed = time.perf_counter() - t0
        total += elapsed
        per_prompt.append(elapsed / len(chunk))
    cpu = time.process_time() - cpu0
    return {
        "mean_ms_per_prompt": 1e3 * total / len(prompts),
        "cpu_ms_per_prompt": 1e3 * cpu / len(prompts),
        "median_ms_per_prompt": 1e3 * statistics.median(per_prompt),
        "prompts_per_s": len(prompts) / total,
        "calls": len(per_prompt),
    }


def bench(name: str, encoder: PromptEncoder, prompts: list[str], batch: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    encoder.encode(prompts[:1])  # first call: loads the model and imports
    first_call_s = time.perf_counter() - t0
    encoder.encode(prompts[:batch])  # warm-up of the batched code path
    print(f"[{name}] first call (load + 1 prompt): {first_call_s:.2f} s", file=sys.stderr)
    single = time_calls(encoder, prompts, 1, f"{name} single")
    print(f"[{name}] single-prompt calls done", file=sys.stderr)
    batched = time_calls(encoder, prompts, batch, f"{name} batch{batch}")
    print(f"[{name}] batched calls done", file=sys.stderr)
    return {
        "encoder": encoder.name,
        "dimension": encoder.dimension,
        "first_call_s": first_call_s,
        "single": single,
        f"batch_{batch}": batched,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=200, help="number of prompts")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--encoders", nargs="+", default=["hashing", "minilm"],
                        choices=["hashing", "minilm"])  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generated", action="store_true",
                        help="use generated short prompts even when the data exists")  # fmt: skip
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for MiniLM (default: torch's choice)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    if args.torch_threads is not None and "minilm" in args.encoders:
        import torch

        torch.set_num_threads(args.torch_threads)
    prompts, source = load_prompts(args.data, args.n, args.seed, args.generated)
    mean_chars = statistics.mean(len(p) for p in prompts)
    print(f"{len(prompts)} prompts from {source} (mean {mean_chars:.0f} chars)", file=sys.stderr)
    encoders: dict[str, PromptEncoder] = {
        "hashing": HashingEncoder(),
        "minilm": SentenceTransformerEncoder(batch_size=args.batch),
    }
    results = {name: bench(name, encoders[name], prompts, args.batch) for name in args.encoders}

    key = f"batch_{args.batch}"
    header = (
        f"{'encoder':<26} {'dim':>4} {'load s':>7} {'single ms':>10} {'single cpu ms':>13} "
        f"{f'batch{args.batch} ms':>11} {f'batch{args.batch} cpu ms':>15} {'prompts/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for res in results.values():
        one, many = res["single"], res[key]
        print(
            f"{res['encoder']:<26} {res['dimension']:>4} {res['first_call_s']:>7.2f} "
            f"{one['mean_ms_per_prompt']:>10.3f} {one['cpu_ms_per_prompt']:>13.3f} "
            f"{many['mean_ms_per_prompt']:>11.3f} {many['cpu_ms_per_prompt']:>15.3f} "
            f"{many['prompts_per_s']:>9.0f}"
        )
    print(f"\n{len(prompts)} prompts ({source}, mean {mean_chars:.0f} chars); "
          "ms = wall-clock mean per prompt, cpu ms = process CPU time per prompt "
          "(all threads); machine load adds noise.")  # fmt: skip
    if args.json:
        payload = {
            "prompts": len(prompts),
            "source": source,
            "mean_chars": mean_chars,
            "batch": args.batch,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "torch_threads": args.torch_threads,
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
