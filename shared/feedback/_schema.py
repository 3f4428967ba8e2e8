"""SQLAlchemy schema of the feedback store, its prepared statements, rows to records (private).

Two tables:

* ``prefroute_decisions``: one row per routing decision (unique ``decision_id``; ``run_id``
  unique when set) with the decision, the prompt, the prompt's embedding (optional: bytes plus
  encoder name, fingerprint, dimension and dtype) and the outcome of the call.
* ``prefroute_ratings``: one row per (decision, rating source), unique on that pair, so a
  repeated rating is an upsert and never a second row.

The statements of the hot paths are built once here (SQLAlchemy caches their compiled form).

Schema changes are additive: :func:`migrate` adds the columns a store created by an older
version lacks (nullable, so ``ALTER TABLE ... ADD COLUMN`` is instant on both databases).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from ..embedding import PromptEmbedding
from .records import DecisionRecord

__all__ = [
    "BY_ID",
    "BY_KEY",
    "DECISIONS",
    "EMBEDDING_COLUMNS",
    "METADATA",
    "RATINGS",
    "RATINGS_OF",
    "embedding_of",
    "embedding_values",
    "escape_json",
    "escape_text",
    "migrate",
    "rating_upsert",
    "to_record",
]


_SURROGATES = re.compile("[\ud800-\udfff]")


def escape_text(text: str, dialect: str, *, in_json: bool = False) -> str:
    """``text`` as the database can store it: as given, except lone surrogates (no database
    can encode them) and NUL characters in PostgreSQL text or in any JSON document (where
    they break text comparison and extraction), which become the six characters ``\\uXXXX``.

    Examples:
        >>> escape_text("a" + chr(0) + "b" + chr(0xD800), "postgresql")
        'a\\\\u0000b\\\\ud800'
        >>> escape_text("a" + chr(0), "sqlite") == "a" + chr(0)
        True
    """
    if (in_json or dialect == "postgresql") and "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    if not text.isascii() and _SURROGATES.search(text):
        text = _SURROGATES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def escape_json(value: Any, dialect: str) -> Any:
    """Every string (keys too) of a JSON document escaped with :func:`escape_text`.

    A PostgreSQL ``json`` value holding ``\\u0000`` or a lone surrogate breaks every query that
    extracts from the column, for all rows; this keeps look-ups working.
    """
    if isinstance(value, str):
        return escape_text(value, dialect, in_json=True)
    if isinstance(value, dict):
        return {
            escape_text(str(k), dialect, in_json=True): escape_json(v, dialect)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [escape_json(v, dialect) for v in value]
    return value


class SafeText(TypeDecorator[str]):
    """Text stored with :func:`escape_text` applied."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else escape_text(value, dialect.name)


class SafeString(TypeDecorator[str]):
    """A bounded string stored with :func:`escape_text` applied."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else escape_text(value, dialect.name)


class SafeJSON(TypeDecorator[Any]):
    """JSON stored with :func:`escape_json` applied."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else escape_json(value, dialect.name)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (also on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


METADATA = MetaData()

