"""Common checks over every registered router, discovered from the registry.

Nothing here lists routers: each built-in class found by ``shared._registry`` is checked with every
parameter set it declares in ``_unit_test_params`` (the river / scikit-learn pattern), and each
capability it declares (``shared.capabilities``) is exercised: full-table or label fit, bandit
fit, cold start, online update, save and load. The malformed-input checks feed the same bad
input to every router that accepts that kind of input and require the same error type and the
same message (up to the router's name).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    BaseRouter,
    ColdStarts,
    DataError,
    DimensionMismatchError,
    FitsBandit,
    FitsLabels,
    FitsTable,
    InvalidParameterError,
    LearnsOnline,
    NotFittedError,
    Persists,
    UnknownModelError,
    ensure_ready,
    load_router,
)
from shared._registry import router_classes
from shared.capabilities import capabilities_of

MODELS = ["a", "b", "c"]
ROUTERS = router_classes(builtin=True)
CASES = [(cls, params) for cls in ROUTERS.values() for params in cls._unit_test_params()]
IDS = [f"{cls.__name__}({params})" for cls, params in CASES]
LEARNS = (FitsTable, FitsLabels, FitsBandit, ColdStarts)


def _data() -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    Q = np.clip(0.5 + 0.3 * X[:, :3], 0, 1)
    Q[2, 1] = np.nan
    C = np.tile([0.01, 0.002, 0.0005], (30, 1))
    C[2, 1] = np.nan
    return X, Q, C


def _log(X: Any, Q: Any, C: Any) -> tuple[Any, ...]:
    """A uniform logging policy's log of the table: (X, chosen, quality, cost, propensity)."""
    arms = np.array([i % 3 if i != 2 else 0 for i in range(len(X))])
    rows = np.arange(len(X))
    return X, [MODELS[j] for j in arms], Q[rows, arms], C[rows, arms], np.full(len(X), 1 / 3)


def _fit(router: BaseRouter, X: Any, Q: Any, C: Any) -> BaseRouter:
    """Fit with the router's first declared way to learn."""
    if isinstance(router, FitsTable):
        return router.fit(X, Q, C, models=MODELS)
    if isinstance(router, FitsLabels):
        return router.fit(X, [MODELS[i % 3] for i in range(len(X))], experts=MODELS)
    if isinstance(router, FitsBandit):
        return router.fit_bandit(*_log(X, Q, C), models=MODELS)
    return ensure_ready(router, MODELS, X.shape[1])


def _choices(router: BaseRouter, X: Any) -> list[str]:
    return [d.model for d in router.decide_batch(X)]


