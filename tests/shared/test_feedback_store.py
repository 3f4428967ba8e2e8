"""FeedbackStore on SQLite: idempotence, typed errors that lose nothing, export, LangSmith import."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from shared import (
    BanditLog,
    Decision,
    DecisionRecord,
    FeedbackError,
    FeedbackStore,
    Preference,
    RoutingTable,
    UnknownDecisionError,
)
from shared.feedback.learner import fill_missing_costs

MODELS = ("big", "small")


def make_decision(i: int, *, model: str = "small", propensity: float = 0.8) -> Decision:
    """A decision with a deterministic id ``d<i>``."""
    other = [m for m in MODELS if m != model]
    return Decision(
        model=model,
        models=MODELS,
        scores=(0.1 * i, 0.2),
        propensity=propensity,
        preference=Preference(quality=3, cost=1),
        ranking=(model, *other),
        quality=(0.9, 0.6),
        cost=(0.01, 0.001),
        decision_id=f"d{i}",
        router="TestRouter",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    """A fresh SQLite file store."""
    with FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}") as s:
        yield s


def test_record_decision_round_trip(store: FeedbackStore) -> None:
    """Every field of the decision comes back in the record, timestamps in aware UTC."""
    rec = store.record_decision(
        make_decision(1), run_id="run-1", prompt="hello", metadata={"task": "chat", "user": 7}
    )
    assert isinstance(rec, DecisionRecord)
    assert (rec.decision_id, rec.run_id, rec.model, rec.chosen_model) == (
        "d1",
        "run-1",
        "small",
        "small",
    )
    assert rec.models == MODELS and rec.fallbacks == ("big",)
    assert rec.propensity == 0.8 and rec.router == "TestRouter"
    assert rec.preference == pytest.approx({"quality": 0.75, "cost": 0.25, "latency": 0.0})
    assert rec.scores == pytest.approx({"big": 0.1, "small": 0.2})
    assert rec.prompt == "hello" and rec.metadata == {"task": "chat", "user": 7}
    assert rec.created_at.tzinfo is not None and rec.created_at.utcoffset() == timedelta(0)
    assert rec.score is None and not rec.is_rated
    assert store.get("d1") == rec
    assert rec.to_dict()["fallbacks"] == ["big"]


def test_record_decision_is_idempotent(store: FeedbackStore) -> None:
    """Recording a decision twice keeps one row and fills in a run id given only later."""
    store.record_decision(make_decision(1), prompt="p")
    rec = store.record_decision(make_decision(1), run_id="late-run")
    assert store.stats() == {"decisions": 1, "rated": 0, "ratings": 0}
    assert rec.run_id == "late-run" and rec.prompt == "p"
    assert store.get("late-run").decision_id == "d1"


def test_run_id_collision_is_rejected(store: FeedbackStore) -> None:
    """A run id already used by another decision raises and leaves both rows as they were."""
    store.record_decision(make_decision(1), run_id="run-x")
    with pytest.raises(FeedbackError, match="another decision"):
        store.record_decision(make_decision(2), run_id="run-x")
    with pytest.raises(FeedbackError, match="recorded with run id"):
        store.record_decision(make_decision(1), run_id="run-y")
    assert store.stats()["decisions"] == 1
    assert store.get("run-x").decision_id == "d1"


def test_uuid_run_ids_match_in_any_form(store: FeedbackStore) -> None:
    """A UUID run id is found by the UUID object, its dashed form and its hex form."""
    run = uuid.uuid4()
    store.record_decision(make_decision(1), run_id=run)
    for key in (run, str(run), run.hex, str(run).upper()):
        assert store.get(key).run_id == str(run)


def test_rating_is_idempotent_and_later_value_wins(store: FeedbackStore) -> None:
    """One rating row per (decision, source): a repeat is a no-op, a new value replaces it."""
    store.record_decision(make_decision(1), run_id="r1")
    first = store.rate("r1", 0.4, comment="meh")
    repeat = store.rate("d1", 0.4, comment="meh")
    assert repeat.rated_at == first.rated_at
    changed = store.rate("r1", 0.9, comment="good after all")
    assert store.stats() == {"decisions": 1, "rated": 1, "ratings": 1}
    assert (changed.score, changed.comment, changed.rating_source) == (
        0.9,
        "good after all",
        "user",
    )
    assert changed.rated_at is not None and first.rated_at is not None
    assert changed.rated_at >= first.rated_at


def test_sources_are_kept_apart(store: FeedbackStore) -> None:
    """Two sources give two ratings; the record's score is the most recent one."""
    store.record_decision(make_decision(1))
    store.rate("d1", 0.2, source="user")
    rec = store.rate("d1", 1.0, source="judge")
    assert rec.ratings == {"user": 0.2, "judge": 1.0}
    assert (rec.score, rec.rating_source) == (1.0, "judge")
    assert store.stats()["ratings"] == 2


