"""AutoRouter (validated choice + constant-choice guard), TaskRouter and similarity-weighted kNN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared import (
    DataError,
    InvalidParameterError,
    KNNRouter,
    Preference,
    evaluate_routers,
    load_router,
)
from shared.routers import AutoRouter, TaskRouter

MODELS = ["big", "small"]


def _xor_table(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The small model succeeds exactly where sign(x0) == sign(x1) (no linear signal); the big
    one 90% of the time everywhere. Costs 1.0 and 0.05."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    small_ok = (X[:, 0] > 0) == (X[:, 1] > 0)
    Q = np.column_stack([rng.random(n) < 0.9, small_ok]).astype(float)
    C = np.column_stack([np.full(n, 1.0), np.full(n, 0.05)])
    return X, Q, C


def _noise_table(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes independent of the prompt: big succeeds 80%, small 50%."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    Q = np.column_stack([rng.random(n) < 0.8, rng.random(n) < 0.5]).astype(float)
    C = np.column_stack([np.full(n, 1.0), np.full(n, 0.1)])
    return X, Q, C


def test_selection_is_by_validation_decisions_and_picks_a_nonlinear_router() -> None:
    """On the XOR table a linear head has no signal; kNN (or clustered tasks) has. The chosen
    candidate has the highest validation score, and it is not a linear ridge."""
    X, Q, C = _xor_table(400, 0)
    router = AutoRouter(n_folds=4, ensembles=False).fit(X, Q, C, models=MODELS)
    scores = {k: v["score"] for k, v in router.report_["candidates"].items()}
    assert router.chosen_ == max(scores, key=lambda k: scores[k])
    assert router.chosen_.startswith(("knn", "task")), router.chosen_
    best_linear = max(v for k, v in scores.items() if "ridge" in k)
    assert scores[router.chosen_] > best_linear + 0.05
    # deterministic: the same seed gives the same choice and the same report
    again = AutoRouter(n_folds=4, ensembles=False).fit(X, Q, C, models=MODELS)
    assert again.report_ == router.report_
    # at a moderate price the small model gets the prompts where it succeeds
    Xt, Qt, _ = _xor_table(200, 1)
    picks = router.predict(Xt, Preference.from_price(0.4))
    assert np.mean(picks[Qt[:, 1] == 1] == "small") > 0.75
    assert np.mean(picks[Qt[:, 1] == 0] == "big") > 0.75


def test_ensembles_are_candidates_made_of_the_best_members() -> None:
    X, Q, C = _xor_table(300, 2)
    router = AutoRouter(n_folds=3, candidates=["ridge", "knn"]).fit(X, Q, C, models=MODELS)
    names = list(router.report_["candidates"])
    assert sum(n.startswith("mean of ") for n in names) == 2
    ranked = sorted(
        (n for n in names if not n.startswith("mean of ")),
        key=lambda n: -router.report_["candidates"][n]["score"],
    )
    assert f"mean of {ranked[0]} + {ranked[1]}" in names


def test_guard_makes_the_constant_choice_when_prompts_carry_no_signal() -> None:
    """Without per-prompt signal, validation finds no gain over the constant choice: at the
    pure-quality end every prompt goes to big, at the pure-cost end to small, and the test
    frontier at big's cost is at least big's quality."""
    X, Q, C = _noise_table(600, 3)
    router = AutoRouter(n_folds=5).fit(X, Q, C, models=MODELS)
    Xt, Qt, Ct = _noise_table(300, 4)
    assert set(router.predict(Xt, Preference.from_price(0.0))) == {"big"}
    assert set(router.predict(Xt, Preference(quality=0.0, cost=1.0))) == {"small"}
    guard = router.report_["guard"]
    assert guard[0]["price"] == 0.0 and guard[0]["choice"] == "big"
    assert guard[-1]["price"] == "inf" and guard[-1]["choice"] == "small"
    for g in guard:  # the verdict follows the validation gain (default margin 0)
        assert (g["choice"] == "per-prompt") == (g["validation_gain"] > 0)
    strict = AutoRouter(n_folds=5, guard_margin=1.0).fit(X, Q, C, models=MODELS)
    assert sum(g["choice"] == "per-prompt" for g in strict.report_["guard"]) <= 3
    rep = evaluate_routers({"auto": router}, Xt, Qt, Ct, MODELS)
    assert rep.routers["auto"].info["protocol"] == "route_indices"
    assert rep.routers["auto"].q_at_cbest >= rep.q_best - 1e-12  # never below big alone
    # without the guard the same router routes on noise at the pure-quality end
    free = AutoRouter(n_folds=5, guard=False).fit(X, Q, C, models=MODELS)
    assert all(g["choice"] == "per-prompt" for g in free.report_["guard"])


def test_guard_keeps_per_prompt_decisions_where_they_win() -> None:
    X, Q, C = _xor_table(400, 5)
    router = AutoRouter(n_folds=4).fit(X, Q, C, models=MODELS)
    mid = [g for g in router.report_["guard"] if g["price"] != "inf" and 0.05 <= g["price"] <= 0.5]
    assert mid and all(g["choice"] == "per-prompt" for g in mid)
    assert all(g["validation_gain"] > 0 for g in mid)


def test_save_load_round_trip_records_the_choice(tmp_path: Path) -> None:
    X, Q, C = _xor_table(300, 6)
    tasks = ["same" if (a > 0) == (b > 0) else "diff" for a, b in X[:, :2]]
    router = AutoRouter(n_folds=3).fit(X, Q, C, models=MODELS, tasks=tasks)
    router.save(str(tmp_path))
    (saved,) = tmp_path.glob("*/router.json")  # the current version directory
    doc = json.loads(saved.read_text())
    assert doc["class"] == "AutoRouter" and doc["state"]["chosen"] == router.chosen_
    assert "why" in doc["state"]["report"] and doc["state"]["report"]["guard"]
    again = load_router(tmp_path)
    assert isinstance(again, AutoRouter) and again.report_ == router.report_
    assert type(again.cost_head_).__name__ == "RidgeRouter"
    assert len(again.members_) == len(router.members_) == len(doc["state"]["members"]) - 1
    for pref in (Preference.from_price(0.0), Preference.from_price(1.0), Preference(0.0, 1.0)):
        np.testing.assert_allclose(
            again.decision_function(X, pref), router.decision_function(X, pref)
        )


def test_fit_rejects_bad_input() -> None:
    X, Q, C = _xor_table(40, 7)
    Q_partial = Q.copy()
    Q_partial[4:, 0] = np.nan
    with pytest.raises(DataError, match="every model observed"):
        AutoRouter(n_folds=5).fit(X, Q_partial, C, models=MODELS)
    with pytest.raises(InvalidParameterError, match="candidates"):
        AutoRouter(candidates=["nope"]).fit(X, Q, C, models=MODELS)
    with pytest.raises(DataError, match="task labels"):
        AutoRouter().fit(X, Q, C, models=MODELS, tasks=["a"])
    with pytest.raises(InvalidParameterError):
        AutoRouter(n_folds=1).fit(X, Q, C, models=MODELS)


def test_task_router_mixes_task_means_by_predicted_probability() -> None:
    """Two separated tasks: P(task | x) is near 1 far from the boundary, so q_hat is that task's
    mean shrunk by smoothing s toward the overall mean: (n_t * m_t + s * m) / (n_t + s)."""
    rng = np.random.default_rng(8)
    X = np.vstack([rng.normal(4, 0.5, (30, 2)), rng.normal(-4, 0.5, (30, 2))])
    tasks = ["a"] * 30 + ["b"] * 30
    Q = np.array([[1.0, 0.0]] * 30 + [[0.0, 1.0]] * 30)
    C = np.full((60, 2), 0.01)
    router = TaskRouter(smoothing=6.0).fit(X, Q, C, models=MODELS, tasks=tasks)
    assert router.tasks_ == ["a", "b"]
    q, c = router.predict_outcomes([[4.0, 4.0]])
    np.testing.assert_allclose(q, [[(30 + 3) / 36, 3 / 36]], atol=5e-3)
    np.testing.assert_allclose(c, [[0.01, 0.01]])
    clustered = TaskRouter(n_clusters=2).fit(X, Q, C, models=MODELS)
    assert clustered.predict([[4.0, 4.0], [-4.0, -4.0]]).tolist() == ["big", "small"]
    with pytest.raises(DataError, match="task labels"):
        TaskRouter().fit(X, Q, C, models=MODELS, tasks=["a"])


def test_task_router_with_one_task_predicts_the_overall_means(tmp_path: Path) -> None:
    X, Q, C = _noise_table(50, 9)
    router = TaskRouter().fit(X, Q, C, models=MODELS, tasks=["only"] * 50)
    q, _ = router.predict_outcomes(X[:3])
    np.testing.assert_allclose(q, np.tile(Q.mean(axis=0), (3, 1)))
    router.save(str(tmp_path))
    np.testing.assert_allclose(load_router(tmp_path).predict_outcomes(X[:3])[0], q)


def test_knn_similarity_weights() -> None:
    """Neighbours at cosine similarity 1 and 0.6 with qualities 1 and 0: 1 / 1.6 = 0.625."""
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    Q = np.array([[1.0], [0.0]])
    knn = KNNRouter(k=2, weights="similarity").fit(X, Q, np.ones((2, 1)), models=["a"])
    assert float(knn.predict_outcomes([[1.0, 0.0]])[0][0, 0]) == pytest.approx(0.625)
    plain = KNNRouter(k=2).fit(X, Q, np.ones((2, 1)), models=["a"])
    assert float(plain.predict_outcomes([[1.0, 0.0]])[0][0, 0]) == pytest.approx(0.5)
    with pytest.raises(InvalidParameterError, match="cosine"):
        KNNRouter(weights="similarity", metric="euclidean").fit(X, Q, None, models=["a"])
