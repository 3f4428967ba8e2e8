"""Tests of the off-policy estimators (importance weights, doubly robust outcomes) and of pessimism."""

from __future__ import annotations

import numpy as np
import pytest

from shared import BaRPRouter, DataError, LinearThompsonRouter, LinUCBRouter
from shared.evaluation import doubling_schedule, simulate_bandit
from shared.routers.offpolicy import doubly_robust_outcomes, importance_weights

MODELS = ["common", "rare", "cheap"]


def test_snips_weights_average_to_one_and_clip_caps_them():
    """Self-normalized weights sum to n; clipping caps each weight before normalization."""
    rng = np.random.default_rng(0)
    target = rng.uniform(0.0, 1.0, size=50)
    prop = rng.uniform(0.02, 1.0, size=50)
    w = importance_weights(target, prop, self_normalize=True)
    assert w.sum() == pytest.approx(50.0)
    np.testing.assert_allclose(w / w[0], (target / prop) / (target[0] / prop[0]))
    clipped = importance_weights(target, prop, max_weight=3.0)
    assert clipped.max() <= 3.0
    np.testing.assert_allclose(clipped, np.minimum(target / prop, 3.0))


def test_doubly_robust_is_unbiased_for_any_reward_model():
    """Averaged over the logging policy's choices, DR outcomes equal the true outcomes exactly,
    even with a badly wrong reward model; clipping the weights biases them toward the model."""
    rng = np.random.default_rng(1)
    n, K = 40, 3
    truth = rng.uniform(size=(n, K))
    wrong = np.full((n, K), 0.9)  # a poor reward model
    policy = rng.dirichlet(np.ones(K), size=n) * 0.9 + 0.1 / K  # known propensities
    expected = np.zeros((n, K))
    for a in range(K):  # exact expectation over the logged arm a ~ policy
        arms = np.full(n, a)
        Y = doubly_robust_outcomes(wrong, arms, truth[:, a], policy[:, a])
        expected += policy[:, [a]] * Y
    np.testing.assert_allclose(expected, truth, atol=1e-12)
    clipped = np.zeros((n, K))
    for a in range(K):
        Y = doubly_robust_outcomes(wrong, np.full(n, a), truth[:, a], policy[:, a], max_weight=2.0)
        clipped += policy[:, [a]] * Y
    gap = np.abs(clipped - truth)
    assert gap.max() > 1e-3  # clipping trades this bias for variance
    assert np.all(gap <= np.abs(wrong - truth) + 1e-12)  # ... never beyond the model's error


def test_doubly_robust_has_less_variance_than_ips_with_a_good_reward_model():
    """With a reward model close to the truth, DR's variance is far below inverse propensity's."""
    rng = np.random.default_rng(2)
    n, K = 30, 4
    truth = rng.uniform(0.4, 1.0, size=(n, K))
    model = truth + rng.normal(0.0, 0.02, size=(n, K))
    p = np.full(n, 1.0 / K)
    second = {"dr": np.zeros((n, K)), "ips": np.zeros((n, K))}
    for a in range(K):
        arms = np.full(n, a)
        second["dr"] += doubly_robust_outcomes(model, arms, truth[:, a], p) ** 2 / K
        second["ips"] += doubly_robust_outcomes(np.zeros((n, K)), arms, truth[:, a], p) ** 2 / K
    var_dr, var_ips = second["dr"] - truth**2, second["ips"] - truth**2
    assert var_dr.mean() < 0.01 * var_ips.mean()


def test_estimators_reject_bad_inputs():
    """Propensities outside (0, 1], wrong shapes and out-of-range arms raise DataError."""
    with pytest.raises(DataError):
        importance_weights([0.5], [0.0])
    with pytest.raises(DataError):
        importance_weights([1.5], [0.5])
    with pytest.raises(DataError):
        doubly_robust_outcomes(np.zeros((2, 2)), [0, 2], [1.0, 1.0], [0.5, 0.5])
    with pytest.raises(DataError):
        doubly_robust_outcomes(np.zeros((2, 2)), [0], [1.0, 1.0], [0.5, 0.5])