@pytest.mark.parametrize("bad", [1.5, -0.1, math.nan, math.inf, True, "0.5", None])
def test_bad_scores_raise_and_keep_the_stored_rating(store: FeedbackStore, bad: object) -> None:
    """An invalid score raises FeedbackError and the previous rating stays untouched."""
    store.record_decision(make_decision(1))
    store.rate("d1", 0.7)
    with pytest.raises(FeedbackError):
        store.rate("d1", bad)  # type: ignore[arg-type]
    assert store.get("d1").score == 0.7


def test_unknown_key_raises_typed_error(store: FeedbackStore) -> None:
    """Rating an unknown id raises UnknownDecisionError (a FeedbackError and a KeyError)."""
    with pytest.raises(UnknownDecisionError, match="nope") as info:
        store.rate("nope", 0.5)
    assert isinstance(info.value, KeyError) and isinstance(info.value, FeedbackError)
    with pytest.raises(UnknownDecisionError):
        store.get("nope")
    assert store.stats()["ratings"] == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.rate("d1", 0.5, source=""), "source"),
        (lambda s: s.rate("d1", 0.5, comment=3), "comment"),
        (lambda s: s.rate(12, 0.5), "string or a UUID"),
        (lambda s: s.rate("  ", 0.5), "empty"),
        (lambda s: s.record_outcome("d1", cost_usd=-1.0), "cost_usd"),
        (lambda s: s.record_outcome("d1", input_tokens=-3), "input_tokens"),
        (lambda s: s.record_outcome("d1", latency_s=math.nan), "latency_s"),
        (lambda s: s.record_outcome("d1", model="unknown"), "not among"),
        (lambda s: s.record_decision("not a decision"), "Decision"),
        (lambda s: s.record_decision(make_decision(5), metadata={"x": object()}), "JSON"),
        (lambda s: s.record_decision(make_decision(5), prompt=b"bytes"), "prompt"),
        (lambda s: s.records(limit=-1), "limit"),
    ],
)
def test_bad_inputs_raise_feedback_error_and_lose_nothing(
    store: FeedbackStore, call: object, match: str
) -> None:
    """Each invalid argument raises FeedbackError and the stored record is unchanged."""
    store.record_decision(make_decision(1), prompt="p")
    store.record_outcome("d1", cost_usd=0.01, input_tokens=5)
    store.rate("d1", 0.6)
    before = store.get("d1")
    with pytest.raises(FeedbackError, match=match):
        call(store)  # type: ignore[operator]
    assert store.get("d1") == before
    assert store.stats() == {"decisions": 1, "rated": 1, "ratings": 1}


