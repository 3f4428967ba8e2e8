"""OnlineLearner (online updates, batch retrain) and RouterHandle (hot reload) with a local router."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    BaseRouter,
    CapabilityError,
    ColdStarts,
    Decision,
    FeedbackError,
    FeedbackStore,
    FitsBandit,
    HashingEncoder,
    LearnsOnline,
    OnlineLearner,
    Persists,
    Preference,
    RouterHandle,
    RouteScores,
    load_router,
    save_router,
)

MODELS = ("big", "small")


class MeanRouter(ColdStarts, LearnsOnline, Persists, BaseRouter):
    """Test router: per-model mean rating, learned online; records every update it gets."""

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def initialize(self, models: Sequence[str], n_features: int) -> MeanRouter:
        self.models_ = list(models)
        self.n_features_in_ = n_features
        self.cost_scale_ = 1.0
        self.sum_ = np.zeros(len(self.models_))
        self.count_ = np.zeros(len(self.models_))
        self.calls_: list[dict[str, Any]] = []
        return self

    def update(
        self,
        x: Any,
        model: str,
        quality: float,
        cost: float | None = None,
        *,
        propensity: float = 1.0,
        preference: Any = None,
    ) -> MeanRouter:
        self._check_X(x, allow_1d=True)
        j = self.models_.index(model)
        self.sum_[j] += quality
        self.count_[j] += 1
        self.calls_.append(
            {
                "model": model,
                "quality": quality,
                "cost": cost,
                "propensity": propensity,
                "preference": preference,
            }
        )
        return self

    def _route_scores(self, X: Any, preference: Preference, explore: bool) -> RouteScores:
        mean = self.sum_ / np.maximum(self.count_, 1)
        return RouteScores(utility=np.tile(mean, (X.shape[0], 1)))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        meta = {"models": self.models_, "n_features": self.n_features_in_}
        return meta, {"sum": self.sum_, "count": self.count_}

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
        self.initialize(meta["models"], int(meta["n_features"]))
        self.sum_ = np.array(arrays["sum"])
        self.count_ = np.array(arrays["count"])


class BanditMeanRouter(FitsBandit, MeanRouter):
    """MeanRouter that also learns from a whole bandit log at once."""

    def fit_bandit(
        self,
        X: Any,
        chosen: Any,
        quality: Any,
        cost: Any,
        propensity: Any,
        *,
        models: Sequence[str],
        preferences: Any = None,
    ) -> BanditMeanRouter:
        self.initialize(models, np.asarray(X).shape[1])
        self.fit_args_ = {"n": len(chosen), "cost": np.asarray(cost), "preferences": preferences}
        for m, q in zip(chosen, quality):
            self.sum_[self.models_.index(m)] += q
            self.count_[self.models_.index(m)] += 1
        return self


ENC = HashingEncoder(n_features=16)


def _decision(i: int, model: str = "small") -> Decision:
    other = [m for m in MODELS if m != model]
    return Decision(
        model=model,
        models=MODELS,
        scores=(0.0, 0.0),
        propensity=0.5,
        preference=Preference(quality=1, cost=1),
        ranking=(model, *other),
        decision_id=f"d{i}",
    )


@pytest.fixture
def store() -> Iterator[FeedbackStore]:
    """An in-memory store with 6 decisions (3 per model) with prompts."""
    with FeedbackStore("sqlite://") as s:
        for i in range(6):
            s.record_decision(_decision(i, MODELS[i % 2]), prompt=f"prompt number {i}")
        yield s


def test_learn_initializes_and_updates(store: FeedbackStore) -> None:
    """The first rating initializes an unfitted router; update gets the record's fields."""
    router = MeanRouter()
    learner = OnlineLearner(router, ENC, store=store)
    store.record_outcome("d1", cost_usd=0.02)
    learner.learn(store.rate("d1", 0.75))
    assert router.models_ == list(MODELS) and router.n_features_in_ == 16
    assert router.calls_ == [
        {
            "model": "small",
            "quality": 0.75,
            "cost": 0.02,
            "propensity": 0.5,
            "preference": {"quality": 0.5, "cost": 0.5, "latency": 0.0},
        }
    ]
    assert learner.rate("d0", 1.0) is router
    assert router.count_.tolist() == [1, 1] and learner.n_learned_ == 2


def test_fallback_answer_is_learned_with_propensity_one(store: FeedbackStore) -> None:
    """A rating of a fallback's answer updates the answering model with propensity 1.0."""
    router = MeanRouter()
    learner = OnlineLearner(router, ENC, store=store)
    store.record_outcome("d1", model="big")  # "small" was chosen (propensity 0.5), "big" answered
    learner.rate("d1", 0.25)
    learner.rate("d3", 1.0)  # answered by the chosen model: logged propensity kept
    assert [(c["model"], c["propensity"]) for c in router.calls_] == [("big", 1.0), ("small", 0.5)]


