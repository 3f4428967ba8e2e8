"""Result types of batch assignment: one :class:`Assignment`, a :class:`ParetoFront` of them.

A front can hold many thousands of assignments of many thousands of queries, so it stores them
compactly (a start assignment plus a path of single-query switches, or a small choice matrix) and
builds an :class:`Assignment` only when one is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError, InfeasibleError, InvalidParameterError

__all__ = [
    "Assignment",
    "AssignmentPath",
    "ChoiceMatrix",
    "ParetoFront",
    "check_matrices",
    "front_from_choices",
    "nondominated",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Relative slack when comparing a solution's cost with a budget (float sums are not exact).
_REL_TOL = 1e-9


def check_matrices(P: ArrayLike, C: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate a success-probability matrix and a cost matrix of the same ``(n, K)`` shape.

    Raises:
        DataError: not 2-D, empty, different shapes, non-finite values, probabilities outside
            [0, 1] or negative costs.
    """
    p = np.asarray(P, dtype=np.float64)
    c = np.asarray(C, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise DataError(f"Success probabilities must be a non-empty (n, K) matrix, got {p.shape}.")
    if c.shape != p.shape:
        raise DataError(f"Costs have shape {c.shape} but probabilities have shape {p.shape}.")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(c))):
        raise DataError("Probabilities and costs must be finite (no NaN: every cell is needed).")
    if p.min() < 0.0 or p.max() > 1.0:
        raise DataError("Success probabilities must lie in [0, 1].")
    if c.min() < 0.0:
        raise DataError("Costs must be non-negative.")
    return p, c


@dataclass(frozen=True, eq=False)
class Assignment:
    """One model per query, with its objective values.

    Attributes:
        choices: ``(n,)`` model index per query (columns of the probability/cost matrices).
        expected_accuracy: mean success probability of the chosen models, in [0, 1].
        total_cost: summed USD cost of the chosen models.
        models: the model names, if known; then :meth:`model_names` maps the choices.

    Examples:
        >>> import numpy as np
        >>> a = Assignment(np.array([0, 1]), 0.75, 0.3, models=("small", "big"))
        >>> a.model_names()
        ['small', 'big']
    """

    choices: IntArray
    expected_accuracy: float
    total_cost: float
    models: tuple[str, ...] | None = None

    def model_names(self) -> list[str]:
        """The chosen model name per query (needs ``models``)."""
        if self.models is None:
            raise InvalidParameterError("This assignment was built without model names.")
        return [self.models[j] for j in self.choices]

    def evaluate(self, quality: ArrayLike, cost: ArrayLike) -> tuple[float, float]:
        """Total cost and mean quality of these choices under other (e.g. real) outcomes."""
        q, c = np.asarray(quality, dtype=np.float64), np.asarray(cost, dtype=np.float64)
        rows = np.arange(self.choices.shape[0])
        return float(c[rows, self.choices].sum()), float(q[rows, self.choices].mean())


class _Assignments(Sequence[Assignment]):
    """A lazily materialized sequence of assignments sharing one ``points`` array."""

    points: FloatArray
    models: tuple[str, ...] | None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @overload
    def __getitem__(self, index: int) -> Assignment: ...

    @overload
    def __getitem__(self, index: slice) -> list[Assignment]: ...

    def __getitem__(self, index: int | slice) -> Assignment | list[Assignment]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        k = range(len(self))[index]  # IndexError and negative indices like a list
        return Assignment(
            self.choices(k), float(self.points[k, 1]), float(self.points[k, 0]), self.models
        )

    def __iter__(self) -> Iterator[Assignment]:
        return (self[i] for i in range(len(self)))

    def choices(self, k: int) -> IntArray:
        """The model index per query of solution ``k``."""
        raise NotImplementedError

    def evaluate(self, quality: ArrayLike, cost: ArrayLike) -> FloatArray:
        """``(m, 2)`` total cost and mean quality of every solution under other outcomes."""
        raise NotImplementedError


