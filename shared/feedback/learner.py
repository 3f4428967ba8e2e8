"""Learning from ratings while the application runs: one update per rating, or a batch retrain.

:class:`OnlineLearner` turns a rated :class:`DecisionRecord` into ``router.update(...)`` (the
prompt is re-encoded with the application's encoder; wrap it in :class:`~shared.CachedEncoder` so
that a prompt routed a moment ago costs nothing). :meth:`OnlineLearner.retrain` fits a fresh copy of
the router on the store's whole bandit log and swaps it in. Both hold a lock, so request threads
can keep routing with :attr:`OnlineLearner.router` meanwhile.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .._base import BaseRouter
from ..capabilities import (
    ColdStarts,
    FitsBandit,
    LearnsOnline,
    ensure_ready,
    latency_kwargs,
    task_kwargs,
)
from ..exceptions import CapabilityError, FeedbackError
from ..outcomes import PREFERENCE_KEYS, BanditLog
from .records import DecisionRecord

if TYPE_CHECKING:
    from ..encoders import PromptEncoder
    from .store import FeedbackStore

__all__ = ["OnlineLearner", "fill_missing_costs"]

logger = logging.getLogger("prefroute.feedback.learner")


def fill_missing_costs(log: BanditLog) -> NDArray[np.float64]:
    """The log's costs with each unknown (NaN) one replaced by the median known cost of the same
    model (else of all models, else 0.0); see :meth:`BanditLog.filled_cost`.

    Examples:
        >>> import numpy as np
        >>> from shared import BanditLog
        >>> log = BanditLog(prompts=("p", "q", "r"), chosen=("a", "a", "b"),
        ...                 quality=np.ones(3), cost=np.array([0.2, np.nan, np.nan]),
        ...                 propensity=np.ones(3), preferences=np.ones((3, 3)), models=("a", "b"))
        >>> fill_missing_costs(log).tolist()
        [0.2, 0.2, 0.2]
    """
    missing = int(np.isnan(log.cost).sum())
    if missing:
        logger.info("filled %d unknown costs with per-model medians", missing)
    return log.filled_cost()


class OnlineLearner:
    """Feeds rated decisions to a router, one at a time or as a batch, thread-safely.

    Examples:
        >>> from shared import Decision, FeedbackStore, HashingEncoder, OnlineLearner, Preference
        >>> from shared.routers import BaRPRouter
        >>> enc = HashingEncoder(n_features=16)
        >>> store = FeedbackStore("sqlite://")
        >>> learner = OnlineLearner(BaRPRouter(random_state=0), enc, store=store)
        >>> d = Decision(model="a", models=("a", "b"), scores=(0.0, 0.0), propensity=0.5,
        ...              preference=Preference(), ranking=("a", "b"), decision_id="d1")
        >>> _ = store.record_decision(d, prompt="add 2 and 2")
        >>> router = learner.rate("d1", 1.0)  # store the rating, then one online update
        >>> router.models_
        ['a', 'b']

    Args:
        router: the router to train. An unfitted router that has ``initialize(models,
            n_features)`` (ridge, BaRP, bandits) is initialized at the first rating.
        encoder: the prompt encoder the application routes with (same vectors, same router).
        store: the feedback store :meth:`rate` and :meth:`retrain` use by default.
        sync: learn from the ratings *every* replica stores, not only this one's: :meth:`rate`
            stores the rating and then calls :meth:`sync`, which applies, exactly once per
            decision and in rating order, each decision rated since this learner's watermark
            (with its stored embedding when it matches ``encoder``). Call :meth:`sync` every
            few seconds (e.g. :meth:`start_sync`) to pick up the others' ratings.
    """

    #: seconds after which a gap in the rating ids (a transaction that never committed) is given up
    GAP_TIMEOUT = 60.0

    def __init__(
        self,
        router: BaseRouter,
        encoder: PromptEncoder,
        *,
        store: FeedbackStore | None = None,
        sync: bool = False,
    ) -> None:
        self.router = router
        self.encoder = encoder
        self.store = store
        self.sync_enabled = sync
        self._lock = threading.RLock()
        self.n_learned_ = 0
        self._watermark = 0  # every rating id <= it was applied or given up
        self._above: set[int] = set()  # applied rating ids above the watermark
        # decisions learned at a rating id above the watermark: a lower rating id of the same
        # decision may still commit (a concurrent transaction) and become its first row
        self._learned: dict[str, int] = {}
        self._gaps: dict[int, float] = {}  # missing ids above the watermark: first noticed
        self._sync_lock = threading.Lock()
        self._stop: threading.Event | None = None

    def _embed(self, texts: list[str]) -> NDArray[np.float64]:
        return np.asarray(self.encoder.encode(texts), dtype=np.float64)

    def learn(self, record: DecisionRecord) -> BaseRouter:
        """One online update from a rated record; returns the router.

        The update uses :attr:`DecisionRecord.learning_propensity`: the logged propensity, or
        1.0 when a fallback answered instead of the chosen model (a plain regression update).

        Raises:
            FeedbackError: the record has no rating or no prompt.
            CapabilityError: the router cannot learn online (not :class:`~shared.LearnsOnline`).
            NotFittedError: the router is not fitted and cannot cold-start.
        """
        if record.score is None:
            raise FeedbackError(f"Decision {record.decision_id} has no rating to learn from.")
        if record.prompt is None:
            raise FeedbackError(
                f"Decision {record.decision_id} was recorded without its prompt; nothing to "
                "encode. Pass prompt= to record_decision."
            )
        emb = record.embedding
        if emb is not None and emb.matches(self.encoder):
            x = np.asarray(emb.vector, dtype=np.float64)  # stored at decision time: no encoding
        else:
            x = self._embed([record.prompt])[0]
        with self._lock:
            router = ensure_ready(self.router, list(record.models), int(x.shape[0]), online=True)
            assert isinstance(router, LearnsOnline)
            router.update(
                x,
                record.model,
                quality=record.score,
                cost=record.cost_usd,
                propensity=record.learning_propensity,  # 1.0 for a fallback answer
                preference=record.preference,
                **latency_kwargs(router, record.latency_s),
                **task_kwargs(router, record.task),
            )
            self.n_learned_ += 1
        logger.debug(
            "learned decision %s (%s, %.3g)", record.decision_id, record.model, record.score
        )
        return router

    def rate(
        self, key: object, score: float, *, source: str = "user", comment: str | None = None
    ) -> BaseRouter:
        """Store a rating in :attr:`store` and learn from it at once; returns the router.

        Raises:
            FeedbackError: no store was given, or the rating is invalid.
            UnknownDecisionError: the store has no such decision.
        """
        if self.store is None:
            raise FeedbackError("OnlineLearner.rate needs a store: OnlineLearner(..., store=...).")
        record = self.store.rate(key, score, source=source, comment=comment)
        if not self.sync_enabled:
            return self.learn(record)
        self.sync()  # learns this rating (once) together with the other replicas' new ones
        return self.router

    def sync(self, *, limit: int = 1000) -> int:
        """Apply the decisions rated in the store since the watermark; returns how many.

        Each decision is learned once, at the first of its rating rows this learner sees (a
        later rating of the same decision, from another source or a changed value, is not
        learned again online; the batch retrain uses the latest). Rating ids that a concurrent
        transaction has not committed yet are waited for, up to :attr:`GAP_TIMEOUT` seconds; when
        such a lower id commits later for a decision already learned, it is not learned again.

        Raises:
            FeedbackError: no store.
        """
        import time

        if self.store is None:
            raise FeedbackError("OnlineLearner.sync needs a store: OnlineLearner(..., store=...).")
        learned = 0
        with self._sync_lock:
            cursor = self._watermark
            while True:
                page = self.store.ratings_after(cursor, limit=limit)
                for rid, rec in page:
                    if (
                        rec is None
                        or rec.decision_id in self._learned
                        or rec.score is None
                        or rec.prompt is None
                    ):
                        continue
                    self.learn(rec)
                    self._learned[rec.decision_id] = rid
                    learned += 1
                self._advance([rid for rid, _ in page], time.monotonic())
                if len(page) < limit:
                    return learned
                cursor = page[-1][0]  # the next page, even while the watermark waits on a gap

    def _advance(self, present: list[int], now: float) -> None:
        """Mark ``present`` ids applied; move the watermark over applied ids and over gaps
        (ids not committed, or rolled back) older than :attr:`GAP_TIMEOUT`."""
        self._above.update(present)
        top = max(self._above, default=self._watermark)
        for rid in range(self._watermark + 1, top + 1):
            if rid not in self._above:
                self._gaps.setdefault(rid, now)
        while True:
            nxt = self._watermark + 1
            if nxt in self._above:
                self._above.discard(nxt)
            elif nxt in self._gaps and now - self._gaps[nxt] >= self.GAP_TIMEOUT:
                del self._gaps[nxt]
            else:
                break
            self._watermark = nxt
        # a decision's rows at or below the watermark keep it out of later pages
        self._learned = {d: r for d, r in self._learned.items() if r > self._watermark}

    def start_sync(self, interval: float = 2.0) -> threading.Thread:
        """Call :meth:`sync` every ``interval`` seconds in a daemon thread (errors are logged)."""
        self._stop = threading.Event()
        stop = self._stop

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.sync()
                except Exception:  # keep syncing after a transient failure
                    logger.warning("replica sync failed", exc_info=True)

        thread = threading.Thread(target=loop, name="prefroute-sync", daemon=True)
        thread.start()
        return thread

    def stop_sync(self) -> None:
        """Stop the :meth:`start_sync` thread."""
        if self._stop is not None:
            self._stop.set()

    def retrain(self, store: FeedbackStore | None = None) -> BaseRouter:
        """Fit a fresh copy of the router on the store's bandit log and swap it in.

        Uses ``fit_bandit`` when the router has it, otherwise replays every rating through
        ``initialize`` + ``update``. Routing keeps using the old router until the swap.

        Raises:
            FeedbackError: no store, or no rated decision with a prompt.
        """
        source = store if store is not None else self.store
        if source is None:
            raise FeedbackError("retrain needs a store: retrain(store) or OnlineLearner(store=).")
        log = source.export_bandit_log()
        fresh = self.fit_log(self.router.clone(), log)
        with self._lock:
            self.router = fresh
        return fresh

    def fit_log(
        self, router: BaseRouter, log: BanditLog, *, X: NDArray[np.float64] | None = None
    ) -> BaseRouter:
        """Train ``router`` (in place) on a bandit log; returns it.

        Args:
            router: the router to train.
            log: the bandit log.
            X: the prompts' embeddings if already computed (default: encoded here).

        Raises:
            FeedbackError: the log is empty.
            CapabilityError: the router is neither :class:`~shared.FitsBandit` nor
                :class:`~shared.ColdStarts` + :class:`~shared.LearnsOnline`.
        """
        if len(log) == 0:
            raise FeedbackError("The feedback store has no rated decision with a prompt yet.")
        if X is None:
            X = self._embed(list(log.prompts))
        cost = fill_missing_costs(log)
        if isinstance(router, FitsBandit):
            router.fit_bandit(
                X,
                list(log.chosen),
                log.quality,
                cost,
                log.propensity,
                models=list(log.models),
                preferences=log.preferences,
                **latency_kwargs(router, log.latency),
            )
            return router
        if not (isinstance(router, ColdStarts) and isinstance(router, LearnsOnline)):
            raise CapabilityError(
                f"{type(router).__name__} can learn from a bandit log neither with fit_bandit "
                "(FitsBandit) nor by replaying it through update (ColdStarts + LearnsOnline)."
            )
        router.initialize(list(log.models), int(X.shape[1]))
        prefs = log.preferences
        for i in range(len(log)):
            router.update(
                X[i],
                log.chosen[i],
                quality=float(log.quality[i]),
                cost=float(cost[i]),
                propensity=float(log.propensity[i]),
                preference=None if prefs is None else dict(zip(PREFERENCE_KEYS, prefs[i])),
                **latency_kwargs(
                    router,
                    None if log.latency is None or np.isnan(log.latency[i]) else log.latency[i],
                ),
            )
        return router
