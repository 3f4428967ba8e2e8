"""Exact front, budget/target picks and the result types of batch assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shared import (
    Assignment,
    DataError,
    InfeasibleError,
    InvalidParameterError,
    ParetoFront,
    assign_batch,
    exact_front,
)
from shared.assignment import nondominated


def _enumerate(P: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(cost, accuracy) of every possible assignment."""
    n, K = P.shape
    allc = np.array(list(itertools.product(range(K), repeat=n)))
    rows = np.arange(n)
    return np.column_stack([C[rows, allc].sum(1), P[rows, allc].mean(1)])


def _upper_hull(points: np.ndarray) -> np.ndarray:
    """Vertices of the upper-left concave hull of non-dominated points (the supported points)."""
    pts = points[nondominated(points)]
    hull: list[np.ndarray] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1) + 1e-12:
                hull.pop()
            else:
                break
        hull.append(p)
    return np.array(hull)


def _tiny_cases(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n, K = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        P = rng.integers(0, 5, (n, K)) / 4  # coarse values: many ties and collinear points
        C = rng.integers(0, 4, (n, K)).astype(float)
        yield P, C


def test_exact_front_points_are_pareto_optimal_by_enumeration() -> None:
    """No enumerated assignment dominates any point of the exact front (ties included)."""
    for P, C in _tiny_cases(0, 150):
        allp = _enumerate(P, C)
        for cost, acc in exact_front(P, C).points:
            dominated = (
                (allp[:, 0] <= cost + 1e-9)
                & (allp[:, 1] >= acc - 1e-9)
                & ((allp[:, 0] < cost - 1e-9) | (allp[:, 1] > acc + 1e-9))
            )
            assert not dominated.any()


def test_exact_front_contains_every_supported_point() -> None:
    """Every vertex of the enumerated front's convex hull is a supported point of the exact front."""
    for P, C in _tiny_cases(1, 150):
        front = exact_front(P, C)
        assert front.supported is not None
        sup = front.points[front.supported]
        for vertex in _upper_hull(_enumerate(P, C)):
            assert np.any(np.all(np.isclose(sup, vertex, atol=1e-9), axis=1)), vertex


def test_exact_front_golden_case() -> None:
    """A hand-computed 2x2 case: switches in decreasing gain per dollar."""
    P = np.array([[0.6, 0.9], [0.1, 0.7]])
    C = np.array([[1.0, 2.0], [1.0, 2.0]])
    front = exact_front(P, C, models=["small", "big"])
    np.testing.assert_allclose(front.points, [[2.0, 0.35], [3.0, 0.65], [4.0, 0.8]])
    assert [a.choices.tolist() for a in front.assignments] == [[0, 0], [0, 1], [1, 1]]
    assert front.assignments[-1].model_names() == ["big", "big"]
    assert front.method == "exact" and front.seconds >= 0


def test_exact_front_extremes_and_tie_breaking() -> None:
    """The ends are the cheapest (ties to the likelier) and the likeliest (ties to the cheaper)."""
    P = np.array([[0.2, 0.5, 0.9, 0.9], [0.3, 0.3, 0.3, 0.3]])
    C = np.array([[1.0, 1.0, 3.0, 5.0], [2.0, 1.0, 1.0, 4.0]])
    front = exact_front(P, C)
    assert front.assignments[0].choices.tolist() == [1, 1]
    assert front.assignments[-1].choices.tolist() == [2, 1]
    assert np.all(np.diff(front.points, axis=0) > 0)


def test_exact_front_assignments_match_points_and_evaluate() -> None:
    """Materialized assignments reproduce the stored points and the path evaluation."""
    rng = np.random.default_rng(3)
    P, C = rng.random((50, 5)), rng.random((50, 5))
    front = exact_front(P, C)
    for k in (0, 7, len(front) // 2, len(front) - 1):
        a = front.assignments[k]
        assert isinstance(a, Assignment)
        np.testing.assert_allclose(a.evaluate(P, C), front.points[k])
    np.testing.assert_allclose(front.evaluate(P, C), front.points)
    Q = (rng.random((50, 5)) > 0.5).astype(float)
    cost_q, acc_q = front.assignments[9].evaluate(Q, C)
    np.testing.assert_allclose(front.evaluate(Q, C)[9], [cost_q, acc_q])


def test_exact_front_max_points_thins_evenly() -> None:
    """max_points keeps both ends and at most that many points."""
    rng = np.random.default_rng(4)
    P, C = rng.random((200, 6)), rng.random((200, 6))
    full = exact_front(P, C)
    thin = exact_front(P, C, max_points=20)
    assert 2 <= len(thin) <= 22
    np.testing.assert_allclose(thin.points[[0, -1]], full.points[[0, -1]])
    np.testing.assert_allclose(thin.assignments[5].evaluate(P, C), thin.points[5])
    with pytest.raises(InvalidParameterError):
        exact_front(P, C, max_points=1)


def test_budget_and_target_picks() -> None:
    """assign_batch picks the best point within the budget and the cheapest reaching the target."""
    P = np.array([[0.6, 0.9], [0.1, 0.7]])
    C = np.array([[1.0, 2.0], [1.0, 2.0]])
    a = assign_batch(P, C, budget=3.5)
    assert a.choices.tolist() == [0, 1] and a.total_cost == 3.0
    assert assign_batch(P, C, budget=100.0).choices.tolist() == [1, 1]
    b = assign_batch(P, C, target=0.5)
    assert b.choices.tolist() == [0, 1]
    assert assign_batch(P, C, target=0.8).total_cost == 4.0


def test_infeasible_budget_and_target_explain_the_range() -> None:
    """Impossible budgets or targets raise InfeasibleError naming the feasible range."""
    P = np.array([[0.6, 0.9], [0.1, 0.7]])
    C = np.array([[1.0, 2.0], [1.0, 2.0]])
    with pytest.raises(InfeasibleError, match=r"cheapest costs \$2"):
        assign_batch(P, C, budget=1.5)
    with pytest.raises(InfeasibleError, match=r"\[0\.35, 0\.8\]"):
        assign_batch(P, C, target=0.95)


def test_assign_batch_argument_errors() -> None:
    """Neither or both goals, bad values and malformed matrices are rejected."""
    P, C = np.array([[0.5, 0.6]]), np.array([[1.0, 2.0]])
    with pytest.raises(InvalidParameterError):
        assign_batch(P, C)
    with pytest.raises(InvalidParameterError):
        assign_batch(P, C, budget=1.0, target=0.5)
    with pytest.raises(InvalidParameterError):
        assign_batch(P, C, target=1.5)
    with pytest.raises(DataError):
        assign_batch(np.array([[1.5, 0.2]]), C, budget=1.0)
    with pytest.raises(DataError):
        exact_front(P, np.array([[1.0, np.nan]]))
    with pytest.raises(DataError):
        exact_front(P, np.array([[1.0, 2.0, 3.0]]))


def test_front_is_frozen_and_serializable() -> None:
    """ParetoFront is immutable and to_dict carries its points."""
    front = exact_front(np.array([[0.2, 0.9]]), np.array([[1.0, 2.0]]))
    assert isinstance(front, ParetoFront)
    with pytest.raises(AttributeError):
        front.method = "x"  # type: ignore[misc]
    np.testing.assert_allclose(front.to_dict()["points"], [[1.0, 0.2], [2.0, 0.9]])
    with pytest.raises(IndexError):
        front.assignments[5]
    assert len(front.assignments[0:2]) == 2


def test_speed_ten_thousand_queries() -> None:
    """The full exact front of 10,000 x 12 takes well under the 1 s target (generous margin)."""
    rng = np.random.default_rng(0)
    P, C = rng.random((10_000, 12)), rng.random((10_000, 12))
    front = exact_front(P, C)
    assert front.seconds < 3.0
    assert len(front) > 10_000


def test_public_surface() -> None:
    """Every name of shared.assignment.__all__ resolves, and the core names are on shared."""
    import shared
    import shared.assignment as sa

    for name in sa.__all__:
        assert getattr(sa, name) is not None
    for name in ("SuccessPredictor", "assign_batch", "exact_front", "optllm_front"):
        assert getattr(shared, name) is getattr(sa, name)
    assert shared.ParetoFront is sa.ParetoFront and shared.Assignment is sa.Assignment