def test_record_outcome_updates_only_given_fields(store: FeedbackStore) -> None:
    """Outcome fields accumulate; a fallback model replaces the answering model only."""
    store.record_decision(make_decision(1), run_id="r")
    store.record_outcome("r", input_tokens=10, output_tokens=20)
    rec = store.record_outcome("r", model="big", cost_usd=0.02, latency_s=1.5, error="timeout")
    assert (rec.input_tokens, rec.output_tokens, rec.cost_usd, rec.latency_s) == (10, 20, 0.02, 1.5)
    assert (rec.model, rec.chosen_model, rec.error) == ("big", "small", "timeout")


def test_records_filters(store: FeedbackStore) -> None:
    """records() filters by rating, creation time and count, oldest first."""
    for i in range(5):
        store.record_decision(make_decision(i), prompt=f"p{i}")
    store.rate("d1", 1.0)
    store.rate("d3", 0.0)
    assert [r.decision_id for r in store.records()] == ["d0", "d1", "d2", "d3", "d4"]
    assert [r.decision_id for r in store.records(rated_only=True)] == ["d1", "d3"]
    assert [r.decision_id for r in store.records(limit=2)] == ["d0", "d1"]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert store.records(since=future) == []
    assert len(store.records(since=datetime(2000, 1, 1))) == 5


def test_export_bandit_log_round_trip(store: FeedbackStore) -> None:
    """The bandit log holds exactly the rated decisions with prompts, with their fields."""
    store.record_decision(make_decision(0, model="big", propensity=0.5), prompt="a")
    store.record_decision(make_decision(1), prompt="b")
    store.record_decision(make_decision(2))  # no prompt: cannot be learned from
    store.record_decision(make_decision(3), prompt="unrated")
    store.record_outcome("d0", cost_usd=0.03)
    store.record_outcome("d1", model="big")
    for key, score in (("d0", 0.25), ("d1", 1.0), ("d2", 0.5)):
        store.rate(key, score)
    log = store.export_bandit_log(include_fallbacks=True)
    assert isinstance(log, BanditLog)
    assert log.prompts == ("a", "b") and log.decision_ids == ("d0", "d1")
    assert log.chosen == ("big", "big") and log.models == MODELS
    assert log.quality.tolist() == [0.25, 1.0]
    assert log.propensity.tolist() == [0.5, 1.0]  # d1 was answered by a fallback
    assert log.cost[0] == 0.03 and math.isnan(log.cost[1])
    assert fill_missing_costs(log).tolist() == [0.03, 0.03]
    np.testing.assert_allclose(log.preferences, [[0.75, 0.25, 0.0]] * 2)


def test_export_bandit_log_leaves_fallback_answers_out(store: FeedbackStore) -> None:
    """By default a decision answered by a fallback is not in the bandit log."""
    store.record_decision(make_decision(0, model="big", propensity=0.5), prompt="a")
    store.record_decision(make_decision(1, propensity=0.5), prompt="b")
    store.record_outcome("d1", model="big")  # "small" was chosen, "big" answered
    for key in ("d0", "d1"):
        store.rate(key, 1.0)
    record = store.get("d1")
    assert record.answered_by_fallback and record.learning_propensity == 1.0
    assert not store.get("d0").answered_by_fallback and store.get("d0").learning_propensity == 0.5
    log = store.export_bandit_log()
    assert log.decision_ids == ("d0",) and log.propensity.tolist() == [0.5]


def test_export_table_long_layout(store: FeedbackStore) -> None:
    """Each rated decision with a cost is one row with exactly one observed cell."""
    for i, model in enumerate(["big", "small", "small"]):
        store.record_decision(make_decision(i, model=model), prompt=f"p{i}", metadata={"task": "t"})
        store.rate(f"d{i}", i / 2)
    store.record_outcome("d0", cost_usd=0.01)
    store.record_outcome("d1", cost_usd=0.001)
    table = store.export_table()
    assert isinstance(table, RoutingTable)
    assert table.ids == ("d0", "d1") and table.models == MODELS
    assert table.tasks == ("t", "t") and table.splits == ("train", "train")
    assert table.observed.tolist() == [[True, False], [False, True]]
    assert table.quality[0, 0] == 0.0 and table.quality[1, 1] == 0.5
    assert table.cost[0, 0] == 0.01 and table.cost[1, 1] == 0.001


