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
from ..capabilities import ColdStarts, FitsBandit, LearnsOnline, ensure_ready, latency_kwargs
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
    """

    def __init__(
        self, router: BaseRouter, encoder: PromptEncoder, *, store: FeedbackStore | None = None
    ) -> None:
        self.router = router
        self.encoder = encoder
        self.store = store
        self._lock = threading.RLock()
        self.n_learned_ = 0

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
        return self.learn(self.store.rate(key, score, source=source, comment=comment))

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
