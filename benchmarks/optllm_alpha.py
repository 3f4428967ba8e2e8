"""Sensitivity of the exact front to the robust score's alpha (p + alpha * sigma).

Fits the success predictor once per (dataset, share, seed) and scores the exact front computed on
clip(p + alpha * sigma, 0, 1) for each alpha against the true front (same protocol as
optllm_fronts.py).

    python benchmarks/optllm_alpha.py --datasets routerbench_zs llmrouter_nim --alphas -1 0 1 --json alpha.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from optllm_fronts import DATASETS, ROOT, embed

from shared import SuccessPredictor, exact_front, read_table
from shared.assignment import score_front, split_batch, true_front


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS[:2]))
    ap.add_argument("--shares", nargs="+", type=float, default=[0.01, 0.1])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--alphas", nargs="+", type=float, default=[-1.0, 0.0, 1.0])
    ap.add_argument("--estimator", choices=("random_forest", "logistic"), default="logistic")
    ap.add_argument("--encoder", choices=("minilm", "hashing"), default="minilm")
    ap.add_argument("--embeddings", help="directory of precomputed embeddings")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()

    rows = []
    for ds in args.datasets:
        table = read_table(Path(args.data_root) / ds, on_duplicate="first").complete()
        X = embed(table, ds, args.embeddings, args.encoder)
        Q, C = table.quality, table.cost
        for share in args.shares:
            for seed in args.seeds:
                print(f"[{ds} share={share} seed={seed}]", file=sys.stderr, flush=True)
                train, val, batch = split_batch(table.n_prompts, share, seed)
                pred = SuccessPredictor(estimator=args.estimator, random_state=seed)
                pred.fit(X[train], Q[train], X_val=X[val], Y_val=Q[val])
                mean, std = pred.predict_distribution(X[batch])
                ref = true_front(Q[batch], C[batch])
                for alpha in args.alphas:
                    P = np.clip(mean + alpha * std, 0.0, 1.0)
                    s = score_front(exact_front(P, C[batch]), Q[batch], C[batch], reference=ref)
                    rows.append(
                        {"dataset": ds, "share": share, "seed": seed, "alpha": alpha}
                        | {k: v for k, v in s.to_dict().items() if k != "points"}
                    )
    print(f"{'dataset':<18} {'share':>5} {'alpha':>6} {'IGD':>7} {'IGD($)':>9} {'HV':>7}")
    for ds in args.datasets:
        for share in args.shares:
            for alpha in args.alphas:
                sel = [
                    r
                    for r in rows
                    if r["dataset"] == ds and r["share"] == share and r["alpha"] == alpha
                ]
                print(
                    f"{ds:<18} {share:>5} {alpha:>6} {np.mean([r['igd'] for r in sel]):>7.4f} "
                    f"{np.mean([r['igd_raw'] for r in sel]):>9.4g} "
                    f"{np.mean([r['hypervolume'] for r in sel]):>7.4f}"
                )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
