"""Scoring assignment fronts against the true front computed from real outcomes.

The optimizers see predicted success probabilities. To judge them, every solution they return is
re-scored with the observed quality and cost (its *true* accuracy and cost), the re-scored points
are filtered to the non-dominated ones, and the result is compared with the true front, the best
trade-offs reachable with the real outcomes (as in the OptLLM paper). Costs are normalized by the
most expensive single-model total of the batch, so that 1.0 means "every query to the priciest
model"; accuracy is already in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError
from .exact import _cheapest, exact_front
from .front import AssignmentPath, ParetoFront, check_matrices, nondominated

__all__ = [
    "FrontScore",
    "best_single_model",
    "hypervolume",
    "igd",
    "saving_at_accuracy",
    "score_front",
    "spread",
    "true_front",
]

FloatArray = NDArray[np.float64]


def _points(points: ArrayLike, what: str) -> FloatArray:
    arr = (
        np.asarray(points, dtype=np.float64).reshape(-1, 2) if np.size(points) else np.zeros((0, 2))
    )
    if arr.shape[0] == 0:
        raise DataError(f"The {what} has no points.")
    return arr


def true_front(
    quality: ArrayLike, cost: ArrayLike, *, models: Sequence[str] | None = None
) -> ParetoFront:
    """The best (cost, accuracy) trade-offs reachable with the real outcomes.

    For 0/1 quality this is the OptLLM reference front (methods.md 2.4): start from each query's
    cheapest model (ties to a correct one) and switch the queries whose cheapest model is wrong to
    their cheapest correct model, in increasing order of extra cost. Every switch gains exactly one
    correct answer, so taking the smallest extra costs first is optimal: the front is exact and
    complete. For fractional quality it is :func:`exact_front` of the real outcomes (every point
    Pareto optimal, the gaps between supported points filled by single switches).

    Examples:
        >>> import numpy as np
        >>> Q = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
        >>> C = np.array([[1.0, 5.0], [1.0, 5.0], [1.0, 2.0]])
        >>> true_front(Q, C).points.tolist()
        [[3.0, 0.3333333333333333], [4.0, 0.6666666666666666], [8.0, 1.0]]
    """
    q, c = check_matrices(quality, cost)
    if not np.all((q == 0.0) | (q == 1.0)):
        front = exact_front(q, c, models=models)
        return ParetoFront(front.points, front.assignments, "true", 0.0, front.supported)
    n = q.shape[0]
    rows = np.arange(n)
    start = _cheapest(q, c)
    correct = q == 1.0
    fix = (q[rows, start] < 1.0) & correct.any(axis=1)
    target = np.argmin(np.where(correct, c, np.inf), axis=1)
    extra = c[rows, target] - c[rows, start]
    todo = np.flatnonzero(fix)
    todo = todo[np.lexsort((todo, extra[todo]))]
    cost0, acc0 = float(c[rows, start].sum()), float(q[rows, start].sum())
    costs = np.concatenate([[cost0], cost0 + np.cumsum(extra[todo])])
    accs = np.concatenate([[acc0], acc0 + np.arange(1, todo.size + 1)]) / n
    points = np.column_stack([costs, accs])
    names = None if models is None else tuple(models)
    steps = np.arange(points.shape[0], dtype=np.intp)
    store = AssignmentPath(start, todo, start[todo], target[todo], steps, points, names)
    return ParetoFront(points, store, "true", 0.0)


def igd(reference: ArrayLike, obtained: ArrayLike) -> float:
    """Inverted generational distance: mean distance from each reference point to the obtained set.

    Lower is better; 0 when every reference point is obtained.

    Examples:
        >>> igd([[0.0, 0.0], [1.0, 1.0]], [[0.0, 0.0]])
        0.7071067811865476
    """
    from scipy.spatial import cKDTree

    ref, got = _points(reference, "reference front"), _points(obtained, "obtained front")
    dist, _ = cKDTree(got).query(ref, k=1)
    return float(np.mean(dist))


def hypervolume(points: ArrayLike, reference: tuple[float, float] = (1.0, 0.0)) -> float:
    """Area dominated by (cost, accuracy) points (min cost, max accuracy) up to ``reference``.

    With normalized cost and the default reference (cost 1.0, accuracy 0) the value is in [0, 1];
    points costing more than the reference or below its accuracy add nothing.

    Examples:
        >>> hypervolume([[0.2, 0.5], [0.6, 0.9]])
        0.56
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ref_c, ref_a = reference
    pts = pts[(pts[:, 0] < ref_c) & (pts[:, 1] > ref_a)]
    if pts.shape[0] == 0:
        return 0.0
    pts = pts[nondominated(pts)]
    gains = np.diff(np.concatenate([[ref_a], pts[:, 1]]))
    return float(np.sum((ref_c - pts[:, 0]) * gains))