class ChoiceMatrix(_Assignments):
    """Solutions stored as an ``(m, n)`` matrix of model indices (for a few hundred solutions)."""

    def __init__(
        self, matrix: IntArray, points: FloatArray, models: tuple[str, ...] | None = None
    ) -> None:
        self.matrix = np.asarray(matrix, dtype=np.intp)
        self.points = points
        self.models = models

    def choices(self, k: int) -> IntArray:
        return np.asarray(self.matrix[k], dtype=np.intp).copy()

    def evaluate(self, quality: ArrayLike, cost: ArrayLike) -> FloatArray:
        q, c = np.asarray(quality, dtype=np.float64), np.asarray(cost, dtype=np.float64)
        rows = np.arange(self.matrix.shape[1])
        tot_c = c[rows[None, :], self.matrix].sum(axis=1)
        acc = q[rows[None, :], self.matrix].mean(axis=1)
        return np.column_stack([tot_c, acc])


class AssignmentPath(_Assignments):
    """Solutions along a path of single-query switches from a start assignment.

    Solution ``k`` is ``start`` with the first ``steps[k]`` switches applied; switch ``e`` moves
    query ``rows[e]`` from model ``src[e]`` to model ``dst[e]`` (switches of one query come in
    order, so ``src`` is the query's model at that moment).
    """

    def __init__(
        self,
        start: IntArray,
        rows: IntArray,
        src: IntArray,
        dst: IntArray,
        steps: IntArray,
        points: FloatArray,
        models: tuple[str, ...] | None = None,
    ) -> None:
        self.start = start
        self.rows = rows
        self.src = src
        self.dst = dst
        self.steps = steps
        self.points = points
        self.models = models

    def choices(self, k: int) -> IntArray:
        s = int(self.steps[k])
        out = self.start.copy()
        last = np.full(out.shape[0], -1, dtype=np.intp)
        np.maximum.at(last, self.rows[:s], np.arange(s, dtype=np.intp))
        moved = last >= 0
        out[moved] = self.dst[last[moved]]
        return out

    def evaluate(self, quality: ArrayLike, cost: ArrayLike) -> FloatArray:
        q, c = np.asarray(quality, dtype=np.float64), np.asarray(cost, dtype=np.float64)
        n = self.start.shape[0]
        rows = np.arange(n)
        dq = q[self.rows, self.dst] - q[self.rows, self.src]
        dc = c[self.rows, self.dst] - c[self.rows, self.src]
        tot_q = np.concatenate(
            [[q[rows, self.start].sum()], q[rows, self.start].sum() + np.cumsum(dq)]
        )
        tot_c = np.concatenate(
            [[c[rows, self.start].sum()], c[rows, self.start].sum() + np.cumsum(dc)]
        )
        return np.column_stack([tot_c[self.steps], tot_q[self.steps] / n])


