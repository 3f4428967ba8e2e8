"""OptLLM's multi-objective search (Liu et al. 2024, arXiv 2405.15130), reimplemented faithfully.

Initialise two extreme solutions (each query's cheapest model; each query's most likely model),
then walk from each towards the other in ``gn`` steps: *destruction* switches queries until a
step's worth of accuracy (or cost) has changed, *reconstruction* ("optimise to non-dominated")
applies every dominating switch and then paired exchanges (the best accuracy-per-dollar increase
with the cheapest decrease) while they pay off. All collected solutions are filtered to the
non-dominated ones. As in the official code, the cheap side works on the predicted probabilities
and the accurate side on the robust ones, and solutions are scored with the matrix of their side.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import InvalidParameterError
from .exact import _cheapest
from .front import ParetoFront, check_matrices, front_from_choices

__all__ = ["optllm_front"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


class _ScoreTable:
    """OptLLM's per-query score table for the current solution, refreshed row by row."""

    def __init__(self, P: FloatArray, C: FloatArray, s: IntArray) -> None:
        n, K = P.shape
        self.P, self.C, self.s = P, C, s
        self.R = np.empty((n, K))  # switch ratio: +inf dominating, >0 increase, <0 decrease
        self.dp = np.empty((n, K))  # accuracy change (-inf for ignored alternatives)
        self.dc = np.empty((n, K))  # cost change (-inf for ignored alternatives)
        self.refresh(np.arange(n))

    def refresh(self, rows: IntArray) -> None:
        ar = np.arange(rows.size)
        cur = self.s[rows]
        pr, cr = self.P[rows], self.C[rows]
        dp = pr - pr[ar, cur][:, None]
        dc = cr - cr[ar, cur][:, None]
        dominating = (dc <= 0) & (dp >= 0) & (dp - dc > 0)
        inc = (dc > 0) & (dp > 0)
        dec = (dc < 0) & (dp < 0)
        safe = np.where(dc != 0, dc, 1.0)
        R = np.where(
            dominating, np.inf, np.where(inc, dp / safe, np.where(dec, -dp / safe, -np.inf))
        )
        R[ar, cur] = -np.inf
        ignored = ~(dominating | inc | dec)
        ignored[ar, cur] = True
        self.R[rows] = R
        self.dp[rows] = np.where(ignored, -np.inf, dp)
        self.dc[rows] = np.where(ignored, -np.inf, dc)

    def switch(self, rows: IntArray, cols: IntArray) -> None:
        self.s[rows] = cols
        self.refresh(rows)

    def apply_dominating(self) -> bool:
        """Switch each query with a dominating alternative to its first one; False if none."""
        hit = np.isposinf(self.R)
        rows = np.flatnonzero(hit.any(axis=1))
        if rows.size == 0:
            return False
        self.switch(rows, np.argmax(hit[rows], axis=1))
        return True


def _destruct_acc(table: _ScoreTable, gap: float) -> IntArray | None:
    """Switch the queries with the largest accuracy gains until ``gap`` (summed) is gained."""
    dp = np.where(np.isposinf(table.dp) | ~(table.dp > 0), -np.inf, table.dp)
    best = dp.max(axis=1)
    rows = np.flatnonzero(best > -np.inf)
    if rows.size == 0:
        return None
    order = rows[np.lexsort((rows, -best[rows]))]
    reached = np.flatnonzero(np.cumsum(best[order]) >= gap)
    if reached.size == 0:
        return None
    take = order[: reached[0] + 1]
    out = table.s.copy()
    out[take] = np.argmax(dp[take], axis=1)
    return out


def _destruct_cost(table: _ScoreTable, gap: float) -> IntArray | None:
    """Switch the queries with the largest cost savings until ``gap`` USD is saved."""
    dc = np.where(np.isneginf(table.dc) | ~(table.dc < 0), np.inf, table.dc)
    best = dc.min(axis=1)
    rows = np.flatnonzero(best < np.inf)
    if rows.size == 0:
        return None
    order = rows[np.lexsort((rows, best[rows]))]
    reached = np.flatnonzero(-np.cumsum(best[order]) >= gap)
    if reached.size == 0:
        return None
    take = order[: reached[0] + 1]
    out = table.s.copy()
    out[take] = np.argmin(dc[take], axis=1)
    return out


