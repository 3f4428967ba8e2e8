"""Save -> load round trips give identical decisions for every router this package ships."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    BaseRouter,
    DomainExpertRouter,
    FixedRouter,
    KNNRouter,
    MLPRouter,
    NotFittedError,
    PersistenceError,
    Persists,
    Preference,
    RandomRouter,
    RidgeRouter,
    load_router,
)
from shared._registry import router_classes
from shared.evaluation import ReferenceKNNRouter, ReferenceRidgeRouter

MODELS = ["a", "b", "c"]


def _data() -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    Q = np.clip(0.5 + 0.3 * X[:, :3], 0, 1)
    C = np.tile([0.01, 0.002, 0.0005], (40, 1)) * (1 + 0.1 * np.abs(X[:, 3:4]))
    return X, Q, C


def _fitted(name: str) -> Any:
    X, Q, C = _data()
    if name == "ridge":
        return RidgeRouter(alpha="gcv").fit(X, Q, C, models=MODELS)
    if name == "ridge_sm_ucb":
        router = RidgeRouter(solver="sherman_morrison", exploration="ucb", predict_cost=False)
        router.fit(X, Q, C, models=MODELS)
        return router.update(X[0], "b", 1.0, 0.002)
    if name == "ridge_cold":
        return RidgeRouter().initialize(MODELS, 5, prior_quality=[0.9, 0.6, 0.3])
    if name == "experts":
        return DomainExpertRouter(alpha="gcv").fit(X, [MODELS[i % 3] for i in range(40)])
    if name == "knn":
        return KNNRouter(k=5).fit(X, Q, C, models=MODELS)
    if name == "mlp":
        return MLPRouter(hidden_layer_sizes=(6, 4), max_iter=10, random_state=0).fit(
            X, Q, C, models=MODELS
        )
    if name == "random":
        return RandomRouter(random_state=3).fit(X, Q, C, models=MODELS)
    return FixedRouter().fit(X, Q, C, models=MODELS)


NAMES = ["ridge", "ridge_sm_ucb", "ridge_cold", "experts", "knn", "mlp", "random", "fixed"]


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_identical_decisions(name: str, tmp_path: Path) -> None:
    """A loaded router has the same class, params, scores and greedy decisions."""
    router = _fitted(name)
    X, _, _ = _data()
    router.save(str(tmp_path))
    again = load_router(tmp_path)
    assert type(again) is type(router)
    assert again.get_params() == router.get_params()
    for pref in (Preference(), Preference(quality=1, cost=1)):
        if name != "random":  # random scores are fresh draws by design
            np.testing.assert_allclose(
                again.decision_function(X, pref), router.decision_function(X, pref), atol=1e-12
            )
        got = [d.model for d in again.decide_batch(X, pref, explore=False)]
        if name == "random":
            assert set(got) <= set(MODELS)
        else:
            assert got == [d.model for d in router.decide_batch(X, pref, explore=False)]


def test_every_shipped_router_persists() -> None:
    """A user can save any router prefroute ships (docs/concepts.md says so)."""
    assert [n for n, c in router_classes(builtin=True).items() if not issubclass(c, Persists)] == []


@pytest.mark.parametrize("cls", [ReferenceKNNRouter, ReferenceRidgeRouter])
def test_yardsticks_save_and_load(cls: type[BaseRouter], tmp_path: Path) -> None:
    """The reference yardsticks load back with the same parameters and scores, an unobserved
    (NaN) training cell included."""
    X, Q, C = _data()
    Q, C = Q.copy(), C.copy()
    Q[3, 1], C[3, 1] = np.nan, np.nan
    router = cls().fit(X, Q, C, models=MODELS)
    router.save(str(tmp_path))
    again = load_router(tmp_path)
    assert type(again) is cls and again.get_params() == router.get_params()
    pref = Preference(quality=1, cost=1)
    np.testing.assert_array_equal(
        again.decision_function(X, pref), router.decision_function(X, pref)
    )


@pytest.mark.parametrize("alphas", [(0.1, 1.0), [0.1, 1.0]])
def test_sequence_parameters_keep_their_type(alphas: Any, tmp_path: Path) -> None:
    """A tuple parameter loads back as a tuple and a list as a list (JSON has only lists), so
    get_params() after a load equals get_params() before it."""
    X, Q, C = _data()
    router = RidgeRouter(alpha="gcv", alphas=alphas).fit(X, Q, C, models=MODELS)
    mlp = MLPRouter(hidden_layer_sizes=(4, 3), max_iter=5, random_state=0).fit(
        X, Q, C, models=MODELS
    )
    for fitted in (router, mlp):
        fitted.save(str(tmp_path / type(fitted).__name__))
        again = load_router(tmp_path / type(fitted).__name__)
        assert again.get_params() == fitted.get_params()
    assert type(load_router(tmp_path / "RidgeRouter").get_params()["alphas"]) is type(alphas)
    assert load_router(tmp_path / "MLPRouter").get_params()["hidden_layer_sizes"] == (4, 3)


def test_saved_files_are_json_and_npz_without_pickle(tmp_path: Path) -> None:
    """The manifest names a version holding router.json and arrays.npz (no pickle) and their
    SHA-256 checksums."""
    _fitted("mlp").save(str(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["class"] == "MLPRouter"
    version = tmp_path / manifest["version"]
    doc = json.loads((version / "router.json").read_text())
    assert doc["class"] == "MLPRouter"
    with np.load(version / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((version / name).read_bytes()).hexdigest() == entry["sha256"]


def test_loaded_ridge_keeps_learning_like_the_original(tmp_path: Path) -> None:
    """Updates after loading give the same heads as updates on the original."""
    router = _fitted("ridge")
    router.save(str(tmp_path))
    again = load_router(tmp_path)
    x = np.full(5, 0.3)
    router.update(x, "c", 0.9, 0.001)
    again.update(x, "c", 0.9, 0.001)
    X, _, _ = _data()
    np.testing.assert_allclose(again.decision_function(X), router.decision_function(X))


def test_unfitted_and_corrupt(tmp_path: Path) -> None:
    """Saving an unfitted router and loading an empty directory raise typed errors."""
    with pytest.raises(NotFittedError):
        RidgeRouter().save(str(tmp_path / "x"))
    with pytest.raises(PersistenceError, match="not a saved router"):
        load_router(tmp_path)
