"""Reproduce the reference rows of the shared data README, and put the tuned RidgeRouter beside them.

Reference configuration (README of the shared data folder): all-MiniLM-L6-v2 embeddings,
L2-normalized, batch 64; kNN k = 40 by cosine similarity, predicted quality and cost = the
neighbours' means; ridge: one least-squares fit on [X, 1] with penalty 1.0 on every weight
(intercept included), predicting quality and cost of every model; decisions argmax
q_hat - lambda * c_hat / median(c_hat > 0) for lambda = 0 and 60 values log-spaced in [1e-3, 1e3].
Test split, prompts with every model observed. Metrics from shared.evaluation.

"Ours" is ``RidgeRouter(alpha="cv")``: the penalty chosen by leave-one-out cross-validation on the
train split only, the intercept not penalized; once on the MiniLM embeddings and once on MiniLM
beside hashed words of the whole prompt (``minilm_with_hashing``: 1,024 buckets at weight 0.5,
chosen on validation splits of the train prompts).

kNN notes:

* The README's kNN rows are reproduced by neighbours' means weighted by cosine similarity
  (llmrouter_nim 0.5554 / 0.5766 for README 0.5550 / 0.5766; domain_experts_7b Q@Cbest 0.4965 for
  0.4964), not by plain means (llmrouter_nim 0.5513 / 0.5706, outside ±0.005 on Q@Cbest; that
  table has no tied neighbours, so plain means cannot produce the README's figure). The
  "kNN k=40 (reference)" row uses the similarity weights; the plain-mean row is printed below it.
* MiniLM truncates prompts at 256 word pieces, so prompts sharing a long few-shot prefix get
  identical embeddings (routerbench_zs: 130 distinct test vectors out of 953). The k nearest
  neighbours are then a tie, and the kNN figures depend on the tie-break. Both kNN rows split the
  weight equally among tied neighbours (order-independent); the spread of first-k kNN over random
  tie orders is printed next to them.

Each router is also compared with the reference ridge by a paired bootstrap over the test prompts
(``shared.evaluation.paired_bootstrap``, 1,000 resamples): the AIQ difference, its 95% interval and
the share of resamples in which the router wins.

Usage (from the repository root)::

    python benchmarks/evaluate_reference.py [--data-root ../shared/data]
        [--datasets routerbench_zs,llmrouter_nim] [--plots-dir docs/img] [--json OUT]

Embeddings go through ``shared.cached_embeddings`` (disk cache), so a second run is fast.
``--embeddings DIR`` instead reads precomputed ``<dataset>.npy`` files (rows in prompts.jsonl order,
ids in ``<dataset>.ids.json``) after checking 16 random rows against the encoder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shared import (
    BaseRouter,
    EvaluationReport,
    RidgeRouter,
    RoutingTable,
    cached_embeddings,
    read_table,
)
from shared.encoders import SentenceTransformerEncoder, minilm_with_hashing
from shared.evaluation import (
    PairedBootstrap,
    ReferenceKNNRouter,
    ReferenceRidgeRouter,
    RouterResult,
    aiq,
    default_lambdas,
    evaluate_routers,
    frontier,
    paired_bootstrap,
    plot_pareto,
    points_of_choices,
    quality_at_cost,
    route_sweep,
    scalarized_choices,
    single_model_points,
)

ROOT = Path(__file__).resolve().parents[1]

# The README's reference figures (the targets of the reproduction): (AIQ, Q@Cbest, C@Qbest).
README: dict[str, dict[str, Any]] = {
    "routerbench_zs": {
        "best": ("gpt-4-1106-preview", 0.8804),
        "oracle": 0.9759,
        "single models' hull": (0.8197, 0.8804, 1.000),
        "kNN k=40 (reference)": (0.8375, 0.8741, None),
        "ridge alpha=1 (reference)": (0.8539, 0.8856, 0.724),
        # 87% of the test prompts tie with >= 40 training prompts (identical truncated embeddings)
        "tie_dependent": ("kNN k=40 (reference)",),
    },
    "llmrouter_nim": {
        "best": ("llama-3.1-nemotron-51b-instruct", 0.5626),
        "oracle": 0.7434,
        "single models' hull": (0.5195, 0.5626, 1.000),
        "kNN k=40 (reference)": (0.5550, 0.5766, 0.307),
        "ridge alpha=1 (reference)": (0.5547, 0.5770, 0.287),
    },
    "domain_experts_7b": {
        "best": ("cognitivecomputations/dolphin-2.9-llama3-8b", 0.4816),
        "oracle": 0.6998,
        "single models' hull": (None, 0.4816, None),
        "kNN k=40 (reference)": (None, 0.4964, None),
        "ridge alpha=1 (reference)": (None, 0.4990, None),
    },
}
TOLERANCE = 0.005
OURS_BOTH = "RidgeRouter(alpha='cv'), MiniLM+hashing (ours)"


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def knn_tie_spread(
    X_tr: np.ndarray,
    X_te: np.ndarray,
    Q_tr: np.ndarray,
    C_tr: np.ndarray,
    Q: np.ndarray,
    C: np.ndarray,
    lam: np.ndarray,
    n_orders: int = 20,
    k: int = 40,
    weights: str = "similarity",
) -> np.ndarray:
    """AIQ / Q@Cbest of first-k kNN over random orders of the training prompts."""
    sims = X_te @ X_tr.T
    single = single_model_points(Q, C)
    c_max = single[:, 0].max()
    b = int(np.argmax(single[:, 1]))
    out = []
    for seed in range(n_orders):
        perm = np.random.default_rng(seed).permutation(X_tr.shape[0])
        idx = perm[np.argsort(-sims[:, perm], axis=1, kind="stable")[:, :k]]
        w = np.take_along_axis(sims, idx, axis=1) if weights == "similarity" else np.ones(idx.shape)
        w = w / w.sum(axis=1, keepdims=True)
        q_hat = np.einsum("nk,nkm->nm", w, Q_tr[idx])
        c_hat = np.einsum("nk,nkm->nm", w, C_tr[idx])
        choices = scalarized_choices(q_hat, c_hat, lam)
        f = frontier(points_of_choices(choices, Q, C))
        out.append((aiq(f, c_max), quality_at_cost(f, single[b, 0])))
    return np.array(out)


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.3g}"


def load_embeddings(
    table: RoutingTable,
    encoder: SentenceTransformerEncoder,
    cache_dir: str | None,
    embeddings_dir: str | None,
) -> np.ndarray:
    """Embeddings of every prompt: through the disk cache, or precomputed and verified."""
    texts = list(table.prompts)
    if embeddings_dir is None:
        return cached_embeddings(texts, encoder, cache_dir=cache_dir, progress=True)
    path = Path(embeddings_dir) / f"{table.name}.npy"
    X = np.load(path, allow_pickle=False)
    ids = json.loads(path.with_suffix(".ids.json").read_text())
    if ids != list(table.ids) or X.shape[0] != table.n_prompts:
        raise SystemExit(f"{path}: rows do not match the table's prompts")
    sample = np.random.default_rng(0).choice(table.n_prompts, 16, replace=False)
    check = encoder.encode([texts[i] for i in sample])
    gap = float(np.abs(check - X[sample]).max())
    progress(
        f"[{table.name}] precomputed {path}: max |diff| to the encoder on 16 prompts {gap:.1e}"
    )
    if gap > 1e-5:
        raise SystemExit(f"{path} was not made by {encoder.name} (max diff {gap:.2e})")
    return np.asarray(X)


def run_dataset(
    name: str,
    data_root: Path,
    cache_dir: str | None,
    plots_dir: Path | None,
    embeddings_dir: str | None,
    tie_orders: int = 20,
) -> tuple[EvaluationReport, np.ndarray, list[float], dict[str, PairedBootstrap]]:
    t0 = time.perf_counter()
    # routerbench_zs lists 14 prompt ids twice (some in both splits); the README figures were
    # computed with every row kept, so the reproduction keeps them too.
    table = read_table(data_root / name, on_duplicate="keep")
    progress(f"[{name}] {table.n_prompts} prompts, {table.n_models} models; embedding")
    encoder = SentenceTransformerEncoder(batch_size=64)
    X = np.asarray(load_embeddings(table, encoder, cache_dir, embeddings_dir), dtype=np.float64)
    train = np.array([s == "train" for s in table.splits])
    test = np.array([s == "test" for s in table.splits]) & table.observed.all(axis=1)
    X_tr, X_te = X[train], X[test]
    Q_tr, C_tr = table.quality[train], table.cost[train]
    Q, C = table.quality[test], table.cost[test]
    models = list(table.models)
    lam = default_lambdas(pure_cost=False)  # the README sweep: 0 and 60 log-spaced values

    distinct = (
        len(np.unique(np.round(X_te, 6), axis=0)),
        len(np.unique(np.round(X_tr, 6), axis=0)),
    )
    progress(
        f"[{name}] distinct embeddings: {distinct[0]} of {len(X_te)} test, "
        f"{distinct[1]} of {len(X_tr)} train prompts"
    )
    progress(f"[{name}] fitting reference kNN, reference ridge and RidgeRouter(alpha='cv')")
    routers: dict[str, BaseRouter] = {
        "kNN k=40 (reference)": ReferenceKNNRouter(k=40, weights="similarity").fit(
            X_tr, Q_tr, C_tr, models=models
        ),
        "kNN k=40, plain means": ReferenceKNNRouter(k=40).fit(X_tr, Q_tr, C_tr, models=models),
        "ridge alpha=1 (reference)": ReferenceRidgeRouter(alpha=1.0).fit(
            X_tr, Q_tr, C_tr, models=models
        ),
    }
    start = time.perf_counter()
    ours = RidgeRouter(alpha="cv").fit(X_tr, Q_tr, C_tr, models=models)
    fit_s = time.perf_counter() - start
    routers["RidgeRouter(alpha='cv') (ours)"] = ours
    # the same router on MiniLM beside hashed words of the whole prompt (minilm_with_hashing;
    # block weight and width chosen on validation splits of the train prompts, docs/encoders.md)
    both = minilm_with_hashing()
    hashing = both.encoders[1]
    H = cached_embeddings(list(table.prompts), hashing, cache_dir=cache_dir, progress=False)
    XH = np.asarray(both.combine([X.astype(np.float32), H]), dtype=np.float64)
    ours_both = RidgeRouter(alpha="cv").fit(XH[train], Q_tr, C_tr, models=models)
    report = evaluate_routers(routers, X_te, Q, C, models, dataset=name, lambdas=lam)
    report_both = evaluate_routers(
        {OURS_BOTH: ours_both}, XH[test], Q, C, models, dataset=name, lambdas=lam
    )
    report = replace(report, routers={**report.routers, **report_both.routers})
    progress(f"[{name}] RidgeRouter alpha chosen on train: {np.unique(ours.alpha_)} ({fit_s:.1f}s)")
    progress(f"[{name}] paired bootstrap against the reference ridge (1,000 resamples)")
    ref_choices, _ = route_sweep(routers["ridge alpha=1 (reference)"], X_te, models, lam)
    bootstrap: dict[str, PairedBootstrap] = {}
    for label, (router, features) in {
        **{k: (r, X_te) for k, r in routers.items()},
        OURS_BOTH: (ours_both, XH[test]),
    }.items():
        if label != "ridge alpha=1 (reference)":
            choices, _ = route_sweep(router, features, models, lam)
            bootstrap[label] = paired_bootstrap(choices, ref_choices, Q, C, random_state=0)
    spread = (
        knn_tie_spread(X_tr, X_te, Q_tr, C_tr, Q, C, lam, n_orders=tie_orders)
        if tie_orders > 0
        else np.empty((0, 2))
    )
    if plots_dir is not None:
        plots_dir.mkdir(parents=True, exist_ok=True)
        plot_pareto(
            report,
            plots_dir / f"pareto_{name}.png",
            title=f"{name}: test split ({report.n_test} prompts), MiniLM embeddings",
        )
    progress(f"[{name}] done in {time.perf_counter() - t0:.0f}s")
    return report, spread, [float(a) for a in np.unique(ours.alpha_)], bootstrap


def compare(report: EvaluationReport, name: str) -> tuple[list[str], bool]:
    ref = README[name]
    lines = [
        f"\n== {name}: {report.n_test} test prompts; best single {report.best_single} "
        f"(q {report.q_best:.4f}, README {ref['best'][1]:.4f}), oracle {report.oracle.quality:.4f} "
        f"(README {ref['oracle']:.4f})",
        f"{'row':<48} {'AIQ':>7} {'README':>7} {'Q@Cbest':>8} {'README':>7} "
        f"{'C@Qbest':>8} {'README':>7}  within ±{TOLERANCE}",
    ]
    ok_all = True
    rows: list[tuple[str, RouterResult]] = [
        ("single models' hull", report.hull),
        *report.routers.items(),
    ]
    for row, res in rows:
        target = ref.get(row)
        measured = (res.aiq, res.q_at_cbest, res.c_at_qbest)
        status = ""
        if target is not None:
            checks = []
            for m, t in zip(measured, target):
                if t is None:
                    continue
                checks.append(m is not None and abs(m - t) <= TOLERANCE)
            ok = all(checks)
            tie_dependent = row in ref.get("tie_dependent", ())
            ok_all &= ok or tie_dependent
            status = ("yes" if ok else "NO") + (
                " (tie-dependent, not checked)" if tie_dependent else ""
            )
        t = target or (None, None, None)
        lines.append(
            f"{row:<48} {fmt(res.aiq):>7} {fmt(t[0]):>7} {fmt(res.q_at_cbest):>8} {fmt(t[1]):>7} "
            f"{fmt(res.c_at_qbest):>8} {fmt(t[2]):>7}  {status}"
        )
    return lines, ok_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--datasets", default="routerbench_zs,llmrouter_nim")
    parser.add_argument("--plots-dir", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--json", default=None, help="write every report as JSON")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder")
    parser.add_argument(
        "--embeddings",
        default=None,
        metavar="DIR",
        help="use precomputed <dataset>.npy + <dataset>.ids.json from DIR (checked against the "
        "encoder on 16 prompts) instead of the disk cache",
    )
    parser.add_argument(
        "--tie-orders",
        type=int,
        default=20,
        help="random train orders for the kNN tie-sensitivity check (0 to skip; it holds the "
        "full test x train similarity matrix in memory)",
    )
    args = parser.parse_args(argv)
    out: dict[str, object] = {}
    ok_all = True
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        report, spread, alphas, bootstrap = run_dataset(
            name,
            Path(args.data_root),
            args.cache_dir,
            Path(args.plots_dir) if args.plots_dir else None,
            args.embeddings,
            args.tie_orders,
        )
        lines, ok = compare(report, name)
        ok_all &= ok
        if spread.size:
            lines.append(
                f"similarity-weighted kNN, first-k over {len(spread)} random train orders (tie sensitivity): AIQ min/median/max "
                f"{spread[:, 0].min():.4f}/{np.median(spread[:, 0]):.4f}/{spread[:, 0].max():.4f}, "
                f"Q@Cbest {spread[:, 1].min():.4f}/{np.median(spread[:, 1]):.4f}/{spread[:, 1].max():.4f}"
            )
        lines.append("paired bootstrap against the reference ridge (AIQ difference, 95% interval):")
        for label, b in bootstrap.items():
            lo, hi = b.aiq_interval
            lines.append(
                f"  {label:<48} {b.aiq_diff:+.4f}  [{lo:+.4f}, {hi:+.4f}]  "
                f"wins {b.share_better:.0%} of resamples"
            )
        print("\n".join(lines), flush=True)
        out[name] = {
            **report.to_dict(),
            "bootstrap_vs_reference_ridge": {k: b.to_dict() for k, b in bootstrap.items()},
            "knn_tie_spread": spread.tolist(),
            "ridge_cv_alphas": alphas,
        }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(
        "\nreference rows reproduced within ±0.005 (tie-dependent rows excepted):",
        "yes" if ok_all else "NO",
    )
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
