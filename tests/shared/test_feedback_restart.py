"""A PostgreSQL restart during writes loses no decision, outcome or rating.

The server is a private one started by the test (``tests/private_postgres.py``), never the
shared cluster; the test is skipped when the PostgreSQL binaries are not installed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from shared import Decision, FeedbackStore, FeedbackUnavailableError, Preference
from tests.private_postgres import PrivatePostgres

MODELS = ("big", "small")
N_THREADS = 3


@pytest.fixture
def server(private_pg: PrivatePostgres) -> PrivatePostgres:
    """The session's private server (restarted by these tests)."""
    return private_pg


@pytest.fixture
def url(server: PrivatePostgres) -> Iterator[str]:
    """The private server's URL, with the feedback tables dropped afterwards."""
    yield server.url
    from shared.feedback._schema import METADATA

    with FeedbackStore(server.url) as store:
        METADATA.drop_all(store._engine)


def _decision(name: str) -> Decision:
    return Decision(
        model="small",
        models=MODELS,
        scores=(0.0, 1.0),
        propensity=0.6,
        preference=Preference(),
        ranking=("small", "big"),
        decision_id=name,
    )


def _write_while(store: FeedbackStore, stop: threading.Event, worker: int, done: list[int]) -> None:
    """Record, outcome and rate decisions until ``stop``; count the ones acknowledged."""
    i = 0
    while not stop.is_set() or i < 20:
        name = f"w{worker}-{i}"
        store.record_decision(_decision(name), run_id=f"run-{name}", prompt=f"prompt {i}")
        store.record_outcome(f"run-{name}", input_tokens=10, cost_usd=0.001)
        store.rate(name, 0.5 + 0.01 * (i % 50))
        i += 1
        time.sleep(0.05)
    done[worker] = i


def _restart_during_writes(store: FeedbackStore, server: PrivatePostgres, down_s: float) -> int:
    stop = threading.Event()
    done = [0] * N_THREADS
    threads = [
        threading.Thread(target=_write_while, args=(store, stop, w, done)) for w in range(N_THREADS)
    ]
    for t in threads:
        t.start()
    time.sleep(0.3)
    server.restart(down_s=down_s)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return sum(done)


def _assert_all_stored(url: str, expected: int) -> None:
    with FeedbackStore(url) as check:
        assert check.stats() == {"decisions": expected, "rated": expected, "ratings": expected}
        records = check.records()
        assert all(r.input_tokens == 10 and r.run_id == f"run-{r.decision_id}" for r in records)


def test_short_restart_is_bridged_by_retries(url: str, server: PrivatePostgres) -> None:
    """A restart shorter than retry_seconds: every write waits and lands, nothing spooled."""
    with FeedbackStore(url, retry_seconds=15.0) as store:
        acknowledged = _restart_during_writes(store, server, down_s=0.5)
        assert store.spool_stats()["spooled"] == 0
    _assert_all_stored(url, acknowledged)


def test_long_outage_goes_to_the_spool_and_is_flushed(
    url: str, server: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage longer than retry_seconds: writes go to the spool (one WARNING line), are
    written in order when the server is back (one INFO line), and none is lost."""
    with (
        caplog.at_level(logging.INFO, logger="prefroute.feedback.store"),
        FeedbackStore(url, retry_seconds=0.3) as store,
    ):
        acknowledged = _restart_during_writes(store, server, down_s=2.0)
        store.flush_spool()
        stats = store.spool_stats()
    assert stats["spooled"] > 0 and stats["pending"] == 0 and stats["failed"] == 0
    assert stats["flushed"] == stats["spooled"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "spool" in warnings[0].getMessage()
    assert "prompt" not in warnings[0].getMessage()
    _assert_all_stored(url, acknowledged)


def test_reads_fail_typed_and_a_full_spool_refuses(url: str, server: PrivatePostgres) -> None:
    """While the server is down a read raises FeedbackUnavailableError; with spool=0 a write
    does too (spooled=False), and with a spool the rating of a spooled decision is answered
    from the spool."""
    with (
        FeedbackStore(url, retry_seconds=0.2, spool=0) as strict,
        FeedbackStore(url, retry_seconds=0.2, spool=5) as store,
    ):
        strict.stats()
        store.stats()
        server.stop()
        try:
            with pytest.raises(FeedbackUnavailableError) as info:
                strict.record_decision(_decision("x0"))
            assert info.value.spooled is False
            with pytest.raises(FeedbackUnavailableError):
                store.stats()
            rec = store.record_decision(_decision("x1"), prompt="p")
            assert rec.decision_id == "x1" and rec.prompt == "p"
            assert store.rate("x1", 0.9).score == 0.9
            with pytest.raises(FeedbackUnavailableError) as spooled:
                store.rate("stored-before-the-outage", 0.1)
            assert spooled.value.spooled is True
            for i in range(2, 10):
                if i < 4:
                    store.record_decision(_decision(f"x{i}"))
                else:
                    with pytest.raises(FeedbackUnavailableError):
                        store.record_decision(_decision(f"x{i}"))
            assert store.spool_stats()["refused"] == 6
        finally:
            server.start()
        assert store.flush_spool() is True
        stats = store.spool_stats()
        # the rating of the unknown decision is rejected when written: counted, not silent
        assert (stats["flushed"], stats["failed"], stats["pending"]) == (4, 1, 0)
        assert store.get("x1").score == 0.9
        assert store.stats()["decisions"] == 3
