"""The preference sweep: one (mean cost, mean quality) point per price-of-quality setting.

For a router whose scores carry predicted quality and cost (predict-then-scalarize), the sweep uses
the reference protocol of the shared data README: for each ``lambda``, every prompt goes to
``argmax_m q_hat[m] - lambda * c_hat[m] / median(c_hat > 0)``, the median taken over the whole test
prediction matrix. Any other router is asked ``route_indices(X, Preference.from_price(lambda))``, so
``lambda`` is read on the router's own ``cost_scale_``; so is a router that sets
``scalarized_sweep = False`` (its decisions depend on the preference beyond a scalarization of its
predictions, as :class:`~shared.routers.AutoRouter`'s guard does). ``lambda = inf`` is the
pure-cost end.

Examples:
    >>> import numpy as np
    >>> q_hat = np.array([[0.9, 0.5], [0.6, 0.55]])
    >>> c_hat = np.array([[1.0, 0.1], [1.0, 0.1]])
    >>> scalarized_choices(q_hat, c_hat, [0.0, 0.1, np.inf]).tolist()
    [[0, 0], [0, 1], [1, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter
from ..exceptions import DataError, UnknownModelError
from ..preference import Preference

__all__ = [
    "SweepResult",
    "default_lambdas",
    "points_of_choices",
    "route_sweep",
    "scalarized_choices",
    "sweep_points",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def default_lambdas(*, pure_cost: bool = True) -> FloatArray:
    """``{0} ∪ logspace(-3, 3, 60)``, plus ``inf`` (pure cost) when ``pure_cost``.

    Examples:
        >>> lam = default_lambdas()
        >>> len(lam), float(lam[0]), float(lam[1]), float(lam[-2]), float(lam[-1])
        (62, 0.0, 0.001, 1000.0, inf)
    """
    lam = np.concatenate(([0.0], np.logspace(-3, 3, 60)))
    return np.append(lam, np.inf) if pure_cost else lam


def scalarized_choices(
    q_hat: ArrayLike, c_hat: ArrayLike, lambdas: Sequence[float] | ArrayLike
) -> IntArray:
    """``(len(lambdas), n)`` column choices ``argmax q_hat - lam * c_hat / median(c_hat > 0)``.

    ``lam = inf`` picks the cheapest predicted model (highest predicted quality among ties).
    """
    Q = np.asarray(q_hat, dtype=np.float64)
    C = np.asarray(c_hat, dtype=np.float64)
    if Q.ndim != 2 or Q.shape != C.shape:
        raise DataError(f"q_hat and c_hat must be equal (n, K) arrays: {Q.shape}, {C.shape}.")
    positive = C[C > 0]
    scale = float(np.median(positive)) if positive.size else 1.0
    Cs = C / scale
    out = np.empty((len(np.atleast_1d(lambdas)), Q.shape[0]), dtype=np.intp)
    for i, lam in enumerate(np.atleast_1d(np.asarray(lambdas, dtype=np.float64))):
        if math.isinf(lam):
            cheapest = Cs <= Cs.min(axis=1, keepdims=True)
            out[i] = np.argmax(np.where(cheapest, Q, -np.inf), axis=1)
        else:
            out[i] = np.argmax(Q - lam * Cs, axis=1)
    return out


def _columns(router: BaseRouter, models: Sequence[str]) -> IntArray:
    names = list(models)
    missing = [m for m in router.models_ if m not in names]
    if missing:
        raise UnknownModelError(missing[0], names)
    return np.array([names.index(m) for m in router.models_], dtype=np.intp)


def route_sweep(
    router: BaseRouter,
    X: ArrayLike,
    models: Sequence[str],
    lambdas: Sequence[float] | ArrayLike | None = None,
) -> tuple[IntArray, bool]:
    """Choices of ``router`` over the sweep as column indices into ``models``.

    Returns:
        ``(choices, scalarized)``: a ``(len(lambdas), n)`` index array, and whether the
        predict-then-scalarize protocol was used (the router's scores carry quality and cost).
    """
    lam = default_lambdas() if lambdas is None else np.asarray(lambdas, dtype=np.float64)
    cols = _columns(router, models)
    rs = router.scores(X, Preference())
    if rs.quality is not None and rs.cost is not None and getattr(router, "scalarized_sweep", True):
        return cols[scalarized_choices(rs.quality, rs.cost, lam)], True
    choices = np.empty((len(lam), rs.utility.shape[0]), dtype=np.intp)
    for i, value in enumerate(lam):
        choices[i] = cols[router.route_indices(X, Preference.from_price(float(value)))]
    return choices, False


@dataclass(frozen=True)
class SweepResult:
    """Outcome of a sweep on a test set.

    Attributes:
        lambdas: the price-of-quality settings (``inf`` = pure cost).
        points: ``(len(lambdas), 2)`` mean (cost, quality) per setting.
        choices: ``(len(lambdas), n)`` chosen column per setting and prompt.
        scalarized: whether the predict-then-scalarize protocol was used.
    """

    lambdas: FloatArray
    points: FloatArray
    choices: IntArray
    scalarized: bool


def points_of_choices(choices: IntArray, quality: FloatArray, cost: FloatArray) -> FloatArray:
    """``(m, 2)`` mean (cost, quality) of each row of ``choices`` on the true outcomes."""
    rows = np.arange(quality.shape[0])
    return np.column_stack(
        [cost[rows, choices].mean(axis=1), quality[rows, choices].mean(axis=1)]
    ).astype(np.float64)


def sweep_points(
    router: BaseRouter,
    X: ArrayLike,
    quality: ArrayLike,
    cost: ArrayLike,
    models: Sequence[str],
    *,
    lambdas: Sequence[float] | ArrayLike | None = None,
) -> SweepResult:
    """Sweep ``router`` over ``lambdas`` (default :func:`default_lambdas`) on complete outcomes.

    Raises:
        DataError: shapes disagree or an outcome is missing.
    """
    Q = np.asarray(quality, dtype=np.float64)
    C = np.asarray(cost, dtype=np.float64)
    n = np.asarray(X).shape[0]
    if Q.shape != C.shape or Q.shape != (n, len(models)):
        raise DataError(f"quality/cost must have shape {(n, len(models))}: {Q.shape}, {C.shape}.")
    if np.isnan(Q).any() or np.isnan(C).any():
        raise DataError("The sweep needs every model observed on every test prompt.")
    lam = default_lambdas() if lambdas is None else np.asarray(lambdas, dtype=np.float64)
    choices, scalarized = route_sweep(router, X, models, lam)
    return SweepResult(lam, points_of_choices(choices, Q, C), choices, scalarized)