def _reconstruct(P: FloatArray, C: FloatArray, s: IntArray, max_iter: int) -> IntArray:
    """OptLLM's "optimise to non-dominated": dominating switches, then paired exchanges."""
    table = _ScoreTable(P, C, s.copy())
    table.apply_dominating()
    for _ in range(max_iter):
        R = table.R
        inc_vals = np.where((R > 0) & np.isfinite(R), R, -np.inf)
        dec_vals = np.where((R < 0) & np.isfinite(R), R, -np.inf)
        max_inc, max_dec = inc_vals.max(), dec_vals.max()
        if not (np.isfinite(max_inc) and np.isfinite(max_dec)):
            break
        if not (abs(max_dec) < max_inc and max_inc > 0 and abs(max_dec) > 0):
            break
        inc_rows = np.flatnonzero((inc_vals == max_inc).any(axis=1))
        dec_rows = np.flatnonzero((dec_vals == max_dec).any(axis=1))
        dec_rows = np.setdiff1d(dec_rows, inc_rows)
        inc_cols = np.argmax(inc_vals[inc_rows] == max_inc, axis=1)
        dec_cols = np.argmax(dec_vals[dec_rows] == max_dec, axis=1)
        table.switch(inc_rows, inc_cols)
        if dec_rows.size:
            table.switch(dec_rows, dec_cols)
        while table.apply_dominating():
            pass
    return table.s


def optllm_front(
    P: ArrayLike,
    C: ArrayLike,
    *,
    P_robust: ArrayLike | None = None,
    gn: int = 50,
    models: Sequence[str] | None = None,
    max_iter: int | None = None,
) -> ParetoFront:
    """OptLLM's front (initialise, destruct, reconstruct, Pareto filter), per the paper's code.

    Args:
        P: ``(n, K)`` predicted success probabilities (the cheap side works on these).
        C: ``(n, K)`` USD costs.
        P_robust: robust probabilities ``p + alpha * sigma`` for the accurate side (the most
            accurate extreme and its walk); ``P`` when omitted.
        gn: steps per direction (the paper's default 50; the official code uses 10). Up to
            ``2 * gn`` solutions are collected.
        models: optional column names, attached to the assignments.
        max_iter: cap on paired exchanges per reconstruction (default ``n * K``; the official
            loop has none).

    Returns:
        A :class:`ParetoFront` (``method="optllm"``) whose points are the objective values the
        algorithm used (cheap-side solutions scored with ``P``, accurate-side with ``P_robust``).

    Examples:
        >>> import numpy as np
        >>> P = np.array([[0.6, 0.9], [0.1, 0.7], [0.5, 0.5]])
        >>> C = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
        >>> front = optllm_front(P, C, gn=4)
        >>> front.points[[0, -1]].round(3).tolist()
        [[3.0, 0.4], [5.0, 0.7]]
    """
    t0 = time.perf_counter()
    p, c = check_matrices(P, C)
    pr = p if P_robust is None else check_matrices(np.clip(P_robust, 0.0, 1.0), c)[0]
    if isinstance(gn, bool) or not isinstance(gn, int | np.integer) or gn < 1:
        raise InvalidParameterError(f"gn must be a positive int, got {gn!r}.")
    n, K = p.shape
    cap = n * K if max_iter is None else int(max_iter)
    rows = np.arange(n)

    def score(s: IntArray, mat: FloatArray) -> list[float]:
        return [float(c[rows, s].sum()), float(mat[rows, s].mean())]

    s_cheap = _cheapest(p, c)
    best = pr == pr.max(axis=1, keepdims=True)
    s_high = np.asarray(np.argmin(np.where(best, c, np.inf), axis=1), dtype=np.intp)
    res_cheap, res_high = score(s_cheap, p), score(s_high, p)
    cost_gap = (res_high[0] - res_cheap[0]) / gn
    acc_gap = (res_high[1] - res_cheap[1]) / gn * n

    solutions, points = [s_cheap, s_high], [res_cheap, res_high]
    s1 = s_cheap.copy()
    for _ in range(1, gn):
        d = _destruct_acc(_ScoreTable(p, c, s1.copy()), acc_gap)
        if d is None:
            break
        s1 = _reconstruct(p, c, d, cap)
        solutions.append(s1.copy())
        points.append(score(s1, p))
    s2 = s_high.copy()
    for _ in range(1, gn):
        d = _destruct_cost(_ScoreTable(pr, c, s2.copy()), cost_gap)
        if d is None:
            break
        s2 = _reconstruct(pr, c, d, cap)
        solutions.append(s2.copy())
        points.append(score(s2, pr))
    return front_from_choices(
        np.vstack(solutions),
        p,
        c,
        method="optllm",
        seconds=time.perf_counter() - t0,
        models=models,
        points=np.asarray(points, dtype=np.float64),
    )
