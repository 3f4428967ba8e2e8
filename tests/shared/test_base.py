"""BaseRouter mechanics (decide, candidates, propensities) on a tiny hand-made router."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from shared import (
    BaseRouter,
    CapabilityError,
    DataError,
    DimensionMismatchError,
    InvalidParameterError,
    NotFittedError,
    PersistenceError,
    Preference,
    RouteScores,
    UnknownModelError,
)
from shared._base import calibrate_scale, scalarize
from shared._registry import router_class, router_classes
from shared._validation import Interval, Options
from shared.capabilities import capabilities_of, ensure_ready


class TableRouter(BaseRouter):
    """Quality = first columns of x, cost fixed per model; optionally a sampling policy."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "temperature": [Interval(float, 0, None, closed="neither"), None],
        "mode": [Options({"greedy", "softmax"})],
    }

    def __init__(
        self,
        *,
        temperature: float | None = None,
        mode: str = "greedy",
        random_state: int | None = None,
    ) -> None:
        self.temperature = temperature
        self.mode = mode
        self.random_state = random_state

    def fit(self, models: list[str], costs: list[float], n_features: int) -> TableRouter:
        self._validate_params()
        self.models_ = list(models)
        self.n_features_in_ = n_features
        self.costs_ = np.asarray(costs, dtype=float)
        self.cost_scale_ = float(self.costs_.max())
        return self

    def _route_scores(self, X: Any, preference: Preference, explore: bool) -> RouteScores:
        k = len(self.models_)
        quality = X[:, :k]
        cost = np.broadcast_to(self.costs_, quality.shape)
        utility = scalarize(preference, quality, cost, self.cost_scale_)
        probs = None
        if self.mode == "softmax":
            z = utility / (self.temperature or 1.0)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
        return RouteScores(utility=utility, probabilities=probs, quality=quality, cost=cost)


def _router(**kw: Any) -> TableRouter:
    return TableRouter(**kw).fit(["a", "b", "c"], [1.0, 0.1, 0.01], 3)


def test_greedy_decision_and_ranking() -> None:
    """The best-scored model is chosen with propensity 1 and the rest ranked as fallbacks."""
    d = _router().decide(np.array([0.9, 0.5, 0.2]))
    assert d.model == "a" and d.propensity == 1.0 and d.ranking == ("a", "b", "c")
    assert d.quality == (0.9, 0.5, 0.2) and d.router == "TableRouter"


def test_preference_changes_the_choice() -> None:
    """A heavy cost weight moves the choice to the cheap model."""
    x = np.array([0.9, 0.5, 0.2])
    assert _router().decide(x, Preference(quality=1, cost=5)).model == "c"


def test_candidates_restrict_the_choice() -> None:
    """Only candidates can be chosen or ranked."""
    d = _router().decide(np.array([0.9, 0.5, 0.2]), candidates=["b", "c"])
    assert d.model == "b" and d.ranking == ("b", "c")
    with pytest.raises(UnknownModelError):
        _router().decide(np.zeros(3), candidates=["zz"])
    with pytest.raises(InvalidParameterError):
        _router().decide(np.zeros(3), candidates=[])


def test_sampling_policy_logs_propensities() -> None:
    """A stochastic router samples among candidates and logs the renormalized probability."""
    r = _router(mode="softmax", temperature=0.5, random_state=0)
    x = np.array([0.9, 0.5, 0.2])
    seen = {r.decide(x, candidates=["a", "b"]).model for _ in range(50)}
    assert seen == {"a", "b"}
    d = r.decide(x, candidates=["a", "b"])
    assert d.probabilities is not None and d.probabilities[2] == 0.0
    assert d.propensity == pytest.approx(d.probabilities[r.models_.index(d.model)])
    greedy = r.decide(x, explore=False)
    assert greedy.model == "a" and greedy.propensity == 1.0


def test_seeded_sampling_is_reproducible() -> None:
    """Two routers with the same seed make the same sampled choices."""
    x = np.array([0.6, 0.5, 0.4])
    picks = [
        [r.decide(x).model for _ in range(20)]
        for r in (_router(mode="softmax", random_state=3), _router(mode="softmax", random_state=3))
    ]
    assert picks[0] == picks[1]


def test_input_checks() -> None:
    """Unfitted use, wrong width and NaN embeddings raise typed errors."""
    with pytest.raises(NotFittedError, match="not fitted"):
        TableRouter().decide(np.zeros(3))
    with pytest.raises(DimensionMismatchError, match="X has 4 features"):
        _router().decide(np.zeros(4))
    with pytest.raises(DataError):
        _router().decide(np.array([np.nan, 0, 0]))


def test_batch_helpers_agree() -> None:
    """predict, route_indices and decide_batch agree on greedy choices."""
    X = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9]])
    r = _router()
    assert list(r.predict(X)) == ["a", "b", "c"]
    assert list(r.route_indices(X)) == [0, 1, 2]
    ids = ["x", "y", "z"]
    assert [d.decision_id for d in r.decide_batch(X, decision_ids=ids)] == ids


def test_params_clone_and_repr() -> None:
    """get/set_params, clone and repr follow scikit-learn conventions."""
    r = TableRouter(temperature=2.0)
    assert r.get_params() == {"temperature": 2.0, "mode": "greedy", "random_state": None}
    assert repr(r) == "TableRouter(temperature=2.0)"
    c = r.clone()
    assert c.get_params() == r.get_params() and not c.is_fitted
    with pytest.raises(InvalidParameterError, match="valid parameters"):
        r.set_params(nope=1)


def test_parameter_validation_message() -> None:
    """Invalid parameters fail at fit with the uniform message."""
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'temperature' parameter of TableRouter must be a float in the range "
        r"\(0, inf\) or None. Got -1.0 instead.",
    ):
        TableRouter(temperature=-1.0).fit(["a"], [1.0], 1)
    with pytest.raises(InvalidParameterError, match="one of 'greedy', 'softmax'"):
        TableRouter(mode="eager").fit(["a"], [1.0], 1)


def test_undeclared_capabilities_say_so(tmp_path: Any) -> None:
    """A router that declares no capability cannot be updated, cold-started or saved."""
    router = _router()
    assert capabilities_of(router) == ()
    assert not hasattr(router, "update")
    with pytest.raises(CapabilityError, match=r"cannot learn online.*not LearnsOnline"):
        ensure_ready(router, ["a"], 3, online=True)
    with pytest.raises(NotFittedError, match="no cold start"):
        ensure_ready(TableRouter(), ["a"], 3)
    with pytest.raises(PersistenceError, match="not Persists"):
        router.save(str(tmp_path))


def test_calibrate_scale_quantile() -> None:
    """The cost unit is a quantile of positive observed costs, with safe fallbacks."""
    assert calibrate_scale([0, 0, 0]) == 1.0
    assert calibrate_scale([np.nan, 2.0]) == 2.0
    assert calibrate_scale(np.arange(1, 101), 0.95) == pytest.approx(95.05)


def test_only_public_routers_are_registered() -> None:
    """Private helper bases never appear in the registry; public routers, even user-defined
    ones like this module's, do; the built-in set is the discovered modules' routers."""
    from shared import LinUCBRouter

    everything = router_classes()
    assert everything["LinUCBRouter"] is LinUCBRouter
    assert everything["TableRouter"] is TableRouter
    assert not [name for name in everything if name.startswith("_")]
    assert "TableRouter" not in router_classes(builtin=True)
    assert router_class("LinUCBRouter") is LinUCBRouter
    with pytest.raises(InvalidParameterError, match="Unknown router class 'Nope'"):
        router_class("Nope")
