"""Concurrent writers on one SQLite file: no rating lost, none duplicated."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from shared import Decision, FeedbackStore, Preference

MODELS = ("big", "small")
N_DECISIONS = 40


def _decision(i: int) -> Decision:
    return Decision(
        model="big",
        models=MODELS,
        scores=(1.0, 0.0),
        propensity=1.0,
        preference=Preference(),
        ranking=MODELS,
        decision_id=f"d{i}",
    )


def _seed(url: str) -> None:
    with FeedbackStore(url) as store:
        for i in range(N_DECISIONS):
            store.record_decision(_decision(i), run_id=f"run-{i}", prompt=f"prompt {i}")


def _rate_all(url: str, worker: int) -> None:
    """Rate every decision twice as this worker's source, and once more as a shared source."""
    with FeedbackStore(url) as store:
        for i in range(N_DECISIONS):
            store.rate(f"run-{i}", (i % 10) / 10, source=f"w{worker}")
            store.rate(f"d{i}", (i % 10) / 10, source=f"w{worker}")  # idempotent repeat
            store.rate(f"d{i}", 0.5, source="shared")  # every worker races on this row


def _check(url: str, n_workers: int) -> None:
    with FeedbackStore(url) as store:
        assert store.stats() == {
            "decisions": N_DECISIONS,
            "rated": N_DECISIONS,
            "ratings": N_DECISIONS * (n_workers + 1),
        }
        for rec in store.records():
            assert rec.ratings == {
                **{f"w{w}": (int(rec.decision_id[1:]) % 10) / 10 for w in range(n_workers)},
                "shared": 0.5,
            }


def test_threads_share_one_store(tmp_path: Path) -> None:
    """Eight threads on one store object store each (decision, source) rating exactly once."""
    url = f"sqlite:///{tmp_path / 'threads.sqlite3'}"
    _seed(url)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            _rate_all(url, worker)
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _check(url, 8)


def test_processes_write_one_file(tmp_path: Path) -> None:
    """Three processes with their own stores on one SQLite file lose and duplicate nothing."""
    url = f"sqlite:///{tmp_path / 'procs.sqlite3'}"
    _seed(url)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_rate_all, args=(url, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    _check(url, 3)


def test_concurrent_record_decision_is_idempotent(tmp_path: Path) -> None:
    """Threads recording the same decisions at once leave one row per decision id."""
    url = f"sqlite:///{tmp_path / 'dec.sqlite3'}"
    with FeedbackStore(url) as store:
        barrier = threading.Barrier(4)

        def work() -> None:
            barrier.wait()
            for i in range(N_DECISIONS):
                store.record_decision(_decision(i), run_id=f"run-{i}")

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.stats()["decisions"] == N_DECISIONS
        assert {r.run_id for r in store.records()} == {f"run-{i}" for i in range(N_DECISIONS)}


@pytest.mark.parametrize("journal", ["wal"])
def test_sqlite_runs_in_wal_mode(tmp_path: Path, journal: str) -> None:
    """A file store switches the database to WAL mode with a busy timeout."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == journal
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    store.close()
