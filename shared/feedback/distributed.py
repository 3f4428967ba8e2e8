"""Retraining and encoding on a Dask cluster (``pip install 'prefroute[dask]'``).

:func:`fit_ridge_dask` splits the store's rated decisions into partitions by row-id range; each
Dask task opens the store itself, reads its range in chunks, decodes the stored embeddings (or
encodes the prompts that have none) and returns its per-model
:class:`~shared.routers.ridge_stats.RidgeStatistics`; the driver sums them and fits
:class:`~shared.RidgeRouter` exactly as the single-machine streaming fit does. Only the
statistics travel back (``O(K p²)`` per task), never the rows. :func:`encode_dask` encodes a list
of texts (a whole routing table) in partitions the same way, and :class:`DaskEncoding` plugs it
into :func:`~shared.cached_embeddings` (``prefroute evaluate`` / ``assign --engine dask``): a
cache hit contacts no cluster, a miss is encoded on the workers and cached under the same key.

The encoder travels over the Dask connection (cloudpickle), never through a file: either a
*factory* (a picklable callable such as ``functools.partial(HashingEncoder, n_features=384)``) or
an unloaded encoder instance (encoders drop their loaded model when pickled). Each worker
process builds or loads it once, keyed by the factory or by the encoder's class and ``name``,
and keeps it for later tasks. Workers need the store's URL to be reachable from where they run.

Examples:
    The partitions are half-open ``(after, upto]`` ranges of row ids, one Dask task each:

    >>> from shared.feedback.training import TrainingPlan
    >>> TrainingPlan(rows=1000, first_id=1, last_id=1000, fill_costs={}, cost_scale=1.0).id_ranges(4)
    [(0, 250), (250, 500), (500, 750), (750, 1000)]

    On a cluster (``tests/shared/test_feedback_training.py`` and
    ``tests/shared/test_feedback_distributed.py`` run these on a local one)::

        with dask_client("tcp://scheduler:8786") as client:
            result = fit_ridge_dask(RidgeRouter(), store, default_encoder, client=client)
            X = encode_dask(table.prompts, default_encoder(), client=client, progress=True)
        with DaskEncoding("tcp://scheduler:8786") as encode:  # connects on the first miss
            X = cached_embeddings(table.prompts, default_encoder(), encode=encode)
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import ClusterUnavailableError, FeedbackError, InvalidParameterError
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

__all__ = [
    "CONNECT_TIMEOUT",
    "LOCAL_CLUSTER",
    "PARTITION_SIZE",
    "DaskEncoding",
    "dask_client",
    "encode_dask",
    "fit_ridge_dask",
    "import_distributed",
]

logger = logging.getLogger("prefroute.feedback.distributed")

EncoderFactory = Callable[[], "PromptEncoder"]

#: Seconds to wait for the scheduler at ``--scheduler`` before giving up.
CONNECT_TIMEOUT = 10.0

#: Options of the local cluster started when no scheduler is given: single-threaded worker
#: processes (each loads its own copy of the encoder), listening on this machine only.
LOCAL_CLUSTER: dict[str, Any] = {
    "n_workers": 2,
    "threads_per_worker": 1,
    "processes": True,
    "protocol": "tcp",
    "host": "127.0.0.1",
    "dashboard_address": "127.0.0.1:0",
}

#: Default prompts per :func:`encode_dask` task (at least 4 tasks per worker are made).
PARTITION_SIZE = 1024

#: Encoders built on this worker process, by factory or by class and name (kept for later tasks).
_ENCODERS: dict[tuple[str, ...], Any] = {}
_ENCODERS_LOCK = threading.Lock()


def _is_factory(spec: object) -> bool:
    """A class or a callable without the encoder members (a class has them as attributes)."""
    from ..encoders import PromptEncoder

    return isinstance(spec, type) or not isinstance(spec, PromptEncoder)


def _worker_key(spec: object) -> tuple[str, ...]:
    if _is_factory(spec):
        return ("factory", repr(spec))
    cls = type(spec)
    return ("encoder", f"{cls.__module__}.{cls.__qualname__}", str(getattr(spec, "name", "")))


def _build(spec: PromptEncoder | EncoderFactory) -> PromptEncoder:
    """The encoder itself, or the one its factory builds."""
    if _is_factory(spec):
        factory: EncoderFactory = spec  # type: ignore[assignment]
        return factory()
    encoder: PromptEncoder = spec  # type: ignore[assignment]
    return encoder


def _worker_encoder(spec: PromptEncoder | EncoderFactory) -> PromptEncoder:
    """The worker's encoder for ``spec``: built (or first received) once, then reused, so a
    model loads once per worker process, not once per task."""
    key = _worker_key(spec)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = _build(spec)
        encoder: PromptEncoder = _ENCODERS[key]
        return encoder


def _shippable(encoder: PromptEncoder) -> PromptEncoder:
    """What to send to the workers: an in-memory LRU cache in front of the encoder is left on
    the driver (same name and vectors; its entries would only weigh on every task)."""
    from ..encoders import CachedEncoder

    while isinstance(encoder, CachedEncoder):
        encoder = encoder.encoder
    return encoder


def import_distributed() -> Any:
    """The ``distributed`` module.

    Raises:
        InvalidParameterError: it is not installed (the message names the ``dask`` extra).
    """
    try:
        import distributed
    except ImportError as err:
        raise InvalidParameterError(
            "The Dask engine needs dask[distributed]: pip install 'prefroute[dask]'."
        ) from err
    return distributed


def _connect(distributed: Any, scheduler: str, timeout: float) -> Any:
    try:
        return distributed.Client(scheduler, timeout=timeout)
    except ValueError as err:  # e.g. missing port number in address
        raise InvalidParameterError(f"Invalid Dask scheduler address {scheduler!r}: {err}") from err
    except (OSError, TimeoutError) as err:
        raise ClusterUnavailableError(
            f"Cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({err}); "
            "check the address and that the scheduler is running."
        ) from err


@contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    n_workers: int | None = None,
    timeout: float | None = None,
) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, else of a local cluster (closed on exit).

    Args:
        scheduler: ``tcp://host:8786`` (any address ``distributed.Client`` accepts), or ``None``
            for a ``LocalCluster`` with the options of :data:`LOCAL_CLUSTER`.
        n_workers: workers of the local cluster (default: ``LOCAL_CLUSTER["n_workers"]``).
        timeout: seconds to wait for the scheduler (default: :data:`CONNECT_TIMEOUT`).

    Raises:
        InvalidParameterError: dask[distributed] is not installed, or a malformed address.
        ClusterUnavailableError: the scheduler does not answer within ``timeout``.
    """
    distributed = import_distributed()
    if scheduler:
        wait = CONNECT_TIMEOUT if timeout is None else timeout
        with _connect(distributed, scheduler, wait) as client:
            yield client
        return
    options = dict(LOCAL_CLUSTER)
    if n_workers is not None:
        options["n_workers"] = n_workers
    with distributed.LocalCluster(**options) as cluster, distributed.Client(cluster) as client:
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
    distributed = import_distributed()
    ranges = plan.id_ranges(partitions or 4 * _n_workers(client))
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


