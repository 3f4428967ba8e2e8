"""The task level of the hierarchy member -> task -> prompt: a known task key shrinks toward the
member level by its documented strength, no task routes as before, and the key round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared import (
    Decision,
    FeedbackStore,
    HashingEncoder,
    InvalidParameterError,
    LinUCBRouter,
    ModelCard,
    OnlineLearner,
    RidgeRouter,
    RoutingEngine,
    load_router,
)
from shared.capabilities import LearnsTasks, task_kwargs
from shared.engine import DEFAULT_PRIOR_STRENGTH, DEFAULT_TASK_STRENGTH
from shared.serving import FeedbackRecorder

BIG = ModelCard("big", input_usd_per_1m=2.5, output_usd_per_1m=10)
MINI = ModelCard("mini", input_usd_per_1m=0.15, output_usd_per_1m=0.6)


def _router(task_strength: float = 4.0, alpha: float = 1.0) -> RidgeRouter:
    router = RidgeRouter(alpha=alpha, prior_strength=10.0, task_strength=task_strength)
    return router.initialize(
        ["big", "mini"], 16, prior_quality=[0.8, 0.5], prior_cost=[0.01, 0.001]
    )


@pytest.mark.parametrize("strength", [0.0, 1.0, 4.0, 20.0])
def test_one_rating_moves_its_task_by_one_over_one_plus_strength(strength: float) -> None:
    """One rating y of `big` in task A moves A's prediction (at the rated prompt) from the
    member level toward y by exactly 1/(1 + task_strength) of the gap; task B, an unknown
    task and no task stay at the member level, and `mini` is untouched."""
    rng = np.random.default_rng(0)
    router = _router(strength)
    X = rng.normal(size=(5, 16))
    router.update(X[0], "big", 0.3, 0.0002, task="A")
    member, _ = router.predict_outcomes(X[:1])
    in_a, _ = router.predict_outcomes(X[:1], tasks=["A"])
    for other in (["B"], ["never seen"], [None]):
        np.testing.assert_array_equal(router.predict_outcomes(X[:1], tasks=other)[0], member)
    moved = (member[0, 0] - in_a[0, 0]) / (member[0, 0] - 0.3)
    assert moved == pytest.approx(1.0 / (1.0 + strength), abs=1e-9)
    assert in_a[0, 1] == member[0, 1] == 0.5
    assert router.tasks_ == ["A"]


def test_task_levels_leave_the_member_level_unchanged() -> None:
    """With no task given at routing, a router that learned with task keys routes exactly as
    one that learned the same ratings without them (the behaviour before task keys)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 16))
    with_tasks, without = _router(), _router()
    for i in range(40):
        model, q = ("big", "mini")[i % 2], float(rng.uniform())
        with_tasks.update(X[i], model, q, 0.001, task=f"t{i % 3}")
        without.update(X[i], model, q, 0.001)
    np.testing.assert_allclose(with_tasks.predict_outcomes(X)[0], without.predict_outcomes(X)[0])
    for i in range(10):
        a = with_tasks.decide(X[i], "balanced", explore=False)
        b = without.decide(X[i], "balanced", explore=False)
        assert (a.model, a.scores, a.task) == (b.model, b.scores, None)


def test_task_offset_is_the_shrunk_mean_residual_of_the_member_level() -> None:
    """After many ratings, a task's offset is the mean residual of the member-level prediction
    on its rows shrunk by task_strength: (sum of residuals) / (strength + n)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 16))
    tasks = ["easy" if i % 2 else "hard" for i in range(60)]
    y = np.where(np.array(tasks) == "easy", 0.9, 0.2) + rng.normal(0, 0.05, 60)
    y = np.clip(y, 0.0, 1.0)
    router = _router(3.0, alpha=100.0)  # predictions stay inside [0, 1]: no clipping
    for i in range(60):
        router.update(X[i], "big", float(y[i]), task=tasks[i])
    member, _ = router.predict_outcomes(X)
    for task in ("easy", "hard"):
        rows = np.array(tasks) == task
        expected = (y[rows] - member[rows, 0]).sum() / (3.0 + rows.sum())
        probe = rng.normal(size=(1, 16))
        offset = router.predict_outcomes(probe, tasks=[task])[0] - router.predict_outcomes(probe)[0]
        assert offset[0, 0] == pytest.approx(expected, abs=1e-9)
    easy, hard = (
        router.predict_outcomes(X[:1], tasks=["easy"])[0],
        router.predict_outcomes(X[:1], tasks=["hard"])[0],
    )
    assert easy[0, 0] - hard[0, 0] > 0.5  # the task carries the signal the embedding lacks


def test_fit_with_tasks_routes_by_task() -> None:
    """A full-information fit with task keys routes each task to its better member."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 8))
    tasks = ["code" if i < 40 else "chat" for i in range(80)]
    Q = np.array([[0.9, 0.3]] * 40 + [[0.4, 0.8]] * 40) + rng.normal(0, 0.02, (80, 2))
    C = np.full((80, 2), 0.001)
    router = RidgeRouter(alpha=1000.0).fit(X, np.clip(Q, 0, 1), C, models=["a", "b"], tasks=tasks)
    probe = rng.normal(size=(1, 8))
    picks = [router.decide(probe[0], "quality", task=t).model for t in ("code", "chat")]
    assert picks == ["a", "b"]