def thin_log(seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """'common' (quality 0.7) and 'cheap' logged often; 'rare' 4 times, with lucky outcomes."""
    rng = np.random.default_rng(seed)
    n = 400
    X = rng.normal(size=(n, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    arms = np.where(rng.uniform(size=n) < 0.5, 0, 2)
    arms[:4] = 1
    q = np.where(arms == 0, (rng.uniform(size=n) < 0.7), (rng.uniform(size=n) < 0.3)).astype(float)
    q[:4] = 1.0  # the rare model was lucky (its true quality is 0.5)
    c = np.array([0.01, 0.01, 0.001])[arms]
    p = np.where(arms == 1, 0.01, 0.495)
    return X, [MODELS[a] for a in arms], q, c, p


@pytest.mark.parametrize("cls", [LinUCBRouter, LinearThompsonRouter])
def test_pessimism_reduces_the_choice_of_rarely_logged_models(cls):
    """A model seen four times (all lucky) is preferred greedily; pessimism withdraws it."""
    X, chosen, q, c, p = thin_log()
    share = {}
    for pess in (0.0, 1.0):
        router = cls(pessimism=pess, random_state=0).fit_bandit(X, chosen, q, c, p, models=MODELS)
        share[pess] = float(np.mean(router.predict(X, {"quality": 1.0}) == "rare"))
    assert share[0.0] > 0.5
    assert share[1.0] < 0.5 * share[0.0]


def test_barp_doubly_robust_pessimism_reduces_the_choice_of_rarely_logged_models():
    """BaRP trained off-policy by DR follows the pessimistic reward model away from 'rare'."""
    X, chosen, q, c, p = thin_log()
    share = {}
    for pess in (0.0, 1.0):
        router = BaRPRouter(off_policy="dr", pessimism=pess, n_steps=300, random_state=0)
        router.fit_bandit(X, chosen, q, c, p, models=MODELS)
        share[pess] = float(np.mean(router.predict(X, {"quality": 1.0}) == "rare"))
    assert share[0.0] > 0.5
    assert share[1.0] < 0.5 * share[0.0]


@pytest.mark.parametrize("off_policy", ["dr", "dm"])
def test_barp_doubly_robust_learns_the_tradeoff_from_a_uniform_log(off_policy):
    """From one uniformly logged outcome per prompt, BaRP trained on the reward model (DR or DM)
    picks the model that is best per prompt at w_c = 0 and the cheap model at w_c = 1."""
    rng = np.random.default_rng(3)
    n = 900
    X = rng.normal(size=(n, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    good = X[:, 0] > 0
    truth = np.column_stack([np.where(good, 0.95, 0.2), np.where(good, 0.2, 0.95), np.full(n, 0.1)])
    arms = rng.integers(0, 3, size=n)
    rows = np.arange(n)
    q = (rng.uniform(size=n) < truth[rows, arms]).astype(float)
    c = np.array([0.01, 0.01, 0.0001])[arms]
    router = BaRPRouter(off_policy=off_policy, pessimism=0.5, n_steps=400, random_state=0)
    router.fit_bandit(X, [MODELS[a] for a in arms], q, c, np.full(n, 1 / 3), models=MODELS)
    picks = router.route_indices(X, {"quality": 1.0})
    assert np.mean(picks == np.where(good, 0, 1)) > 0.9
    assert np.mean(router.route_indices(X, {"cost": 1.0}) == 2) > 0.9


def skewed_log(seed: int) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One outcome per prompt; 'rare' (best where x0 > 0) is logged with propensity 0.05."""
    rng = np.random.default_rng(seed)
    n = 600
    X = rng.normal(size=(n, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    truth = np.column_stack(
        [np.full(n, 0.6), np.where(X[:, 0] > 0, 0.9, 0.3), np.where(X[:, 0] > 0, 0.3, 0.8)]
    )
    probs = np.array([0.475, 0.05, 0.475])
    arms = rng.choice(3, size=n, p=probs)
    rows = np.arange(n)
    q = (rng.uniform(size=n) < truth[rows, arms]).astype(float)
    c = np.full(n, 0.001)
    return X, [MODELS[a] for a in arms], q, c, probs[arms]


def test_barp_direct_method_distils_its_reward_model():
    """With ``off_policy="dm"`` the greedy policy reproduces its reward model's greedy choices,
    where the per-cell residuals of ``"dr"`` (weights up to 20 on 'rare') pull it away."""
    X, chosen, q, c, p = skewed_log(5)
    reward = LinUCBRouter(alpha=1.0).fit_bandit(X, chosen, q, c, p, models=MODELS)
    target = reward.route_indices(X, {"quality": 1.0})
    agree = {}
    for off_policy in ("dm", "dr"):
        router = BaRPRouter(off_policy=off_policy, n_steps=400, random_state=0)
        router.fit_bandit(X, chosen, q, c, p, models=MODELS)
        agree[off_policy] = float(np.mean(router.route_indices(X, {"quality": 1.0}) == target))
    assert agree["dm"] > 0.9
    assert agree["dm"] > agree["dr"] + 0.05


def test_refit_stream_equals_fit_bandit_on_the_revealed_log():
    """With refit_at, the router after the stream is fit_bandit on everything it revealed."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    Q = rng.uniform(size=(120, 3))
    C = np.tile([0.01, 0.005, 0.001], (120, 1))
    router = BaRPRouter(off_policy="dr", n_steps=20, random_state=0)
    sim = simulate_bandit(router, X, Q, C, MODELS, refit_at=doubling_schedule(120, 32), seed=0)
    fresh = BaRPRouter(off_policy="dr", n_steps=20, random_state=0)
    log = sim.log
    fresh.fit_bandit(X[log.rows], list(log.chosen), log.quality, log.cost, log.propensity,
                     models=MODELS)  # fmt: skip
    np.testing.assert_allclose(router.scores(X, 0.3).utility, fresh.scores(X, 0.3).utility)
    assert doubling_schedule(120, 32) == (32, 64)