def spread(points: ArrayLike, reference: ArrayLike) -> float:
    """Deb's spread Δ of an obtained front relative to the true one (lower is better).

    As in the OptLLM evaluation code: ``Δ = (d_f + d_l + Σ_i |d_i - d̄|) / (d_f + d_l + (N-1) d̄)``
    with ``d_f``, ``d_l`` the distances between the first and the last points of the two fronts
    (both sorted by cost), ``d_i`` each obtained point's nearest-neighbour distance and ``d̄`` the
    mean distance between consecutive obtained points. A single point has no spread: Δ = 1.

    Examples:
        >>> round(spread([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]]), 6)
        0.0
    """
    pop, ref = _points(points, "obtained front"), _points(reference, "reference front")
    pop = pop[np.lexsort((pop[:, 1], pop[:, 0]))]
    ref = ref[np.lexsort((ref[:, 1], ref[:, 0]))]
    if pop.shape[0] < 2:
        return 1.0
    d_f = float(np.linalg.norm(ref[0] - pop[0]))
    d_l = float(np.linalg.norm(ref[-1] - pop[-1]))
    from scipy.spatial import cKDTree

    mean_d = float(np.linalg.norm(np.diff(pop, axis=0), axis=1).mean())
    nearest = cKDTree(pop).query(pop, k=2)[0][:, 1]
    denom = d_f + d_l + (pop.shape[0] - 1) * mean_d
    if denom == 0.0:
        return 0.0
    return float((d_f + d_l + np.abs(nearest - mean_d).sum()) / denom)


def best_single_model(quality: ArrayLike, cost: ArrayLike) -> tuple[int, float, float]:
    """(column, mean quality, total cost) of the most accurate single model (ties: the cheaper)."""
    q, c = check_matrices(quality, cost)
    acc, tot = q.mean(axis=0), c.sum(axis=0)
    cand = np.flatnonzero(acc == acc.max())
    j = int(cand[np.argmin(tot[cand])])
    return j, float(acc[j]), float(tot[j])


def saving_at_accuracy(points: ArrayLike, accuracy: float, cost: float) -> float | None:
    """Relative saving ``1 - c / cost`` of the cheapest point reaching ``accuracy``; None if none."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ok = pts[pts[:, 1] >= accuracy - 1e-12]
    if ok.shape[0] == 0 or cost <= 0:
        return None
    return float(1.0 - ok[:, 0].min() / cost)


@dataclass(frozen=True, eq=False)
class FrontScore:
    """How one optimizer's front compares with the true front.

    Attributes:
        igd: IGD on normalized cost (divided by ``cost_scale``) and accuracy.
        igd_raw: IGD on raw dollars and accuracy (the paper's unnormalized figure).
        hypervolume: normalized hypervolume, reference point (cost 1.0, accuracy 0).
        spread: Δ on normalized objectives.
        seconds: optimizer wall time.
        n_solutions: solutions the optimizer returned (before re-scoring).
        points: ``(m, 2)`` true (USD cost, accuracy) of its non-dominated re-scored solutions.
    """

    igd: float
    igd_raw: float
    hypervolume: float
    spread: float
    seconds: float
    n_solutions: int
    points: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (points as ``[[cost, accuracy], ...]``)."""
        return {
            "igd": self.igd,
            "igd_raw": self.igd_raw,
            "hypervolume": self.hypervolume,
            "spread": self.spread,
            "seconds": self.seconds,
            "n_solutions": self.n_solutions,
            "points": self.points.tolist(),
        }


def score_front(
    front: ParetoFront, quality: ArrayLike, cost: ArrayLike, *, reference: ParetoFront | None = None
) -> FrontScore:
    """Re-score ``front`` with real outcomes and compare it with the true front.

    Args:
        front: an optimizer's front (computed on predicted probabilities).
        quality: ``(n, K)`` observed quality of the batch.
        cost: ``(n, K)`` observed USD cost.
        reference: the true front (computed with :func:`true_front` when omitted).

    Examples:
        >>> import numpy as np
        >>> from shared import exact_front
        >>> Q = np.array([[0.0, 1.0], [1.0, 1.0]])
        >>> C = np.array([[1.0, 2.0], [1.0, 2.0]])
        >>> score = score_front(exact_front(Q, C), Q, C)
        >>> score.igd, score.n_solutions
        (0.0, 2)
    """
    q, c = check_matrices(quality, cost)
    ref = reference if reference is not None else true_front(q, c)
    got = front.evaluate(q, c)
    got = got[nondominated(got)]
    scale = float(c.sum(axis=0).max()) or 1.0
    norm = np.array([1.0 / scale, 1.0])
    return FrontScore(
        igd=igd(ref.points * norm, got * norm),
        igd_raw=igd(ref.points, got),
        hypervolume=hypervolume(got * norm),
        spread=spread(got * norm, ref.points * norm),
        seconds=front.seconds,
        n_solutions=len(front),
        points=got,
    )
