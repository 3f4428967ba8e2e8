"""Hostile values and texts at the feedback store: typed errors, escaping, redaction.

Run on SQLite and on a private PostgreSQL server (skipped when PostgreSQL is not installed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest

from shared import Decision, FeedbackError, FeedbackStore, Preference
from shared.feedback._schema import METADATA
from tests.private_postgres import PrivatePostgres

MODELS = ("big", "small")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[FeedbackStore]:
    """An empty store on SQLite (in memory) or on the private PostgreSQL server."""
    if request.param == "sqlite":
        with FeedbackStore("sqlite://") as s:
            yield s
        return
    server: PrivatePostgres = request.getfixturevalue("private_pg")
    with FeedbackStore(server.url) as s:
        METADATA.drop_all(s._engine)
    with FeedbackStore(server.url) as s:
        yield s
        METADATA.drop_all(s._engine)


def _decision(
    name: str, model: str = "small", scores: tuple[float, float] = (0.0, 1.0)
) -> Decision:
    return Decision(
        model=model,
        models=("big", model),
        scores=scores,
        propensity=0.6,
        preference=Preference(),
        ranking=(model, "big"),
        decision_id=name,
    )


BAD_TEXTS = ["nul\x00inside", "lone \ud800 surrogate", "low \udfff", "both\x00\udc80", "\x00"]


def test_bad_texts_are_stored_and_lookups_keep_working(store: FeedbackStore) -> None:
    """NUL characters and lone surrogates in every text field are stored (escaped where the
    database cannot hold them) and every other row stays readable and findable."""
    store.record_decision(_decision("good"), prompt="fine", metadata={"request_id": "r-good"})
    for i, text in enumerate(BAD_TEXTS):
        rec = store.record_decision(
            _decision(f"bad{i}", model=f"m{text}"),
            run_id=f"run{text}{i}",
            prompt=text,
            metadata={"request_id": text, f"k{text}": [text, {text: text}]},
        )
        store.record_outcome(f"run{text}{i}", model=f"m{text}", error=text)
        store.rate(f"bad{i}", 0.25, source=f"s{text}", comment=text)
        assert rec.decision_id == f"bad{i}"
        assert [r.decision_id for r in store.find("request_id", text)] == [f"bad{i}"]
    assert [r.decision_id for r in store.find("request_id", "r-good")] == ["good"]
    assert store.get("good").prompt == "fine"
    assert len(store.records()) == 1 + len(BAD_TEXTS)
    stored = store.get("bad0")
    nul_kept = store._db.dialect == "sqlite"
    assert stored.prompt == ("nul\x00inside" if nul_kept else "nul\\u0000inside")
    assert store.get("bad1").prompt == "lone \\ud800 surrogate"
    assert store.get("bad1").score == 0.25
    assert len(store.export_bandit_log()) == len(BAD_TEXTS)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.rate("d", 10**20), "rating"),
        (lambda s: s.rate("d", 10**400), "too large"),
        (lambda s: s.rate("d", float("nan")), "rating"),
        (lambda s: s.record_outcome("d", input_tokens=2**70), "input_tokens"),
        (lambda s: s.record_outcome("d", output_tokens=2**31), "output_tokens"),
        (lambda s: s.record_outcome("d", cost_usd=10**400), "too large"),
        (lambda s: s.record_outcome("d", latency_s=float("inf")), "latency_s"),
        (lambda s: s.record_decision(_decision("x"), metadata={1: "x", "1": "y"}), "two keys"),
        (lambda s: s.record_decision(_decision("x"), metadata={"a": {None: 1, "null": 2}}), "two"),
        (lambda s: s.record_decision(_decision("x"), metadata=_nested(1500)), "deeper"),
        (lambda s: s.record_decision(_decision("x"), metadata={"v": float("nan")}), "finite"),
        (lambda s: s.record_decision(_decision("x"), metadata={"v": object()}), "JSON"),
        (lambda s: s.record_decision(_decision("x"), metadata={"v": 10**5000}), "JSON"),
        (lambda s: s.record_decision(_decision("x"), metadata={(1, 2): "t"}), "keys"),
        (lambda s: s.record_decision(_decision("x"), prompt=b"bytes"), "prompt"),  # type: ignore[arg-type]
    ],
)
def test_hostile_values_give_feedback_errors(store: FeedbackStore, call: Any, match: str) -> None:
    """Hostile numbers, keys and nesting raise a short FeedbackError; nothing is written."""
    store.record_decision(_decision("d"))
    with pytest.raises(FeedbackError, match=match) as info:
        call(store)
    assert len(str(info.value)) < 300
    rec = store.get("d")
    assert rec.score is None and rec.input_tokens is None and len(store.records()) == 1


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(depth):
        doc = {"k": doc}
    return doc


def test_non_finite_scores_are_stored_as_null(store: FeedbackStore) -> None:
    """A decision whose scores are NaN or inf is still recorded (its scores read back NaN)."""
    rec = store.record_decision(_decision("nan", scores=(float("nan"), float("inf"))))
    assert rec.decision_id == "nan"
    assert all(math.isnan(v) for v in store.get("nan").scores.values())


def test_member_error_texts_are_redacted(store: FeedbackStore) -> None:
    """Credential-looking tokens in an error text are hidden before it is stored."""
    store.record_decision(_decision("e"))
    text = "401 invalid key sk-proj-AbCdEf1234567890 (Authorization: Bearer abc.def.ghijkl)"
    stored = store.record_outcome("e", error=text).error
    assert stored is not None and "AbCdEf1234567890" not in stored and "abc.def" not in stored
    assert stored.startswith("401 invalid key sk-***")
    assert len(store.record_outcome("e", error="x" * 100_000).error or "") == 4000


def test_errors_do_not_quote_prompts(caplog: pytest.LogCaptureFixture) -> None:
    """A rejected write's message names the problem, not the prompt (no parameters)."""
    with FeedbackStore("sqlite://") as store:
        store.record_decision(_decision("a"), run_id="r1")
        with caplog.at_level(logging.DEBUG), pytest.raises(FeedbackError) as info:
            store.record_decision(_decision("b"), run_id="r1", prompt="SECRET PROMPT TEXT")
    assert "SECRET PROMPT" not in str(info.value)
    assert all("SECRET PROMPT" not in r.getMessage() for r in caplog.records)
