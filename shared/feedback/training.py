"""Retraining from the feedback store in bounded memory: chunked reads, stored embeddings.

A :class:`LogReader` reads the rated decisions of a store in pages of row-id windows
(``WHERE id > :lo AND id <= :lo + n``: a primary-key range scan and one short read transaction
per page, no ``OFFSET``, the same on SQLite and PostgreSQL), with each row's latest rating,
decoded column by column (one ``np.frombuffer`` over a page's embedding bytes). A row's stored
embedding is used when it comes from the training encoder; rows without one are encoded from
their prompt; rows with an embedding of *another* encoder stop the retrain with
:class:`~shared.EncoderMismatchError` (vectors of two encoders are never mixed) unless
``reencode_mismatched`` asks to encode them again.

:func:`fit_ridge_streaming` sums a :class:`~shared.routers.ridge_stats.RidgeStatistics` over the chunks and
fits :class:`~shared.RidgeRouter` from it: memory is ``O(K p²)`` for ``K`` models and ``p``
features plus one chunk, whatever the size of the log, and the router equals the in-memory
``fit_bandit`` on the whole log. The numbers that need the whole log (each model's median cost,
used for the calls whose cost is unknown, and the 95th-percentile cost unit) are computed by the
database first (:meth:`LogReader.plan`). :func:`read_log` loads the whole log in memory instead,
for the routers that need every row (BaRP, the linear bandits).

Examples:
    >>> from shared import Decision, FeedbackStore, HashingEncoder, Preference, RidgeRouter
    >>> from shared.feedback.training import fit_ridge_streaming
    >>> enc = HashingEncoder(n_features=16)
    >>> store = FeedbackStore("sqlite://")
    >>> for i in range(30):
    ...     d = Decision(model="ab"[i % 2], models=("a", "b"), scores=(0.0, 0.0), propensity=1.0,
    ...                  preference=Preference(), ranking=("ab"[i % 2], "ba"[i % 2]))
    ...     _ = store.record_decision(d, prompt=f"prompt {i}")
    ...     _ = store.rate(d.decision_id, (i % 3) / 2)
    >>> result = fit_ridge_streaming(RidgeRouter(alpha=1.0), store, enc, chunk_size=7)
    >>> result.rows, result.encoded, result.router.models_
    (30, 30, ['a', 'b'])
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Row,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    select,
    type_coerce,
)

from ..embedding import encoder_fingerprint
from ..exceptions import EncoderMismatchError, FeedbackError
from ..outcomes import BanditLog
from ._schema import DECISIONS, RATINGS

if TYPE_CHECKING:
    from ..encoders import PromptEncoder
    from ..routers import RidgeRouter
    from ..routers.ridge_stats import RidgeStatistics
    from .store import FeedbackStore

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "LogChunk",
    "LogReader",
    "TrainingPlan",
    "TrainingResult",
    "embed_chunk",
    "fit_ridge_streaming",
    "merge_first_seen",
    "read_log",
    "ridge_needs_rows",
]

logger = logging.getLogger("prefroute.feedback.training")

#: Rows per chunk: one chunk of 384-d float64 embeddings is ~15 MB.
DEFAULT_CHUNK_SIZE = 5000

_PREF_KEYS = ("quality", "cost", "latency")

#: (created_at, id, position in the record) of a model's first appearance: ordering models by it
#: reproduces the pool order of the in-memory export (first seen, oldest record first).
SeenKey = tuple[datetime, int, int]


def merge_first_seen(a: dict[str, SeenKey], b: dict[str, SeenKey]) -> dict[str, SeenKey]:
    """The earlier first-seen key of each model of two partitions."""
    out = dict(a)
    for name, key in b.items():
        if name not in out or key < out[name]:
            out[name] = key
    return out


@dataclass(frozen=True)
class TrainingPlan:
    """What the database says about the log before a chunked pass (see :meth:`LogReader.plan`).

    Attributes:
        rows: usable rated decisions (rated, with a prompt, answered by the chosen model unless
            fallbacks are included).
        first_id: smallest row id among them (0 when empty).
        last_id: largest row id among them.
        fill_costs: the cost used where a call's cost is unknown, per answering model (the
            median known cost of the model, else of all models, else 0).
        cost_scale: the 95th percentile of the positive (filled) costs, the ridge cost unit.
        stored: stored-embedding counts per ``(encoder, fingerprint, dimension)``.
        recorded: among the rows without a stored embedding, counts per encoder name the
            decision recorded (``Decision.encoder``; ``""``: not recorded).
    """

    rows: int
    first_id: int
    last_id: int
    fill_costs: dict[str, float]
    cost_scale: float
    stored: dict[tuple[str, str, int], int] = field(default_factory=dict)
    recorded: dict[str, int] = field(default_factory=dict)

    def mismatched(self, encoder: PromptEncoder) -> dict[str, int]:
        """Rows made with another encoder than ``encoder``, per encoder label."""
        mine = (str(encoder.name), encoder_fingerprint(encoder), int(encoder.dimension))
        out: dict[str, int] = {}
        for (name, fp, dim), count in self.stored.items():
            if (name, fp, dim) != mine:
                label = name if name != mine[0] else f"{name} (dim {dim}, fingerprint {fp})"
                out[label] = out.get(label, 0) + count
        for name, count in self.recorded.items():
            if name and name != mine[0]:
                out[name] = out.get(name, 0) + count
        return out

    @property
    def unknown_encoder(self) -> int:
        """Rows that record no encoder at all (stored by an older prefroute)."""
        return self.recorded.get("", 0)

    def id_ranges(self, parts: int) -> list[tuple[int, int]]:
        """``parts`` half-open ``(after, upto]`` id ranges covering the log (fewer when small)."""
        if self.rows == 0:
            return []
        lo, hi = self.first_id - 1, self.last_id
        parts = max(1, min(parts, self.rows))
        edges = np.linspace(lo, hi, parts + 1).round().astype(np.int64)
        return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


@dataclass
class LogChunk:
    """Rows of one chunk, column by column: outcomes, stored embeddings, prompts to encode.

    Attributes:
        X: the rows' embeddings, decoded from the stored bytes (float64); the rows listed in
            ``missing`` are zeros until :func:`embed_chunk` encodes them.
        missing: positions of the rows without a stored embedding of the training encoder.
        prompts: each row's prompt where it is to be encoded (``None`` where a stored
            embedding is used).
    """

    ids: NDArray[np.int64]
    decision_ids: list[str]
    chosen: list[str]
    quality: NDArray[np.float64]
    cost: NDArray[np.float64]
    propensity: NDArray[np.float64]
    preferences: NDArray[np.float64]
    prompts: list[str | None]
    X: NDArray[np.float64]
    missing: NDArray[np.intp]
    first_seen: dict[str, SeenKey]

    def __len__(self) -> int:
        return len(self.decision_ids)


class LogReader:
    """Reads a store's rated decisions in chunks for one training encoder.

    Args:
        store: the feedback store.
        encoder: the encoder the router is trained with.
        include_fallbacks: also read the decisions a fallback answered (see
            :meth:`FeedbackStore.export_bandit_log`).
        reencode_mismatched: encode again the rows whose stored embedding comes from another
            encoder, instead of raising :class:`~shared.EncoderMismatchError`.
        chunk_size: rows per read.
    """

    def __init__(
        self,
        store: FeedbackStore,
        encoder: PromptEncoder,
        *,
        include_fallbacks: bool = False,
        reencode_mismatched: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise FeedbackError(f"chunk_size must be a positive int, got {chunk_size!r}.")
        self.store = store
        self.encoder = encoder
        self.include_fallbacks = include_fallbacks
        self.reencode_mismatched = reencode_mismatched
        self.chunk_size = chunk_size
        d = DECISIONS.c
        rated = exists().where(RATINGS.c.decision_id == d.decision_id)
        self._usable: list[ColumnElement[bool]] = [d.prompt.is_not(None), rated]
        if not include_fallbacks:
            self._usable.append(d.model == d.chosen_model)
        self._match = and_(
            d.embedding.is_not(None),
            d.embedding_encoder == str(encoder.name),
            d.embedding_fingerprint == encoder_fingerprint(encoder),
            d.embedding_dim == int(encoder.dimension),
        )

    # ------------------------------------------------------------------ plan
    def _order_stat(
        self, conn: Connection, expr: ColumnElement[Any], where: Sequence[Any], offset: int
    ) -> list[float]:
        query = select(expr).where(*self._usable, *where).order_by(expr).limit(2).offset(offset)
        return [float(v) for v in conn.execute(query).scalars()]

    def _median(self, conn: Connection, where: Sequence[Any], known: int) -> float:
        got = self._order_stat(conn, DECISIONS.c.cost_usd, where, (known - 1) // 2)
        return float(np.mean(got[:2])) if known % 2 == 0 else got[0]

    def plan(self) -> TrainingPlan:
        """Count the usable rows, check stored encoders, compute the whole-log cost figures.

        Raises:
            EncoderMismatchError: rows hold embeddings of another encoder (and
                ``reencode_mismatched`` is off).
        """
        d = DECISIONS.c

        def work(conn: Connection) -> TrainingPlan:
            has = d.embedding.is_not(None).label("has")
            keys = (d.model, d.embedding_encoder, d.embedding_fingerprint, d.embedding_dim, has)
            cells = conn.execute(  # one scan: counts per model and per stored encoder
                select(*keys, func.count(), func.count(d.cost_usd), func.min(d.id), func.max(d.id))
                .where(*self._usable)
                .group_by(*keys)
            ).all()
            stored: dict[tuple[str, str, int], int] = {}
            groups: dict[str, list[int]] = {}
            for model, enc, fp, dim, with_vector, n, known, lo, hi in cells:
                if with_vector:
                    key = (str(enc), str(fp), int(dim))
                    stored[key] = stored.get(key, 0) + int(n)
                g = groups.setdefault(str(model), [0, 0, int(lo), int(hi)])
                g[0], g[1] = g[0] + int(n), g[1] + int(known)
                g[2], g[3] = min(g[2], int(lo)), max(g[3], int(hi))
            recorded: dict[str, int] = {}
            if any(not c[4] for c in cells):
                named = d.metadata["encoder"].as_string()
                recorded_rows = conn.execute(
                    select(named, func.count())
                    .where(*self._usable, d.embedding.is_(None))
                    .group_by(named)
                ).all()
                recorded = {str(e or ""): int(c) for e, c in recorded_rows}
            self._check(TrainingPlan(0, 0, 0, {}, 1.0, stored, recorded))
            rows = sum(g[0] for g in groups.values())
            if rows == 0:
                return TrainingPlan(0, 0, 0, {}, 1.0, stored, recorded)
            fill = self._fill_costs(conn, groups)
            filled: ColumnElement[Any] = d.cost_usd
            if fill:
                whens = [
                    (and_(d.cost_usd.is_(None), d.model == m), literal(v)) for m, v in fill.items()
                ]
                filled = case(*whens, else_=d.cost_usd)
            return TrainingPlan(
                rows=rows,
                first_id=min(g[2] for g in groups.values()),
                last_id=max(g[3] for g in groups.values()),
                fill_costs=fill,
                cost_scale=self._quantile(conn, filled, [filled > 0], 0.95),
                stored=stored,
                recorded=recorded,
            )

        return self.store._run(work, readonly=True)

    def _fill_costs(self, conn: Connection, groups: dict[str, list[int]]) -> dict[str, float]:
        """The median known cost of each model with unknown costs (else of all models, else 0).

        PostgreSQL computes every median in one scan (``percentile_cont(0.5)`` per model and
        overall); SQLite reads the middle order statistics per model.
        """
        d = DECISIONS.c
        unknown = [m for m, (n, known, _, _) in groups.items() if known < n]
        if not unknown:
            return {}
        not_null = d.cost_usd.is_not(None)
        known_all = sum(g[1] for g in groups.values())
        if self.store._db.dialect == "postgresql":
            median = func.percentile_cont(0.5).within_group(d.cost_usd)
            found = conn.execute(
                select(d.model, median)
                .where(*self._usable, not_null)
                .group_by(func.rollup(d.model))
            ).all()
            medians = {(None if m is None else str(m)): float(v) for m, v in found}
            overall = medians.get(None, 0.0)
            return {m: medians.get(m, overall) for m in unknown}
        overall = self._median(conn, [not_null], known_all) if known_all else 0.0
        return {
            m: self._median(conn, [not_null, d.model == m], groups[m][1])
            if groups[m][1]
            else overall
            for m in unknown
        }

    def _quantile(
        self, conn: Connection, expr: ColumnElement[Any], where: list[Any], q: float
    ) -> float:
        """``calibrate_scale``: the linear ``q`` quantile of the positive values of ``expr``
        (numpy's; ``percentile_cont`` on PostgreSQL, the same interpolation), 1.0 if none."""
        if self.store._db.dialect == "postgresql":
            found = conn.execute(
                select(func.percentile_cont(q).within_group(expr)).where(*self._usable, *where)
            ).scalar_one()
            return 1.0 if found is None else float(found)
        n = conn.execute(select(func.count()).where(*self._usable, *where)).scalar_one()
        if n == 0:
            return 1.0
        virtual = n * q - q  # numpy's virtual index for method="linear"
        below = math.floor(virtual)
        got = self._order_stat(conn, expr, where, below)
        a, b = got[0], got[-1]
        t = virtual - below
        diff = b - a
        tau = b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
        return tau if tau > 0 else float(b)

    def _check(self, plan: TrainingPlan) -> None:
        others = plan.mismatched(self.encoder)
        if others and not self.reencode_mismatched:
            found = ", ".join(f"{e} ({n} decisions)" for e, n in sorted(others.items()))
            raise EncoderMismatchError(
                f"the store's decisions were made with encoder {found}, not {self.encoder.name}: "
                "a router trained on other embeddings routes badly, and vectors of two encoders "
                "are never mixed. Train with the encoder the application routes with, or encode "
                "those prompts again (reencode_mismatched=True, prefroute train "
                "--reencode-mismatched)."
            )

    # ------------------------------------------------------------------ chunks
    def chunks(self, after: int = 0, upto: int | None = None) -> Iterator[LogChunk]:
        """The usable rows with ``after < id <= upto``, in id order, at most ``chunk_size`` rows
        at a time.

        Each read is one short transaction over an id window ``(lo, lo + chunk_size]`` (a range
        scan of the primary key, whatever the database's statistics say), so a page costs the
        same at the start and at the end of a log of millions of rows.
        """
        d = DECISIONS.c
        latest = (
            select(RATINGS.c.score)
            .where(RATINGS.c.decision_id == d.decision_id)
            .order_by(RATINGS.c.rated_at.desc(), RATINGS.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        columns = [
            d.id,
            d.decision_id,
            # the raw timestamp (no per-row conversion): only each model's first one is kept
            type_coerce(d.created_at, DateTime()).label("created_at"),
            d.model,
            cast(d.models, Text).label("models"),  # parsed once per distinct value
            case((d.model != d.chosen_model, literal(1.0)), else_=d.propensity).label("propensity"),
            cast(d.preference, Text).label("preference"),
            d.cost_usd,
            latest.label("score"),
            case((self._match, None), else_=d.prompt).label("prompt"),
            case((self._match, d.embedding), else_=None).label("embedding"),
            case((self._match, d.embedding_dtype), else_=None).label("dtype"),
        ]
        if upto is None:
            upto = self.store._run(
                lambda conn: int(conn.execute(select(func.max(d.id))).scalar_one() or 0),
                readonly=True,
            )
        dim = int(self.encoder.dimension)

        def read(lo: int, hi: int) -> LogChunk | None:
            query = select(*columns).where(*self._usable, d.id > lo, d.id <= hi).order_by(d.id)
            rows = self.store._run(functools.partial(_fetch_all, query), readonly=True)
            return self._chunk(rows, dim) if rows else None

        # one window read ahead in a thread: the database (and the driver, which releases the
        # GIL while it waits) works on the next page while the caller sums this one
        windows = (
            (lo, min(lo + self.chunk_size, upto)) for lo in range(after, upto, self.chunk_size)
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefroute-read") as pool:
            first = next(windows, None)
            pending = None if first is None else pool.submit(read, *first)
            while pending is not None:
                chunk = pending.result()
                window = next(windows, None)
                pending = None if window is None else pool.submit(read, *window)
                if chunk is not None:
                    yield chunk

    @staticmethod
    def _chunk(rows: Sequence[Any], dim: int) -> LogChunk:
        n = len(rows)
        (ids, decision_ids, created, chosen, models, propensity, preference, cost, score,
         prompts, blobs, dtypes) = (list(col) for col in zip(*rows, strict=True))  # fmt: skip
        X = np.zeros((n, dim), dtype=np.float64)
        missing = np.array([i for i, b in enumerate(blobs) if b is None], dtype=np.intp)
        for dtype in {t for t in dtypes if t is not None}:
            # stored little-endian; one frombuffer over the joined bytes of a dtype's rows
            layout = np.dtype(str(dtype)).newbyteorder("<")
            if dtypes.count(dtype) == n:
                X[:] = np.frombuffer(b"".join(blobs), dtype=layout).reshape(n, dim)
            else:
                at = [i for i, t in enumerate(dtypes) if t == dtype]
                data = b"".join(blobs[i] for i in at)
                X[at] = np.frombuffer(data, dtype=layout).reshape(len(at), dim)
        return LogChunk(
            ids=np.array(ids, dtype=np.int64),
            decision_ids=decision_ids,
            chosen=chosen,
            quality=np.array(score, dtype=np.float64),
            cost=np.array(cost, dtype=np.float64),  # None -> NaN
            propensity=np.array(propensity, dtype=np.float64),
            preferences=_parsed(preference, _preference_row).reshape(n, 3),
            prompts=prompts,
            X=X,
            missing=missing,
            first_seen=_first_seen(ids, created, models, chosen),
        )


def _preference_row(text: str) -> list[float]:
    values = json.loads(text)
    return [float(values.get(k, 0.0)) for k in _PREF_KEYS]


def _parsed(texts: list[str], parse: Callable[[str], list[float]]) -> NDArray[np.float64]:
    """One row of ``parse(text)`` per text, each distinct text parsed once."""
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(t, len(index)) for t in texts), dtype=np.intp, count=len(texts)
    )
    table = np.array([parse(t) for t in index], dtype=np.float64)
    return table[codes] if len(texts) else np.zeros((0, 3))


def _first_seen(
    ids: list[int], created: list[datetime], models: list[str], chosen: list[str]
) -> dict[str, SeenKey]:
    """Each model's first-seen key among the rows: the earliest ``(created_at, id)`` of each
    distinct ``(models, answering model)`` pair, then the model's position in the record."""
    earliest: dict[tuple[str, str], tuple[datetime, int]] = {}
    for pair, first in zip(zip(models, chosen), zip(created, ids)):
        old = earliest.get(pair)
        if old is None or first < old:
            earliest[pair] = first
    seen: dict[str, SeenKey] = {}
    for (names, model), (when, row_id) in earliest.items():
        stamp = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
        for pos, name in enumerate((*json.loads(names), model)):
            key = (stamp, int(row_id), pos)
            if name not in seen or key < seen[name]:
                seen[name] = key
    return seen


def _fetch_all(query: Select[Any], conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(query).all()


def embed_chunk(chunk: LogChunk, encoder: PromptEncoder) -> tuple[NDArray[np.float64], int]:
    """The chunk's embeddings (the stored ones decoded, the others encoded now); and how many
    were encoded."""
    X = chunk.X
    if len(chunk.missing):
        texts = [str(chunk.prompts[i]) for i in chunk.missing]
        X[chunk.missing] = np.asarray(encoder.encode(texts), dtype=np.float64)
    return X, len(chunk.missing)


def filled_costs(chunk: LogChunk, plan: TrainingPlan) -> NDArray[np.float64]:
    """The chunk's costs with the plan's fill value where a cost is unknown."""
    cost = chunk.cost.copy()
    for i in np.flatnonzero(np.isnan(cost)):
        cost[i] = plan.fill_costs.get(chunk.chosen[i], 0.0)
    return cost


def ordered_models(first_seen: dict[str, SeenKey]) -> list[str]:
    """Model names in first-seen order."""
    return [name for name, _ in sorted(first_seen.items(), key=lambda kv: kv[1])]


def ridge_needs_rows(router: RidgeRouter, rows: int, n_features: int) -> bool:
    """Whether ``router`` chooses its penalty on the rows themselves for a log of ``rows`` rows
    (``alpha="cv"`` with at most ``LOO_MAX_ROWS_PER_COLUMN`` rows per design column): such a
    small log is fitted in memory, which is what the statistics cannot reproduce."""
    from ..routers._penalty import LOO_MAX_ROWS_PER_COLUMN

    p = n_features + int(router.fit_intercept)
    return router.alpha == "cv" and rows <= LOO_MAX_ROWS_PER_COLUMN * p


@dataclass(frozen=True)
class TrainingResult:
    """A fitted router and what training read.

    Attributes:
        router: the fitted router.
        rows: rated decisions learned from.
        encoded: of them, how many were encoded (no matching stored embedding).
        models: the router's models.
        answered: the models that answered at least one of the rows.
        engine: ``"stream"``, ``"memory"`` or ``"dask"``.
    """

    router: Any
    rows: int
    encoded: int
    models: tuple[str, ...]
    answered: tuple[str, ...]
    engine: str

    @property
    def reused(self) -> int:
        """Rows whose stored embedding was used."""
        return self.rows - self.encoded


Progress = Callable[[int], None]


def accumulate(
    reader: LogReader,
    plan: TrainingPlan,
    stats: RidgeStatistics,
    *,
    after: int = 0,
    upto: int | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, SeenKey], int]:
    """Add the rows ``after < id <= upto`` to ``stats``; returns first-seen keys, rows encoded."""
    seen: dict[str, SeenKey] = {}
    encoded = 0
    for chunk in reader.chunks(after, upto):
        X, k = embed_chunk(chunk, reader.encoder)
        stats.add(X, chunk.chosen, chunk.quality, filled_costs(chunk, plan))
        seen = merge_first_seen(seen, chunk.first_seen)
        encoded += k
        if progress is not None:
            progress(len(chunk))
    return seen, encoded


def read_log(
    reader: LogReader, *, progress: Progress | None = None
) -> tuple[BanditLog, NDArray[np.float64], int]:
    """The whole usable log in memory: ``(log, X, rows encoded)`` (costs left NaN if unknown)."""
    parts: list[LogChunk] = []
    Xs: list[NDArray[np.float64]] = []
    seen: dict[str, SeenKey] = {}
    encoded = 0
    for chunk in reader.chunks():
        X, k = embed_chunk(chunk, reader.encoder)
        parts.append(chunk)
        Xs.append(X)
        seen = merge_first_seen(seen, chunk.first_seen)
        encoded += k
        if progress is not None:
            progress(len(chunk))
    dim = int(reader.encoder.dimension)
    log = BanditLog(
        prompts=tuple(str(p or "") for c in parts for p in c.prompts),
        chosen=tuple(m for c in parts for m in c.chosen),
        quality=np.concatenate([c.quality for c in parts]) if parts else np.zeros(0),
        cost=np.concatenate([c.cost for c in parts]) if parts else np.zeros(0),
        propensity=np.concatenate([c.propensity for c in parts]) if parts else np.zeros(0),
        preferences=np.vstack([c.preferences for c in parts]) if parts else np.zeros((0, 3)),
        models=tuple(ordered_models(seen)),
        decision_ids=tuple(i for c in parts for i in c.decision_ids),
    )
    X_all = np.vstack(Xs) if Xs else np.zeros((0, dim))
    return log, X_all, encoded


def fit_ridge_streaming(
    router: RidgeRouter,
    store: FeedbackStore,
    encoder: PromptEncoder,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    include_fallbacks: bool = False,
    reencode_mismatched: bool = False,
    progress: Callable[[int], Progress] | None = None,
    plan: TrainingPlan | None = None,
) -> TrainingResult:
    """Fit ``router`` (in place) on the store's rated decisions, one chunk in memory at a time.

    Args:
        router: the ridge router to fit.
        store: the feedback store.
        encoder: the encoder the application routes with.
        chunk_size: rows per read.
        include_fallbacks: also learn from the decisions a fallback answered.
        reencode_mismatched: see :class:`LogReader`.
        progress: called with the number of rows once the plan is known; returns the function
            called with each chunk's row count (e.g. a tqdm bar's ``update``).
        plan: the reader's :meth:`LogReader.plan`, if already computed.

    Raises:
        FeedbackError: no usable rated decision.
        EncoderMismatchError: stored embeddings of another encoder.
    """
    from ..routers.ridge_stats import RidgeStatistics

    reader = LogReader(
        store,
        encoder,
        include_fallbacks=include_fallbacks,
        reencode_mismatched=reencode_mismatched,
        chunk_size=chunk_size,
    )
    plan = reader.plan() if plan is None else plan
    if plan.rows == 0:
        raise FeedbackError("The feedback store has no rated decision with a prompt yet.")
    tick = progress(plan.rows) if progress is not None else None
    if ridge_needs_rows(router, plan.rows, int(encoder.dimension)):
        log, X, encoded = read_log(reader, progress=tick)
        from .learner import fill_missing_costs

        router.fit_bandit(
            X,
            list(log.chosen),
            log.quality,
            fill_missing_costs(log),
            log.propensity,
            models=list(log.models),
            preferences=log.preferences,
        )
        return TrainingResult(
            router, len(log), encoded, tuple(log.models), tuple(sorted(set(log.chosen))), "memory"
        )
    stats = RidgeStatistics(n_features=int(encoder.dimension), fit_intercept=router.fit_intercept)
    seen, encoded = accumulate(reader, plan, stats, progress=tick)
    return finish_ridge(router, stats, seen, plan, encoded, "stream")


def finish_ridge(
    router: RidgeRouter,
    stats: RidgeStatistics,
    seen: dict[str, SeenKey],
    plan: TrainingPlan,
    encoded: int,
    engine: str,
) -> TrainingResult:
    """Fit ``router`` from summed statistics; the result."""
    models = ordered_models(seen)
    router.fit_statistics(stats, models=models, cost_scale=plan.cost_scale)
    return TrainingResult(
        router, stats.rows, encoded, tuple(models), tuple(sorted(stats.heads)), engine
    )
