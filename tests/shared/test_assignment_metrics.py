"""True front, IGD, hypervolume, spread and front scoring on hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shared import DataError, InvalidParameterError, SuccessPredictor, exact_front
from shared.assignment import (
    best_single_model,
    compare_fronts,
    hypervolume,
    igd,
    nondominated,
    saving_at_accuracy,
    score_front,
    split_batch,
    spread,
    true_front,
)


def test_true_front_greedy_is_exact_by_enumeration() -> None:
    """For 0/1 outcomes the greedy true front equals the enumerated Pareto front."""
    rng = np.random.default_rng(0)
    for _ in range(120):
        n, K = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        Q = (rng.random((n, K)) > 0.5).astype(float)
        C = rng.integers(0, 4, (n, K)).astype(float)
        allc = np.array(list(itertools.product(range(K), repeat=n)))
        rows = np.arange(n)
        pts = np.column_stack([C[rows, allc].sum(1), Q[rows, allc].mean(1)])
        expected = pts[nondominated(pts)]
        np.testing.assert_allclose(true_front(Q, C).points, expected)


def test_true_front_matches_exact_front_on_binary_outcomes() -> None:
    """On 0/1 outcomes the Lagrangian sweep reproduces the greedy true front."""
    rng = np.random.default_rng(1)
    Q = (rng.random((300, 6)) > 0.6).astype(float)
    C = rng.random((300, 6))
    np.testing.assert_allclose(exact_front(Q, C).points, true_front(Q, C).points)


def test_true_front_fractional_uses_exact_front() -> None:
    """Fractional outcomes fall back to the exact front, labelled 'true'."""
    Q = np.array([[0.2, 0.7], [0.5, 0.6]])
    C = np.array([[1.0, 2.0], [1.0, 3.0]])
    front = true_front(Q, C)
    assert front.method == "true"
    np.testing.assert_allclose(front.points, exact_front(Q, C).points)


def test_igd_hand_computed() -> None:
    """IGD averages each reference point's distance to the nearest obtained point."""
    ref = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]
    assert igd(ref, [[0.0, 0.0]]) == pytest.approx((0 + 1 + 2) / 3)
    assert igd(ref, ref) == 0.0
    with pytest.raises(DataError):
        igd(ref, np.zeros((0, 2)))


def test_hypervolume_hand_computed() -> None:
    """Staircase area up to the (1, 0) reference; dominated and out-of-box points add nothing."""
    assert hypervolume([[0.2, 0.5]]) == pytest.approx(0.8 * 0.5)
    assert hypervolume([[0.2, 0.5], [0.6, 0.9]]) == pytest.approx(0.8 * 0.5 + 0.4 * 0.4)
    assert hypervolume([[0.2, 0.5], [0.6, 0.9], [0.7, 0.4], [1.5, 1.0]]) == pytest.approx(0.56)
    assert hypervolume([[0.5, 1.0]], reference=(2.0, 0.5)) == pytest.approx(1.5 * 0.5)
    assert hypervolume(np.zeros((0, 2))) == 0.0


def test_spread_hand_computed() -> None:
    """Δ is 0 for an even front matching the true ends and grows with gaps and missed ends."""
    even = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]
    assert spread(even, [[0.0, 0.0], [2.0, 0.0]]) == pytest.approx(0.0)
    uneven = [[0.0, 0.0], [0.5, 0.0], [2.0, 0.0]]
    # d = [0.5, 1.5], mean 1; nearest = [0.5, 0.5, 1.5]: (0.5 + 0.5 + 0.5) / (2 * 1)
    assert spread(uneven, [[0.0, 0.0], [2.0, 0.0]]) == pytest.approx(0.75)
    short = [[1.0, 0.0], [2.0, 0.0]]
    # d_f = 1, d_l = 0, mean 1, nearest = [1, 1]: (1 + 0) / (1 + 1)
    assert spread(short, [[0.0, 0.0], [2.0, 0.0]]) == pytest.approx(0.5)
    assert spread([[1.0, 1.0]], even) == 1.0


def test_best_single_and_saving() -> None:
    """The best single model breaks accuracy ties by cost; savings use the cheapest reaching point."""
    Q = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    C = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    assert best_single_model(Q, C) == (2, 0.5, 2.0)
    assert saving_at_accuracy([[1.0, 0.2], [3.0, 0.5], [5.0, 1.0]], 0.5, 4.0) == pytest.approx(0.25)
    assert saving_at_accuracy([[1.0, 0.2]], 0.5, 4.0) is None


def test_score_front_rescores_with_real_outcomes() -> None:
    """Scores use real outcomes: a front on perfect predictions matches the truth exactly."""
    rng = np.random.default_rng(2)
    Q = (rng.random((40, 4)) > 0.5).astype(float)
    C = rng.random((40, 4))
    perfect = score_front(exact_front(Q, C), Q, C)
    assert perfect.igd == pytest.approx(0.0, abs=1e-12)
    assert perfect.igd_raw == pytest.approx(0.0, abs=1e-12)
    noisy = score_front(exact_front(rng.random((40, 4)), C), Q, C)
    assert noisy.igd > 0.01 and noisy.hypervolume < perfect.hypervolume
    d = noisy.to_dict()
    assert set(d) == {"igd", "igd_raw", "hypervolume", "spread", "seconds", "n_solutions", "points"}
    with pytest.raises(DataError):
        exact_front(Q, C).evaluate(Q[:5], C[:5])


def test_split_batch_and_compare_fronts() -> None:
    """The protocol splits disjointly, scores each requested front and rejects unknown ones."""
    train, val, batch = split_batch(50, 0.1, seed=0)
    assert (len(train), len(val), len(batch)) == (5, 5, 40)
    assert len(set(train) | set(val) | set(batch)) == 50
    with pytest.raises(InvalidParameterError):
        split_batch(50, 0.6, seed=0)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 3))
    Q = np.column_stack([X[:, 0] > 0, np.ones(60)]).astype(float)
    C = np.tile([0.01, 0.1], (60, 1))
    comp = compare_fronts(
        X,
        Q,
        C,
        ["cheap", "big"],
        train_share=0.2,
        predictor=SuccessPredictor(estimator="logistic", n_bootstrap=2, random_state=0),
        gn=3,
        methods=["exact", "exact_thin"],
    )
    assert set(comp.scores) == {"true", "exact", "exact_thin"}
    assert len(comp.fronts["exact_thin"]) <= 7
    assert comp.best_single["model"] == "big"
    assert "exact_thin" in comp.format_table()
    with pytest.raises(InvalidParameterError):
        compare_fronts(X, Q, C, ["a", "b"], methods=["magic"])
