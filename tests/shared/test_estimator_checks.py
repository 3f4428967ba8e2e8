"""Common checks over every router class of the ridge/experts/baselines modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from shared import (
    BaseRouter,
    DimensionMismatchError,
    DomainExpertRouter,
    FixedRouter,
    KNNRouter,
    MLPRouter,
    NotFittedError,
    RandomRouter,
    RidgeRouter,
)

MODELS = ["a", "b", "c"]


def _data() -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    Q = np.clip(0.5 + 0.3 * X[:, :3], 0, 1)
    Q[2, 1] = np.nan
    C = np.tile([0.01, 0.002, 0.0005], (30, 1))
    return X, Q, C


def _fit_table(router: Any, X: Any, Q: Any, C: Any) -> Any:
    return router.fit(X, Q, C, models=MODELS)


def _fit_labels(router: Any, X: Any, Q: Any, C: Any) -> Any:
    return router.fit(X, [MODELS[i % 3] for i in range(len(X))])


# (estimator factory, fit function): the _unit_test_params of this package
CASES: list[tuple[Callable[[], BaseRouter], Callable[..., Any]]] = [
    (lambda: RidgeRouter(), _fit_table),
    (lambda: RidgeRouter(alpha="cv", exploration="thompson", random_state=0), _fit_table),
    (lambda: RidgeRouter(alpha="gcv", solver="sherman_morrison", exploration="ucb"), _fit_table),
    (lambda: DomainExpertRouter(), _fit_labels),
    (lambda: DomainExpertRouter(strategy="majority", alpha="gcv"), _fit_labels),
    (lambda: KNNRouter(k=3), _fit_table),
    (lambda: MLPRouter(hidden_layer_sizes=(4,), max_iter=5, random_state=0), _fit_table),
    (lambda: RandomRouter(random_state=0), _fit_table),
    (lambda: FixedRouter(), _fit_table),
]
IDS = [repr(make()) for make, _ in CASES]


@pytest.mark.parametrize(("make", "fit"), CASES, ids=IDS)
def test_clone_and_params_round_trip(make: Callable[[], BaseRouter], fit: Any) -> None:
    """clone() copies params only; set_params(**get_params()) is a no-op; repr names the class."""
    router = make()
    X, Q, C = _data()
    fit(router, X, Q, C)
    twin = router.clone()
    assert twin.get_params() == router.get_params()
    assert not twin.is_fitted
    assert twin.set_params(**router.get_params()).get_params() == router.get_params()
    assert repr(router).startswith(type(router).__name__ + "(")


@pytest.mark.parametrize(("make", "fit"), CASES, ids=IDS)
def test_seeded_fits_are_idempotent(make: Callable[[], BaseRouter], fit: Any) -> None:
    """Two fits with the same parameters route identically (sampling included)."""
    X, Q, C = _data()
    first = fit(make(), X, Q, C)
    second = fit(make(), X, Q, C)
    assert [d.model for d in first.decide_batch(X)] == [d.model for d in second.decide_batch(X)]
    third = fit(make(), X, Q, C)
    refit = fit(first, X, Q, C)  # refitting resets the random state too
    assert [d.model for d in refit.decide_batch(X)] == [d.model for d in third.decide_batch(X)]


@pytest.mark.parametrize(("make", "fit"), CASES, ids=IDS)
def test_inputs_are_not_mutated(make: Callable[[], BaseRouter], fit: Any) -> None:
    """fit and decisions leave the caller's arrays untouched."""
    X, Q, C = _data()
    copies = [X.copy(), Q.copy(), C.copy()]
    router = fit(make(), X, Q, C)
    router.decide_batch(X)
    router.decision_function(X)
    for got, want in zip((X, Q, C), copies):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("make", "fit"), CASES, ids=IDS)
def test_unfitted_and_wrong_width(make: Callable[[], BaseRouter], fit: Any) -> None:
    """Routing before fit raises NotFittedError; a wrong width DimensionMismatchError."""
    X, Q, C = _data()
    router = make()
    with pytest.raises(NotFittedError):
        router.decide(X[0])
    fit(router, X, Q, C)
    with pytest.raises(DimensionMismatchError):
        router.decide(np.zeros(X.shape[1] + 2))
    assert router.decision_function(X).shape == (len(X), len(router.models_))


@pytest.mark.parametrize(("make", "fit"), CASES, ids=IDS)
def test_documented(make: Callable[[], BaseRouter], fit: Any) -> None:
    """The class and its public methods have docstrings; the class one has an example."""
    cls = type(make())
    module = __import__(cls.__module__, fromlist=["_"])
    assert cls.__doc__ and module.__doc__ and "Examples:" in module.__doc__
    for name in ("fit", "predict", "decide"):
        assert getattr(cls, name).__doc__, name
