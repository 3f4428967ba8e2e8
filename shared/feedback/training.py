"""Retraining from the feedback store in bounded memory: chunked reads, stored embeddings.

A :class:`LogReader` reads the rated decisions of a store in chunks by keyset pagination on the
row id (``WHERE id > :last ORDER BY id LIMIT n``: one short read transaction per chunk, no
``OFFSET``, the same on SQLite and PostgreSQL), with each row's latest rating. A row's stored
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
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    select,
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
    """Rows of one chunk: outcomes, and a stored embedding or the prompt to encode per row."""

    ids: NDArray[np.int64]
    decision_ids: list[str]
    chosen: list[str]
    quality: NDArray[np.float64]
    cost: NDArray[np.float64]
    propensity: NDArray[np.float64]
    preferences: NDArray[np.float64]
    prompts: list[str | None]
    vectors: list[tuple[bytes, str] | None]
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
            groups = conn.execute(
                select(
                    d.model, func.count(), func.count(d.cost_usd), func.min(d.id), func.max(d.id)
                )
                .where(*self._usable)
                .group_by(d.model)
            ).all()
            stored_rows = conn.execute(
                select(d.embedding_encoder, d.embedding_fingerprint, d.embedding_dim, func.count())
                .where(*self._usable, d.embedding.is_not(None))
                .group_by(d.embedding_encoder, d.embedding_fingerprint, d.embedding_dim)
            ).all()
            stored = {(str(e), str(f), int(n)): int(c) for e, f, n, c in stored_rows}
            named = d.metadata["encoder"].as_string()
            recorded_rows = conn.execute(
                select(named, func.count())
                .where(*self._usable, d.embedding.is_(None))
                .group_by(named)
            ).all()
            recorded = {str(e or ""): int(c) for e, c in recorded_rows}
            self._check(TrainingPlan(0, 0, 0, {}, 1.0, stored, recorded))
            rows = sum(int(g[1]) for g in groups)
            if rows == 0:
                return TrainingPlan(0, 0, 0, {}, 1.0, stored, recorded)
            known_all = sum(int(g[2]) for g in groups)
            not_null = d.cost_usd.is_not(None)
            overall = self._median(conn, [not_null], known_all) if known_all else 0.0
            fill: dict[str, float] = {}
            for model, n, known, _, _ in groups:
                if known == n:
                    continue
                where = [not_null, d.model == model]
                fill[str(model)] = self._median(conn, where, int(known)) if known else overall
            filled: ColumnElement[Any] = d.cost_usd
            if fill:
                whens = [
                    (and_(d.cost_usd.is_(None), d.model == m), literal(v)) for m, v in fill.items()
                ]
                filled = case(*whens, else_=d.cost_usd)
            positive = [filled > 0]
            count = conn.execute(select(func.count()).where(*self._usable, *positive)).scalar_one()
            scale = self._quantile(conn, filled, positive, int(count), 0.95)
            return TrainingPlan(
                rows=rows,
                first_id=min(int(g[3]) for g in groups),
                last_id=max(int(g[4]) for g in groups),
                fill_costs=fill,
                cost_scale=scale,
                stored=stored,
                recorded=recorded,
            )

        return self.store._run(work, readonly=True)

    def _quantile(
        self, conn: Connection, expr: ColumnElement[Any], where: list[Any], n: int, q: float
    ) -> float:
        """``calibrate_scale``: numpy's linear quantile of the ``n`` positive values."""
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
        """The usable rows with ``after < id <= upto``, in id order, ``chunk_size`` at a time."""
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
            d.created_at,
            d.model,
            d.chosen_model,
            d.models,
            d.propensity,
            d.preference,
            d.cost_usd,
            latest.label("score"),
            case((self._match, None), else_=d.prompt).label("prompt"),
            case((self._match, d.embedding), else_=None).label("embedding"),
            d.embedding_dtype,
        ]
        last = after
        while True:
            query = select(*columns).where(*self._usable, d.id > last)
            if upto is not None:
                query = query.where(d.id <= upto)
            query = query.order_by(d.id).limit(self.chunk_size)
            rows = self.store._run(functools.partial(_fetch_all, query), readonly=True)
            if not rows:
                return
            last = int(rows[-1].id)
            yield self._chunk(rows)
            if len(rows) < self.chunk_size:
                return

    @staticmethod
    def _chunk(rows: Sequence[Any]) -> LogChunk:
        seen: dict[str, SeenKey] = {}
        for row in rows:
            for pos, name in enumerate((*row.models, row.model)):
                seen.setdefault(name, (row.created_at, int(row.id), pos))
        n = len(rows)
        return LogChunk(
            ids=np.array([r.id for r in rows], dtype=np.int64),
            decision_ids=[r.decision_id for r in rows],
            chosen=[r.model for r in rows],
            quality=np.array([r.score for r in rows], dtype=np.float64),
            cost=np.array([np.nan if r.cost_usd is None else r.cost_usd for r in rows]),
            propensity=np.array(
                [1.0 if r.model != r.chosen_model else r.propensity for r in rows],
                dtype=np.float64,
            ),
            preferences=np.array(
                [[r.preference.get(k, 0.0) for k in _PREF_KEYS] for r in rows], dtype=np.float64
            ).reshape(n, 3),
            prompts=[r.prompt for r in rows],
            vectors=[
                None if r.embedding is None else (bytes(r.embedding), str(r.embedding_dtype))
                for r in rows
            ],
            first_seen=seen,
        )


def _fetch_all(query: Select[Any], conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(query).all()


def embed_chunk(chunk: LogChunk, encoder: PromptEncoder) -> tuple[NDArray[np.float64], int]:
    """The chunk's embeddings (stored ones decoded, the others encoded); and how many were
    encoded."""
    n, dim = len(chunk), int(encoder.dimension)
    X = np.empty((n, dim), dtype=np.float64)
    todo = [i for i, v in enumerate(chunk.vectors) if v is None]
    for dtype in ("float16", "float32"):
        rows = [i for i, v in enumerate(chunk.vectors) if v is not None and v[1] == dtype]
        if rows:
            data = b"".join(chunk.vectors[i][0] for i in rows)  # type: ignore[index]
            X[rows] = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(
                len(rows), dim
            )
    if todo:
        texts = [str(chunk.prompts[i]) for i in todo]
        X[todo] = np.asarray(encoder.encode(texts), dtype=np.float64)
    return X, len(todo)


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
