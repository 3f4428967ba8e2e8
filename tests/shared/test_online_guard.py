"""The online guard of the default cold-start router: one choice per price (the best member
mean) until the logged ratings show per-prompt decisions better there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared import Preference, RidgeRouter, load_router
from shared.engine import cold_start_router
from shared.exceptions import InvalidParameterError
from shared.routers.guard import OnlineGuard, nearest_price

MODELS = ["big", "mid", "small"]
PRIOR_Q = [0.8, 0.65, 0.5]
PRIOR_C = [0.01, 0.002, 0.0005]


def _router(**kw: object) -> RidgeRouter:
    params: dict[str, object] = {
        "alpha": 1.0,
        "prior_strength": 10.0,
        "pooled_alpha": 10.0,
        "exploration": "none",
        "solver": "sherman_morrison",
        "guard": True,
        "random_state": 0,
    }
    params.update(kw)
    router = RidgeRouter(**params)  # type: ignore[arg-type]
    return router.initialize(MODELS, 4, prior_quality=PRIOR_Q, prior_cost=PRIOR_C)


def test_the_default_cold_start_router_guards() -> None:
    params = cold_start_router().get_params()
    assert params["guard"] is True and params["guard_margin"] == 1.0


def test_thin_evidence_gives_one_choice_per_price_the_best_member_mean() -> None:
    """Before the ratings show per-prompt decisions better, every prompt at a price goes to the
    member with the best mean utility (the unguarded router's choice at the mean prompt), even
    where the per-prompt predictions differ; a rating logged with propensity 1 (no other member
    had a chance) is not evidence."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    guarded, plain = _router(), _router(guard=False)
    for router in (guarded, plain):
        r = np.random.default_rng(1)
        for _ in range(40):
            x = r.normal(size=4)
            router.update(x, "mid", float(x[0] > 0), PRIOR_C[1])
    assert guarded.guard_ is not None and guarded.guard_.n.max() == 0
    heads = plain.quality_heads_
    xbar = (heads.A[:, :4, 4].sum(axis=0) / heads.n.sum())[None, :]
    split = 0
    for price in np.logspace(-2, 1, 13):
        pref = Preference.from_price(float(price))
        split += len(set(plain.predict(X, pref))) > 1
        assert set(guarded.predict(X, pref)) == {plain.predict(xbar, pref)[0]}
    assert split >= 3


def test_per_prompt_decisions_once_the_logged_ratings_show_the_gain() -> None:
    """small is perfect where x0 > 0 and useless elsewhere, big is right on 80%; both are logged
    with propensity 0.5: at a price where small wins half of the prompts, the guard answers every
    prompt alike while the evidence is thin (the unguarded router already splits them), and
    routes prompt by prompt once the ratings show the gain."""
    rng = np.random.default_rng(0)
    router, plain = _router(), _router(guard=False)
    pref = Preference.from_price(0.1)  # big is the best member mean here
    probe = np.array([[2.0, 0, 0, 0], [-2.0, 0, 0, 0]])
    for step in range(400):
        x = rng.normal(size=4)
        arm = "small" if step % 2 else "big"
        q = float(x[0] > 0) if arm == "small" else float(rng.random() < 0.8)
        for r in (router, plain):
            r.update(x, arm, q, PRIOR_C[MODELS.index(arm)], propensity=0.5)
        if step == 6:
            assert plain.predict(probe, pref).tolist() == ["small", "big"]
            assert router.predict(probe, pref).tolist() == ["big", "big"]
    assert router.guard_ is not None
    mean, se = router.guard_.gain()
    i = nearest_price(router.guard_.prices, 0.1)
    assert mean[i] > se[i] > 0
    assert router.predict(probe, pref).tolist() == ["small", "big"]


def test_the_guard_evidence_is_doubly_robust() -> None:
    """Where per-prompt and constant choices agree the term is zero; where they differ the
    logged arm's surprise is weighted by its (floored) propensity."""
    guard = OnlineGuard(margin=1.0, prices=np.array([0.0, 1.0, np.inf]), min_propensity=0.2)
    u_hat = np.array([[0.9, 0.5], [0.4, 0.6], [-0.1, -0.2]])
    guard.observe(
        u_hat, per_prompt=np.array([0, 1, 0]), constant=np.array([1, 1, 0]), arm=1,
        propensity=0.1, observed=np.array([0.0, -0.2, -0.3]),
    )  # fmt: skip
    np.testing.assert_allclose(guard.total, [0.4 - (0.0 - 0.5) / 0.2, 0.0, 0.0])
    assert np.isinf(guard.gain()[1]).all()  # one rating: no standard error yet
    assert nearest_price(guard.prices, float("inf")) == 2
    assert nearest_price(guard.prices, 0.0) == 0


def test_the_constant_decision_reports_the_member_means() -> None:
    router = _router()
    for x in np.random.default_rng(1).normal(size=(30, 4)):
        router.update(x, "mid", 1.0, PRIOR_C[1])
    decision = router.decide(np.zeros(4), "quality", explore=False)
    q_bar = router._member_means()[0]
    assert decision.model == "mid" and decision.ranking[0] == "mid"
    assert decision.quality == pytest.approx(tuple(q_bar))


def test_a_batch_fit_does_not_guard_and_saving_keeps_the_evidence(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, Q = rng.normal(size=(40, 4)), rng.random((40, 3))
    fitted = RidgeRouter(alpha=1.0, guard=True).fit(X, Q, np.ones((40, 3)), models=MODELS)
    assert fitted.guard_ is None and fitted.scalarized_sweep
    router = _router()
    for step, x in enumerate(np.random.default_rng(1).normal(size=(200, 4))):
        arm = MODELS[step % 3]
        router.update(x, arm, float(x[step % 4] > 0), PRIOR_C[step % 3], propensity=0.4)
    assert router.guard_ is not None and not router.scalarized_sweep
    router.save(str(tmp_path / "r"))
    loaded = load_router(str(tmp_path / "r"))
    assert isinstance(loaded, RidgeRouter) and loaded.guard_ is not None
    np.testing.assert_array_equal(loaded.guard_.total, router.guard_.total)
    for price in (0.0, 0.3, 3.0, float("inf")):
        pref = Preference.from_price(price)
        assert loaded.predict(X, pref).tolist() == router.predict(X, pref).tolist()


def test_guard_needs_an_intercept() -> None:
    with pytest.raises(InvalidParameterError, match="guard"):
        RidgeRouter(guard=True, fit_intercept=False).initialize(MODELS, 4)
