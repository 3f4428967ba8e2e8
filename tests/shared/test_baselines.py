"""Baseline routers: kNN, MLP (numpy forward pass), uniform random and fixed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared import (
    FixedRouter,
    InvalidParameterError,
    KNNRouter,
    MLPRouter,
    Preference,
    RandomRouter,
    UnknownModelError,
)

MODELS = ["a", "b", "c"]


def _data(n: int = 60, seed: int = 0) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    Q = (rng.uniform(size=(n, 3)) < np.array([0.8, 0.5, 0.2])).astype(float)
    C = np.tile([0.01, 0.002, 0.0005], (n, 1)) * rng.uniform(0.5, 1.5, size=(n, 3))
    return X, Q, C


def test_knn_matches_brute_force_neighbour_means() -> None:
    """kNN quality and cost are the means over the k most cosine-similar training rows."""
    X, Q, C = _data()
    Q[3, 1] = np.nan
    router = KNNRouter(k=7).fit(X, Q, C, models=MODELS)
    q, c = router.predict_outcomes(X[:5])
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    for i in range(5):
        nn = np.argsort(-(Xn @ Xn[i]), kind="stable")[:7]
        np.testing.assert_allclose(q[i], np.nanmean(Q[nn], axis=0))
        np.testing.assert_allclose(c[i], C[nn].mean(axis=0))


def test_knn_euclidean_and_k_larger_than_data() -> None:
    """Euclidean kNN with k above the data size averages over every training row."""
    X, Q, C = _data(n=10)
    router = KNNRouter(k=50, metric="euclidean").fit(X, Q, C, models=MODELS)
    q, _ = router.predict_outcomes(X[:2])
    np.testing.assert_allclose(q, np.tile(Q.mean(axis=0), (2, 1)))


def test_mlp_forward_pass_matches_sklearn() -> None:
    """The numpy forward pass reproduces scikit-learn's MLPRegressor predictions."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, Q, C = _data()
    router = MLPRouter(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    router.fit(X, Q, C, models=MODELS)
    seed = int(np.random.default_rng(0).integers(0, 2**31 - 1, size=6)[0])
    net = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=seed, alpha=1e-4)
    with pytest.warns(ConvergenceWarning):
        net.fit(X, Q[:, 0])
    q, c = router.predict_outcomes(X)
    np.testing.assert_allclose(q[:, 0], np.clip(net.predict(X), 0, 1), atol=1e-10)
    np.testing.assert_allclose(c, np.tile(C.mean(axis=0), (len(X), 1)))


def test_mlp_predicts_cost_when_asked() -> None:
    """predict_cost=True trains a cost network per model (costs vary by row)."""
    X, Q, C = _data()
    router = MLPRouter(hidden_layer_sizes=(4,), max_iter=5, predict_cost=True, random_state=1)
    _, c = router.fit(X, Q, C, models=MODELS).predict_outcomes(X)
    assert c.shape == (len(X), 3) and np.ptp(c[:, 0]) > 0


def test_random_router_is_uniform_and_seeded() -> None:
    """RandomRouter logs propensity 1/K, samples every model and repeats under a seed."""
    X, Q, C = _data()
    router = RandomRouter(random_state=0).fit(X, Q, C, models=MODELS)
    decisions = router.decide_batch(X)
    assert all(d.propensity == pytest.approx(1 / 3) for d in decisions)
    assert {d.model for d in decisions} == set(MODELS)
    again = RandomRouter(random_state=0).fit(X, models=MODELS)
    assert [d.model for d in again.decide_batch(X)] == [d.model for d in decisions]
    restricted = router.decide(X[0], candidates=["a", "c"])
    assert restricted.propensity == pytest.approx(0.5)
    assert len(set(router.predict(X).tolist())) == 3


def test_fixed_router_defaults_to_the_best_training_model() -> None:
    """FixedRouter picks `model`, or the best mean training quality, with ranked fallbacks."""
    X, Q, C = _data()
    best = FixedRouter().fit(X, Q, C, models=MODELS)
    assert best.model_ == "a"
    chosen = FixedRouter(model="c").fit(X, Q, C, models=MODELS)
    d = chosen.decide(X[0], Preference(quality=1, cost=1))
    assert d.model == "c" and d.ranking == ("c", "a", "b")
    assert chosen.decide(X[0], candidates=["a", "b"]).model == "a"
    with pytest.raises(UnknownModelError):
        FixedRouter(model="zzz").fit(X, Q, C, models=MODELS)


@pytest.mark.parametrize(
    ("router", "match"),
    [
        (KNNRouter(k=0), "'k' parameter"),
        (KNNRouter(metric="manhattan"), "'metric' parameter"),
        (MLPRouter(hidden_layer_sizes=()), "'hidden_layer_sizes' parameter"),
        (MLPRouter(activation="gelu"), "'activation' parameter"),
        (MLPRouter(max_iter=0), "'max_iter' parameter"),
        (RandomRouter(random_state=1.5), "'random_state' parameter"),  # type: ignore[arg-type]
        (FixedRouter(model=3), "'model' parameter"),  # type: ignore[arg-type]
    ],
)
def test_invalid_parameters(router: Any, match: str) -> None:
    """Invalid constructor arguments raise InvalidParameterError naming them at fit."""
    X, Q, C = _data(n=5)
    with pytest.raises(InvalidParameterError, match=match):
        router.fit(X, Q, C, models=MODELS)
