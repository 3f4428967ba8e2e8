"""The local spool of the feedback store: writes kept while the database is unreachable (private).

When a write still fails after the store's retry budget (a database restart longer than
``retry_seconds``, a network cut), :class:`Spool` keeps it in memory, in order, up to
``capacity`` writes, and writes them when the database answers again: at the next write (at
most one attempt per back-off interval, without waiting), or on :meth:`Spool.flush`. One
WARNING line reports the start of an outage, one INFO line its end; nothing is dropped without
an ERROR line: a full spool refuses the write with :class:`~shared.FeedbackUnavailableError`,
and a spooled write the database then rejects is counted and logged.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from ..exceptions import FeedbackError, FeedbackUnavailableError
from .records import DecisionRecord

__all__ = ["Spool"]

Work = Callable[[Connection], Any]
Runner = Callable[[Work], Any]

logger = logging.getLogger("prefroute.feedback.store")

#: back-off between flush attempts while the database stays unreachable, in seconds
_FIRST_DELAY, _MAX_DELAY = 0.05, 2.0
#: spooled writes per transaction when flushing
BATCH = 200
#: how many records of decisions written recently are kept for answering spooled writes
RECENT = 1024


def _run_all(batch: list[tuple[str, Work]], conn: Connection) -> None:
    for _, work in batch:
        work(conn)


class Spool:
    """Writes waiting for the database, in order; counters in :meth:`stats`."""

    def __init__(self, capacity: int, shown_url: str) -> None:
        self.capacity = capacity
        self.shown_url = shown_url
        self._writes: deque[tuple[str, Work]] = deque()
        self._records: OrderedDict[str, DecisionRecord] = OrderedDict()
        self._recent: OrderedDict[str, DecisionRecord] = OrderedDict()
        self._lock = threading.RLock()
        self._retry_at = 0.0
        self._delay = _FIRST_DELAY
        self._refusing = False
        self.spooled = 0
        self.flushed = 0
        self.failed = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._writes)

    def stats(self) -> dict[str, int]:
        """``pending``, and since start ``spooled``, ``flushed``, ``failed``, ``refused``."""
        with self._lock:
            return {
                "pending": len(self._writes),
                "spooled": self.spooled,
                "flushed": self.flushed,
                "failed": self.failed,
                "refused": self.refused,
            }

    def add(self, label: str, write: Work, err: BaseException | None) -> None:
        """Keep the unit of work ``write`` (``label`` names it in logs, never its texts).

        Raises:
            FeedbackUnavailableError: the spool is full or disabled (``spooled=False``).
        """
        with self._lock:
            if len(self._writes) >= self.capacity:
                self.refused += 1
                if not self._refusing:
                    self._refusing = True
                    logger.error(
                        "feedback store %s unreachable and its local spool is full (%d writes): "
                        "refusing writes until it is back",
                        self.shown_url,
                        self.capacity,
                    )
                raise FeedbackUnavailableError(
                    f"Feedback store {self.shown_url} unreachable and the local spool is full "
                    f"({self.capacity} writes); the {label} is not stored.",
                    spooled=False,
                )
            if not self._writes:
                reason = str(err) if err is not None else "unreachable"
                logger.warning(
                    "%s; keeping writes in a local spool (capacity %d) until it is back",
                    reason[:300],
                    self.capacity,
                )
                self._retry_at = time.monotonic() + self._delay
            self._writes.append((label, write))
            self.spooled += 1

    def remember(
        self, keys: tuple[str | None, ...], record: DecisionRecord, *, stored: bool = False
    ) -> None:
        """The record of a decision for the outcome and rating writes after it: of a spooled
        decision, or (``stored``) of one just written, so that its next writes can still be
        answered if the database goes away (the last ``RECENT`` of them)."""
        with self._lock:
            table = self._recent if stored else self._records
            limit = RECENT if stored else 2 * self.capacity
            for key in keys:
                if key is not None:
                    table[key] = record
                    table.move_to_end(key)
            while len(table) > limit:
                table.popitem(last=False)

    def record(self, key: str) -> DecisionRecord | None:
        """The latest known record of a decision by decision id or run id, if any."""
        with self._lock:
            return self._records.get(key) or self._recent.get(key)

    def flush(self, run: Runner, *, force: bool = False) -> bool:
        """Write the spooled writes in order with ``run`` (one transaction per batch, without
        waiting for an unreachable server); whether the spool is empty afterwards.

        Without ``force``, does nothing before the back-off interval has passed.
        """
        with self._lock:
            if not self._writes:
                return True
            if not force and time.monotonic() < self._retry_at:
                return False
            done = failed = 0
            try:
                while self._writes:
                    batch = [self._writes[i] for i in range(min(BATCH, len(self._writes)))]
                    try:
                        run(functools.partial(_run_all, batch))
                    except FeedbackUnavailableError:
                        raise
                    except FeedbackError:  # one of them is rejected: write them one by one
                        failed += self._one_by_one(run, batch)
                    for _ in batch:
                        self._writes.popleft()
                    done += len(batch)
            except FeedbackUnavailableError:
                self._delay = min(self._delay * 2.0, _MAX_DELAY)
                self._retry_at = time.monotonic() + self._delay
                self.flushed += done - failed
                self.failed += failed
                return False
            self.flushed += done - failed
            self.failed += failed
            self._records.clear()
            self._delay = _FIRST_DELAY
            self._refusing = False
            logger.info(
                "feedback store %s is back: wrote %d spooled writes (%d rejected)",
                self.shown_url,
                done - failed,
                failed,
            )
            return True

    def _one_by_one(self, run: Runner, batch: list[tuple[str, Work]]) -> int:
        """Write ``batch`` one transaction each; the number rejected (counted and logged)."""
        failed = 0
        for label, work in batch:
            try:
                run(work)
            except FeedbackUnavailableError:
                raise
            except FeedbackError as err:  # rejected for good: count and say so
                failed += 1
                logger.error("a spooled %s was rejected by the store: %s", label, err)
        return failed
