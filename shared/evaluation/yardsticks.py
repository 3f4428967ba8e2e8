"""The two reference routers of the shared data README, as simple predict-then-scalarize routers.

They exist to reproduce the README's reference rows exactly and to serve as floors in reports:

* :class:`ReferenceKNNRouter`: the ``k`` most cosine-similar training prompts; predicted quality and
  cost of each model = the neighbours' means, plain or weighted by cosine similarity (NaN cells
  ignored; prompts tied with the ``k``-th similarity share the remaining weight equally, so the
  prediction is order-independent).
* :class:`ReferenceRidgeRouter`: one least-squares fit per target (quality and cost of every model)
  on ``[X, 1]`` with the same penalty ``alpha`` on every weight, intercept included.

Both route by ``w_q * q_hat - w_c * c_hat / cost_scale_`` under a preference; the evaluation sweep
uses their predictions directly (see :mod:`shared.evaluation.sweep`). They are evaluation yardsticks:
no online learning; they save and load like every other router (:class:`~shared.Persists`), so a
saved yardstick can be routed with and compared later (``prefroute route --router DIR``).

Examples:
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    >>> Q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> C = np.full((3, 2), 0.01)
    >>> ReferenceKNNRouter(k=2).fit(X, Q, C, models=["a", "b"]).predict([[1.0, 0.05]]).tolist()
    ['a']
    >>> ReferenceRidgeRouter(alpha=0.1).fit(X, Q, C, models=["a", "b"]).predict([[0.0, 1.0]]).tolist()
    ['b']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import BaseRouter, RouteScores, calibrate_scale, scalarize
from .._validation import Constraint, Interval, Options, check_table
from ..capabilities import FitsTable, Persists
from ..preference import Preference

__all__ = ["ReferenceKNNRouter", "ReferenceRidgeRouter"]

FloatArray = NDArray[np.float64]


def _check_outcomes(
    X: ArrayLike, quality: ArrayLike, cost: ArrayLike | None, models: Sequence[str], owner: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    Xc, _, Q, C, _ = check_table(X, quality, cost, models, owner)
    return Xc, Q, C


class _PredictiveRouter(FitsTable, Persists, BaseRouter):
    """Shared routing rule: utility from predicted quality and cost; saved as its arrays."""

    #: The learned arrays (attribute names), saved to and restored from ``arrays.npz``.
    _state_arrays: ClassVar[tuple[str, ...]] = ()

    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        meta = {
            "models": list(self.models_),
            "n_features_in": self.n_features_in_,
            "cost_scale": self.cost_scale_,
        }
        return meta, {name: getattr(self, name) for name in self._state_arrays}

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self.models_ = list(meta["models"])
        self.n_features_in_ = int(meta["n_features_in"])
        self.cost_scale_ = float(meta["cost_scale"])
        for name in self._state_arrays:
            setattr(self, name, np.asarray(arrays[name], dtype=np.float64))

    def _predict(self, X: FloatArray) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError

    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        q, c = self._predict(X)
        return RouteScores(scalarize(preference, q, c, self.cost_scale_), quality=q, cost=c)


class ReferenceKNNRouter(_PredictiveRouter):
    """kNN yardstick: cosine-similarity neighbours' mean quality and cost per model.

    Args:
        k: number of neighbours.
        weights: ``"uniform"`` (plain means, the README's wording) or ``"similarity"`` (means
            weighted by each neighbour's cosine similarity, clipped at 0). The README's
            llmrouter_nim and domain_experts_7b kNN rows are reproduced by ``"similarity"``
            (within 0.0005; plain means miss llmrouter_nim's Q@Cbest by 0.006), see
            ``docs/evaluation.md``.

    Examples:
        >>> import numpy as np
        >>> X = np.array([[1.0, 0.0], [0.6, 0.8]])
        >>> Q = np.array([[1.0], [0.0]]); C = np.ones((2, 1))
        >>> knn = ReferenceKNNRouter(k=2, weights="similarity").fit(X, Q, C, models=["a"])
        >>> round(float(knn.scores([[1.0, 0.0]]).quality[0, 0]), 4)  # 1 / (1 + 0.6)
        0.625
    """

    _state_arrays = ("X_", "quality_", "cost_")
    _nan_arrays = frozenset({"quality_", "cost_"})  # unobserved cells of the training table
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "k": [Interval(int, 1, None)],
        "weights": [Options(("uniform", "similarity"))],
    }

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"k": 3}, {"k": 3, "weights": "similarity"}]

    def __init__(self, *, k: int = 40, weights: str = "uniform") -> None:
        self.k = k
        self.weights = weights

    def fit(
        self, X: ArrayLike, quality: ArrayLike, cost: ArrayLike | None, *, models: Sequence[str]
    ) -> Self:
        """Store the normalized training embeddings and outcomes."""
        self._validate_params()
        Xc, Q, C = _check_outcomes(X, quality, cost, models, type(self).__name__)
        norms = np.linalg.norm(Xc, axis=1, keepdims=True)
        self.X_ = Xc / np.where(norms > 0, norms, 1.0)
        self.quality_, self.cost_ = Q, C
        self.models_ = list(models)
        self.n_features_in_ = Xc.shape[1]
        self.cost_scale_ = calibrate_scale(C)
        return self

    def _predict(self, X: FloatArray) -> tuple[FloatArray, FloatArray]:
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        Xn = X / np.where(norms > 0, norms, 1.0)
        k = min(self.k, self.X_.shape[0])
        obs = ~np.isnan(self.quality_)
        Qz, Cz = np.where(obs, self.quality_, 0.0), np.where(obs, self.cost_, 0.0)
        q = np.empty((X.shape[0], len(self.models_)))
        c = np.empty_like(q)
        for start in range(0, X.shape[0], 1024):
            sims = Xn[start : start + 1024] @ self.X_.T
            W = _neighbour_weights(sims, k)
            if self.weights == "similarity":
                Ws = W * np.maximum(sims, 0.0)
                W = np.where(Ws.sum(axis=1, keepdims=True) > 0, Ws, W)
            n_obs = W @ obs
            with np.errstate(invalid="ignore", divide="ignore"):
                q[start : start + 1024] = (W @ Qz) / n_obs
                c[start : start + 1024] = (W @ Cz) / n_obs
        q = np.where(np.isnan(q), np.nanmean(self.quality_, axis=0), q)
        c = np.where(np.isnan(c), np.nanmean(self.cost_, axis=0), c)
        return np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64)


def _neighbour_weights(sims: FloatArray, k: int, tol: float = 1e-6) -> FloatArray:
    """Weights (summing to ``k`` per row) of the ``k`` most similar rows; order-independent.

    Rows tied with the ``k``-th similarity (within ``tol``) share the remaining weight equally, so
    the result does not depend on the order of the training prompts (exact duplicates are common:
    an encoder truncates long prompts that share a few-shot prefix).
    """
    kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]
    above = sims > kth + tol
    tied = ~above & (sims >= kth - tol)
    room = k - above.sum(axis=1, keepdims=True)
    return np.asarray(above + tied * (room / tied.sum(axis=1, keepdims=True)), dtype=np.float64)


class ReferenceRidgeRouter(_PredictiveRouter):
    """Ridge yardstick: ``[X, 1] @ W`` with penalty ``alpha`` on all weights, intercept included.

    Each target column (quality and cost of each model) is fitted on the rows where it was observed.

    Args:
        alpha: the L2 penalty (1.0 in the README reference).
    """

    _state_arrays = ("coef_",)
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "alpha": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(self, *, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(
        self, X: ArrayLike, quality: ArrayLike, cost: ArrayLike | None, *, models: Sequence[str]
    ) -> Self:
        """Solve ``(A^T A + alpha I) W = A^T Y`` with ``A = [X, 1]`` for every observed column."""
        self._validate_params()
        Xc, Q, C = _check_outcomes(X, quality, cost, models, type(self).__name__)
        A = np.hstack([Xc, np.ones((Xc.shape[0], 1))])
        Y = np.hstack([Q, C])
        W = np.zeros((A.shape[1], Y.shape[1]))
        masks = ~np.isnan(Y)
        eye = float(self.alpha) * np.eye(A.shape[1])
        patterns: dict[bytes, list[int]] = {}
        for j in range(Y.shape[1]):
            patterns.setdefault(masks[:, j].tobytes(), []).append(j)
        for cols in patterns.values():
            rows = masks[:, cols[0]]
            Ar = A[rows]
            W[:, cols] = np.linalg.solve(Ar.T @ Ar + eye, Ar.T @ Y[rows][:, cols])
        self.coef_ = W
        self.models_ = list(models)
        self.n_features_in_ = Xc.shape[1]
        self.cost_scale_ = calibrate_scale(C)
        return self

    def _predict(self, X: FloatArray) -> tuple[FloatArray, FloatArray]:
        out = np.hstack([X, np.ones((X.shape[0], 1))]) @ self.coef_
        k = len(self.models_)
        return np.asarray(out[:, :k]), np.asarray(out[:, k:])
