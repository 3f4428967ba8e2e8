"""IR3DE's domain-expert setting on domain_experts_7b: route each prompt to its domain's expert.

Domain = task. The expert of a task is the model with the best mean quality on that task in the
TRAIN split. DomainExpertRouter is fit on train prompts labelled with their task's expert and
routes the test prompts. Reported per router:

* normalized performance: per task, mean quality of the routed models on the task's test prompts
  divided by the mean quality of the task's own expert there; averaged over tasks (IR3DE's
  headline metric, 98.4 % in its reasoning setting);
* routing accuracy (chosen model == the task's expert) and normalized routing accuracy (mean
  per-expert recall);
* mean test quality.

Baselines: IR3DE's kNN (k=5 cosine, majority vote of expert labels), RidgeRouter and KNNRouter
(k=40) predicting each model's quality, the best single model, the per-prompt oracle.

Usage:
    python benchmarks/ir3de_domain_experts.py [--data DIR] [--embeddings FILE.npy] [--json OUT]

Embeddings: ``shared.cached_embeddings`` with ``shared.default_encoder()`` (MiniLM, computed once
and cached on disk), ``--encoder hashing`` (word and character 1-3-gram hashing, language
agnostic), or ``--embeddings`` with a ``.npy`` whose rows follow prompts.jsonl order.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "domain_experts_7b"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _knn_vote(Xtr: NDArray[Any], labels: NDArray[Any], Xte: NDArray[Any], k: int) -> Any:
    """IR3DE's kNN baseline: cosine similarity, majority vote of the k nearest labels."""
    a = Xtr / np.linalg.norm(Xtr, axis=1, keepdims=True)
    b = Xte / np.linalg.norm(Xte, axis=1, keepdims=True)
    classes, codes = np.unique(labels, return_inverse=True)
    out = np.empty(len(b), dtype=object)
    for start in range(0, len(b), 2048):
        sim = b[start : start + 2048] @ a.T
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        votes = np.apply_along_axis(np.bincount, 1, codes[nn], minlength=len(classes))
        out[start : start + 2048] = classes[votes.argmax(axis=1)]
    return out


