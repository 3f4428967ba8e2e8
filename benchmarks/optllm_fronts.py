"""Compare the exact, OptLLM and NSGA-II fronts with the true front on real routing tables.

For each dataset, train share and seed: pool all prompts with every model observed, train the
success predictor on `share` of them, validate on as many, assign the rest, and score each front
(re-scored with the real outcomes) against the true front.

    python benchmarks/optllm_fronts.py --json fronts.json
    python benchmarks/optllm_fronts.py --datasets routerbench_zs --shares 0.01 --seeds 0 1 2

Embeddings: MiniLM through shared.cached_embeddings (encoded once per machine), or precomputed
matrices with --embeddings DIR (DIR/<dataset>.npy, rows in prompts.jsonl order, with
DIR/<dataset>.ids.json listing the ids).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from shared import RoutingTable, SuccessPredictor, read_table
from shared.assignment import compare_fronts

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("routerbench_zs", "llmrouter_nim", "domain_experts_7b")


def embed(table: RoutingTable, dataset: str, emb_dir: str | None, encoder: str) -> np.ndarray:
    if emb_dir:
        E = np.load(Path(emb_dir) / f"{dataset}.npy")
        ids = json.loads((Path(emb_dir) / f"{dataset}.ids.json").read_text())
        pos: dict[str, int] = {}
        for k, i in enumerate(ids):
            pos.setdefault(i, k)  # first occurrence, like read_table(on_duplicate='first')
        return np.asarray(E[[pos[i] for i in table.ids]])
    from shared import HashingEncoder, cached_embeddings, default_encoder

    enc = HashingEncoder() if encoder == "hashing" else default_encoder()
    return cached_embeddings(list(table.prompts), enc, progress=True)


def summarize(results: list[dict[str, Any]]) -> None:
    """Print the mean over seeds per dataset, share and front."""
    print(
        "\n== summary (mean over seeds; saving: mean over the seeds whose front reaches the best single model's accuracy) =="
    )
    print(
        f"{'dataset':<18} {'share':>5} {'front':<10} {'IGD':>7} {'IGD($)':>9} {'HV':>7} {'spread':>6} {'sec':>7} {'n_sol':>6} {'saving@best':>13}"
    )
    keys = dict.fromkeys((r["dataset"], r["share"]) for r in results)
    for ds, share in keys:
        recs = [r for r in results if r["dataset"] == ds and r["share"] == share]
        for name in recs[0]["fronts"]:
            if name == "true":
                continue
            f = [r["fronts"][name] for r in recs if name in r["fronts"]]
            sv = [r["saving_at_best_accuracy"].get(name) for r in recs]
            got = [x for x in sv if x is not None]
            sv_txt = (
                f"{round(100 * np.mean(got), 4) + 0.0:.1f}% ({len(got)}/{len(sv)})"
                if got
                else f"n/a (0/{len(sv)})"
            )
            print(
                f"{ds:<18} {share:>5} {name:<10} {np.mean([x['igd'] for x in f]):>7.4f} "
                f"{np.mean([x['igd_raw'] for x in f]):>9.4g} {np.mean([x['hypervolume'] for x in f]):>7.4f} "
                f"{np.mean([x['spread'] for x in f]):>6.3f} {np.mean([x['seconds'] for x in f]):>7.3f} "
                f"{np.mean([x['n_solutions'] for x in f]):>6.0f} {sv_txt:>13}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--shares", nargs="+", type=float, default=[0.01, 0.1])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--estimator", choices=("random_forest", "logistic"), default="logistic")
    ap.add_argument("--n-bootstrap", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--gn", type=int, default=50)
    ap.add_argument("--methods", default="exact,exact_thin,optllm,nsga2")
    ap.add_argument("--nsga2-seconds", type=float, default=60.0)
    ap.add_argument("--encoder", choices=("minilm", "hashing"), default="minilm")
    ap.add_argument("--embeddings", help="directory of precomputed embeddings (see above)")
    ap.add_argument("--json", help="write all results to this file")
    ap.add_argument(
        "--summarize",
        nargs="+",
        metavar="JSON",
        help="only print the summary of earlier --json outputs",
    )
    ap.add_argument("--plot-dir", help="write <dataset>_<share>.png of the first seed here")
    args = ap.parse_args()

    if args.summarize:
        summarize(
            [run for path in args.summarize for run in json.loads(Path(path).read_text())["runs"]]
        )
        return 0
    results = []
    for ds in args.datasets:
        table = read_table(Path(args.data_root) / ds, on_duplicate="first").complete()
        X = embed(table, ds, args.embeddings, args.encoder)
        for share in args.shares:
            for seed in args.seeds:
                print(
                    f"[{ds} share={share} seed={seed}] {table.n_prompts} prompts", file=sys.stderr
                )
                t0 = time.perf_counter()
                pred = SuccessPredictor(
                    estimator=args.estimator,
                    n_bootstrap=args.n_bootstrap,
                    alpha=args.alpha,
                    random_state=seed,
                )
                comp = compare_fronts(
                    X,
                    table.quality,
                    table.cost,
                    table.models,
                    train_share=share,
                    seed=seed,
                    predictor=pred,
                    gn=args.gn,
                    methods=args.methods.split(","),
                    nsga2_seconds=args.nsga2_seconds,
                    progress=True,
                )
                if args.plot_dir and seed == args.seeds[0]:
                    comp.plot(
                        str(Path(args.plot_dir) / f"optllm_{ds}_{share:g}.png"),
                        f"{ds}, train share {share:g}, seed {seed}",
                    )
                print(f"\n== {ds}, train share {share}, seed {seed} ==")
                print(comp.format_table(), flush=True)
                rec = comp.to_dict()
                for front in rec["fronts"].values():
                    front["points"] = front["points"] if len(front["points"]) <= 400 else None
                rec.update(dataset=ds, share=share, seed=seed, wall=time.perf_counter() - t0)
                results.append(rec)

    summarize(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": results}, indent=1))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
