"""Validation AIQ of the ridge router on each encoder's embeddings, on the TRAIN split only.

For each table (routerbench_zs and llmrouter_nim by default) the train prompts are split into
``--folds`` folds (one fixed shuffle, ``--seed``); for each fold and encoder,
``RidgeRouter(alpha="cv")`` is fitted on the other folds' train prompts and swept over the price of
quality on the fold's prompts with every model observed. Reported per encoder: AIQ and anchored
AIQ (mean over folds and the fold standard deviation), and the paired difference to torch MiniLM
(mean, fold sd, and how many folds were at least as good). The test split is never read.

Each encoder's embeddings of the whole table come from ``shared.cached_embeddings``
(``$PREFROUTE_CACHE_DIR/embeddings``): MiniLM's of the whole table are usually cached already;
the other encoders encode only the train prompts, once (the ONNX encoders take many minutes per
table on 2 shared cores: run with ``nice``), with a progress bar.

Usage (from the repository root)::

    PREFROUTE_CACHE_DIR=... nice python benchmarks/encoder_aiq.py --data-root ../shared/data
        [--datasets routerbench_zs,llmrouter_nim] [--encoders minilm,onnx,onnx-int8,model2vec]
        [--folds 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from shared import RidgeRouter, cached_embeddings, read_table
from shared.encoders.named import named_encoder
from shared.evaluation import aiq, anchored_aiq, frontier, single_model_points, sweep_points
from shared.evaluation.report import complete_rows

REPO = Path(__file__).resolve().parents[1]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fold_scores(
    X: np.ndarray, table: Any, folds: list[np.ndarray], train_idx: np.ndarray
) -> list[tuple[float, float]]:
    """(AIQ, anchored AIQ) on each validation fold of the train rows."""
    models = list(table.models)
    out = []
    for k, val in enumerate(folds):
        fit_rows = np.setdiff1d(train_idx, val)
        router = RidgeRouter(alpha="cv").fit(
            X[fit_rows], table.quality[fit_rows], table.cost[fit_rows], models=models
        )
        keep = val[complete_rows(table.quality[val], table.cost[val])]
        Q, C = table.quality[keep], table.cost[keep]
        single = single_model_points(Q, C)
        c_max = float(single[:, 0].max())
        points = sweep_points(router, X[keep], Q, C, models).points
        out.append((aiq(frontier(points), c_max), anchored_aiq(points, single, c_max)))
        say(
            f"    fold {k + 1}/{len(folds)}: AIQ {out[-1][0]:.4f}, anchored {out[-1][1]:.4f} ({len(keep)} prompts)"
        )
    return out


def run_dataset(
    name: str, data_root: Path, encoders: list[str], n_folds: int, seed: int
) -> dict[str, Any]:
    table = read_table(data_root / name, on_duplicate="keep")
    train_idx = np.flatnonzero(np.array([s == "train" for s in table.splits]))
    rng = np.random.default_rng(seed)
    folds = np.array_split(rng.permutation(train_idx), n_folds)
    say(f"[{name}] {len(train_idx)} train prompts, {n_folds} folds")
    scores: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    for enc_name in encoders:
        encoder = named_encoder(enc_name)
        t0 = time.perf_counter()
        if enc_name == "minilm":  # the whole table: MiniLM's cache file of the table is reused
            X = np.asarray(cached_embeddings(list(table.prompts), encoder), dtype=np.float64)
        else:  # only the train prompts are encoded (and cached); test rows stay zero, unused
            X = np.zeros((len(table.prompts), encoder.dimension))
            X[train_idx] = cached_embeddings([table.prompts[i] for i in train_idx], encoder)
        encode_s = time.perf_counter() - t0
        say(
            f"[{name}] {encoder.name}: embeddings ready in {encode_s:.0f} s; fitting ridge per fold"
        )
        scores[enc_name] = np.asarray(fold_scores(X, table, folds, train_idx))
        info[enc_name] = {
            "encoder": encoder.name,
            "dimension": int(X.shape[1]),
            "embeddings_s": encode_s,
        }
    ref = scores[encoders[0]]
    rows = {}
    for enc_name, s in scores.items():
        diff = s - ref
        rows[enc_name] = {
            **info[enc_name],
            "aiq_mean": float(s[:, 0].mean()), "aiq_sd": float(s[:, 0].std(ddof=1)),
            "anchored_mean": float(s[:, 1].mean()), "anchored_sd": float(s[:, 1].std(ddof=1)),
            "aiq_diff_mean": float(diff[:, 0].mean()), "aiq_diff_sd": float(diff[:, 0].std(ddof=1)),
            "anchored_diff_mean": float(diff[:, 1].mean()), "anchored_diff_sd": float(diff[:, 1].std(ddof=1)),
            "folds_at_least_as_good": int((diff[:, 0] >= 0).sum()),
            "folds": s.tolist(),
        }  # fmt: skip
    return {"dataset": name, "train_prompts": len(train_idx), "folds": n_folds, "encoders": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", default="routerbench_zs,llmrouter_nim")
    parser.add_argument("--encoders", default="minilm,onnx,onnx-int8,model2vec",
                        help="comma-separated --encoder names; the first is the reference")  # fmt: skip
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    results = [
        run_dataset(d.strip(), args.data_root, encoders, args.folds, args.seed)
        for d in args.datasets.split(",")
    ]
    for res in results:
        print(
            f"\n{res['dataset']}: ridge (alpha='cv'), {res['folds']}-fold validation on {res['train_prompts']} train prompts"
        )
        print(
            f"{'encoder':<34} {'AIQ':>16} {'anchored AIQ':>16} {'AIQ - ref':>18} {'anchored - ref':>18} {'folds >= ref':>12}"
        )
        for row in res["encoders"].values():
            print(
                f"{row['encoder']:<34} {row['aiq_mean']:>9.4f} ± {row['aiq_sd']:.4f} "
                f"{row['anchored_mean']:>9.4f} ± {row['anchored_sd']:.4f} "
                f"{row['aiq_diff_mean']:>+10.4f} ± {row['aiq_diff_sd']:.4f} "
                f"{row['anchored_diff_mean']:>+10.4f} ± {row['anchored_diff_sd']:.4f} "
                f"{row['folds_at_least_as_good']:>7}/{res['folds']}"
            )
    print(
        "\n± = standard deviation over folds; differences are paired by fold against the first encoder."
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
