"""SuccessPredictor (bootstrap ensemble) and the OptLLM / NSGA-II optimizers on small data."""

from __future__ import annotations

import numpy as np
import pytest

from shared import (
    DataError,
    InvalidParameterError,
    NotFittedError,
    SuccessPredictor,
    exact_front,
    optllm_front,
)
from shared.assignment import nondominated, nsga2_available, nsga2_front, score_front


def _data(seed: int = 0, n: int = 80):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.3, np.ones(n)]).astype(float)
    return X, Y


def test_shapes_and_ranges() -> None:
    """Mean, std and robust scores are (n, K), within [0, 1]; constant labels predict constants."""
    X, Y = _data()
    pred = SuccessPredictor(estimator="logistic", n_bootstrap=4, random_state=0)
    pred.fit(X[:60], Y[:60], X_val=X[60:], Y_val=Y[60:], models=["a", "b", "c"])
    mean, std = pred.predict_distribution(X[:7])
    assert mean.shape == std.shape == (7, 3)
    assert mean.min() >= 0 and mean.max() <= 1 and std.min() >= 0
    np.testing.assert_allclose(mean[:, 2], 1.0)
    np.testing.assert_allclose(std[:, 2], 0.0)
    assert pred.models_ == ["a", "b", "c"] and pred.n_features_in_ == 4
    assert pred.predict_proba(X[0]).shape == (1, 3)


def test_random_forest_default_and_seeding() -> None:
    """The paper's random forest fits, and equal seeds give equal predictions."""
    X, Y = _data(1)
    a = SuccessPredictor(n_bootstrap=2, n_estimators=10, random_state=3)
    a.fit(X[:60], Y[:60], X_val=X[60:], Y_val=Y[60:])
    b = a.clone().fit(X[:60], Y[:60], X_val=X[60:], Y_val=Y[60:])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.models_ == ["model_0", "model_1", "model_2"]


def test_weights_are_accuracy_on_true_validation_labels() -> None:
    """Each member's weight is its accuracy on the given validation labels, not on predictions."""
    X, Y = _data(2)
    Xv, Yv = X[60:], Y[60:]
    pred = SuccessPredictor(estimator="logistic", n_bootstrap=5, random_state=0)
    pred.fit(X[:60], Y[:60], X_val=Xv, Y_val=Yv)
    for member, w in zip(pred.estimators_, pred.weights_):
        proba = pred._member_proba(member, Xv)
        assert w == pytest.approx(np.mean((proba >= 0.5) == (Yv == 1)))
    flipped = SuccessPredictor(estimator="logistic", n_bootstrap=5, random_state=0)
    flipped.fit(X[:60], Y[:60], X_val=Xv, Y_val=1 - Yv)
    np.testing.assert_allclose(flipped.weights_, 1 - pred.weights_)


def test_robust_score_sign_of_alpha() -> None:
    """alpha > 0 raises scores by sigma (optimistic), alpha < 0 lowers them (pessimistic)."""
    X, Y = _data(3)
    Y[:, 0] = (np.random.default_rng(0).random(80) > 0.5).astype(float)  # noisy labels
    pred = SuccessPredictor(estimator="logistic", n_bootstrap=6, alpha=1.0, random_state=0)
    pred.fit(X[:60], Y[:60])
    mean, std = pred.predict_distribution(X)
    assert std[:, 0].max() > 0
    np.testing.assert_allclose(pred.predict_robust(X), np.clip(mean + std, 0, 1))
    np.testing.assert_allclose(pred.predict_robust(X, alpha=-0.5), np.clip(mean - 0.5 * std, 0, 1))


def test_fractional_and_missing_labels() -> None:
    """Labels are binarized at the threshold; NaN cells are skipped per model."""
    X, _ = _data(4)
    Y = np.column_stack([np.where(X[:, 0] > 0, 0.8, 0.3), np.full(80, np.nan)])
    Y[:5, 1] = 1.0
    pred = SuccessPredictor(estimator="logistic", n_bootstrap=3, random_state=0).fit(X, Y)
    p = pred.predict_proba(X)
    assert p[X[:, 0] > 1, 0].mean() > 0.7 and p[X[:, 0] < -1, 0].mean() < 0.3
    np.testing.assert_allclose(p[:, 1], 1.0)


def test_predictor_errors() -> None:
    """Bad parameters, labels and use before fit raise the library's errors."""
    X, Y = _data()
    with pytest.raises(NotFittedError):
        SuccessPredictor().predict_proba(X)
    with pytest.raises(InvalidParameterError):
        SuccessPredictor(estimator="svm").fit(X, Y)
    with pytest.raises(InvalidParameterError):
        SuccessPredictor(n_bootstrap=0).fit(X, Y)
    with pytest.raises(DataError):
        SuccessPredictor().fit(X, Y * 2)
    with pytest.raises(DataError):
        SuccessPredictor().fit(X, Y, X_val=X)
    with pytest.raises(DataError):
        SuccessPredictor().fit(X, Y, models=["a"])


def test_optllm_front_faithful_run() -> None:
    """OptLLM returns non-dominated solutions spanning the two extremes, scored on its matrices."""
    rng = np.random.default_rng(5)
    P, C = rng.random((60, 5)), rng.random((60, 5))
    front = optllm_front(P, C, gn=10)
    assert front.method == "optllm" and 2 <= len(front) <= 20
    assert len(nondominated(front.points)) == len(front)
    exact = exact_front(P, C)
    np.testing.assert_allclose(front.points[0], exact.points[0])
    np.testing.assert_allclose(front.points[-1], exact.points[-1])
    np.testing.assert_allclose(front.evaluate(P, C), front.points)
    # the exact front is never beaten: every OptLLM point lies on or below it
    assert np.all(front.points[:, 1] <= np.interp(front.points[:, 0], *exact.points.T) + 1e-9)


def test_optllm_uses_robust_matrix_for_the_accurate_side() -> None:
    """The most accurate extreme follows P_robust, and bad gn values are rejected."""
    P = np.array([[0.9, 0.5], [0.9, 0.5]])
    R = np.array([[0.1, 0.5], [0.9, 0.5]])
    C = np.array([[1.0, 2.0], [1.0, 2.0]])
    front = optllm_front(P, C, P_robust=R, gn=2)
    assert [a.choices.tolist() for a in front.assignments] == [[0, 0]]
    with pytest.raises(InvalidParameterError):
        optllm_front(P, C, gn=0)


@pytest.mark.skipif(not nsga2_available(), reason="pymoo not installed")
def test_nsga2_front_runs_and_is_dominated_by_exact() -> None:
    """NSGA-II returns a non-dominated integer front that the exact front scores at least as well."""
    rng = np.random.default_rng(6)
    Q = (rng.random((30, 4)) > 0.5).astype(float)
    C = rng.random((30, 4))
    front = nsga2_front(Q, C, pop_size=20, n_gen=10, seed=1)
    assert front.method == "nsga2" and len(front) >= 1
    assert front.assignments[0].choices.max() < 4
    assert score_front(exact_front(Q, C), Q, C).igd <= score_front(front, Q, C).igd