def _encode_part(spec: PromptEncoder | EncoderFactory, texts: Sequence[str]) -> NDArray[np.float32]:
    """One task: the rows of ``texts`` (runs on a worker, with the worker's encoder)."""
    return np.asarray(_worker_encoder(spec).encode(list(texts)), dtype=np.float32)


def _n_workers(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def encode_dask(
    texts: Sequence[str],
    encoder: PromptEncoder | EncoderFactory,
    *,
    client: Any = None,
    scheduler: str | None = None,
    partitions: int | None = None,
    progress: bool = False,
) -> NDArray[np.float32]:
    """Encode ``texts`` in partitions on Dask workers; rows in the order of ``texts``.

    Each partition is one task; each worker builds (or loads) the encoder once and keeps it for
    its later tasks. The rows equal ``encoder.encode(texts)`` up to the encoder's own batching
    (to float tolerance for MiniLM; exactly for the hashing encoder).

    Args:
        texts: the prompts.
        encoder: an encoder (sent unloaded; an in-memory :class:`~shared.CachedEncoder` wrapper
            stays on the driver) or a picklable factory that builds one on a worker.
        client: a ``distributed.Client``; default: one to ``scheduler``, else a local cluster.
        scheduler: the scheduler address when no client is given.
        partitions: number of slices (default: at least 4 per worker, at most
            :data:`PARTITION_SIZE` prompts each).
        progress: show prompts done, rate and time left on stderr (per finished partition).

    Raises:
        InvalidParameterError: ``partitions < 1``, or what :func:`dask_client` raises.
        ClusterUnavailableError: the scheduler cannot be reached.
        EncoderError: the encoder failed on a worker (raised again here).
    """
    items = list(texts)
    if partitions is not None and (isinstance(partitions, bool) or partitions < 1):
        raise InvalidParameterError(f"partitions must be an int >= 1; got {partitions!r}.")
    if client is None:
        with dask_client(scheduler) as own:
            return encode_dask(items, encoder, client=own, partitions=partitions, progress=progress)
    distributed = import_distributed()
    spec = encoder if _is_factory(encoder) else _shippable(_build(encoder))
    if not items:
        return np.zeros((0, int(_build(spec).dimension)), dtype=np.float32)
    parts = partitions or max(4 * _n_workers(client), math.ceil(len(items) / PARTITION_SIZE))
    bounds = np.linspace(0, len(items), min(parts, len(items)) + 1).round().astype(int)
    slices = [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
    futures = {
        client.submit(_encode_part, spec, items[a:b], pure=False): k
        for k, (a, b) in enumerate(slices)
    }
    blocks: list[NDArray[np.float32]] = [np.zeros((0, 0), dtype=np.float32)] * len(slices)
    from tqdm.auto import tqdm

    with tqdm(
        total=len(items),
        desc=f"encoding on {_n_workers(client)} Dask workers",
        unit=" prompts",
        file=sys.stderr,
        disable=not progress,
        mininterval=1.0,
        dynamic_ncols=True,
    ) as bar:
        for future in distributed.as_completed(futures):
            k = futures[future]
            blocks[k] = future.result()
            bar.update(slices[k][1] - slices[k][0])
    return np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)


class DaskEncoding:
    """Encode the misses of :func:`~shared.cached_embeddings` on a Dask cluster.

    Pass it as ``cached_embeddings(..., encode=...)``: on a cache hit it is never called and no
    cluster is contacted; on a miss it connects (to ``scheduler``, else a new local cluster),
    encodes the texts with :func:`encode_dask`, and the result is cached under the usual key.
    The connection is opened on the first call, kept for the next ones (the parts of a
    :class:`~shared.ConcatEncoder`) and closed by :meth:`close` or the ``with`` block.

    Args:
        scheduler: the scheduler address; ``None`` for a local cluster (:data:`LOCAL_CLUSTER`).
        client: an existing ``distributed.Client`` to use instead (not closed here).
        partitions: as in :func:`encode_dask`.
        progress: show a progress bar while encoding.

    Examples:
        >>> with DaskEncoding("tcp://127.0.0.1:1") as encode:  # never contacted: nothing to do
        ...     encode.client is None
        True
    """

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        client: Any = None,
        partitions: int | None = None,
        progress: bool = True,
    ) -> None:
        self.scheduler = scheduler
        self.partitions = partitions
        self.progress = progress
        self.client: Any = client
        self._owned = client is None
        self._stack = ExitStack()

    def __call__(self, texts: Sequence[str], encoder: PromptEncoder) -> NDArray[np.float32]:
        """Encode ``texts`` with ``encoder`` on the cluster (connecting on the first call)."""
        if self.client is None:
            self.client = self._stack.enter_context(dask_client(self.scheduler))
        return encode_dask(
            texts, encoder, client=self.client, partitions=self.partitions, progress=self.progress
        )

    def close(self) -> None:
        """Close the connection (and the local cluster) this object opened."""
        self._stack.close()
        if self._owned:
            self.client = None

    def __enter__(self) -> DaskEncoding:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