def test_the_registry_finds_every_shipped_router() -> None:
    """Every router module's classes are discovered, the bandits and BaRP included."""
    assert {
        "BaRPRouter", "DomainExpertRouter", "EpsilonGreedyRouter", "FixedRouter", "KNNRouter",
        "LinUCBRouter", "LinearThompsonRouter", "MLPRouter", "RandomRouter", "RidgeRouter",
        "ReferenceKNNRouter", "ReferenceRidgeRouter",
    } <= set(ROUTERS)  # fmt: skip
    assert all(issubclass(cls, BaseRouter) for cls in ROUTERS.values())


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_declares_how_it_learns(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """Each router declares at least one way to become fitted, and its declared methods are
    its own (the mixins leave no abstract method behind)."""
    assert any(issubclass(cls, c) for c in LEARNS), capabilities_of(cls)
    router = cls(**params)
    for capability, method in (
        (FitsBandit, "fit_bandit"), (ColdStarts, "initialize"), (LearnsOnline, "update"),
    ):  # fmt: skip
        assert isinstance(router, capability) == callable(getattr(router, method, None))


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_clone_and_params_round_trip(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """clone() copies params only; set_params(**get_params()) is a no-op; repr names the class."""
    X, Q, C = _data()
    router = _fit(cls(**params), X, Q, C)
    twin = router.clone()
    assert twin.get_params() == router.get_params()
    assert not twin.is_fitted
    assert twin.set_params(**router.get_params()).get_params() == router.get_params()
    assert repr(router).startswith(cls.__name__ + "(")


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_seeded_fits_are_idempotent(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """Two fits with the same parameters route identically (sampling included); refitting
    resets the random state too."""
    X, Q, C = _data()
    first = _fit(cls(**params), X, Q, C)
    second = _fit(cls(**params), X, Q, C)
    assert _choices(first, X) == _choices(second, X)
    third = _fit(cls(**params), X, Q, C)
    assert _choices(_fit(first, X, Q, C), X) == _choices(third, X)


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_inputs_are_not_mutated(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """fit and decisions leave the caller's arrays untouched."""
    X, Q, C = _data()
    copies = [X.copy(), Q.copy(), C.copy()]
    router = _fit(cls(**params), X, Q, C)
    router.decide_batch(X)
    router.decision_function(X)
    for got, want in zip((X, Q, C), copies):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_unfitted_and_wrong_width(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """Routing before fit raises NotFittedError; a wrong width DimensionMismatchError."""
    X, Q, C = _data()
    router = cls(**params)
    with pytest.raises(NotFittedError):
        router.decide(X[0])
    _fit(router, X, Q, C)
    with pytest.raises(DimensionMismatchError):
        router.decide(np.zeros(X.shape[1] + 2))
    assert router.decision_function(X).shape == (len(X), len(router.models_))


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_declared_bandit_fit(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """A FitsBandit router learns the pool from a log and routes every prompt to a pool model."""
    if not issubclass(cls, FitsBandit):
        pytest.skip("not FitsBandit")
    X, Q, C = _data()
    router = cls(**params).fit_bandit(*_log(X, Q, C), models=MODELS, preferences=None)
    assert router.models_ == MODELS and set(_choices(router, X)) <= set(MODELS)


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_declared_cold_start_and_update(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """A ColdStarts router decides right after ensure_ready; a LearnsOnline one then learns:
    its scores move after updates (and update returns the router)."""
    if not issubclass(cls, (ColdStarts, LearnsOnline)):
        pytest.skip("neither ColdStarts nor LearnsOnline")
    X, Q, C = _data()
    router = cls(**params)
    if isinstance(router, ColdStarts):
        ensure_ready(router, MODELS, X.shape[1], prior_quality=0.5, prior_cost=0.0)
        assert router.models_ == MODELS and router.decide(X[0]).model in MODELS
    else:
        _fit(router, X, Q, C)
    if not isinstance(router, LearnsOnline):
        return
    before = router.decision_function(X).copy()
    for i in range(10):
        assert router.update(X[i], "b", 1.0, 0.001, propensity=0.5) is router
    assert not np.allclose(router.decision_function(X), before)


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_declared_save_and_load(
    cls: type[BaseRouter], params: dict[str, Any], tmp_path: Path
) -> None:
    """A Persists router loads back with the same parameters, models and scores."""
    if not issubclass(cls, Persists):
        pytest.skip("not Persists")
    X, Q, C = _data()
    router = _fit(cls(**params), X, Q, C)
    deterministic = np.allclose(router.decision_function(X), router.decision_function(X))
    router.save(str(tmp_path))
    again = load_router(tmp_path)
    assert type(again) is cls
    # equal values of equal types: a tuple parameter comes back as a tuple, not a list
    assert again.get_params() == router.get_params()
    assert {k: type(v) for k, v in again.get_params().items()} == {
        k: type(v) for k, v in router.get_params().items()
    }
    assert again.models_ == router.models_
    if deterministic:
        np.testing.assert_allclose(again.decision_function(X), router.decision_function(X))


@pytest.mark.parametrize(("cls", "params"), CASES, ids=IDS)
def test_documented(cls: type[BaseRouter], params: dict[str, Any]) -> None:
    """The class, its module and its public methods have docstrings."""
    module = __import__(cls.__module__, fromlist=["_"])
    assert cls.__doc__ and module.__doc__
    for name in ("predict", "decide", "fit", "fit_bandit", "initialize", "update"):
        if hasattr(cls, name):
            assert getattr(cls, name).__doc__, name


# ---------------------------------------------------------------- one input, one error
Attempt = Callable[[BaseRouter], Any]


def _bad_table(change: Callable[[Any, Any, Any], tuple[Any, Any, Any, Any]]) -> Attempt:
    def attempt(router: BaseRouter) -> Any:
        X, Q, C, models = change(*_data())
        assert isinstance(router, FitsTable)
        return router.fit(X, Q, C, models=models)

    return attempt


def _bad_log(change: Callable[[list[Any]], list[Any]]) -> Attempt:
    def attempt(router: BaseRouter) -> Any:
        X, chosen, q, c, p = change(list(_log(*_data())))
        assert isinstance(router, FitsBandit)
        return router.fit_bandit(X, chosen, q, c, p, models=MODELS)

    return attempt


def _bad_update(**kwargs: Any) -> Attempt:
    def attempt(router: BaseRouter) -> Any:
        assert isinstance(router, LearnsOnline)
        args = {"model": "a", "quality": 1.0, "cost": 0.01, "propensity": 1.0, **kwargs}
        model, q, c = args.pop("model"), args.pop("quality"), args.pop("cost")
        return router.update(_data()[0][0], model, q, c, **args)

    return attempt


def _with(index: int, value: Any) -> Callable[[list[Any]], list[Any]]:
    def change(parts: list[Any]) -> list[Any]:
        parts[index] = value
        return parts

    return change


_N = 30
MALFORMED: dict[str, tuple[type, type[Exception], Attempt]] = {
    "table quality above 1": (
        FitsTable, DataError, _bad_table(lambda X, Q, C: (X, Q * 3, C, MODELS)),
    ),
    "table negative cost": (FitsTable, DataError, _bad_table(lambda X, Q, C: (X, Q, -C, MODELS))),
    "table infinite cost": (
        FitsTable, DataError, _bad_table(lambda X, Q, C: (X, Q, C + np.inf, MODELS)),
    ),
    "table wrong width": (
        FitsTable, DataError, _bad_table(lambda X, Q, C: (X, Q[:, :2], C[:, :2], MODELS)),
    ),
    "table duplicate models": (
        FitsTable, InvalidParameterError, _bad_table(lambda X, Q, C: (X, Q, C, ["a", "a", "b"])),
    ),
    "table NaN embedding": (
        FitsTable, DataError, _bad_table(lambda X, Q, C: (X * np.nan, Q, C, MODELS)),
    ),
    "log quality above 1": (FitsBandit, DataError, _bad_log(_with(2, np.full(_N, 1.5)))),
    "log negative cost": (FitsBandit, DataError, _bad_log(_with(3, np.full(_N, -1.0)))),
    "log zero propensity": (FitsBandit, DataError, _bad_log(_with(4, np.zeros(_N)))),
    "log unknown model": (FitsBandit, UnknownModelError, _bad_log(_with(1, ["z"] * _N))),
    "log short quality": (FitsBandit, DataError, _bad_log(_with(2, np.ones(3)))),
    "log NaN quality": (FitsBandit, DataError, _bad_log(_with(2, np.full(_N, np.nan)))),
    "update quality above 1": (LearnsOnline, DataError, _bad_update(quality=1.5)),
    "update negative cost": (LearnsOnline, DataError, _bad_update(cost=-0.1)),
    "update zero propensity": (LearnsOnline, DataError, _bad_update(propensity=0.0)),
    "update unknown model": (LearnsOnline, UnknownModelError, _bad_update(model="zzz")),
}  # fmt: skip


def _message(err: BaseException, router: BaseRouter) -> str:
    return re.sub(re.escape(type(router).__name__), "<router>", str(err))


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_same_malformed_input_same_error_through_every_router(case: str) -> None:
    """Every router that accepts this kind of input rejects this malformed one with the same
    error type and the same message (up to the router's name)."""
    capability, error, attempt = MALFORMED[case]
    messages: dict[str, str] = {}
    X, Q, C = _data()
    for cls, params in CASES:
        if not issubclass(cls, capability):
            continue
        router = cls(**params)
        if capability is LearnsOnline:
            _fit(router, X, Q, C)
        with pytest.raises(error) as info:
            attempt(router)
        assert type(info.value) is error or issubclass(type(info.value), error)
        messages[cls.__name__] = _message(info.value, router)
    assert len(messages) >= 2, f"fewer than two routers take {capability.__name__}"
    assert len(set(messages.values())) == 1, messages
