"""Choosing ridge penalties on the training data: exact leave-one-out or GCV, one eigh per head.

Examples:
    >>> import numpy as np
    >>> from shared.routers._linear import RidgeHeads, design
    >>> rng = np.random.default_rng(0)
    >>> X = design(rng.normal(size=(50, 2)), True); y = X[:, 0] + 0.1 * rng.normal(size=50)
    >>> heads = RidgeHeads(1, 3, fit_intercept=True)
    >>> heads.add_rows(0, X, y)
    >>> select_penalties(heads, np.array([1e-3, 1e4]), Xd=X, Y=y[:, None])
    >>> heads.alpha.tolist()
    [0.001]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ._linear import RidgeHeads, gcv_scores, loo_errors

FloatArray = NDArray[np.float64]

__all__ = ["LOO_MAX_ROWS_PER_COLUMN", "select_penalties"]


#: With more than this many rows per design column, ``"cv"`` uses GCV (LOO and GCV agree closely
#: when leverages are small, and GCV needs no pass over the rows).
LOO_MAX_ROWS_PER_COLUMN = 20


def _relative(heads: RidgeHeads, Xd: FloatArray, Y: FloatArray, grid: FloatArray) -> float | None:
    """One penalty minimizing the LOO error of each target minus the mean over targets."""
    full = np.isfinite(Y).all(axis=1)
    r = int(full.sum())
    if r < 3 or Y.shape[1] < 2:
        return None
    R = Y[full] - Y[full].mean(axis=1, keepdims=True)
    fi, pen = heads.fit_intercept, heads.penalize_intercept
    if r > LOO_MAX_ROWS_PER_COLUMN * Xd.shape[1]:
        Z = Xd[full]
        total = gcv_scores(
            Z.T @ Z,
            Z.T @ R,
            (R * R).sum(axis=0),
            float(r),
            grid,
            fit_intercept=fi,
            penalize_intercept=pen,
        )
    else:
        total = loo_errors(Xd[full], R, grid, fit_intercept=fi, penalize_intercept=pen)
        total = total.sum(axis=0)
    return float(grid[int(np.argmin(total))]) if np.ptp(total) > 0 else None


def select_penalties(
    heads: RidgeHeads,
    grid: FloatArray,
    *,
    Xd: FloatArray | None = None,
    Y: FloatArray | None = None,
    cols: Sequence[int] | None = None,
    relative: bool = False,
) -> None:
    """Set ``heads.alpha`` for the heads ``cols`` (default: all) to the best value of ``grid``.

    With rows (``Xd`` the design, ``Y[:, j]`` the targets of head ``cols[j]``, NaN = unobserved)
    the criterion is the exact leave-one-out error (heads observed on the same rows share one
    eigendecomposition; above ``LOO_MAX_ROWS_PER_COLUMN`` rows per column, GCV); without rows,
    GCV from the statistics. With ``relative`` one penalty is shared by all heads, chosen on
    targets minus their row mean (what an argmax over heads depends on). Heads without
    information keep their penalty.
    """
    targets = list(range(heads.n_models)) if cols is None else list(cols)
    alpha = heads.alpha.copy()
    if Xd is not None and Y is not None and relative:
        shared = _relative(heads, Xd, Y, grid)
        if shared is not None:
            alpha[targets] = shared
            heads.set_alpha(alpha)
            return
    scores = np.zeros((len(targets), grid.size))
    if Xd is None or Y is None or Xd.shape[0] > LOO_MAX_ROWS_PER_COLUMN * Xd.shape[1]:
        for j, k in enumerate(targets):
            scores[j] = heads.gcv(k, grid)
    else:
        masks: dict[bytes, list[int]] = {}
        for j in range(len(targets)):
            masks.setdefault(np.isfinite(Y[:, j]).tobytes(), []).append(j)
        for group in masks.values():
            obs = np.isfinite(Y[:, group[0]])
            if obs.sum() < 2:  # no leave-one-out without two rows: keep the current penalty
                continue
            Yg = Y[obs][:, group]
            if heads.fit_intercept and heads.penalize_intercept:
                Yg = Yg - heads.prior[[targets[j] for j in group]][None, :]
            scores[group] = loo_errors(
                Xd[obs],
                Yg,
                grid,
                fit_intercept=heads.fit_intercept,
                penalize_intercept=heads.penalize_intercept,
            )
    for j, k in enumerate(targets):
        if np.ptp(scores[j]) > 0:
            alpha[k] = grid[int(np.argmin(scores[j]))]
    heads.set_alpha(alpha)
