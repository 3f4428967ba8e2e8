"""``FeedbackCallbackHandler``: record every routed call, turn ratings into learning.

Attach the handler to the router (``router.with_feedback(store)``, or
``RouterChatModel(..., callbacks=[FeedbackCallbackHandler(store)])``: a handler created without a
router binds to the router it is given to, or else to the first routed call it sees) or to a call
(``config={"callbacks": [handler]}``). For each call a ``RouterChatModel`` answers, it stores in a
:class:`shared.FeedbackStore` (through the core's :class:`shared.serving.FeedbackRecorder`, the
record path both adapters share):

* the decision (``response_metadata["routing"]``: chosen model, scores, propensity, preference),
  keyed by the LLM run id (a UUID string, as LangSmith shows it) and the decision id;
* the outcome: the member that answered, token usage (estimated, and marked
  ``metadata["usage_estimated"]``, when the member reported none), cost from the model card
  (``card.cost(input_tokens, output_tokens)``), latency, or the error when every member failed;
* the prompt text the router encoded (needed to learn from a rating), and metadata: the user's
  ``metadata["request_id"]``, the root run id of the trace and the parent run id.

:meth:`FeedbackCallbackHandler.rate` accepts any of the ids a user holds: the LLM run id, the
decision id, the returned message's ``id`` (``"lc_run--<run id>-0"``), a ``request_id``, or the
root or parent run id of the call (a whole chain or agent run; every routed call under it is
rated).
Run and decision ids resolve through the store in any process; request and root ids resolve in
the process that recorded the calls. A rating is stored, then (``learn=True``) fed to the
engine's online learner, so the next decisions use it; each decision is learned from once,
however often its rating is re-sent.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from shared import RoutingEngine, messages_to_text
from shared.serving import BoundedMap, FeedbackRecorder, Outcome, RecorderViews, Route

from ._members import DECISION_KEY

if TYPE_CHECKING:
    from shared.feedback import DecisionRecord, FeedbackStore
    from shared.serving import RecordLearner

    from .chat_models import RouterChatModel

__all__ = ["FeedbackCallbackHandler"]

logger = logging.getLogger("prefroute.langchain")

_ROUTER_TYPE = "prefroute-router"
_MESSAGE_ID_PREFIX = "lc_run--"


@dataclass
class _Started:
    started: float
    prompt: str
    route: Route | None
    metadata: dict[str, Any]


def _run_id_of_message_id(key: str) -> str | None:
    """``"lc_run--<uuid>"`` or ``"lc_run--<uuid>-<idx>"`` -> ``"<uuid>"``."""
    if not key.startswith(_MESSAGE_ID_PREFIX):
        return None
    body = key[len(_MESSAGE_ID_PREFIX) :]
    for candidate in (body, body.rsplit("-", 1)[0]):
        try:
            return str(uuid.UUID(candidate))
        except ValueError:
            continue
    return None


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


class FeedbackCallbackHandler(RecorderViews, BaseCallbackHandler):
    """Stores routed calls in a feedback store and learns from their ratings.

    Args:
        store: where decisions, outcomes and ratings go; default: an in-memory SQLite store.
        router: the ``RouterChatModel`` (or its ``RoutingEngine``) whose calls are recorded:
            its cards price the calls and its engine learns from ratings. Without it, the
            handler binds to the router it is given to (``RouterChatModel(callbacks=[...])``)
            or to the engine of the first routed call it sees.
        learn: learn online from each rating (each decision is learned from once).
        learner: learns from rated records instead of the engine (e.g. ``shared.OnlineLearner``).
        max_tracked: how many request / root / parent run ids are remembered for :meth:`rate`,
            and how many learned decision ids are remembered to learn from each once.

    Examples:
        >>> from shared import HashingEncoder
        >>> from langchain_router import FeedbackCallbackHandler, RouterChatModel
        >>> from langchain_router.testing import FakeToolChatModel
        >>> handler = FeedbackCallbackHandler()
        >>> router = RouterChatModel(models={"a": FakeToolChatModel(model_name="a")},
        ...                          encoder=HashingEncoder(n_features=16), callbacks=[handler])
        >>> handler.engine is router.routing_engine
        True
        >>> msg = router.invoke("hi", config={"metadata": {"request_id": "req-1"}})
        >>> [r.score for r in handler.rate("req-1", 0.9)]
        [0.9]
        >>> handler.rate(msg.id, 1.0)[0].model
        'a'
    """

    run_inline: bool = True
    raise_error: bool = False

    def __init__(
        self,
        store: FeedbackStore | None = None,
        *,
        router: RouterChatModel | RoutingEngine | None = None,
        learn: bool = True,
        learner: RecordLearner | None = None,
        max_tracked: int = 100_000,
    ) -> None:
        self.recorder = FeedbackRecorder(
            store, engine=None, learn=learn, learner=learner, max_tracked=max_tracked
        )
        if router is not None:
            self.bind(router)
        self.max_tracked = max_tracked
        self._lock = threading.RLock()
        self._started: dict[uuid.UUID, _Started] = {}
        self._parents: BoundedMap[uuid.UUID, uuid.UUID | None] = BoundedMap(max_tracked)

    # ------------------------------------------------------------------ binding
    def bind(self, router: RouterChatModel | RoutingEngine) -> bool:
        """Price calls and learn with ``router``'s engine, unless bound already.

        Returns:
            Whether the handler is bound to that engine (now or before).
        """
        engine = router if isinstance(router, RoutingEngine) else router.routing_engine
        return self.recorder.bind(engine)

    @property
    def learner(self) -> RecordLearner | None:
        """The learner used instead of the engine, if any."""
        return self.recorder.learner

    # ------------------------------------------------------------------ run tree
    def _track_parent(self, run_id: uuid.UUID, parent_run_id: uuid.UUID | None) -> None:
        self._parents[run_id] = parent_run_id

    def _forget(self, run_id: uuid.UUID) -> None:
        self._parents.pop(run_id)

    def _root_of(self, run_id: uuid.UUID | None) -> uuid.UUID | None:
        root = None
        seen = 0
        while run_id is not None and seen < 1000:
            root, run_id, seen = run_id, self._parents.get(run_id), seen + 1
        return root

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: dict[str, Any] | Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._track_parent(run_id, parent_run_id)

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._track_parent(run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._forget(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._forget(run_id)

    def on_tool_end(self, output: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._forget(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._forget(run_id)

    # ------------------------------------------------------------------ LLM runs
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.get("invocation_params") or {}
        if params.get("_type") != _ROUTER_TYPE:
            return
        meta: dict[str, Any] = {}
        request_id = (metadata or {}).get("request_id")
        if request_id is not None:
            meta["request_id"] = str(request_id)
        if parent_run_id is not None:
            meta["parent_run_id"] = str(parent_run_id)
            meta["root_run_id"] = str(self._root_of(parent_run_id))
        route = params.get(DECISION_KEY)
        if not isinstance(route, Route):
            route = None
        elif route.engine is not None:
            self.recorder.bind(route.engine)  # a handler given without a router
        prompt = route.prompt if route is not None and route.prompt is not None else None
        if prompt is None:
            prompt = messages_to_text(messages[0]) if messages and messages[0] else ""
        started = _Started(started=time.perf_counter(), prompt=prompt, route=route, metadata=meta)
        with self._lock:
            self._started[run_id] = started

    def on_llm_end(self, response: LLMResult, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with self._lock:
            started = self._started.pop(run_id, None)
        if started is None or not response.generations or not response.generations[0]:
            return
        message = getattr(response.generations[0][0], "message", None)
        routing = None if message is None else message.response_metadata.get("routing")
        if not isinstance(routing, Mapping) or started.route is None:
            return
        usage = getattr(message, "usage_metadata", None) or {}
        answered = str(routing["model"])
        decision = started.route.decision
        if answered != decision.model:
            decision = decision.with_model(answered)
        outcome = Outcome(
            model=answered,
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            usage_estimated=bool(routing.get("usage_estimated", False)),
            latency_s=time.perf_counter() - started.started,
            fallbacks=list(routing.get("fallbacks") or []),
        )
        self._record(run_id, decision, started, outcome)

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        with self._lock:
            started = self._started.pop(run_id, None)
        if started is None or started.route is None:
            return
        outcome = Outcome(
            error=f"{type(error).__name__}: {error}",
            latency_s=time.perf_counter() - started.started,
        )
        self._record(run_id, started.route.decision, started, outcome)

    def _record(
        self, run_id: uuid.UUID, decision: Any, started: _Started, outcome: Outcome
    ) -> None:
        route = started.route
        meta = {**started.metadata, "sticky": bool(route is not None and route.sticky)}
        if outcome.model is not None or outcome.error is None:
            meta["fallbacks"] = [dict(f) for f in outcome.fallbacks]
        aliases = [
            started.metadata[k]
            for k in ("request_id", "root_run_id", "parent_run_id")
            if started.metadata.get(k) is not None
        ]
        record = self.recorder.record(
            decision,
            run_id=str(run_id),
            prompt=started.prompt,
            metadata=meta,
            outcome=outcome,
        )
        for alias in aliases:
            self.recorder.alias(alias, record.run_id or record.decision_id)

    # ------------------------------------------------------------------ ratings
    def run_ids(self, key: object) -> list[str]:
        """The recorded LLM run ids (or the store key) that ``key`` refers to."""
        text = str(key)
        keys = self.recorder.keys(text)
        if keys != [text]:
            return keys
        return [_run_id_of_message_id(text) or text]

    def rate(
        self,
        key: object,
        score: float,
        *,
        source: str = "user",
        comment: str | None = None,
        learn: bool | None = None,
    ) -> list[DecisionRecord]:
        """Rate the routed call(s) ``key`` refers to, then learn from the rating.

        Args:
            key: an LLM run id (``uuid.UUID`` or string), a decision id, the answer message's
                ``id``, a ``metadata["request_id"]``, or the root or parent run id of the call.
            score: quality of the answer in [0, 1].
            source: who rated (``"user"``, ``"judge"``...); one rating per decision and source.
            comment: free text kept with the rating.
            learn: override the handler's ``learn`` for this rating.

        Returns:
            The updated records, one per routed call.

        Raises:
            shared.UnknownDecisionError: nothing was recorded under ``key``.
            shared.FeedbackError: invalid score, source or comment (nothing is written).
        """
        return self.recorder.rate(
            self.run_ids(key), score, source=source, comment=comment, learn=learn
        )

    def import_langsmith_feedback(
        self,
        items: Iterable[Any],
        *,
        key: str | None = None,
        score_map: Mapping[Any, float] | Any = None,
        learn: bool | None = None,
    ) -> int:
        """Import LangSmith ratings (``Client.list_feedback(...)``) and learn from them.

        Feedback given on a root run (a whole chain or agent run) recorded by this handler is
        applied to every routed call under it; feedback on the LLM runs themselves is applied
        directly (see ``FeedbackStore.import_langsmith_feedback``).

        Returns:
            The number of ratings stored against a recorded call.
        """
        expanded: list[dict[str, Any]] = []
        for item in items:
            fields = {
                name: _field(item, name) for name in ("run_id", "key", "score", "value", "comment")
            }
            for run in self.run_ids(fields["run_id"]):
                expanded.append({**fields, "run_id": run})
        stored = self.store.import_langsmith_feedback(expanded, key=key, score_map=score_map)
        if self.learn if learn is None else learn:
            for run in dict.fromkeys(item["run_id"] for item in expanded):
                try:
                    record = self.store.get(run)
                except KeyError:
                    continue
                if record.is_rated:
                    self.recorder.learn_once(record)
        return stored

    def learned(self) -> Sequence[str]:
        """Decision ids learned from so far (each decision is learned from once)."""
        return self.recorder.learned()
