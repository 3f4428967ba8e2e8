"""Engines and transactions of the feedback store, per database (private).

SQLite engines run in WAL mode with a busy timeout and take the write lock at the start of a
write transaction (``BEGIN IMMEDIATE``), which turns lock upgrades (the usual cause of
"database is locked" under concurrent writers) into ordinary waiting. Every unit of work runs
in one transaction and is retried after transient failures.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .._redact import redact_secrets
from ..exceptions import FeedbackError, FeedbackUnavailableError
from ._schema import METADATA, migrate

__all__ = ["Database", "make_engine", "shown_url"]

logger = logging.getLogger("prefroute.feedback.store")

T = TypeVar("T")

#: execution option marking a read-only transaction (SQLite then takes no write lock).
READONLY = "prefroute_readonly"

#: busy timeout of SQLite connections, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def shown_url(url: str | URL) -> str:
    """``url`` with its password and secret-looking query parameters replaced by ``***``.

    Examples:
        >>> shown_url("postgresql+psycopg://app:pw@db/prod?sslpassword=x&sslmode=require")
        'postgresql+psycopg://app:***@db/prod?sslmode=require&sslpassword=***'
    """
    return redact_secrets(make_url(url).render_as_string(hide_password=True))


#: SQLSTATEs of a server that is restarting or unreachable (admin shutdown, crash shutdown,
#: cannot connect now, connection exceptions).
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"})
_UNAVAILABLE_TEXTS = (
    "connection refused",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "terminating connection",
    "server closed the connection",
    "is the server running",
    "connection failed",
    "could not connect",
    "connection timed out",
    "connection is closed",
    "consuming input failed",
    "ssl syscall error",
)


def _unavailable(err: DBAPIError) -> bool:
    """The server is down or restarting: a new connection may work in a moment."""
    if err.connection_invalidated:
        return True
    if getattr(err.orig, "sqlstate", None) in _UNAVAILABLE_STATES:
        return True
    text = str(err.orig).lower()
    return any(t in text for t in _UNAVAILABLE_TEXTS)


def _retryable(err: DBAPIError) -> bool:
    """A lock or serialization conflict: the same transaction may succeed when tried again."""
    text = str(err.orig).lower()
    if "database is locked" in text or "database is busy" in text:
        return True
    return getattr(err.orig, "sqlstate", None) in {"40001", "40P01"}


def _sqlite_setup(engine: Engine, *, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url`` set up for concurrent writers (see the module docstring)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(parsed, hide_parameters=True, **kwargs)
        _sqlite_setup(engine, memory=memory)
        return engine
    # No pool_pre_ping (one more round trip per call): FeedbackStore retries a transaction
    # whose connection turned out to be dead instead. Error messages never carry the bound
    # parameters (prompts, comments).
    return create_engine(parsed, hide_parameters=True)


class Database:
    """One database: its engine, its dialect's INSERT, and a retrying transaction runner.

    Raises:
        FeedbackError: not SQLite or PostgreSQL, or the schema cannot be created.
    """

    def __init__(self, url: str | URL, *, retries: int, retry_seconds: float = 10.0) -> None:
        self.url = make_url(url)
        self.retries = retries
        self.retry_seconds = retry_seconds
        backend = self.url.get_backend_name()
        if backend == "sqlite":
            self.insert: Callable[..., Any] = sqlite.insert
        elif backend == "postgresql":
            self.insert = postgresql.insert
        else:
            raise FeedbackError(
                f"Unsupported feedback database {backend!r}: use sqlite:/// or postgresql+psycopg://."
            )
        memory = backend == "sqlite" and self.url.database in (None, "", ":memory:")
        # An in-memory SQLite database is one shared connection: serialize its use.
        self._lock: threading.RLock | None = threading.RLock() if memory else None
        self.engine = make_engine(self.url)
        self._create_schema()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return str(self.url.get_backend_name())

    @property
    def shown_url(self) -> str:
        """The URL with the password and secret-looking query parameters hidden."""
        return shown_url(self.url)

    def _create_schema(self) -> None:
        for attempt in range(3):
            try:
                METADATA.create_all(self.engine, checkfirst=True)
                with self.engine.begin() as conn:
                    added = migrate(conn)
                if added:
                    logger.info("added columns %s to %s", ", ".join(added), self.shown_url)
                return
            except SQLAlchemyError as err:
                # PostgreSQL: another process may be creating the same tables right now.
                if attempt == 2 or self.url.get_backend_name() != "postgresql":
                    raise FeedbackError(
                        f"Cannot open the feedback store {self.shown_url}: {err}"
                    ) from err
                time.sleep(0.1 * (attempt + 1))

    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    def run(
        self, work: Callable[[Connection], T], *, readonly: bool = False, wait: bool = True
    ) -> T:
        """Run ``work`` in one transaction, retrying transient failures.

        Lock and serialization conflicts are retried ``retries`` times; an unreachable or
        restarting server is retried for ``retry_seconds`` (waits grow from 10 ms to 0.5 s), so
        a restart of a few seconds is bridged. Every unit of work of the store is idempotent,
        so running it again after a connection died around the commit is safe. With
        ``wait=False`` an unreachable server fails at once (the spool's flush attempts).

        Raises:
            FeedbackUnavailableError: the server stayed unreachable for ``retry_seconds``.
            FeedbackError: any other database error.
        """
        delay = 0.01
        attempt = 0
        deadline: float | None = None
        while True:
            try:
                with self._guard(), self.engine.connect() as conn:
                    if readonly:
                        conn.execution_options(**{READONLY: True})
                    with conn.begin():
                        return work(conn)
            except DBAPIError as err:
                reason = redact_secrets(str(err.orig).strip().splitlines()[0][:300])
                if _unavailable(err):
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + (self.retry_seconds if wait else 0.0)
                    if now < deadline:
                        logger.debug("store unreachable (%s); retrying", reason)
                        time.sleep(min(delay * (1.0 + random.random()), deadline - now))
                        delay = min(delay * 2.0, 0.5)
                        continue
                    raise FeedbackUnavailableError(
                        f"Feedback store {self.shown_url} unreachable for "
                        f"{self.retry_seconds:g} s: {reason}"
                    ) from err
                if attempt < self.retries and _retryable(err):
                    attempt += 1
                    logger.debug("retrying after %s (attempt %d)", reason, attempt)
                    time.sleep(delay * (1.0 + random.random()))
                    delay = min(delay * 2.0, 1.0)
                    continue
                raise FeedbackError(f"Feedback store {self.shown_url}: {reason}") from err
            except SQLAlchemyError as err:
                cause = getattr(err, "orig", None) or err
                text = redact_secrets(f"{type(cause).__name__}: {cause}")[:300]
                raise FeedbackError(f"Feedback store {self.shown_url}: {text}") from err

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()
