"""The OptLLM experiment on a routing table: split, predict, optimize, score against the truth.

As in the paper, all prompts are pooled: a ``train_share`` of them trains the success predictor,
the same share validates it (the bootstrap weights), and the rest is the batch to assign. Costs of
the batch are taken as known (the paper does the same; in production they are estimated from
token counts and prices). Every front is re-scored with the real outcomes before comparison.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError, InvalidParameterError
from .exact import exact_front
from .front import ParetoFront, check_matrices
from .metrics import FrontScore, best_single_model, saving_at_accuracy, score_front, true_front
from .nsga2 import nsga2_available, nsga2_front
from .optllm import optllm_front
from .predictor import SuccessPredictor

__all__ = ["FrontComparison", "compare_fronts", "split_batch"]

IntArray = NDArray[np.intp]


def split_batch(
    n: int, train_share: float, seed: int | None
) -> tuple[IntArray, IntArray, IntArray]:
    """Random (train, validation, batch) row indices: ``train_share`` each for the first two.

    Examples:
        >>> [len(part) for part in split_batch(100, 0.1, seed=0)]
        [10, 10, 80]
    """
    if not 0 < train_share < 0.5:
        raise InvalidParameterError(f"train_share must be in (0, 0.5), got {train_share!r}.")
    n_train = max(2, round(train_share * n))
    if 2 * n_train >= n:
        raise DataError(f"{n} prompts are too few for a train share of {train_share}.")
    perm = np.random.default_rng(seed).permutation(n).astype(np.intp)
    return perm[:n_train], perm[n_train : 2 * n_train], perm[2 * n_train :]


@dataclass(frozen=True, eq=False)
class FrontComparison:
    """Fronts of one batch and their scores against the true front.

    Attributes:
        fronts: the fronts by name (``true``, ``exact``, ``optllm``, ``nsga2``...), on predicted
            probabilities except ``true``.
        scores: :class:`FrontScore` by name.
        batch: rows of the input that form the batch.
        best_single: the most accurate single model on the batch: ``model``, ``accuracy``, ``cost``.
        savings: per front, the relative cost saving at the best single model's accuracy
            (``None`` when the front does not reach it).
        fit_seconds: predictor training time.
        quality: ``(n_batch, K)`` real outcomes of the batch (to re-score a chosen assignment).
        cost: ``(n_batch, K)`` costs of the batch.
    """

    fronts: dict[str, ParetoFront]
    scores: dict[str, FrontScore]
    batch: IntArray
    best_single: dict[str, Any]
    savings: dict[str, float | None]
    fit_seconds: float
    quality: NDArray[np.float64] = field(repr=False)
    cost: NDArray[np.float64] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able report (``fronts``, ``best_single``, ``saving_at_best_accuracy``...)."""
        return {
            "n_batch": int(self.batch.size),
            "fit_seconds": self.fit_seconds,
            "fronts": {name: s.to_dict() for name, s in self.scores.items()},
            "best_single": self.best_single,
            "saving_at_best_accuracy": self.savings,
        }

    def plot(self, path: str, title: str = "") -> None:
        """Write a PNG of the real (cost, accuracy) of every front and of the single models."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        styles = {"true": "k-", "exact": "C0-", "exact_thin": "C0x", "optllm": "C1o-"}
        for name, score in self.scores.items():
            pts = score.points
            ax.plot(
                pts[:, 0], pts[:, 1], styles.get(name, "C2s-"), ms=4, label=f"{name} ({len(pts)})"
            )
        tot, acc = self.cost.sum(axis=0), self.quality.mean(axis=0)
        ax.scatter(tot, acc, marker="^", color="grey", zorder=3, label="single models")
        ax.set_xlabel("total cost of the batch (USD)")
        ax.set_ylabel("real accuracy")
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)

    def format_table(self) -> str:
        """A fixed-width table of the scores, one row per front."""
        head = (
            f"{'front':<10} {'IGD':>8} {'IGD($)':>10} {'HV':>7} {'spread':>7} "
            f"{'seconds':>8} {'n_sol':>6} {'saving@best':>11}"
        )
        lines = [head, "-" * len(head)]
        for name, s in self.scores.items():
            saving = self.savings.get(name)
            sv = "n/a" if saving is None else f"{round(100 * saving, 4) + 0.0:.1f}%"
            lines.append(
                f"{name:<10} {s.igd:>8.4f} {s.igd_raw:>10.4g} {s.hypervolume:>7.4f} "
                f"{s.spread:>7.3f} {s.seconds:>8.3f} {s.n_solutions:>6d} {sv:>11}"
            )
        b = self.best_single
        lines.append(
            f"best single model: {b['model']} (accuracy {b['accuracy']:.4f}, "
            f"cost ${b['cost']:.4g}) on {self.batch.size} queries"
        )
        return "\n".join(lines)


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def compare_fronts(
    X: ArrayLike,
    quality: ArrayLike,
    cost: ArrayLike,
    models: Sequence[str],
    *,
    train_share: float = 0.01,
    seed: int | None = 0,
    predictor: SuccessPredictor | None = None,
    gn: int = 50,
    methods: Sequence[str] = ("exact", "optllm", "nsga2"),
    nsga2_seconds: float | None = 120.0,
    progress: bool = False,
) -> FrontComparison:
    """Run the OptLLM protocol on fully observed outcomes and score every front.

    Args:
        X: ``(n, d)`` prompt embeddings.
        quality: ``(n, K)`` real quality in [0, 1] (no NaN: use a table's complete rows).
        cost: ``(n, K)`` USD per call.
        models: the ``K`` model names.
        train_share: share of prompts for training (the same share validates).
        seed: seed of the split, the predictor (unless given) and NSGA-II.
        predictor: an unfitted :class:`SuccessPredictor` (default: the paper's random forest,
            10 bootstraps, alpha 1).
        gn: OptLLM steps per direction.
        methods: fronts to compute among ``exact``, ``exact_thin`` (the exact front thinned to
            ``2 * gn`` points, OptLLM's maximum, for a like-for-like count), ``optllm`` and
            ``nsga2`` (skipped when pymoo is missing).
        nsga2_seconds: wall-time cap of NSGA-II.
        progress: print progress lines to stderr.

    The exact front and NSGA-II optimize the robust probabilities (``p + alpha * sigma``, the
    paper's baseline objective); OptLLM gets the mean for its cheap side and the robust ones for
    its accurate side, as in the paper.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 3))
        >>> Q = np.column_stack([X[:, 0] > 0, np.ones(60)]).astype(float)
        >>> C = np.tile([0.01, 0.1], (60, 1))
        >>> comp = compare_fronts(X, Q, C, ["small", "big"], train_share=0.2, methods=["exact"],
        ...                       predictor=SuccessPredictor(estimator="logistic", n_bootstrap=2))
        >>> sorted(comp.to_dict()["fronts"]), comp.best_single["model"]
        (['exact', 'true'], 'big')
    """
    q, c = check_matrices(quality, cost)
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2 or Xa.shape[0] != q.shape[0]:
        raise DataError(f"Embeddings of shape {Xa.shape} do not match {q.shape[0]} prompts.")
    unknown = set(methods) - {"exact", "exact_thin", "optllm", "nsga2"}
    if unknown:
        raise InvalidParameterError(f"Unknown front method(s) {sorted(unknown)}.")
    train, val, batch = split_batch(q.shape[0], train_share, seed)
    pred = predictor if predictor is not None else SuccessPredictor(random_state=seed)
    _say(f"fitting the success predictor on {train.size} prompts...", progress)
    t0 = time.perf_counter()
    pred.fit(Xa[train], q[train], X_val=Xa[val], Y_val=q[val], models=list(models))
    fit_seconds = time.perf_counter() - t0
    P_mean, P_std = pred.predict_distribution(Xa[batch])
    P_rob = np.clip(P_mean + pred.alpha * P_std, 0.0, 1.0)
    qb, cb = q[batch], c[batch]
    fronts: dict[str, ParetoFront] = {"true": true_front(qb, cb, models=models)}
    if "exact" in methods:
        _say("exact front...", progress)
        fronts["exact"] = exact_front(P_rob, cb, models=models)
    if "exact_thin" in methods:
        fronts["exact_thin"] = exact_front(P_rob, cb, models=models, max_points=2 * gn)
    if "optllm" in methods:
        _say(f"OptLLM front (gn={gn})...", progress)
        fronts["optllm"] = optllm_front(P_mean, cb, P_robust=P_rob, gn=gn, models=models)
    if "nsga2" in methods and nsga2_available():
        _say("NSGA-II front...", progress)
        fronts["nsga2"] = nsga2_front(
            P_rob, cb, seed=seed, max_seconds=nsga2_seconds, models=models
        )
    ref = fronts["true"]
    scores = {name: score_front(f, qb, cb, reference=ref) for name, f in fronts.items()}
    j, acc, tot = best_single_model(qb, cb)
    savings = {
        name: saving_at_accuracy(s.points, acc, tot) for name, s in scores.items() if name != "true"
    }
    return FrontComparison(
        fronts=fronts,
        scores=scores,
        batch=batch,
        best_single={"model": models[j], "accuracy": acc, "cost": tot},
        savings=savings,
        fit_seconds=fit_seconds,
        quality=qb,
        cost=cb,
    )
