"""FeedbackStore on a real PostgreSQL server (``scripts/start-postgres.sh`` sets the URL)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shared import Decision, FeedbackError, FeedbackStore, Preference, UnknownDecisionError

URL = os.environ.get("PREFROUTE_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not URL,
        reason="PREFROUTE_TEST_POSTGRES_URL is not set; run "
        'eval "$(scripts/start-postgres.sh)" to start a local PostgreSQL',
    ),
]

MODELS = ("big", "small")
N_DECISIONS = 30


def _decision(i: int) -> Decision:
    return Decision(
        model="small",
        models=MODELS,
        scores=(0.0, 1.0),
        propensity=0.6,
        preference=Preference(quality=1, cost=1),
        ranking=("small", "big"),
        decision_id=f"pg{i}",
    )


def _drop_tables() -> None:
    from shared.feedback._schema import METADATA

    store = FeedbackStore(str(URL))
    METADATA.drop_all(store._engine)
    store.close()


@pytest.fixture
def url() -> Iterator[str]:
    """The server URL, with the feedback tables dropped before and after the test."""
    _drop_tables()
    yield str(URL)
    _drop_tables()


def _rate_all(url: str, worker: int) -> None:
    with FeedbackStore(url) as store:
        for i in range(N_DECISIONS):
            store.rate(f"pg{i}", (i % 5) / 5, source=f"w{worker}")
            store.rate(f"run-{i}", (i % 5) / 5, source=f"w{worker}")
            store.rate(f"pg{i}", 0.5, source="shared")


def test_round_trip_and_timestamps(url: str) -> None:
    """Decisions, outcomes and ratings round-trip with timezone-aware UTC timestamps."""
    run = uuid.uuid4()
    with FeedbackStore(url) as store:
        store.record_decision(_decision(1), run_id=run, prompt="hi", metadata={"task": "t"})
        store.record_outcome(run.hex, cost_usd=0.004, input_tokens=3, output_tokens=9)
        rec = store.rate(run, 0.25, comment="meh")
        assert (rec.decision_id, rec.run_id, rec.score, rec.cost_usd) == (
            "pg1",
            str(run),
            0.25,
            0.004,
        )
        assert rec.metadata == {"task": "t"} and rec.preference["cost"] == 0.5
        assert rec.created_at.utcoffset() == timedelta(0)
        assert rec.rated_at is not None and rec.rated_at.utcoffset() == timedelta(0)
        with pytest.raises(UnknownDecisionError):
            store.rate("missing", 0.5)


def test_upsert_semantics(url: str) -> None:
    """An exact repeat is a no-op, a new value from the same source replaces the old one."""
    with FeedbackStore(url) as store:
        store.record_decision(_decision(1))
        store.record_decision(_decision(1))
        first = store.rate("pg1", 0.3)
        assert store.rate("pg1", 0.3).rated_at == first.rated_at
        assert store.rate("pg1", 0.8).score == 0.8
        assert store.stats() == {"decisions": 1, "rated": 1, "ratings": 1}


def test_run_id_collision_keeps_data(url: str) -> None:
    """A run id reused by another decision raises and the first decision stays intact."""
    with FeedbackStore(url) as store:
        store.record_decision(_decision(1), run_id="shared-run")
        store.rate("shared-run", 0.9)
        with pytest.raises(FeedbackError, match="another decision"):
            store.record_decision(_decision(2), run_id="shared-run")
        assert store.get("shared-run").score == 0.9
        assert store.stats()["decisions"] == 1


def test_concurrent_threads_and_processes(url: str) -> None:
    """Threads and processes rating at once store every (decision, source) rating exactly once."""
    with FeedbackStore(url) as store:
        for i in range(N_DECISIONS):
            store.record_decision(_decision(i), run_id=f"run-{i}", prompt=f"p{i}")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_rate_all, args=(url, w)) for w in (0, 1)]
    for p in procs:
        p.start()
    threads = [threading.Thread(target=_rate_all, args=(url, w)) for w in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    with FeedbackStore(url) as store:
        assert store.stats() == {
            "decisions": N_DECISIONS,
            "rated": N_DECISIONS,
            "ratings": N_DECISIONS * 5,
        }
        log = store.export_bandit_log()
        assert len(log) == N_DECISIONS and log.chosen == ("small",) * N_DECISIONS


def test_langsmith_import(url: str) -> None:
    """LangSmith feedback by run id lands on the right decision, once."""
    run = uuid.uuid4()
    with FeedbackStore(url) as store:
        store.record_decision(_decision(1), run_id=run)
        items = [{"run_id": run, "key": "correctness", "score": 1}]
        assert store.import_langsmith_feedback(items) == 1
        assert store.import_langsmith_feedback(items) == 1
        rec = store.get("pg1")
        assert (rec.score, rec.rating_source) == (1.0, "langsmith:correctness")
        assert store.stats()["ratings"] == 1


def test_dropped_connection_is_retried(url: str) -> None:
    """A pooled connection killed by the server (restart, failover) costs a retry, not an error."""
    from sqlalchemy import create_engine, text

    with FeedbackStore(url) as store:
        store.record_decision(_decision(1))
        killer = create_engine(url)
        with killer.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE usename = current_user AND pid <> pg_backend_pid() "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        killer.dispose()
        assert killed >= 1
        assert store.rate("pg1", 0.4).score == 0.4


def test_two_replicas_learn_every_rating_exactly_once(url: str) -> None:
    """Two learners on one PostgreSQL store, each rating half the decisions (one with a second
    rating source too): after syncing, both learned all 40 decisions exactly once, from the stored
    embeddings, and hold the same statistics as one learner fed every rating once."""
    import numpy as np

    from shared import HashingEncoder, ModelCard, OnlineLearner, RidgeRouter, RoutingEngine

    enc = HashingEncoder(n_features=16)
    engine = RoutingEngine(
        [ModelCard("big", input_usd_per_1m=10), ModelCard("small", input_usd_per_1m=0.1)],
        encoder=enc,
        explore=False,
    )
    stores = [FeedbackStore(url), FeedbackStore(url)]
    learners = [OnlineLearner(RidgeRouter(alpha=1.0), enc, store=s, sync=True) for s in stores]
    ids = []
    for i in range(40):
        prompt = f"replica prompt {i} {'math' if i % 3 else 'chat'}"
        d = engine.route(prompt)
        stores[i % 2].record_decision(d, prompt=prompt)
        ids.append(d.decision_id)
    for i, decision_id in enumerate(ids):
        learners[i % 2].rate(decision_id, (i % 4) / 3)
        if i % 5 == 0:  # a second source rates the same decision: not learned again
            learners[(i + 1) % 2].rate(decision_id, (i % 4) / 3, source="judge")
    for learner in learners:
        learner.sync()
        learner.sync()  # idempotent
    assert [learner.n_learned_ for learner in learners] == [40, 40]
    reference = RidgeRouter(alpha=1.0)
    with FeedbackStore(url) as store:
        records = [store.get(d) for d in ids]
    reference.initialize(list(records[0].models), 16)
    for i, rec in enumerate(records):
        assert rec.embedding is not None  # learned from the stored (float16) vector
        x = rec.embedding.vector
        reference.update(x, rec.model, quality=(i % 4) / 3, propensity=rec.learning_propensity)
    for learner in learners:
        router = learner.router
        assert isinstance(router, RidgeRouter)
        np.testing.assert_allclose(router.coef_, reference.coef_, atol=1e-8)
    for s in stores:
        s.close()


def test_ratings_committed_out_of_order_are_learned_once(url: str) -> None:
    """Two sources rate one decision in concurrent transactions; the one holding the lower
    rating id commits last. A syncing learner learns the decision when the first commit is
    visible and not again when the lower id appears."""
    from datetime import UTC, datetime

    from shared import HashingEncoder, OnlineLearner, RidgeRouter
    from shared.feedback._schema import RATINGS

    with FeedbackStore(url) as store:
        store.record_decision(_decision(0), prompt="a prompt rated twice at once")
        store.record_decision(_decision(1), prompt="a prompt rated later")
        learner = OnlineLearner(
            RidgeRouter(alpha=1.0), HashingEncoder(n_features=8), store=store, sync=True
        )
        slow = store._engine.connect()
        tx = slow.begin()
        row = {"decision_id": "pg0", "source": "user", "score": 0.2}
        low = slow.execute(
            RATINGS.insert().values(**row, rated_at=datetime.now(UTC)).returning(RATINGS.c.id)
        ).scalar_one()
        high = store.rate("pg0", 0.2, source="judge").ratings  # commits first
        assert set(high) == {"judge"}
        assert learner.sync() == 1
        tx.commit()
        slow.close()
        assert learner.sync() == 0
        store.rate("pg1", 0.9)
        assert learner.sync() == 1
        ids = [rid for rid, _ in store.ratings_after(0)]
    assert ids[0] == low
    assert learner.n_learned_ == 2


@pytest.mark.parametrize("chunk_size", [37, 10_000])
def test_streaming_retrain_equals_the_in_memory_fit(url: str, chunk_size: int) -> None:
    """PostgreSQL computes the cost medians and the cost unit itself (percentile_cont) and the
    rows are read in id windows: the router equals fit_bandit on the exported log to 1e-8."""
    from shared import HashingEncoder, RidgeRouter
    from shared.feedback.training import fit_ridge_streaming

    from .test_feedback_training import DIM, _assert_same, _fill, _in_memory

    enc = HashingEncoder(n_features=DIM)
    with FeedbackStore(url, embeddings="float32") as store:
        _fill(store, 300, embed=enc)
        result = fit_ridge_streaming(RidgeRouter(alpha="gcv"), store, enc, chunk_size=chunk_size)
        reference = _in_memory(store, enc, "gcv")
    assert result.rows == 240 and result.encoded == 120
    _assert_same(result.router, reference)
