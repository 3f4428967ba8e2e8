"""The feedback store: routing decisions, their outcomes and their ratings, in SQL.

An SQLite file by default (safe for several processes of one host: WAL mode, busy timeout,
write transactions that take the lock up front, retries), PostgreSQL by URL for many application
replicas (``postgresql+psycopg://user:password@host/db``). Every write is one transaction.

Ratings are keyed by (decision, source) with a unique constraint and written with
``INSERT ... ON CONFLICT DO UPDATE``: rating the same decision from the same source again keeps one
row, and **the later value wins**; an exact repeat (same score and comment) changes nothing, not
even ``rated_at``. A record's effective ``score`` is its most recent rating over all sources.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import numpy as np
from sqlalchemy import Connection, Engine, Row, Select, exists, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from ..decision import Decision
from ..embedding import EMBEDDING_DTYPES, PromptEmbedding
from ..exceptions import FeedbackError, FeedbackUnavailableError, UnknownDecisionError
from ..outcomes import BanditLog
from . import _validate as check
from ._db import Database
from ._schema import (
    BY_ID,
    BY_KEY,
    DECISIONS,
    RATINGS,
    RATINGS_OF,
    embedding_values,
    escape_text,
    rating_upsert,
    to_record,
)
from ._spool import Spool
from .export import bandit_log_from_records, table_from_records
from .records import DecisionRecord

if TYPE_CHECKING:
    from ..tables import RoutingTable

__all__ = ["DEFAULT_URL", "FeedbackStore"]

logger = logging.getLogger("prefroute.feedback.store")

#: Where the store lives when no URL is given: an SQLite file in the working directory.
DEFAULT_URL = "sqlite:///prefroute-feedback.sqlite3"

T = TypeVar("T")
_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _finite_or_none(value: float) -> float | None:
    """JSON holds no NaN or infinity: such a score is stored as null."""
    out = float(value)
    return out if math.isfinite(out) else None


def _local_record(values: Mapping[str, Any]) -> DecisionRecord:
    """The record a new decision row will read back as (for a spooled write)."""
    return DecisionRecord(
        decision_id=values["decision_id"],
        run_id=values["run_id"],
        model=values["model"],
        chosen_model=values["chosen_model"],
        models=tuple(values["models"]),
        propensity=values["propensity"],
        preference=dict(values["preference"]),
        router=values["router"],
        prompt=values["prompt"],
        scores={k: math.nan if v is None else v for k, v in values["scores"].items()},
        fallbacks=tuple(values["fallbacks"]),
        created_at=values["created_at"],
        metadata=dict(values["metadata"]),
    )


class FeedbackStore:
    """Decisions, outcomes and ratings in an SQL database (SQLite or PostgreSQL).

    The schema is created on first use. One store object may be shared by the threads of a
    process; each process (or replica) opens its own.

    Examples:
        >>> from shared import Decision, FeedbackStore, Preference
        >>> d = Decision(model="small", models=("big", "small"), scores=(0.2, 0.5), propensity=0.9,
        ...              preference=Preference(), ranking=("small", "big"), decision_id="d1")
        >>> with FeedbackStore("sqlite://") as store:
        ...     _ = store.record_decision(d, run_id="run-1", prompt="say hi")
        ...     _ = store.record_outcome("run-1", cost_usd=0.002, input_tokens=12, output_tokens=30)
        ...     rec = store.rate("run-1", 0.75)
        ...     again = store.rate("d1", 0.75)  # same decision, same source: still one rating
        >>> rec.model, rec.score, rec.cost_usd, len(again.ratings)
        ('small', 0.75, 0.002, 1)

    Args:
        url: SQLAlchemy URL: ``sqlite:///path.sqlite3`` (default: ``prefroute-feedback.sqlite3``
            in the working directory), ``sqlite://`` (in memory, for tests), or
            ``postgresql+psycopg://user:password@host:5432/db``.
        retries: attempts after a transient failure ("database is locked", a serialization
            failure or a deadlock) before giving up; waits grow exponentially from 10 ms.
        retry_seconds: how long an unreachable or restarting server is retried before a write
            goes to the spool (or a read fails), in seconds.
        spool: capacity of the local spool of writes made while the server is unreachable
            (decisions, outcomes, ratings; kept in memory, written in order when it is back);
            0 disables it. See :meth:`spool_stats`.
        embeddings: byte format of the prompt embeddings kept with the decisions
            (``"float16"``, the default: 2 bytes per dimension; ``"float32"``: exact), or
            ``None`` to store none. A decision carries its embedding when it comes from
            :class:`~shared.RoutingEngine`; ``record_decision(embedding=...)`` gives one
            explicitly. A retrain reuses them instead of encoding the prompts again.

    Raises:
        FeedbackError: the database cannot be opened or is not SQLite or PostgreSQL, or a bad
            ``embeddings`` format.
    """

    def __init__(
        self,
        url: str | URL = DEFAULT_URL,
        *,
        retries: int = 8,
        retry_seconds: float = 5.0,
        spool: int = 10_000,
        embeddings: str | None = "float16",
    ) -> None:
        check.check_budget(retries, retry_seconds, spool)
        if embeddings is not None and embeddings not in EMBEDDING_DTYPES:
            raise FeedbackError(
                f"embeddings must be one of {EMBEDDING_DTYPES} or None, got {embeddings!r}."
            )
        self.embeddings = embeddings
        self._db = Database(url, retries=retries, retry_seconds=retry_seconds)
        self._upsert = rating_upsert(self._db.insert)
        self._insert_decision = self._db.insert(DECISIONS).on_conflict_do_nothing()
        self._spool = Spool(spool, self._db.shown_url)

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._db.shown_url

    @property
    def _engine(self) -> Engine:
        return self._db.engine

    def __repr__(self) -> str:
        return f"FeedbackStore({self.url!r})"

    def _run(self, work: Callable[[Connection], T], *, readonly: bool = False) -> T:
        return self._db.run(work, readonly=readonly)

    def close(self) -> None:
        """Write what the spool holds (one attempt), then release the database connections.

        Writes still spooled then are lost, and an ERROR line says how many.
        """
        if len(self._spool) and not self._spool.flush(self._flush_run, force=True):
            logger.error(
                "closing the feedback store %s with %d spooled writes not stored",
                self.url,
                len(self._spool),
            )
        self._db.close()

    # ------------------------------------------------------------------ spool
    def spool_stats(self) -> dict[str, int]:
        """Counters of the local spool: ``pending`` writes, and since the store was opened
        ``spooled``, ``flushed``, ``failed`` (rejected when written) and ``refused`` (spool
        full) writes."""
        return self._spool.stats()

    def flush_spool(self) -> bool:
        """Try to write the spooled writes now; whether none is left."""
        return self._spool.flush(self._flush_run, force=True)

    def _flush_run(self, work: Callable[[Connection], T]) -> T:
        return self._db.run(work, wait=False)

    def _write(
        self,
        label: str,
        work: Callable[[Connection], T],
        local: Callable[[], T],
    ) -> T:
        """Run the write ``work`` (idempotent), or spool it while the database is unreachable.

        A spooled write returns ``local()``: the record as it will be stored.
        """
        spool = self._spool
        err: FeedbackUnavailableError | None = None
        if not len(spool) or spool.flush(self._flush_run):
            try:
                result = self._db.run(work)
            except FeedbackUnavailableError as exc:
                if not spool.capacity:
                    raise
                err = exc
            else:
                if isinstance(result, DecisionRecord) and spool.capacity:
                    spool.remember((result.decision_id, result.run_id), result, stored=True)
                return result
        spool.add(label, work, err)
        return local()

    def _spooled_record(self, key: object, label: str, **changes: Any) -> DecisionRecord:
        """The local record of a spooled decision with ``changes``, for a spooled write."""
        record = None
        for candidate in check.key_candidates(key):
            record = record or self._spool.record(candidate)
        if record is None:
            raise FeedbackUnavailableError(
                f"Feedback store {self.url} unreachable: the {label} is spooled and will be "
                "written when it is back.",
                spooled=True,
            )
        record = replace(record, **changes)
        self._spool.remember((record.decision_id, record.run_id), record)
        return record

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _resolve(conn: Connection, key: object) -> Row[Any]:
        candidates = check.key_candidates(key)
        rows = conn.execute(BY_KEY, {"keys": candidates}).fetchall()
        if not rows:
            raise UnknownDecisionError(
                f"No decision with run id or decision id {key!s} in the feedback store "
                "(was it recorded with record_decision?)."
            )
        by_decision = [r for r in rows if r.decision_id in candidates]
        return by_decision[0] if by_decision else rows[0]

    def _fetch(self, query: Select[Any], limit: int | None) -> list[DecisionRecord]:
        """Run a decisions query, at most ``limit`` rows, as records with their ratings."""
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise FeedbackError(f"limit must be an int >= 0, got {limit!r}.")
            query = query.limit(limit)
        return self._run(
            lambda conn: self._records(conn, conn.execute(query).fetchall()), readonly=True
        )

    @staticmethod
    def _records(conn: Connection, rows: Sequence[Row[Any]]) -> list[DecisionRecord]:
        ratings: dict[str, list[Row[Any]]] = {}
        ids = [r.decision_id for r in rows]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for rating in conn.execute(RATINGS_OF, {"ids": chunk}):
                ratings.setdefault(rating.decision_id, []).append(rating)
        return [to_record(row, ratings.get(row.decision_id, [])) for row in rows]

    def _record(self, conn: Connection, decision_id: str) -> DecisionRecord:
        row = conn.execute(BY_ID, {"id": decision_id}).one()
        return self._records(conn, [row])[0]

    def get(self, key: object) -> DecisionRecord:
        """The record of a decision, by run id or decision id.

        Raises:
            UnknownDecisionError: no decision has that id.
        """
        return self._run(
            lambda conn: self._records(conn, [self._resolve(conn, key)])[0], readonly=True
        )

    def records(
        self,
        *,
        rated_only: bool = False,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]:
        """Stored decisions, oldest first.

        Args:
            rated_only: only decisions with at least one rating.
            since: only decisions recorded at or after this time (naive means UTC).
            limit: at most this many records (the oldest ones).
        """
        query = select(DECISIONS).order_by(DECISIONS.c.created_at, DECISIONS.c.id)
        if rated_only:
            query = query.where(exists().where(RATINGS.c.decision_id == DECISIONS.c.decision_id))
        if since is not None:
            if not isinstance(since, datetime):
                raise FeedbackError(f"since must be a datetime, got {type(since).__name__}.")
            query = query.where(
                DECISIONS.c.created_at >= (since if since.tzinfo else since.replace(tzinfo=UTC))
            )
        return self._fetch(query, limit)

    def find(
        self, metadata_key: str, value: str, *, limit: int | None = None
    ) -> list[DecisionRecord]:
        """Stored decisions whose ``metadata[metadata_key]`` is the string ``value``, oldest first.

        The filter runs in the database (one query; ``JSON_EXTRACT`` in SQLite, ``->>`` in
        PostgreSQL); it is a scan of the decisions table, without an index, so callers keep
        recent keys in memory and use it as the fallback (e.g. a ``request_id`` of an older
        call, or one recorded by another process).

        Args:
            metadata_key: the key of the metadata given to :meth:`record_decision`.
            value: the value to match (compared as text).
            limit: at most this many records (the oldest ones).

        Raises:
            FeedbackError: ``metadata_key`` or ``value`` is not a non-empty string / a string,
                or a bad ``limit``.

        Examples:
            >>> from shared import Decision, FeedbackStore, Preference
            >>> d = Decision(model="a", models=("a",), scores=(0.0,), propensity=1.0,
            ...              preference=Preference(), ranking=("a",), decision_id="d1")
            >>> with FeedbackStore("sqlite://") as store:
            ...     _ = store.record_decision(d, metadata={"request_id": "req-1"})
            ...     [r.decision_id for r in store.find("request_id", "req-1")]
            ['d1']
        """
        if not isinstance(metadata_key, str) or not metadata_key:
            raise FeedbackError(f"metadata_key must be a non-empty string, got {metadata_key!r}.")
        if not isinstance(value, str):
            raise FeedbackError(f"value must be a string, got {type(value).__name__}.")
        dialect = self._db.dialect
        query = (
            select(DECISIONS)
            .where(
                DECISIONS.c.metadata[escape_text(metadata_key, dialect, in_json=True)].as_string()
                == escape_text(value, dialect, in_json=True)
            )
            .order_by(DECISIONS.c.created_at, DECISIONS.c.id)
        )
        return self._fetch(query, limit)

    def ratings_after(
        self, after: int, *, limit: int = 1000
    ) -> list[tuple[int, DecisionRecord | None]]:
        """The rating rows with an id above ``after``, at most ``limit``, in id order, as
        ``(rating row id, record)`` pairs: the decision's record for its *first* rating row (no
        row of the same decision has a lower id), ``None`` for the others (what replicas sync
        from).

        The ids and the first-row flags come from one statement, so a rating committed
        meanwhile is in both or in neither.
        """
        earlier = RATINGS.alias("earlier")
        first = ~exists().where(
            earlier.c.decision_id == RATINGS.c.decision_id, earlier.c.id < RATINGS.c.id
        )
        query = (
            select(RATINGS.c.id, RATINGS.c.decision_id, first.label("first"))
            .where(RATINGS.c.id > after)
            .order_by(RATINGS.c.id)
            .limit(limit)
        )

        def work(conn: Connection) -> list[tuple[int, DecisionRecord | None]]:
            rows = [(int(r.id), str(r.decision_id), bool(r.first)) for r in conn.execute(query)]
            wanted = list({d for _, d, is_first in rows if is_first})
            by_id: dict[str, DecisionRecord] = {}
            for start in range(0, len(wanted), _CHUNK):
                found = conn.execute(
                    select(DECISIONS).where(
                        DECISIONS.c.decision_id.in_(wanted[start : start + _CHUNK])
                    )
                ).fetchall()
                by_id.update((rec.decision_id, rec) for rec in self._records(conn, found))
            return [(rid, by_id.get(d) if is_first else None) for rid, d, is_first in rows]

        return self._run(work, readonly=True)

    def stats(self) -> dict[str, int]:
        """Counts: ``decisions``, ``rated`` (decisions with a rating) and ``ratings`` (rows)."""

        def work(conn: Connection) -> dict[str, int]:
            n_dec = conn.execute(select(func.count()).select_from(DECISIONS)).scalar_one()
            n_rat = conn.execute(select(func.count()).select_from(RATINGS)).scalar_one()
            rated = conn.execute(
                select(func.count(func.distinct(RATINGS.c.decision_id)))
            ).scalar_one()
            return {"decisions": int(n_dec), "rated": int(rated), "ratings": int(n_rat)}

        return self._run(work, readonly=True)

    # ------------------------------------------------------------------ writing
    def record_decision(
        self,
        decision: Decision,
        *,
        run_id: object = None,
        prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        embedding: PromptEmbedding | None = None,
    ) -> DecisionRecord:
        """Store a routing decision; idempotent on ``decision.decision_id``.

        Recording the same decision again changes nothing, except that a ``run_id``, ``prompt``,
        ``metadata`` or embedding missing from the stored row is filled in.

        Args:
            decision: what the router returned.
            run_id: the framework run id (e.g. the LangChain run UUID) ratings may refer to.
            prompt: the prompt text (needed to learn from the rating later).
            metadata: JSON-serializable extra data (request id, user, task...).
            embedding: the prompt's embedding (default: ``decision.embedding``, which
                :class:`~shared.RoutingEngine` attaches); kept unless the store was opened
                with ``embeddings=None``.

        Raises:
            FeedbackError: not a Decision, bad prompt/metadata/embedding, or ``run_id`` already
                belongs to another decision.
        """
        if not isinstance(decision, Decision):
            raise FeedbackError(f"Expected a Decision, got {type(decision).__name__}.")
        emb = decision.embedding if embedding is None else embedding
        if emb is not None and not isinstance(emb, PromptEmbedding):
            raise FeedbackError(f"embedding must be a PromptEmbedding, got {type(emb).__name__}.")
        if emb is not None and not np.isfinite(emb.vector).all():
            raise FeedbackError("The prompt embedding holds NaN or infinite values.")
        stored = embedding_values(emb, self.embeddings)
        if prompt is not None and not isinstance(prompt, str):
            raise FeedbackError(f"prompt must be a string, got {type(prompt).__name__}.")
        run = check.canonical_run_id(run_id)
        meta = check.check_metadata(metadata)
        decision_id = check.key_candidates(decision.decision_id)[0]

        def per_model(values: tuple[float, ...] | None) -> list[float | None] | None:
            return None if values is None else [_finite_or_none(v) for v in values]

        values = {
            "decision_id": decision_id,
            "run_id": run,
            "created_at": _now(),
            "router": decision.router,
            "chosen_model": decision.model,
            "model": decision.model,
            "models": list(decision.models),
            "propensity": float(decision.propensity),
            "preference": decision.preference.as_dict(),
            "prompt": prompt,
            "scores": {m: _finite_or_none(v) for m, v in zip(decision.models, decision.scores)},
            "fallbacks": list(decision.fallbacks),
            "predictions": {
                "quality": per_model(decision.quality),
                "cost": per_model(decision.cost),
                "latency": per_model(decision.latency),
                "probabilities": per_model(decision.probabilities),
            },
            # the encoder of the decision, so a retrain can check it uses the same one, and the
            # call's task key, so its rating teaches that task
            "metadata": {
                **({"encoder": decision.encoder} if decision.encoder else {}),
                **({"task": decision.task} if decision.task is not None else {}),
                **meta,
            },
            **stored,
        }

        def work(conn: Connection) -> DecisionRecord:
            conn.execute(self._insert_decision, values)
            row = conn.execute(BY_ID, {"id": decision_id}).one_or_none()
            if row is None:
                raise FeedbackError(f"Run id {run!r} already belongs to another decision.")
            fill: dict[str, Any] = {}
            if run is not None and row.run_id is None:
                fill["run_id"] = run
            elif run is not None and row.run_id != escape_text(run, self._db.dialect):
                raise FeedbackError(
                    f"Decision {decision_id} is recorded with run id {row.run_id!r}, not {run!r}."
                )
            if prompt is not None and row.prompt is None:
                fill["prompt"] = prompt
            if meta and not row._mapping["metadata"]:
                fill["metadata"] = meta
            if stored["embedding"] is not None and row.embedding is None:
                fill.update(stored)
            if fill:
                conn.execute(
                    update(DECISIONS).where(DECISIONS.c.decision_id == decision_id).values(**fill)
                )
            return self._record(conn, decision_id)

        def local() -> DecisionRecord:
            record = _local_record(values)
            self._spool.remember((record.decision_id, record.run_id), record)
            return record

        try:
            return self._write("decision", work, local)
        except FeedbackError as err:
            if isinstance(err.__cause__, IntegrityError):
                raise FeedbackError(
                    f"Run id {run!r} already belongs to another decision."
                ) from err.__cause__
            raise

    def record_outcome(
        self,
        key: object,
        *,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
        latency_s: float | None = None,
        error: str | None = None,
    ) -> DecisionRecord:
        """Store what the call produced; only the fields given are written.

        Args:
            key: run id or decision id.
            model: the model that actually answered, when a fallback replaced the chosen one
                (must be one of the decision's models).
            input_tokens: prompt tokens.
            output_tokens: completion tokens.
            cost_usd: cost of the call in USD.
            latency_s: wall time of the call in seconds.
            error: error text when the call failed.

        Raises:
            UnknownDecisionError: no decision has that id.
            FeedbackError: a value is invalid (negative, wrong type, unknown model).
        """
        fields: dict[str, Any] = {
            "input_tokens": check.check_count("input_tokens", input_tokens),
            "output_tokens": check.check_count("output_tokens", output_tokens),
            "cost_usd": check.check_nonnegative("cost_usd", cost_usd),
            "latency_s": check.check_nonnegative("latency_s", latency_s),
            "error": check.check_error_text(error),
        }
        if model is not None and not isinstance(model, str):
            raise FeedbackError(f"model must be a string, got {type(model).__name__}.")
        fields["model"] = model
        fields = {k: v for k, v in fields.items() if v is not None}

        def work(conn: Connection) -> DecisionRecord:
            row = self._resolve(conn, key)
            if (
                model is not None
                and escape_text(model, self._db.dialect, in_json=True) not in row.models
            ):
                raise FeedbackError(
                    f"Model {model!r} is not among the decision's models {row.models}."
                )
            conn.execute(
                update(DECISIONS)
                .where(DECISIONS.c.decision_id == row.decision_id)
                .values(outcome_at=_now(), **fields)
            )
            return self._record(conn, row.decision_id)

        return self._write("outcome", work, lambda: self._spooled_record(key, "outcome", **fields))

    def _upsert_rating(
        self, conn: Connection, decision_id: str, source: str, score: float, comment: str | None
    ) -> None:
        conn.execute(
            self._upsert,
            {
                "decision_id": decision_id,
                "source": source,
                "score": score,
                "comment": comment,
                "rated_at": _now(),
            },
        )

    def rate(
        self, key: object, score: float, *, source: str = "user", comment: str | None = None
    ) -> DecisionRecord:
        """Rate a decision's answer; idempotent per (decision, source), the later value wins.

        Args:
            key: run id or decision id.
            score: quality of the answer in [0, 1] (1 = fully satisfying).
            source: who rated (``"user"``, ``"judge"``, ``"langsmith:<key>"``...).
            comment: free text kept with the rating.

        Returns:
            The updated record.

        Raises:
            FeedbackError: score not a number in [0, 1], bad source or comment (nothing is
                written).
            UnknownDecisionError: no decision has that id (nothing is written).
        """
        value = check.check_score(score)
        src = check.check_source(source)
        text = check.check_comment(comment)

        def work(conn: Connection) -> DecisionRecord:
            row = self._resolve(conn, key)
            self._upsert_rating(conn, row.decision_id, src, value, text)
            return self._records(conn, [row])[0]  # the decision row itself is unchanged

        def local() -> DecisionRecord:
            record = self._spooled_record(key, "rating")
            ratings = {**record.ratings, src: value}
            return self._spooled_record(
                key,
                "rating",
                score=value,
                rating_source=src,
                comment=text,
                ratings=ratings,
                rated_at=_now(),
            )

        return self._write("rating", work, local)

    def import_langsmith_feedback(
        self,
        items: Iterable[Any],
        *,
        key: str | None = None,
        score_map: Mapping[Any, float] | Callable[[Any], float] | None = None,
    ) -> int:
        """Import ratings given in LangSmith (``Client.list_feedback(run_ids=...)`` output).

        Each item is a LangSmith ``Feedback`` or a dict with ``run_id``, ``key``, ``score``
        (optionally ``value`` and ``comment``). The rating is stored with source
        ``"langsmith:<key>"``, so importing twice is a no-op. Items about runs the store has
        never seen, and items with neither score nor value, are skipped.

        Args:
            items: the feedback items.
            key: import only feedback with this key (e.g. ``"correctness"``).
            score_map: turns a raw score/value into [0, 1] (a mapping such as
                ``{"good": 1.0, "bad": 0.0}`` or a callable); default: the numeric score
                (``True``/``False`` count as 1/0).

        Returns:
            The number of items stored against a known decision.

        Raises:
            FeedbackError: an item is malformed or its score is outside [0, 1]; nothing from the
                batch is written then.
        """
        from ._langsmith import parse_feedback

        parsed = parse_feedback(items, key=key, score_map=score_map)

        def work(conn: Connection) -> int:
            stored = 0
            for item in parsed:
                try:
                    row = self._resolve(conn, item.run_id)
                except UnknownDecisionError:
                    logger.debug("skipping LangSmith feedback for unknown run %s", item.run_id)
                    continue
                self._upsert_rating(conn, row.decision_id, item.source, item.score, item.comment)
                stored += 1
            return stored

        return self._run(work)

    # ------------------------------------------------------------------ export
    def export_bandit_log(self, *, include_fallbacks: bool = False) -> BanditLog:
        """Rated decisions with a prompt as a logged-bandit data set (see :class:`BanditLog`).

        Args:
            include_fallbacks: also export the decisions a fallback answered, with propensity
                1.0; by default they are left out, since their outcome was not drawn with the
                logged propensity (see :attr:`DecisionRecord.learning_propensity`).
        """
        return bandit_log_from_records(
            self.records(rated_only=True), include_fallbacks=include_fallbacks
        )

    def export_table(self, *, name: str = "feedback") -> RoutingTable:
        """Rated decisions with a prompt as a :class:`~shared.RoutingTable` (long layout).

        Each decision is one row; only the answering model's cell is observed (quality = the
        rating, cost = ``cost_usd``).
        """
        return table_from_records(self.records(rated_only=True), name=name)
