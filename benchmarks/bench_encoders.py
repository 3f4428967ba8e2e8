"""Speed and fidelity of the prompt encoders, all measured in one run: torch MiniLM, its ONNX
export (float32 and int8), the model2vec static encoder distilled from it, and hashing.

Usage::

    nice python benchmarks/bench_encoders.py                       # every encoder, 1 thread
    nice python benchmarks/bench_encoders.py --threads 2 --json out.json
    python benchmarks/bench_encoders.py --encoders minilm onnx-int8 --n-short 100 --n-long 32
    python benchmarks/bench_encoders.py --generated                # no data folder needed

Two prompt sets: **short** (RouterBench prompts under 300 characters, mostly one sentence) and
**long** (RouterBench prompts of 1,800+ characters cut to 2,000 at a space), from
``<data>/routerbench_zs/prompts.jsonl`` (``--data``, default ``../shared/data`` beside the
repository), else generated text of those lengths. For each set:

* **single**: one prompt per ``encode`` call; the encoders take turns prompt by prompt, so machine
  load hits all of them alike. Mean and median milliseconds per call.
* **batched**: ``--batch`` prompts per call, the encoders again taking turns per batch; prompts
  per second.
* every figure also as a **ratio to torch MiniLM measured in the same run** (speed-up: MiniLM's
  time divided by the encoder's).

Fidelity on all prompts: the **cosine** of each encoder's vector to torch MiniLM's for the same
prompt (min and mean; only for encoders in MiniLM's space: ONNX), and for every encoder the
Pearson correlation of its prompt-to-prompt cosine similarities with MiniLM's (how well it keeps
MiniLM's geometry; model2vec lives in another space, so only this one applies to it).

Torch and ONNX Runtime get the same thread count (``--threads``, default 1: steadier on a shared
machine). Building the ONNX exports and the model2vec distillation happens before timing, into
the prefroute cache (``$PREFROUTE_CACHE_DIR/models``), and is reported separately.
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

import numpy as np

from shared import HashingEncoder, PromptEncoder, SentenceTransformerEncoder
from shared.encoders import OnnxEncoder, StaticEncoder

REPO = Path(__file__).resolve().parents[1]
ALL = ("minilm", "onnx", "onnx-int8", "model2vec", "hashing")
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


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit - 64 else head


def load_sets(
    data: Path, n_short: int, n_long: int, generated: bool
) -> tuple[dict[str, list[str]], str]:
    """``{"short": [...], "long": [...]}`` and where they came from."""
    path = data / "routerbench_zs" / "prompts.jsonl"
    if path.exists() and not generated:
        short: list[str] = []
        long: list[str] = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["prompt"]
                if len(text) < 300 and len(short) < n_short:
                    short.append(text)
                elif len(text) >= 1800 and len(long) < n_long:
                    long.append(_cut(text, 2000))
        return {"short": short, "long": long}, str(path)
    rng = random.Random(0)

    def make(chars: int) -> str:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rng.choice(WORDS))
        return _cut(" ".join(words), chars)

    sets = {
        "short": [make(rng.randint(40, 200)) for _ in range(n_short)],
        "long": [make(2000) for _ in range(n_long)],
    }
    return sets, "generated"


def make_encoders(names: list[str], threads: int, batch: int) -> dict[str, PromptEncoder]:
    made: dict[str, PromptEncoder] = {}
    for name in names:
        if name == "minilm":
            made[name] = SentenceTransformerEncoder(batch_size=batch)
        elif name in ("onnx", "onnx-int8"):
            precision = "int8" if name == "onnx-int8" else "float32"
            made[name] = OnnxEncoder(precision=precision, n_threads=threads, batch_size=batch)
        elif name == "model2vec":
            made[name] = StaticEncoder()
        else:
            made[name] = HashingEncoder()
    return made


def warm_up(
    encoders: dict[str, PromptEncoder], sample: list[str], batch: int
) -> dict[str, dict[str, Any]]:
    """First call (load, or build into the cache) and one batched warm-up call per encoder."""
    out: dict[str, dict[str, Any]] = {}
    for name, enc in encoders.items():
        t0 = time.perf_counter()
        enc.encode(sample[:1])
        first = time.perf_counter() - t0
        enc.encode(sample[:batch])
        info = dict(getattr(enc, "build_info_", {}) or {})
        built = bool(info.get("built"))
        say(f"[{name}] first call {first:.1f} s ({'built into the cache' if built else 'loaded'})")
        out[name] = {"first_call_s": first, "built_now": built, "cache_folder": info.get("folder")}
    return out


def time_single(
    encoders: dict[str, PromptEncoder], prompts: list[str], label: str
) -> dict[str, list[float]]:
    """Seconds per one-prompt call; the encoders take turns prompt by prompt."""
    times: dict[str, list[float]] = {n: [] for n in encoders}
    t_start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        for name, enc in encoders.items():
            t0 = time.perf_counter()
            enc.encode([prompt])
            times[name].append(time.perf_counter() - t0)
        if (i + 1) % 25 == 0 or i + 1 == len(prompts):
            rate = (i + 1) / (time.perf_counter() - t_start)
            eta = (len(prompts) - i - 1) / rate
            say(f"[{label} single] {i + 1}/{len(prompts)} prompts, {rate:.1f}/s, ETA {eta:.0f} s")
    return times


def time_batched(
    encoders: dict[str, PromptEncoder], prompts: list[str], batch: int, label: str
) -> dict[str, float]:
    """Prompts per second over calls of ``batch`` prompts; the encoders take turns per batch."""
    total = dict.fromkeys(encoders, 0.0)
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        for name, enc in encoders.items():
            t0 = time.perf_counter()
            enc.encode(chunk)
            total[name] += time.perf_counter() - t0
    say(f"[{label} batch{batch}] done")
    return {n: len(prompts) / t for n, t in total.items()}


def fidelity(
    encoders: dict[str, PromptEncoder], prompts: list[str]
) -> dict[str, dict[str, float | None]]:
    """Cosine to MiniLM (same space only) and the correlation of pairwise similarities."""
    ref = encoders["minilm"].encode(prompts)
    iu = np.triu_indices(len(prompts), k=1)
    ref_sims = (ref @ ref.T)[iu]
    out: dict[str, dict[str, float | None]] = {}
    for name, enc in encoders.items():
        X = enc.encode(prompts)
        same_space = name.startswith(("minilm", "onnx"))
        cos = (X * ref).sum(axis=1) if same_space else None
        sims = (X @ X.T)[iu]
        out[name] = {
            "cosine_min": None if cos is None else float(cos.min()),
            "cosine_mean": None if cos is None else float(cos.mean()),
            "similarity_pearson": float(np.corrcoef(sims, ref_sims)[0, 1]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n-short", type=int, default=200, help="short prompts")
    parser.add_argument("--n-long", type=int, default=64, help="~2,000-character prompts")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--encoders", nargs="+", default=list(ALL[:4]), choices=ALL)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and ONNX Runtime intra-op threads (default 1)")  # fmt: skip
    parser.add_argument("--generated", action="store_true",
                        help="use generated prompts even when the data exists")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    names = ["minilm", *[n for n in args.encoders if n != "minilm"]]  # the reference comes first
    sets, source = load_sets(args.data, args.n_short, args.n_long, args.generated)
    for label, prompts in sets.items():
        mean_chars = statistics.mean(len(p) for p in prompts)
        say(f"{label}: {len(prompts)} prompts from {source}, mean {mean_chars:.0f} chars")
    encoders = make_encoders(names, args.threads, args.batch)
    loads = warm_up(encoders, sets["long"], args.batch)

    results: dict[str, Any] = {
        n: {"encoder": e.name, "dimension": e.dimension, **loads[n]} for n, e in encoders.items()
    }
    for label, prompts in sets.items():
        single = time_single(encoders, prompts, label)
        batched = time_batched(encoders, prompts, args.batch, label)
        for name in encoders:
            results[name][label] = {
                "single_mean_ms": 1e3 * statistics.mean(single[name]),
                "single_median_ms": 1e3 * statistics.median(single[name]),
                "batched_prompts_per_s": batched[name],
            }
    all_prompts = sets["short"] + sets["long"]
    say(f"fidelity on {len(all_prompts)} prompts")
    for name, fid in fidelity(encoders, all_prompts).items():
        results[name]["fidelity"] = fid

    ref = results["minilm"]
    for res in results.values():
        for label in sets:
            res[label]["single_speedup"] = (
                ref[label]["single_mean_ms"] / res[label]["single_mean_ms"]
            )
            res[label]["batched_speedup"] = (
                res[label]["batched_prompts_per_s"] / ref[label]["batched_prompts_per_s"]
            )

    header = (
        f"{'encoder':<34} {'set':<5} {'single ms (mean/median)':>24} {'x torch':>8} "
        f"{f'batch{args.batch} prompts/s':>17} {'x torch':>8}"
    )
    print(header)
    print("-" * len(header))
    for res in results.values():
        for label in sets:
            r = res[label]
            print(
                f"{res['encoder']:<34} {label:<5} "
                f"{r['single_mean_ms']:>12.2f} / {r['single_median_ms']:<9.2f} {r['single_speedup']:>8.2f} "
                f"{r['batched_prompts_per_s']:>17.1f} {r['batched_speedup']:>8.2f}"
            )
    print()
    print(
        f"{'encoder':<34} {'dim':>4} {'cos min':>8} {'cos mean':>9} {'sim. pearson':>13} {'first call s':>13}"
    )
    for res in results.values():
        fid = res["fidelity"]
        cmin = "n/a" if fid["cosine_min"] is None else f"{fid['cosine_min']:.4f}"
        cmean = "n/a" if fid["cosine_mean"] is None else f"{fid['cosine_mean']:.4f}"
        built = " (built)" if res["built_now"] else ""
        print(
            f"{res['encoder']:<34} {res['dimension']:>4} {cmin:>8} {cmean:>9} "
            f"{fid['similarity_pearson']:>13.4f} {res['first_call_s']:>13.1f}{built}"
        )
    chars = {label: statistics.mean(len(p) for p in prompts) for label, prompts in sets.items()}
    print(
        f"\nshort: {len(sets['short'])} prompts (mean {chars['short']:.0f} chars), long: "
        f"{len(sets['long'])} prompts (mean {chars['long']:.0f} chars), from {source}; "
        f"{args.threads} thread(s); 'x torch' = speed relative to torch MiniLM in this run."
    )
    if args.json:
        payload = {
            "source": source,
            "prompts": {label: len(p) for label, p in sets.items()},
            "mean_chars": chars,
            "batch": args.batch,
            "threads": args.threads,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