@dataclass(frozen=True, eq=False)
class ParetoFront:
    """Non-dominated assignments of one batch, sorted by increasing cost.

    Attributes:
        points: ``(m, 2)`` rows of (total cost in USD, expected accuracy in [0, 1]) as the
            optimizer saw them (predicted probabilities), cost increasing.
        assignments: the ``m`` solutions (built on access).
        method: which optimizer produced the front (``"exact"``, ``"optllm"``, ``"nsga2"``...).
        seconds: wall time of the optimizer.
        supported: for the exact front, which points are supported (optimal for some price).

    Examples:
        >>> import numpy as np
        >>> from shared import exact_front
        >>> front = exact_front(np.array([[0.5, 0.9], [0.2, 0.8]]), np.array([[1.0, 3.0]] * 2))
        >>> front.points.tolist()
        [[2.0, 0.35], [4.0, 0.65], [6.0, 0.85]]
        >>> front.best_under_budget(4.5).choices.tolist()
        [0, 1]
    """

    points: FloatArray
    assignments: _Assignments
    method: str
    seconds: float = 0.0
    supported: NDArray[np.bool_] | None = field(default=None)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def evaluate(self, quality: ArrayLike, cost: ArrayLike) -> FloatArray:
        """``(m, 2)`` (total cost, mean quality) of every solution under real outcomes.

        The optimizers work on predicted probabilities; this re-scores their solutions with the
        observed quality (and cost) matrices, as the OptLLM paper does before comparing fronts.
        """
        q = np.asarray(quality, dtype=np.float64)
        n = self.assignments[0].choices.shape[0] if len(self) else 0
        if q.ndim != 2 or q.shape[0] != n:
            raise DataError(f"Outcomes of shape {q.shape} do not match a batch of {n} queries.")
        return self.assignments.evaluate(q, cost)

    def best_under_budget(self, usd: float) -> Assignment:
        """The most accurate solution costing at most ``usd`` (ties: the cheaper).

        Raises:
            InfeasibleError: even the cheapest solution costs more than ``usd``.
        """
        costs = self.points[:, 0]
        ok = np.flatnonzero(costs <= usd + _REL_TOL * max(abs(usd), 1e-12))
        if ok.size == 0:
            raise InfeasibleError(
                f"No assignment costs at most ${usd:.6g}: the cheapest costs ${costs.min():.6g} "
                f"(feasible budgets: >= ${costs.min():.6g}; the most accurate solution costs "
                f"${costs.max():.6g})."
            )
        acc = self.points[ok, 1]
        best = ok[np.flatnonzero(acc == acc.max())]
        return self.assignments[int(best[np.argmin(costs[best])])]

    def cheapest_reaching(self, accuracy: float) -> Assignment:
        """The cheapest solution whose expected accuracy is at least ``accuracy``.

        Raises:
            InfeasibleError: no solution reaches ``accuracy``.
        """
        acc = self.points[:, 1]
        ok = np.flatnonzero(acc >= accuracy - 1e-12)
        if ok.size == 0:
            raise InfeasibleError(
                f"No assignment reaches an expected accuracy of {accuracy:.4g}: reachable "
                f"accuracies span [{acc.min():.4g}, {acc.max():.4g}]."
            )
        costs = self.points[ok, 0]
        best = ok[np.flatnonzero(costs == costs.min())]
        return self.assignments[int(best[np.argmax(acc[best])])]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: method, seconds and the (cost, accuracy) points."""
        return {
            "method": self.method,
            "seconds": self.seconds,
            "points": self.points.tolist(),
        }


def nondominated(points: ArrayLike) -> IntArray:
    """Indices of the non-dominated rows of (cost, accuracy) points, sorted by cost.

    Minimizes cost and maximizes accuracy; of identical points the first is kept.

    Examples:
        >>> nondominated([[1.0, 0.5], [2.0, 0.4], [0.5, 0.5], [3.0, 0.9]]).tolist()
        [2, 3]
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    order = np.lexsort((np.arange(pts.shape[0]), -pts[:, 1], pts[:, 0]))
    acc = pts[order, 1]
    running = np.maximum.accumulate(acc)
    keep = np.ones(order.shape[0], dtype=bool)
    keep[1:] = acc[1:] > running[:-1]
    return np.asarray(order[keep], dtype=np.intp)


def front_from_choices(
    matrix: ArrayLike,
    P: FloatArray,
    C: FloatArray,
    *,
    method: str,
    seconds: float,
    models: Sequence[str] | None = None,
    points: FloatArray | None = None,
) -> ParetoFront:
    """A :class:`ParetoFront` of the non-dominated rows of an ``(m, n)`` choice matrix.

    ``points`` overrides the objective values used for filtering (OptLLM mixes two probability
    matrices); by default they are computed from ``P`` and ``C``.
    """
    mat = np.asarray(matrix, dtype=np.intp)
    if points is None:
        points = ChoiceMatrix(mat, np.zeros((mat.shape[0], 2))).evaluate(P, C)
    keep = nondominated(points)
    names = None if models is None else tuple(models)
    store = ChoiceMatrix(mat[keep], points[keep], names)
    return ParetoFront(points[keep], store, method, seconds)