def test_retrain_leaves_fallback_answers_out(store: FeedbackStore) -> None:
    """Batch retraining sees only outcomes drawn with their logged propensity."""
    store.record_outcome("d1", model="big")
    for key in ("d0", "d1", "d2"):
        store.rate(key, 1.0)
    fresh = OnlineLearner(BanditMeanRouter(), ENC, store=store).retrain()
    assert fresh.fit_args_["n"] == 2  # type: ignore[attr-defined]


def test_learn_rejects_unusable_records(store: FeedbackStore) -> None:
    """Unrated records, prompt-less records and offline-only routers raise FeedbackError."""
    learner = OnlineLearner(MeanRouter(), ENC)
    with pytest.raises(FeedbackError, match="no rating"):
        learner.learn(store.get("d0"))
    store.record_decision(_decision(99))
    with pytest.raises(FeedbackError, match="without its prompt"):
        learner.learn(store.rate("d99", 0.5))
    with pytest.raises(FeedbackError, match="needs a store"):
        learner.rate("d0", 0.5)

    class Offline(ColdStarts, BaseRouter):
        initialize = MeanRouter.initialize
        _route_scores = MeanRouter._route_scores

    with pytest.raises(CapabilityError, match="cannot learn online"):
        OnlineLearner(Offline(), ENC).learn(store.rate("d0", 0.5))
    with pytest.raises(CapabilityError, match="neither with fit_bandit"):
        OnlineLearner(Offline(), ENC).retrain(store)


def test_learn_is_thread_safe(store: FeedbackStore) -> None:
    """Eight threads learning at once lose no update."""
    router = MeanRouter().initialize(MODELS, 16)
    learner = OnlineLearner(router, ENC)
    records = [store.rate(f"d{i}", 1.0) for i in range(6)]

    def work() -> None:
        for _ in range(25):
            for rec in records:
                learner.learn(rec)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(router.count_.sum()) == 8 * 25 * 6 == learner.n_learned_


def test_retrain_uses_fit_bandit_and_swaps(store: FeedbackStore) -> None:
    """retrain fits a fresh clone on the bandit log (costs filled) and swaps it in."""
    old = BanditMeanRouter(random_state=3)
    learner = OnlineLearner(old, ENC, store=store)
    store.record_outcome("d0", cost_usd=0.01)
    for i in range(4):
        store.rate(f"d{i}", i / 4)
    new = learner.retrain()
    assert new is learner.router and new is not old and not old.is_fitted
    assert isinstance(new, BanditMeanRouter) and new.random_state == 3
    assert new.fit_args_["n"] == 4
    assert new.fit_args_["cost"].tolist() == [0.01, 0.01, 0.01, 0.01]
    assert new.count_.tolist() == [2, 2]


def test_retrain_replays_updates_without_fit_bandit(store: FeedbackStore) -> None:
    """A router without fit_bandit is retrained by replaying each rating through update."""
    learner = OnlineLearner(MeanRouter(), ENC)
    for i in range(6):
        store.rate(f"d{i}", 1.0 if i % 2 else 0.0)
    new = learner.retrain(store)
    assert isinstance(new, MeanRouter)
    assert len(new.calls_) == 6 and new.decision_function(ENC.encode(["x"]))[0].tolist() == [0, 1]


def test_retrain_empty_store_raises() -> None:
    """Retraining from a store without rated decisions raises FeedbackError."""
    with FeedbackStore("sqlite://") as empty, pytest.raises(FeedbackError, match="no rated"):
        OnlineLearner(MeanRouter(), ENC).retrain(empty)


def _mean(handle: RouterHandle) -> MeanRouter:
    router = handle.router
    assert isinstance(router, MeanRouter)
    return router


def _saved(path: Path, quality: float) -> MeanRouter:
    router = MeanRouter().initialize(MODELS, 4)
    router.update(np.zeros(4), "big", quality)
    save_router(router, path)
    return router


def test_router_handle_reloads_new_saves(tmp_path: Path) -> None:
    """reload_if_changed swaps in a newly saved router once, and only when it changed."""
    _saved(tmp_path, 0.2)
    handle = RouterHandle(tmp_path)
    assert _mean(handle).sum_.tolist() == [0.2, 0.0]
    assert handle.reload_if_changed() is False
    _saved(tmp_path, 0.9)  # a new manifest.json (new inode): one stat sees the change
    assert handle.reload_if_changed() is True
    assert _mean(handle).sum_.tolist() == [0.9, 0.0] and handle.reloads_ == 1
    assert handle.reload_if_changed() is False


