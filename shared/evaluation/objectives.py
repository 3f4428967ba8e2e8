"""Mean outcomes of a router's choices under one preference: quality, cost and latency.

The quality/cost sweeps (:mod:`shared.evaluation.sweep`) trace two objectives. When the table
carries latency, :func:`choice_outcomes` evaluates the third: the mean quality, cost and latency
of the cells a router picks for a given preference (for example one with a latency weight).

Examples:
    >>> import numpy as np
    >>> from shared import KNNRouter
    >>> X = np.eye(2).repeat(5, axis=0)
    >>> Q = np.array([[0.9, 0.8]] * 10); C = np.full((10, 2), 0.01)
    >>> L = np.array([[4.0, 0.5]] * 10)
    >>> router = KNNRouter(k=3).fit(X, Q, C, models=["slow", "fast"], latency=L)
    >>> choice_outcomes(router, X, Q, C, L, preference={"quality": 1.0})["latency"]
    4.0
    >>> choice_outcomes(router, X, Q, C, L, preference={"quality": 0.5, "latency": 0.5})["latency"]
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._base import BaseRouter
from .._validation import check_outcome_arrays
from ..exceptions import DataError, UnknownModelError
from ..preference import PreferenceLike

__all__ = ["choice_outcomes"]


def choice_outcomes(
    router: BaseRouter,
    X: ArrayLike,
    quality: ArrayLike,
    cost: ArrayLike,
    latency: ArrayLike | None = None,
    *,
    preference: PreferenceLike | None = None,
    models: Sequence[str] | None = None,
) -> dict[str, float | None]:
    """Mean quality, cost and latency of the router's greedy choices on a full table.

    Args:
        router: a fitted router.
        X: ``(n, d)`` test embeddings.
        quality: ``(n, K)`` true quality of every model (columns follow ``models``).
        cost: ``(n, K)`` true cost.
        latency: ``(n, K)`` true latency in seconds, or ``None`` (then ``"latency"`` is ``None``).
        preference: the preference the router routes with.
        models: the columns' model names (default: the router's ``models_``).

    Returns:
        ``{"quality", "cost", "latency"}`` means over the prompts (NaN cells are skipped).

    Raises:
        ObjectiveError: the preference weighs latency and the router does not model it.
        DataError: shapes disagree.
        UnknownModelError: the router knows a model that is not a column.
    """
    names = list(router.models_ if models is None else models)
    Xa = np.asarray(X, dtype=np.float64)
    Q, C, L = check_outcome_arrays(quality, cost, latency, (Xa.shape[0], len(names)), "table")
    cols = []
    for name in router.models_:
        if name not in names:
            raise UnknownModelError(name, names)
        cols.append(names.index(name))
    if Xa.shape[0] == 0:
        raise DataError("choice_outcomes needs at least one prompt.")
    picked = np.asarray(cols)[router.route_indices(Xa, preference)]
    rows = np.arange(Xa.shape[0])

    def mean(M: np.ndarray | None) -> float | None:
        return None if M is None else float(np.nanmean(M[rows, picked]))

    return {"quality": mean(Q), "cost": mean(C), "latency": mean(L)}