def evaluate(
    chosen: NDArray[Any],
    models: list[str],
    tasks: NDArray[Any],
    expert_of: dict[str, str],
    Q: NDArray[np.float64],
) -> dict[str, Any]:
    """Normalized performance, routing accuracies and mean quality of per-prompt choices."""
    col = {m: j for j, m in enumerate(models)}
    idx = np.array([col[m] for m in chosen])
    got = Q[np.arange(len(idx)), idx]
    target = np.array([expert_of[t] for t in tasks], dtype=object)
    per_task = {}
    for t in sorted(set(tasks)):
        m = tasks == t
        own = Q[m, col[expert_of[t]]].mean()
        per_task[t] = {
            "normalized": float(got[m].mean() / own) if own > 0 else float("nan"),
            "routing_accuracy": float((chosen[m] == target[m]).mean()),
        }
    recalls = [float((chosen[target == e] == e).mean()) for e in sorted(set(target))]
    return {
        "normalized_performance": float(np.nanmean([v["normalized"] for v in per_task.values()])),
        "routing_accuracy": float((chosen == target).mean()),
        "normalized_routing_accuracy": float(np.mean(recalls)),
        "mean_quality": float(got.mean()),
        "per_task": per_task,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from shared import (
        DomainExpertRouter,
        HashingEncoder,
        KNNRouter,
        RidgeRouter,
        cached_embeddings,
        default_encoder,
        read_table,
    )

    table = read_table(args.data, on_duplicate="keep")  # rows stay in prompts.jsonl order
    if args.embeddings:
        X = np.load(args.embeddings).astype(np.float64)
        if X.shape[0] != table.n_prompts:
            raise SystemExit(f"{args.embeddings} has {X.shape[0]} rows for {table.n_prompts}.")
    else:
        encoder = (
            default_encoder()
            if args.encoder == "minilm"
            else HashingEncoder(n_features=1024, char_ngram_range=(1, 3))
        )
        _log(f"encoding {table.n_prompts} prompts with {encoder.name} (cached on disk) ...")
        X = np.asarray(cached_embeddings(list(table.prompts), encoder), np.float64)
    splits = np.asarray(table.splits)
    tasks = np.asarray(table.tasks, dtype=object)
    full = table.observed.all(axis=1)
    tr, te = (splits == "train") & full, (splits == "test") & full
    models = list(table.models)
    Qtr, Qte, Ctr = table.quality[tr], table.quality[te], table.cost[tr]
    expert_of = {}
    for t in sorted(set(tasks[tr])):
        expert_of[t] = models[int(np.argmax(Qtr[tasks[tr] == t].mean(axis=0)))]
    labels = np.array([expert_of[t] for t in tasks[tr]], dtype=object)
    _log("experts: " + ", ".join(f"{t}->{m}" for t, m in expert_of.items()))
    experts = sorted(set(expert_of.values()))

    routers: dict[str, Callable[[], NDArray[Any]]] = {}

    def domain(**kw: Any) -> Callable[[], NDArray[Any]]:
        def fit_route() -> NDArray[Any]:
            r = DomainExpertRouter(**kw).fit(X[tr], list(labels), experts=experts)
            return np.asarray(r.predict(X[te]))

        return fit_route

    routers["IR3DE (alpha=1e-2, as published)"] = domain(alpha=1e-2)
    routers["IR3DE alpha=gcv"] = domain(alpha="gcv")
    routers["IR3DE alpha=gcv, balanced"] = domain(alpha="gcv", class_weight="balanced")
    routers["kNN k=5 label vote (IR3DE baseline)"] = lambda: _knn_vote(X[tr], labels, X[te], 5)
    routers["RidgeRouter alpha=cv (quality)"] = lambda: np.asarray(
        RidgeRouter(alpha="cv").fit(X[tr], Qtr, Ctr, models=models).predict(X[te])
    )
    routers["KNNRouter k=40 (quality)"] = lambda: np.asarray(
        KNNRouter(k=40).fit(X[tr], Qtr, Ctr, models=models).predict(X[te])
    )
    best = models[int(np.argmax(Qtr.mean(axis=0)))]
    routers[f"best single model ({best.split('/')[-1]})"] = lambda: np.full(
        te.sum(), best, dtype=object
    )
    routers["oracle (best model per prompt)"] = lambda: np.asarray(models, dtype=object)[
        Qte.argmax(axis=1)
    ]
    results: dict[str, Any] = {
        "dataset": str(args.data),
        "embeddings": args.embeddings or args.encoder,
        "n_train": int(tr.sum()),
        "n_test": int(te.sum()),
        "experts": expert_of,
        "routers": {},
    }
    for i, (name, fit_route) in enumerate(routers.items(), 1):
        _log(f"[{i}/{len(routers)}] {name} ...")
        t0 = time.perf_counter()
        chosen = fit_route()
        res = evaluate(chosen, models, tasks[te], expert_of, Qte)
        res["seconds"] = time.perf_counter() - t0
        results["routers"][name] = res
    return results


def _table(r: dict[str, Any]) -> str:
    lines = [
        f"IR3DE setting on {r['dataset']} (train {r['n_train']}, test {r['n_test']} prompts), "
        f"embeddings: {r['embeddings']}",
        f"  {'router':<44} {'norm.perf':>9} {'route acc':>9} {'norm.acc':>9} {'quality':>8}",
    ]
    for name, v in r["routers"].items():
        lines.append(
            f"  {name:<44} {v['normalized_performance']:>9.1%} {v['routing_accuracy']:>9.1%} "
            f"{v['normalized_routing_accuracy']:>9.1%} {v['mean_quality']:>8.4f}"
        )
    first = next(iter(r["routers"].values()))
    lines.append("  per task (IR3DE as published): expert, normalized perf, routing accuracy")
    for t, v in first["per_task"].items():
        lines.append(
            f"    {t:<18} {r['experts'][t]:<45} {v['normalized']:>7.1%} {v['routing_accuracy']:>7.1%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--embeddings", default=None, help=".npy rows in prompts.jsonl order")
    parser.add_argument(
        "--encoder",
        choices=["minilm", "hashing"],
        default="minilm",
        help="minilm: shared.default_encoder(); hashing: word + char 1-3-gram hashing, 1024 dims",
    )
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    result = run(args)
    print(_table(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
