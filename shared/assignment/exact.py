"""Exact cost/accuracy front of a batch assignment by a Lagrangian (price) sweep.

The objectives are separable over queries: total cost ``sum_i C[i, s_i]`` and summed success
``sum_i P[i, s_i]``. Maximizing ``sum_i P[i, s_i] - lam * C[i, s_i]`` for a price ``lam >= 0``
therefore decomposes: every query independently takes ``argmax_j P[i, j] - lam * C[i, j]``. As
``lam`` falls from infinity to 0, query ``i`` walks along the upper-left convex hull of its points
``(C[i, j], P[i, j])``, switching models at the hull's slopes. Merging the switches of all queries
in decreasing slope order gives every supported Pareto point (the optimum of some price) and,
between two of them, the single-query switches in order of marginal rate. Each prefix of that
order lies on the concave upper bound of the multiple-choice knapsack relaxation, so every point
returned is Pareto optimal (no assignment is cheaper and at least as accurate).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import InvalidParameterError
from .front import Assignment, AssignmentPath, ParetoFront, check_matrices

__all__ = ["assign_batch", "exact_front"]

FloatArray = NDArray[np.float64]


def _cheapest(P: FloatArray, C: FloatArray) -> NDArray[np.intp]:
    """Cheapest model per query; ties go to the higher probability, then the lower index."""
    c_min = C.min(axis=1, keepdims=True)
    p_masked = np.where(c_min == C, P, -np.inf)
    return np.asarray(np.argmax(p_masked, axis=1), dtype=np.intp)


def _hull_switches(
    P: FloatArray, C: FloatArray, start: NDArray[np.intp]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], FloatArray, NDArray[np.intp]]:
    """Walk every query's upper hull at once (gift wrapping, at most K - 1 steps).

    Returns the switches as (row, from, to, slope, step number within the row).
    """
    n, K = P.shape
    rows_all = np.arange(n)
    cur = start.copy()
    active = rows_all
    out_rows, out_src, out_dst, out_slope, out_step = [], [], [], [], []
    for step in range(K - 1):
        if active.size == 0:
            break
        Pa, Ca, ca = P[active], C[active], cur[active]
        dp = Pa - Pa[np.arange(active.size), ca][:, None]
        dc = Ca - Ca[np.arange(active.size), ca][:, None]
        valid = (dp > 0) & (dc > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(valid, dp / np.where(valid, dc, 1.0), -np.inf)
        best = slope.max(axis=1)
        has = best > -np.inf
        # among equal slopes take the nearest (cheapest) point so collinear points all appear
        tied = valid & (slope == best[:, None])
        nxt = np.argmin(np.where(tied, Ca, np.inf), axis=1)
        rows = active[has]
        out_rows.append(rows)
        out_src.append(ca[has])
        out_dst.append(nxt[has])
        out_slope.append(best[has])
        out_step.append(np.full(rows.size, step, dtype=np.intp))
        cur[rows] = nxt[has]
        active = rows
    if not out_rows:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty, np.zeros(0), empty
    return (
        np.concatenate(out_rows).astype(np.intp),
        np.concatenate(out_src).astype(np.intp),
        np.concatenate(out_dst).astype(np.intp),
        np.concatenate(out_slope),
        np.concatenate(out_step),
    )


def _thin(costs: FloatArray, max_points: int) -> NDArray[np.intp]:
    """About ``max_points`` indices evenly spread in cost, always keeping both ends."""
    m = costs.shape[0]
    if m <= max_points:
        return np.arange(m, dtype=np.intp)
    grid = np.linspace(costs[0], costs[-1], max_points)
    idx = np.searchsorted(costs, grid, side="left").clip(0, m - 1)
    idx = np.unique(np.concatenate([[0, m - 1], idx]))
    return np.asarray(idx, dtype=np.intp)


def exact_front(
    P: ArrayLike,
    C: ArrayLike,
    *,
    models: Sequence[str] | None = None,
    max_points: int | None = None,
) -> ParetoFront:
    """Pareto-optimal assignments of a batch: every supported point plus single-switch fills.

    Args:
        P: ``(n, K)`` success probability of model ``j`` on query ``i`` (e.g. from
            :class:`~shared.SuccessPredictor`), in [0, 1].
        C: ``(n, K)`` USD cost of model ``j`` on query ``i``.
        models: optional names of the ``K`` columns, attached to the assignments.
        max_points: keep about this many points, evenly spread in cost (both ends kept);
            ``None`` keeps all of them (up to ``n * (K - 1) + 1``).

    Returns:
        A :class:`ParetoFront` (``method="exact"``) from the cheapest assignment (each query's
        cheapest model, ties to the more likely) to the most accurate one (each query's most
        likely model, ties to the cheaper); cost and accuracy strictly increase along it.
        ``supported`` marks the points that are optimal for some price.

    Raises:
        DataError: malformed matrices.

    Examples:
        >>> import numpy as np
        >>> P = np.array([[0.6, 0.9], [0.1, 0.7]])
        >>> C = np.array([[1.0, 2.0], [1.0, 2.0]])
        >>> front = exact_front(P, C, models=["small", "big"])
        >>> front.points.round(3).tolist()
        [[2.0, 0.35], [3.0, 0.65], [4.0, 0.8]]
        >>> front.assignments[1].model_names()
        ['small', 'big']
    """
    t0 = time.perf_counter()
    p, c = check_matrices(P, C)
    if max_points is not None and (isinstance(max_points, bool) or max_points < 2):
        raise InvalidParameterError(f"max_points must be an int >= 2 or None, got {max_points!r}.")
    n = p.shape[0]
    start = _cheapest(p, c)
    rows, src, dst, slope, step = _hull_switches(p, c, start)
    order = np.lexsort((step, rows, -slope))
    rows, src, dst, slope = rows[order], src[order], dst[order], slope[order]
    base = np.arange(n)
    cost0 = float(c[base, start].sum())
    succ0 = float(p[base, start].sum())
    costs = np.concatenate([[cost0], cost0 + np.cumsum(c[rows, dst] - c[rows, src])])
    accs = np.concatenate([[succ0], succ0 + np.cumsum(p[rows, dst] - p[rows, src])]) / n
    supported = np.ones(costs.shape[0], dtype=bool)
    if slope.size > 1:
        supported[1:-1] = slope[:-1] > slope[1:]
    steps = np.arange(costs.shape[0], dtype=np.intp)
    if max_points is not None:
        steps = _thin(costs, max_points)
    points = np.column_stack([costs[steps], accs[steps]])
    names = None if models is None else tuple(models)
    store = AssignmentPath(start, rows, src, dst, steps, points, names)
    return ParetoFront(points, store, "exact", time.perf_counter() - t0, supported[steps])


def assign_batch(
    P: ArrayLike,
    C: ArrayLike,
    *,
    budget: float | None = None,
    target: float | None = None,
    models: Sequence[str] | None = None,
) -> Assignment:
    """Best assignment of a batch under a budget, or the cheapest reaching an accuracy target.

    Exactly one of ``budget`` (USD for the whole batch: maximize expected accuracy) and
    ``target`` (mean success probability: minimize cost) is required. The answer is taken from
    :func:`exact_front`; ties go to the cheaper solution.

    Raises:
        InvalidParameterError: neither or both of ``budget`` and ``target``, or negative values.
        InfeasibleError: the budget is below the cheapest assignment, or the target above the most
            accurate one (the message gives the feasible range).

    Examples:
        >>> import numpy as np
        >>> P = np.array([[0.6, 0.9], [0.1, 0.7]])
        >>> C = np.array([[1.0, 2.0], [1.0, 2.0]])
        >>> assign_batch(P, C, budget=3.0).choices.tolist()
        [0, 1]
        >>> assign_batch(P, C, target=0.8).total_cost
        4.0
    """
    if (budget is None) == (target is None):
        raise InvalidParameterError("Give exactly one of budget= (USD) and target= (accuracy).")
    if budget is not None and not budget >= 0:
        raise InvalidParameterError(f"budget must be a non-negative number, got {budget!r}.")
    if target is not None and not 0 <= target <= 1:
        raise InvalidParameterError(f"target must be an accuracy in [0, 1], got {target!r}.")
    front = exact_front(P, C, models=models)
    if budget is not None:
        return front.best_under_budget(float(budget))
    assert target is not None  # exactly one of the two was given
    return front.cheapest_reaching(float(target))