def test_tasks_round_trip_through_save_and_load(tmp_path: Path) -> None:
    """The task names and sums are saved (JSON + npz) and loaded; predictions match."""
    rng = np.random.default_rng(4)
    router = _router()
    X = rng.normal(size=(12, 16))
    for i in range(12):
        router.update(X[i], ("big", "mini")[i % 2], float(i % 5) / 4, task=f"task é {i % 3}")
    router.save(str(tmp_path / "r"))
    loaded = load_router(str(tmp_path / "r"))
    assert isinstance(loaded, RidgeRouter)
    assert loaded.tasks_ == router.tasks_ == ["task é 0", "task é 1", "task é 2"]
    for task in (*router.tasks_, None, "other"):
        np.testing.assert_allclose(
            loaded.predict_outcomes(X, tasks=[task] * 12)[0],
            router.predict_outcomes(X, tasks=[task] * 12)[0],
        )
    loaded.update(X[0], "big", 1.0, task="task é 0")  # still learns
    without = _router()
    without.save(str(tmp_path / "plain"))
    assert load_router(str(tmp_path / "plain")).tasks_ == []


def test_pool_changes_keep_the_task_levels_of_the_others() -> None:
    """Adding or removing a model keeps every other model's task levels."""
    rng = np.random.default_rng(5)
    router = _router()
    X = rng.normal(size=(6, 16))
    for i in range(6):
        router.update(X[i], "mini", 0.9, task="A")
    before = router.predict_outcomes(X, tasks=["A"] * 6)[0][:, 1]
    router.add_model("new", prior_quality=0.6)
    router.update(X[0], "new", 0.1, task="A")
    router.remove_model("big")
    after = router.predict_outcomes(X, tasks=["A"] * 6)[0]
    np.testing.assert_allclose(after[:, 0], before)
    assert router.models_ == ["mini", "new"]


@pytest.mark.parametrize("bad", [3, b"A", "", "x" * 201, "a\nb", ["A"]])
def test_bad_task_keys_raise_typed_errors(bad: object) -> None:
    """Task keys are validated at every boundary: update, decide, the engine."""
    router = _router()
    x = np.zeros(16)
    with pytest.raises(InvalidParameterError):
        router.update(x, "big", 0.5, task=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        router.decide(x, task=bad)  # type: ignore[arg-type]
    engine = RoutingEngine([BIG, MINI], encoder=HashingEncoder(n_features=16))
    with pytest.raises(InvalidParameterError):
        engine.route("hi", task=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        engine.learn("hi", "big", 0.5, task=bad)  # type: ignore[arg-type]


def test_tasks_must_match_the_rows() -> None:
    """One task key per row, or an InvalidParameterError."""
    router = _router()
    with pytest.raises(InvalidParameterError):
        router.predict_outcomes(np.zeros((2, 16)), tasks=["A"])
    with pytest.raises(InvalidParameterError):
        router.predict_outcomes(np.zeros((1, 16)), tasks="A")  # type: ignore[arg-type]


def test_engine_default_router_learns_tasks() -> None:
    """The engine's cold-start router has the documented task strength: after one 0.3 of `big`
    in task "poems", that task's prediction sits 1/(1 + DEFAULT_TASK_STRENGTH) of the way from
    the member level to 0.3, and the decision records the task."""
    engine = RoutingEngine([BIG, MINI], encoder=HashingEncoder(n_features=32), explore=False)
    engine.learn("Write a sonnet.", "big", 0.3, task="poems")
    member = 0.8 - 0.5 / (1.0 + DEFAULT_PRIOR_STRENGTH)
    poem = engine.route("Write a sonnet.", "quality", task="poems")
    other = engine.route("Write a sonnet.", "quality", task="tickets")
    assert poem.task == "poems" and other.task == "tickets"
    assert other.quality is not None and poem.quality is not None
    assert other.quality[0] == pytest.approx(member, abs=1e-9)
    expected = member + (0.3 - member) / (1.0 + DEFAULT_TASK_STRENGTH)
    assert poem.quality[0] == pytest.approx(expected, abs=1e-9)


def test_routers_without_task_levels_record_but_ignore_the_task() -> None:
    """A router that is not LearnsTasks records the task in its decision and ignores it; the
    engine learns its ratings without it."""
    engine = RoutingEngine(
        [BIG, MINI], router=LinUCBRouter(), encoder=HashingEncoder(n_features=16), explore=False
    )
    plain = engine.route("hi", "quality")
    tasked = engine.route("hi", "quality", task="greet")
    assert tasked.task == "greet" and tasked.scores == plain.scores
    engine.learn("hi", "big", 1.0, task="greet")
    assert not isinstance(engine.router, LearnsTasks)
    assert task_kwargs(engine.router, "greet") == {}


def test_decision_task_round_trips_through_dict_and_store() -> None:
    """Decision.task survives to_dict/from_dict and the feedback store, and a rating of the
    stored decision teaches the engine that task (FeedbackRecorder and OnlineLearner)."""
    engine = RoutingEngine([BIG, MINI], encoder=HashingEncoder(n_features=32), explore=False)
    decision = engine.route("Write a sonnet.", "quality", task="poems")
    assert Decision.from_dict(decision.to_dict()).task == "poems"
    store = FeedbackStore("sqlite://")
    recorder = FeedbackRecorder(store, engine=engine)
    record = recorder.record(decision, prompt="Write a sonnet.")
    assert record.task == "poems"
    assert store.get(decision.decision_id).task == "poems"
    recorder.rate(decision.decision_id, 0.2)
    assert isinstance(engine.router, RidgeRouter) and engine.router.tasks_ == ["poems"]
    learner = OnlineLearner(_router(), encoder=HashingEncoder(n_features=16))
    learner.learn(store.get(decision.decision_id))
    assert isinstance(learner.router, RidgeRouter) and learner.router.tasks_ == ["poems"]
