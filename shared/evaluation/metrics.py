"""Cost/quality metrics of routers: frontier, AIQ, Q@Cbest, C@Qbest, gap closed, APGR, CPT.

Definitions follow ``docs/evaluation.md``. Points are ``(mean cost per prompt, mean quality per
prompt)`` pairs; a router swept over preferences gives one point per setting.

Examples:
    >>> import numpy as np
    >>> f = frontier([(1.0, 0.5), (2.0, 0.6), (4.0, 0.9), (3.0, 0.2)])
    >>> f.tolist()
    [[1.0, 0.5], [4.0, 0.9]]
    >>> round(aiq(f, c_max=4.0), 4)
    0.65
    >>> round(quality_at_cost(f, 2.5), 4), round(cost_at_quality(f, 0.7), 4)
    (0.7, 2.5)
    >>> cost_at_quality(f, 0.95) is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError, InvalidParameterError

__all__ = [
    "OutcomePoint",
    "aiq",
    "anchored_aiq",
    "apgr",
    "best_single_index",
    "cost_at_quality",
    "cpt",
    "frontier",
    "gap_closed",
    "oracle_point",
    "pgr_curve",
    "quality_at_cost",
    "random_point",
    "single_model_points",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class OutcomePoint:
    """Mean cost and quality of one way of routing a set of prompts."""

    cost: float
    quality: float


def _points(points: ArrayLike) -> FloatArray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise DataError(
            f"Points must be a non-empty (n, 2) array of (cost, quality), got {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise DataError("Points must be finite.")
    return arr


def _cross(o: FloatArray, a: FloatArray, b: FloatArray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def frontier(points: ArrayLike) -> FloatArray:
    """The non-decreasing upper convex hull of ``(cost, quality)`` points, sorted by cost.

    Points are sorted by cost (the best quality kept among equal costs), the upper hull is kept
    (collinear middle points dropped), and the hull is cut after its highest-quality point (the
    cheapest one among ties), so quality never decreases along it. Mixing two routing policies at
    random reaches any point between them, which is why the hull is the fair frontier.

    Args:
        points: ``(n, 2)`` array-like of (cost, quality).

    Returns:
        ``(h, 2)`` array of hull vertices.

    Raises:
        DataError: not a non-empty finite ``(n, 2)`` array.

    Examples:
        >>> frontier([(0.0, 0.2), (1.0, 0.5), (1.0, 0.4), (2.0, 0.7), (3.0, 0.7)]).tolist()
        [[0.0, 0.2], [1.0, 0.5], [2.0, 0.7]]
    """
    arr = _points(points)
    order = np.lexsort((-arr[:, 1], arr[:, 0]))
    arr = arr[order]
    keep = np.ones(len(arr), dtype=bool)
    keep[1:] = arr[1:, 0] != arr[:-1, 0]  # first of each cost = highest quality
    arr = arr[keep]
    hull: list[FloatArray] = []
    for p in arr:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    out = np.array(hull)
    top = int(np.argmax(out[:, 1]))  # first index of the maximum: the cheapest best point
    return np.asarray(out[: top + 1], dtype=np.float64)


def aiq(front: ArrayLike, c_max: float) -> float:
    """Area under the frontier over normalized cost ``x = cost / c_max`` in [0, 1].

    The frontier is extended flat to the left of its cheapest point and to the right of its most
    expensive one; parts beyond ``c_max`` are ignored (RouterBench's AIQ).

    Args:
        front: frontier vertices from :func:`frontier` (sorted by cost, non-decreasing quality).
        c_max: the largest mean cost among single models (> 0).

    Raises:
        InvalidParameterError: ``c_max`` is not positive.

    Examples:
        >>> aiq([(1.0, 0.5)], c_max=2.0)
        0.5
        >>> aiq([(0.0, 0.0), (2.0, 1.0)], c_max=2.0)
        0.5
    """
    f = _points(front)
    if not c_max > 0:
        raise InvalidParameterError(f"c_max must be > 0, got {c_max!r}.")
    x = f[:, 0] / c_max
    inside = x[(x > 0) & (x < 1)]
    grid = np.concatenate(([0.0], inside, [1.0]))
    y = np.interp(grid, x, f[:, 1])
    return float(np.sum((grid[1:] - grid[:-1]) * (y[1:] + y[:-1]) / 2.0))


def anchored_aiq(points: ArrayLike, single_points: ArrayLike, c_max: float) -> float:
    """AIQ of the frontier of a router's points together with the single models' points.

    Plain :func:`aiq` extends a frontier flat to the left of its cheapest point, which credits a
    router with one operating point (a single model, a fixed classifier) with its own quality at
    every cost. Anchoring adds the single models' points before taking the frontier, so what lies
    left of the router's cheapest point is what the cheaper single models (and mixes of them)
    reach; the anchored AIQ of any router is at least the single models' hull AIQ, and a router
    that only reproduces a single model scores exactly the hull's.

    Args:
        points: ``(m, 2)`` (mean cost, mean quality) of the router's sweep settings.
        single_points: ``(K, 2)`` mean (cost, quality) of each single model on the same prompts.
        c_max: the largest mean cost among single models (> 0).

    Examples:
        >>> single = [(1.0, 0.4), (4.0, 0.9)]
        >>> round(aiq(frontier([(4.0, 0.9)]), c_max=4.0), 4)  # the best model alone, flat left
        0.9
        >>> round(anchored_aiq([(4.0, 0.9)], single, c_max=4.0), 4)  # no better than the hull
        0.5875
        >>> round(anchored_aiq([(2.0, 0.85)], single, c_max=4.0), 4)  # a router point above it
        0.6937
    """
    both = np.vstack([_points(points), _points(single_points)])
    return aiq(frontier(both), c_max)


def quality_at_cost(front: ArrayLike, cost: float) -> float:
    """Frontier quality at mean cost ``cost`` (linear between vertices, flat beyond the ends).

    Examples:
        >>> quality_at_cost([(1.0, 0.25), (3.0, 0.75)], 2.0)
        0.5
    """
    f = _points(front)
    return float(np.interp(cost, f[:, 0], f[:, 1]))


def cost_at_quality(front: ArrayLike, quality: float, *, atol: float = 1e-12) -> float | None:
    """The least cost at which the frontier reaches ``quality``; ``None`` if it never does.

    Below the cheapest vertex's quality, the cheapest vertex's cost is returned (no router point is
    cheaper than that).

    Examples:
        >>> cost_at_quality([(1.0, 0.25), (3.0, 0.75)], 0.5)
        2.0
        >>> cost_at_quality([(1.0, 0.25), (3.0, 0.75)], 0.2), cost_at_quality([(1.0, 0.4)], 0.9)
        (1.0, None)
    """
    f = _points(front)
    reach = np.flatnonzero(f[:, 1] >= quality - atol)
    if reach.size == 0:
        return None
    i = int(reach[0])
    if i == 0:
        return float(f[0, 0])
    (c0, q0), (c1, q1) = f[i - 1], f[i]
    t = (quality - q0) / (q1 - q0)
    return float(c0 + min(max(t, 0.0), 1.0) * (c1 - c0))


def gap_closed(q_at_cbest: float, q_best: float, q_oracle: float) -> float | None:
    """``(Q@Cbest - q_best) / (q_oracle - q_best)``; ``None`` when the oracle is no better.

    Examples:
        >>> gap_closed(0.75, 0.5, 1.0)
        0.5
    """
    denom = q_oracle - q_best
    if denom <= 0:
        return None
    return float((q_at_cbest - q_best) / denom)


def _matrices(quality: ArrayLike, cost: ArrayLike) -> tuple[FloatArray, FloatArray]:
    Q = np.asarray(quality, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    if Q.ndim != 2 or Q.shape != C.shape or Q.shape[0] == 0:
        raise DataError(
            f"quality and cost must be equal non-empty (n, K) arrays: {Q.shape}, {C.shape}."
        )
    if np.isnan(Q).any() or np.isnan(C).any():
        raise DataError("Evaluation needs every model observed on every prompt (no NaN).")
    return Q, C


def single_model_points(quality: ArrayLike, cost: ArrayLike) -> FloatArray:
    """``(K, 2)`` mean (cost, quality) of always calling each model.

    Examples:
        >>> single_model_points([[1.0, 0.0], [0.0, 1.0]], [[2.0, 1.0], [2.0, 1.0]]).tolist()
        [[2.0, 0.5], [1.0, 0.5]]
    """
    Q, C = _matrices(quality, cost)
    return np.column_stack([C.mean(axis=0), Q.mean(axis=0)])


def best_single_index(single_points: ArrayLike) -> int:
    """Index of the best single model: highest mean quality, the cheapest among ties.

    Args:
        single_points: ``(K, 2)`` mean (cost, quality) per model, as from
            :func:`single_model_points`.

    Examples:
        >>> best_single_index([[2.0, 0.9], [1.0, 0.9], [0.5, 0.4]])
        1
    """
    pts = _points(single_points)
    ties = np.flatnonzero(pts[:, 1] >= pts[:, 1].max())
    return int(ties[np.argmin(pts[ties, 0])])


def oracle_point(quality: ArrayLike, cost: ArrayLike) -> OutcomePoint:
    """Per prompt the best quality, the cheapest model among ties; mean cost and quality.

    Examples:
        >>> oracle_point([[1.0, 1.0], [1.0, 0.0]], [[2.0, 1.0], [2.0, 1.0]])
        OutcomePoint(cost=1.5, quality=1.0)
    """
    Q, C = _matrices(quality, cost)
    best = Q.max(axis=1, keepdims=True)
    masked = np.where(best <= Q, C, np.inf)
    idx = np.argmin(masked, axis=1)
    rows = np.arange(Q.shape[0])
    return OutcomePoint(cost=float(C[rows, idx].mean()), quality=float(Q[rows, idx].mean()))


def random_point(quality: ArrayLike, cost: ArrayLike) -> OutcomePoint:
    """Expected mean cost and quality of picking a model uniformly at random per prompt.

    Examples:
        >>> random_point([[1.0, 0.0]], [[3.0, 1.0]])
        OutcomePoint(cost=2.0, quality=0.5)
    """
    Q, C = _matrices(quality, cost)
    return OutcomePoint(cost=float(C.mean()), quality=float(Q.mean()))


# ---------------------------------------------------------------------- RouteLLM style
def pgr_curve(
    strong_score: ArrayLike, quality_strong: ArrayLike, quality_weak: ArrayLike
) -> FloatArray:
    """``(n + 1, 2)`` points (share of strong calls, mean quality) of a strong/weak router.

    The prompts with the ``k`` highest ``strong_score`` go to the strong model, for ``k = 0..n``
    (ties broken by prompt order), as when a threshold on the strong-win score is swept.

    Examples:
        >>> pgr_curve([0.9, 0.1], [1.0, 1.0], [0.0, 1.0]).tolist()
        [[0.0, 0.5], [0.5, 1.0], [1.0, 1.0]]
    """
    s = np.asarray(strong_score, dtype=np.float64).ravel()
    qs = np.asarray(quality_strong, dtype=np.float64).ravel()
    qw = np.asarray(quality_weak, dtype=np.float64).ravel()
    if not (s.shape == qs.shape == qw.shape) or s.size == 0:
        raise DataError("strong_score, quality_strong and quality_weak need the same length > 0.")
    n = s.size
    order = np.argsort(-s, kind="stable")
    gain = np.concatenate(([0.0], np.cumsum(qs[order] - qw[order])))
    share = np.arange(n + 1) / n
    return np.column_stack([share, (qw.sum() + gain) / n])


def _pgr(curve: ArrayLike, q_weak: float, q_strong: float) -> FloatArray:
    pts = _points(curve)
    if not q_strong > q_weak:
        raise InvalidParameterError(f"q_strong ({q_strong}) must exceed q_weak ({q_weak}).")
    pts = pts[np.argsort(pts[:, 0], kind="stable")]
    return np.column_stack([pts[:, 0], (pts[:, 1] - q_weak) / (q_strong - q_weak)])


def apgr(curve: ArrayLike, q_weak: float, q_strong: float) -> float:
    """Average performance gap recovered: area under PGR(x) over strong-call share x in [0, 1].

    ``PGR(x) = (q(x) - q_weak) / (q_strong - q_weak)``, linear between curve points, flat beyond.

    Examples:
        >>> apgr([(0.0, 0.5), (0.5, 1.0), (1.0, 1.0)], q_weak=0.5, q_strong=1.0)
        0.75
    """
    p = _pgr(curve, q_weak, q_strong)
    grid = np.concatenate(([0.0], p[(p[:, 0] > 0) & (p[:, 0] < 1), 0], [1.0]))
    y = np.interp(grid, p[:, 0], p[:, 1])
    return float(np.sum((grid[1:] - grid[:-1]) * (y[1:] + y[:-1]) / 2.0))


def cpt(curve: ArrayLike, q_weak: float, q_strong: float, target: float) -> float | None:
    """Call-performance threshold: the least strong-call share at which PGR reaches ``target``.

    Linear between curve points; ``None`` if the curve never reaches ``target``.

    Examples:
        >>> cpt([(0.0, 0.5), (0.5, 1.0), (1.0, 1.0)], q_weak=0.5, q_strong=1.0, target=0.8)
        0.4
    """
    p = _pgr(curve, q_weak, q_strong)
    reach = np.flatnonzero(p[:, 1] >= target - 1e-12)
    if reach.size == 0:
        return None
    i = int(reach[0])
    if i == 0:
        return float(p[0, 0])
    (x0, y0), (x1, y1) = p[i - 1], p[i]
    return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0))