DECISIONS = Table(
    "prefroute_decisions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", SafeString(64), nullable=False, unique=True),
    Column("run_id", SafeString(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("router", SafeString(128), nullable=False, default=""),
    Column("chosen_model", SafeString(256), nullable=False),
    Column("model", SafeString(256), nullable=False),
    Column("models", SafeJSON, nullable=False),
    Column("propensity", Float, nullable=False),
    Column("preference", SafeJSON, nullable=False),
    Column("prompt", SafeText, nullable=True),
    Column("scores", SafeJSON, nullable=False),
    Column("fallbacks", SafeJSON, nullable=False),
    Column("predictions", SafeJSON, nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("cost_usd", Float, nullable=True),
    Column("latency_s", Float, nullable=True),
    Column("error", SafeText, nullable=True),
    Column("outcome_at", UTCDateTime(), nullable=True),
    Column("metadata", SafeJSON, nullable=True),
    Column("embedding", LargeBinary, nullable=True),
    Column("embedding_encoder", String(256), nullable=True),
    Column("embedding_fingerprint", String(64), nullable=True),
    Column("embedding_dim", Integer, nullable=True),
    Column("embedding_dtype", String(8), nullable=True),
    Index("ix_prefroute_decisions_run_id", "run_id", unique=True),
    Index("ix_prefroute_decisions_created_at", "created_at"),
)

RATINGS = Table(
    "prefroute_ratings",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "decision_id",
        SafeString(64),
        ForeignKey("prefroute_decisions.decision_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source", SafeString(128), nullable=False),
    Column("score", Float, nullable=False),
    Column("comment", SafeText, nullable=True),
    Column("rated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("decision_id", "source", name="uq_prefroute_ratings_decision_source"),
    Index("ix_prefroute_ratings_rated_at", "rated_at"),
)


#: Columns added after the first release, with their SQL types: :func:`migrate` adds them.
EMBEDDING_COLUMNS = {
    "embedding": {"postgresql": "BYTEA", "sqlite": "BLOB"},
    "embedding_encoder": {"postgresql": "VARCHAR(256)", "sqlite": "VARCHAR(256)"},
    "embedding_fingerprint": {"postgresql": "VARCHAR(64)", "sqlite": "VARCHAR(64)"},
    "embedding_dim": {"postgresql": "INTEGER", "sqlite": "INTEGER"},
    "embedding_dtype": {"postgresql": "VARCHAR(8)", "sqlite": "VARCHAR(8)"},
}


def migrate(conn: Connection) -> list[str]:
    """Add the columns an older store lacks; returns their names (nothing to do: ``[]``).

    Safe to run from several processes at once: PostgreSQL uses ``ADD COLUMN IF NOT EXISTS``;
    SQLite serializes schema changes under its write lock.
    """
    dialect = conn.dialect.name
    present = {c["name"] for c in inspect(conn).get_columns(DECISIONS.name)}
    added = []
    for name, types in EMBEDDING_COLUMNS.items():
        if name in present:
            continue
        guard = " IF NOT EXISTS" if dialect == "postgresql" else ""
        conn.execute(
            text(f"ALTER TABLE {DECISIONS.name} ADD COLUMN{guard} {name} {types[dialect]}")
        )
        added.append(name)
    return added


def embedding_values(embedding: PromptEmbedding | None, dtype: str | None) -> dict[str, Any]:
    """The embedding columns of a decision row (all ``None`` when not stored)."""
    if embedding is None or dtype is None:
        return dict.fromkeys(EMBEDDING_COLUMNS)
    return {
        "embedding": embedding.to_bytes(dtype),
        "embedding_encoder": embedding.encoder,
        "embedding_fingerprint": embedding.fingerprint,
        "embedding_dim": embedding.dimension,
        "embedding_dtype": dtype,
    }


def embedding_of(row: Row[Any]) -> PromptEmbedding | None:
    """The stored embedding of a decision row, if any."""
    m = row._mapping
    data = m["embedding"]
    if data is None:
        return None
    return PromptEmbedding.from_bytes(
        bytes(data),
        encoder=str(m["embedding_encoder"]),
        dimension=int(m["embedding_dim"]),
        dtype=str(m["embedding_dtype"]),
        fingerprint=str(m["embedding_fingerprint"]),
    )


# Statements built once (their compiled form is cached by SQLAlchemy).
BY_KEY = select(DECISIONS).where(
    or_(
        DECISIONS.c.decision_id.in_(bindparam("keys", expanding=True)),
        DECISIONS.c.run_id.in_(bindparam("keys", expanding=True)),
    )
)
BY_ID = select(DECISIONS).where(DECISIONS.c.decision_id == bindparam("id"))
RATINGS_OF = (
    select(RATINGS)
    .where(RATINGS.c.decision_id.in_(bindparam("ids", expanding=True)))
    .order_by(RATINGS.c.rated_at, RATINGS.c.id)
)


def rating_upsert(insert: Callable[..., Any]) -> Any:
    """INSERT a rating; on (decision, source) conflict take the new value if it differs."""
    ins = insert(RATINGS)
    return ins.on_conflict_do_update(
        index_elements=[RATINGS.c.decision_id, RATINGS.c.source],
        set_={
            "score": ins.excluded.score,
            "comment": ins.excluded.comment,
            "rated_at": ins.excluded.rated_at,
        },
        where=or_(
            RATINGS.c.score != ins.excluded.score,
            RATINGS.c.comment.is_distinct_from(ins.excluded.comment),
        ),
    )


def to_record(row: Row[Any], ratings: Sequence[Row[Any]]) -> DecisionRecord:
    """The record of a decision row and its rating rows."""
    latest = max(ratings, key=lambda r: (r.rated_at, r.id)) if ratings else None
    return DecisionRecord(
        decision_id=row.decision_id,
        run_id=row.run_id,
        model=row.model,
        chosen_model=row.chosen_model,
        models=tuple(row.models),
        propensity=float(row.propensity),
        preference={str(k): float(v) for k, v in row.preference.items()},
        router=row.router,
        prompt=row.prompt,
        scores={str(k): math.nan if v is None else float(v) for k, v in row.scores.items()},
        fallbacks=tuple(row.fallbacks),
        created_at=row.created_at,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
        latency_s=row.latency_s,
        error=row.error,
        score=None if latest is None else float(latest.score),
        rating_source=None if latest is None else latest.source,
        comment=None if latest is None else latest.comment,
        ratings={r.source: float(r.score) for r in ratings},
        rated_at=None if latest is None else latest.rated_at,
        metadata=dict(row._mapping["metadata"] or {}),
        embedding=embedding_of(row),
    )
