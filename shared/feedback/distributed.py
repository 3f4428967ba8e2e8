"""Retraining and encoding on a Dask cluster (``pip install 'prefroute[dask]'``).

:func:`fit_ridge_dask` splits the store's rated decisions into partitions by row-id range; each
Dask task opens the store itself, reads its range in chunks, decodes the stored embeddings (or
encodes the prompts that have none) and returns its per-model
:class:`~shared.routers.ridge_stats.RidgeStatistics`; the driver sums them and fits
:class:`~shared.RidgeRouter` exactly as the single-machine streaming fit does. Only the
statistics travel back (``O(K p²)`` per task), never the rows. :func:`encode_dask` encodes a list
of texts (a whole routing table) in partitions the same way.

The encoder travels as a *factory* (a picklable callable such as
``functools.partial(HashingEncoder, n_features=384)``); each worker process builds it once and
keeps it for later tasks. Workers need the store's URL to be reachable from where they run.

Examples:
    The partitions are half-open ``(after, upto]`` ranges of row ids, one Dask task each:

    >>> from shared.feedback.training import TrainingPlan
    >>> TrainingPlan(rows=1000, first_id=1, last_id=1000, fill_costs={}, cost_scale=1.0).id_ranges(4)
    [(0, 250), (250, 500), (500, 750), (750, 1000)]

    On a cluster (``tests/shared/test_feedback_training.py`` runs this on a local one)::

        with dask_client("tcp://scheduler:8786") as client:
            result = fit_ridge_dask(RidgeRouter(), store, default_encoder, client=client)
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import FeedbackError, InvalidParameterError
from .training import (
    DEFAULT_CHUNK_SIZE,
    LogReader,
    Progress,
    SeenKey,
    TrainingPlan,
    TrainingResult,
    accumulate,
    finish_ridge,
    fit_ridge_streaming,
    merge_first_seen,
    ridge_needs_rows,
)

if TYPE_CHECKING:
    from ..encoders import PromptEncoder
    from ..routers import RidgeRouter
    from ..routers.ridge_stats import RidgeStatistics
    from .store import FeedbackStore

__all__ = ["dask_client", "encode_dask", "fit_ridge_dask"]

logger = logging.getLogger("prefroute.feedback.distributed")

EncoderFactory = Callable[[], "PromptEncoder"]

#: Encoders built on this worker process, by factory (kept for the next tasks).
_ENCODERS: dict[str, Any] = {}
_ENCODERS_LOCK = threading.Lock()


def _worker_encoder(factory: EncoderFactory) -> PromptEncoder:
    key = repr(factory)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = factory()
        encoder: PromptEncoder = _ENCODERS[key]
        return encoder


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - the dask extra is in dev
        raise InvalidParameterError(
            "The Dask engine needs dask[distributed]: pip install 'prefroute[dask]'."
        ) from err
    return distributed


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int = 2) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, else of a local cluster (closed on exit).

    Args:
        scheduler: ``tcp://host:8786`` (any address ``distributed.Client`` accepts), or ``None``
            for a ``LocalCluster`` of ``n_workers`` single-threaded worker processes.
        n_workers: workers of the local cluster.
    """
    distributed = _import_distributed()
    if scheduler:
        with distributed.Client(scheduler) as client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _partition_stats(
    url: str,
    factory: EncoderFactory,
    plan: TrainingPlan,
    after: int,
    upto: int,
    options: dict[str, Any],
    fit_intercept: bool,
) -> tuple[RidgeStatistics, dict[str, SeenKey], int]:
    """One task: the statistics of the rows ``after < id <= upto`` (runs on a worker)."""
    from ..routers.ridge_stats import RidgeStatistics
    from .store import FeedbackStore

    encoder = _worker_encoder(factory)
    stats = RidgeStatistics(n_features=int(encoder.dimension), fit_intercept=fit_intercept)
    with FeedbackStore(url) as store:
        reader = LogReader(store, encoder, **options)
        seen, encoded = accumulate(reader, plan, stats, after=after, upto=upto)
    return stats, seen, encoded


