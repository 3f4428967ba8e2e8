"""Per-model sufficient statistics of a bandit log for :class:`RidgeRouter`, summable in chunks.

A ridge head needs only ``A = X̃ᵀX̃``, ``b = X̃ᵀy``, ``yᵀy`` and ``n`` over the rows its model
answered, so a log far larger than memory can be read in chunks (or by many workers) and the
statistics summed: :meth:`RidgeRouter.fit_statistics` then fits exactly the router
``fit_bandit`` would fit on the whole log.

Examples:
    >>> import numpy as np
    >>> from shared.routers import RidgeRouter
    >>> from shared.routers.ridge_stats import RidgeStatistics
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> chosen = ["a", "b"] * 20
    >>> q, c = rng.uniform(size=40), np.full(40, 0.01)
    >>> stats = RidgeStatistics(n_features=3)
    >>> for part in (slice(0, 25), slice(25, 40)):  # two chunks, summed
    ...     stats.add(X[part], chosen[part], q[part], c[part])
    >>> fitted = RidgeRouter(alpha=1.0).fit_statistics(stats, models=["a", "b"], cost_scale=0.01)
    >>> direct = RidgeRouter(alpha=1.0).fit_bandit(X, chosen, q, c, np.ones(40), models=["a", "b"])
    >>> bool(np.allclose(fitted.coef_, direct.coef_, atol=1e-12))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError
from ._linear import gram

FloatArray = NDArray[np.float64]

__all__ = ["HeadStatistics", "RidgeStatistics"]


@dataclass
class HeadStatistics:
    """One model's statistics: shared Gram matrix, quality and cost moments, row count.

    Attributes:
        A: ``X̃ᵀX̃`` over the model's rows, ``(p, p)``.
        b_quality: ``X̃ᵀq``.
        qq: ``qᵀq``.
        b_cost: ``X̃ᵀc``.
        cc: ``cᵀc``.
        cost_sum: ``Σ c`` (the intercept-only cost head of ``predict_cost=False``).
        n: number of rows.
    """

    A: FloatArray
    b_quality: FloatArray
    qq: float
    b_cost: FloatArray
    cc: float
    cost_sum: float
    n: int

    def __iadd__(self, other: HeadStatistics) -> HeadStatistics:
        self.A += other.A
        self.b_quality += other.b_quality
        self.qq += other.qq
        self.b_cost += other.b_cost
        self.cc += other.cc
        self.cost_sum += other.cost_sum
        self.n += other.n
        return self


@dataclass
class RidgeStatistics:
    """Sufficient statistics of a bandit log, per answering model (a ``+=``-able sum).

    Args:
        n_features: embedding width.
        fit_intercept: whether the design has the trailing column of ones (must match the
            router's ``fit_intercept``).

    Attributes:
        heads: statistics per model name.
        rows: number of rows added.
    """

    n_features: int
    fit_intercept: bool = True
    heads: dict[str, HeadStatistics] = field(default_factory=dict)
    rows: int = 0

    @property
    def n_columns(self) -> int:
        """Width ``p`` of the design."""
        return self.n_features + int(self.fit_intercept)

    def add(self, X: ArrayLike, chosen: Sequence[str], quality: ArrayLike, cost: ArrayLike) -> None:
        """Add rows: embeddings ``X``, the answering model, its quality and its (known) cost.

        Raises:
            DataError: shapes disagree, or a quality/cost is not finite.
        """
        Xc = np.asarray(X, dtype=np.float64)
        q = np.asarray(quality, dtype=np.float64).reshape(-1)
        c = np.asarray(cost, dtype=np.float64).reshape(-1)
        names = np.asarray(list(chosen), dtype=object)
        n = names.shape[0]
        if Xc.shape != (n, self.n_features) or q.shape != (n,) or c.shape != (n,):
            raise DataError(
                f"RidgeStatistics.add: expected X of shape ({n}, {self.n_features}) and {n} "
                f"qualities and costs, got {Xc.shape}, {q.shape}, {c.shape}."
            )
        if not (np.isfinite(q).all() and np.isfinite(c).all()):
            raise DataError("RidgeStatistics.add: qualities and costs must be finite.")
        fi = self.fit_intercept
        for name in dict.fromkeys(names.tolist()):
            rows = names == name
            Xk, qk, ck = Xc[rows], q[rows], c[rows]
            XtY = Xk.T @ np.column_stack([qk, ck])
            if fi:
                XtY = np.vstack([XtY, [[qk.sum(), ck.sum()]]])
            part = HeadStatistics(
                A=gram(Xk, fi),
                b_quality=XtY[:, 0].copy(),
                qq=float(qk @ qk),
                b_cost=XtY[:, 1].copy(),
                cc=float(ck @ ck),
                cost_sum=float(ck.sum()),
                n=int(rows.sum()),
            )
            if name in self.heads:
                self.heads[name] += part
            else:
                self.heads[str(name)] = part
        self.rows += n

    def __iadd__(self, other: RidgeStatistics) -> RidgeStatistics:
        if other.n_features != self.n_features or other.fit_intercept != self.fit_intercept:
            raise DataError("Cannot add ridge statistics of different widths or designs.")
        for name, head in other.heads.items():
            if name in self.heads:
                self.heads[name] += head
            else:
                self.heads[name] = HeadStatistics(**{k: _copy(v) for k, v in vars(head).items()})
        self.rows += other.rows
        return self


def _copy(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value