def test_export_table_empty_raises(store: FeedbackStore) -> None:
    """Exporting a store with nothing usable raises FeedbackError."""
    with pytest.raises(FeedbackError, match="No rated decision"):
        store.export_table()


def test_import_langsmith_feedback(store: FeedbackStore) -> None:
    """LangSmith items (dicts or objects) become langsmith:<key> ratings; re-import is a no-op."""
    run_a, run_b = uuid.uuid4(), uuid.uuid4()
    store.record_decision(make_decision(1), run_id=run_a)
    store.record_decision(make_decision(2), run_id=run_b)
    items = [
        {"run_id": str(run_a), "key": "correctness", "score": 0.8, "comment": "ok"},
        SimpleNamespace(run_id=run_b, key="correctness", score=True, value=None, comment=None),
        {"run_id": str(uuid.uuid4()), "key": "correctness", "score": 1.0},  # not ours: skipped
        {"run_id": str(run_a), "key": "helpfulness", "score": 0.1},  # other key: filtered out
        {"run_id": str(run_b), "key": "correctness", "score": None, "value": None},  # no score
    ]
    assert store.import_langsmith_feedback(items, key="correctness") == 2
    assert store.import_langsmith_feedback(items, key="correctness") == 2
    a, b = store.get(run_a), store.get(run_b)
    assert (a.score, a.rating_source, a.comment) == (0.8, "langsmith:correctness", "ok")
    assert b.score == 1.0
    assert store.stats()["ratings"] == 2


def test_import_langsmith_score_map_and_bad_batch(store: FeedbackStore) -> None:
    """score_map maps categorical values; one bad item rejects the whole batch untouched."""
    run = uuid.uuid4()
    store.record_decision(make_decision(1), run_id=run)
    good = {"run_id": run, "key": "vibe", "score": None, "value": "good"}
    assert store.import_langsmith_feedback([good], score_map={"good": 1.0, "bad": 0.0}) == 1
    batch = [
        {"run_id": run, "key": "vibe", "value": "bad"},
        {"run_id": run, "key": "vibe", "value": "awful"},
    ]
    with pytest.raises(FeedbackError, match="item 1"):
        store.import_langsmith_feedback(batch, score_map={"good": 1.0, "bad": 0.0})
    with pytest.raises(FeedbackError, match="run_id"):
        store.import_langsmith_feedback([{"key": "vibe", "score": 0.5}])
    with pytest.raises(FeedbackError, match=r"\[0, 1\]"):
        store.import_langsmith_feedback([{"run_id": run, "key": "vibe", "score": 7}])
    assert store.get(run).score == 1.0
    assert store.import_langsmith_feedback([good], score_map=lambda _v: 0.5) == 1
    assert store.get(run).score == 0.5


def test_unsupported_backend_and_unreachable_db(tmp_path: Path) -> None:
    """Only SQLite and PostgreSQL URLs are accepted; an unopenable file raises FeedbackError."""
    with pytest.raises(FeedbackError, match="Unsupported"):
        FeedbackStore("mysql://u@localhost/db")
    with pytest.raises(FeedbackError, match="Cannot open"):
        FeedbackStore(f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite3'}")


def test_in_memory_store_and_repr() -> None:
    """sqlite:// works in memory; the shown URL hides passwords."""
    with FeedbackStore("sqlite://") as store:
        store.record_decision(make_decision(1))
        assert store.stats()["decisions"] == 1
        assert repr(store) == "FeedbackStore('sqlite://')"
    from sqlalchemy.engine import make_url

    from shared.feedback._db import Database

    hidden = Database.__new__(Database)
    hidden.url = make_url("postgresql+psycopg://u:secret@h/db")
    assert "secret" not in hidden.shown_url and "***" in hidden.shown_url