def test_router_handle_skips_missing_and_corrupt(tmp_path: Path) -> None:
    """A directory without a router, or with a corrupt manifest, keeps the current router."""
    _saved(tmp_path, 0.2)
    handle = RouterHandle(tmp_path)
    before = handle.router
    (tmp_path / "manifest.json").rename(tmp_path / "aside.json")
    assert handle.reload_if_changed() is False and handle.router is before
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    assert handle.reload_if_changed() is False and handle.router is before
    assert handle.last_error is not None and "manifest.json" in handle.last_error


def test_router_handle_with_learner_and_threads(tmp_path: Path, store: FeedbackStore) -> None:
    """A retrained router saved by one thread is picked up by a handle polled from others."""
    first = OnlineLearner(BanditMeanRouter(), ENC)
    store.rate("d0", 1.0)
    save_router(first.retrain(store), tmp_path)
    handle = RouterHandle(tmp_path, router=load_router(tmp_path))
    assert handle.version is None and handle.reload_if_changed() is True
    store.rate("d1", 1.0)
    save_router(first.retrain(store), tmp_path)
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(handle.reload_if_changed()))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert _mean(handle).count_.tolist() == [1, 1]
    other = MeanRouter().initialize(MODELS, 16)
    handle.swap(other)
    assert handle.router is other


def _commit_rating(store: FeedbackStore, rating_id: int, decision_id: str, source: str) -> None:
    """A rating row with a given id, as a transaction that took that id commits it."""
    from datetime import UTC, datetime

    from shared.feedback._schema import RATINGS

    row = {"id": rating_id, "decision_id": decision_id, "source": source, "score": 0.5}
    store._run(lambda c: c.execute(RATINGS.insert().values(**row, rated_at=datetime.now(UTC))))


def test_sync_learns_a_decision_once_when_its_ratings_commit_out_of_order(
    store: FeedbackStore,
) -> None:
    """Two sources rate d0 concurrently and the later rating id commits first: sync learns d0
    from it (the lower id is an uncommitted gap); when the lower id commits, d0's first rating
    row has changed, and d0 is not learned a second time. Later ratings are still learned."""
    learner = OnlineLearner(MeanRouter(), ENC, store=store, sync=True)
    _commit_rating(store, 2, "d0", "judge")
    assert learner.sync() == 1
    _commit_rating(store, 1, "d0", "user")  # the slower transaction commits
    assert learner.sync() == 0
    _commit_rating(store, 3, "d1", "user")
    assert learner.sync() == 1
    assert learner.sync() == 0
    assert learner.n_learned_ == 2
    assert [c["model"] for c in learner.router.calls_] == ["big", "small"]  # type: ignore[attr-defined]


def test_sync_pages_past_an_uncommitted_gap_without_spinning(store: FeedbackStore) -> None:
    """Pages of ``limit`` ratings above a gap that is still waited for: each page is read once
    (the next page starts after the last rating read, not at the stuck watermark)."""
    learner = OnlineLearner(MeanRouter(), ENC, store=store, sync=True)
    learner.GAP_TIMEOUT = 0.5  # an id that never commits within the test
    for rid, i in zip((2, 3, 4, 5), range(4)):  # id 1 is the gap
        _commit_rating(store, rid, f"d{i}", "user")
    calls = []
    read = store.ratings_after

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return read(*args, **kwargs)

    store.ratings_after = counted  # type: ignore[method-assign]
    assert learner.sync(limit=2) == 4
    assert len(calls) <= 4
    assert learner.n_learned_ == 4


def test_sync_learns_a_rating_committed_while_it_reads(store: FeedbackStore) -> None:
    """A rating that commits right after sync's read is neither learned nor marked applied by
    that sync: the next sync learns it (the rows and their first-row flags come from one
    statement)."""
    learner = OnlineLearner(MeanRouter(), ENC, store=store, sync=True)
    store.rate("d0", 0.5)
    run = store._run
    reads = []

    def then_commit(work: Any, **kwargs: Any) -> Any:
        out = run(work, **kwargs)
        reads.append(kwargs)
        if len(reads) == 1:
            _commit_rating(store, 2, "d1", "user")  # another replica commits meanwhile
        return out

    store._run = then_commit  # type: ignore[method-assign]
    assert learner.sync() == 1
    store._run = run  # type: ignore[method-assign]
    assert learner.sync() == 1
    assert learner.n_learned_ == 2