def fit_ridge_dask(
    router: RidgeRouter,
    store: FeedbackStore,
    encoder_factory: EncoderFactory,
    *,
    client: Any = None,
    scheduler: str | None = None,
    partitions: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    include_fallbacks: bool = False,
    reencode_mismatched: bool = False,
    progress: Callable[[int], Progress] | None = None,
    plan: TrainingPlan | None = None,
) -> TrainingResult:
    """Fit ``router`` (in place) on the store's rated decisions, partitions on Dask workers.

    Args:
        router: the ridge router to fit.
        store: the feedback store (its URL, with the password, is sent to the workers).
        encoder_factory: builds the encoder on a worker (picklable, e.g. a class or a
            ``functools.partial``).
        client: a ``distributed.Client``; default: one to ``scheduler``, else a local cluster.
        scheduler: the scheduler address when no client is given.
        partitions: number of row-id ranges (default: 4 per worker).
        chunk_size: rows per read within a partition.
        include_fallbacks: also learn from the decisions a fallback answered.
        reencode_mismatched: see :class:`~shared.feedback.training.LogReader`.
        progress: as in :func:`~shared.feedback.training.fit_ridge_streaming` (ticked per
            finished partition with its row count).
        plan: the driver's :meth:`~shared.feedback.training.LogReader.plan`, if computed.

    Raises:
        FeedbackError: no usable rated decision.
        EncoderMismatchError: stored embeddings of another encoder (checked before any task).
    """
    encoder = encoder_factory()
    options: dict[str, Any] = {
        "include_fallbacks": include_fallbacks,
        "reencode_mismatched": reencode_mismatched,
        "chunk_size": chunk_size,
    }
    if plan is None:
        plan = LogReader(store, encoder, **options).plan()
    if plan.rows == 0:
        raise FeedbackError("The feedback store has no rated decision with a prompt yet.")
    if ridge_needs_rows(router, plan.rows, int(encoder.dimension)):
        logger.info("%d rows: small enough to fit in memory on the driver", plan.rows)
        return fit_ridge_streaming(router, store, encoder, progress=progress, plan=plan, **options)
    if client is None:
        with dask_client(scheduler) as own:
            return _fit_on(own, router, store, encoder_factory, plan, partitions, options, progress)
    return _fit_on(client, router, store, encoder_factory, plan, partitions, options, progress)


def _fit_on(
    client: Any,
    router: RidgeRouter,
    store: FeedbackStore,
    factory: EncoderFactory,
    plan: TrainingPlan,
    partitions: int | None,
    options: dict[str, Any],
    progress: Callable[[int], Progress] | None,
) -> TrainingResult:
    distributed = _import_distributed()
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    ranges = plan.id_ranges(partitions or 4 * n_workers)
    url = store._db.url.render_as_string(hide_password=False)
    futures = [
        client.submit(
            _partition_stats, url, factory, plan, a, b, options, router.fit_intercept, pure=False
        )
        for a, b in ranges
    ]
    tick = progress(plan.rows) if progress is not None else None
    total: RidgeStatistics | None = None
    seen: dict[str, SeenKey] = {}
    encoded = 0
    for future in distributed.as_completed(futures):
        stats, part_seen, part_encoded = future.result()
        total = stats if total is None else _add(total, stats)
        seen = merge_first_seen(seen, part_seen)
        encoded += part_encoded
        if tick is not None:
            tick(stats.rows)
    assert total is not None  # plan.rows > 0: at least one partition
    return finish_ridge(router, total, seen, plan, encoded, "dask")


def _add(total: RidgeStatistics, part: RidgeStatistics) -> RidgeStatistics:
    total += part
    return total


def _encode_part(factory: EncoderFactory, texts: Sequence[str]) -> NDArray[np.float32]:
    return np.asarray(_worker_encoder(factory).encode(list(texts)), dtype=np.float32)


def encode_dask(
    texts: Sequence[str],
    encoder_factory: EncoderFactory,
    *,
    client: Any = None,
    scheduler: str | None = None,
    partitions: int | None = None,
) -> NDArray[np.float32]:
    """Encode ``texts`` in partitions on Dask workers; rows in the order of ``texts``.

    Args:
        texts: the prompts.
        encoder_factory: builds the encoder on a worker.
        client: a ``distributed.Client``; default: one to ``scheduler``, else a local cluster.
        scheduler: the scheduler address when no client is given.
        partitions: number of slices (default: 4 per worker).
    """
    items = list(texts)
    if client is None:
        with dask_client(scheduler) as own:
            return encode_dask(items, encoder_factory, client=own, partitions=partitions)
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = max(1, min(partitions or 4 * n_workers, len(items) or 1))
    bounds = np.linspace(0, len(items), parts + 1).round().astype(int)
    futures = [
        client.submit(_encode_part, encoder_factory, items[a:b], pure=False)
        for a, b in itertools.pairwise(bounds)
        if b > a
    ]
    blocks = client.gather(futures)
    if not blocks:
        return np.zeros((0, int(encoder_factory().dimension)), dtype=np.float32)
    return np.vstack(blocks)
