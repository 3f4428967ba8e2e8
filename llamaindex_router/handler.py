"""``FeedbackEventHandler``: store routed calls with usage and cost, take ratings, learn online.

Attach it to LlamaIndex's root instrumentation dispatcher (or let ``router.with_feedback(store)``
do it). For every call of a :class:`~llamaindex_router.RouterLLM` it joins the
:class:`~llamaindex_router.RoutingDecisionEvent` with the serving member's ``LLMChatEndEvent`` (or
``LLMCompletionEndEvent``), through the instrument tags the router adds while the member runs,
and stores through the core's :class:`shared.serving.FeedbackRecorder` (the record path both
adapters share) the decision, the member that answered, the token usage it reported (estimated,
and marked ``metadata["usage_estimated"]``, when it reported none), the cost from the model cards
and the latency. Only the outermost LLM event of the member is counted, so a member whose
``chat`` calls its own ``complete`` is not counted twice. A decision is written when its call
ends (or fails, or is rated first).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)
from pydantic import ConfigDict, PrivateAttr

from shared import Decision, DecisionRecord, FeedbackStore, RoutingEngine
from shared.serving import (
    BoundedMap,
    FeedbackRecorder,
    Outcome,
    RecorderViews,
    estimate_usage,
)

from ._convert import usage_from_response
from .events import DECISION_ID_TAG, MODEL_TAG, RoutingDecisionEvent, RoutingFallbackEvent
from .llms import RouterLLM

__all__ = ["FeedbackEventHandler"]

logger = logging.getLogger("prefroute.llamaindex")

_START = (LLMChatStartEvent, LLMCompletionStartEvent)
_END = (LLMChatEndEvent, LLMCompletionEndEvent)

#: Default number of open calls, request ids and learned decisions kept in memory.
MAX_TRACKED = 10_000


@dataclass
class _Pending:
    """A decision whose call has not ended yet."""

    decision: Decision
    prompt: str
    metadata: dict[str, Any]
    started: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)


def _text_of(response: ChatResponse | CompletionResponse | None) -> str:
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    if isinstance(response, CompletionResponse):
        return response.text or ""
    return ""


class FeedbackEventHandler(RecorderViews, BaseEventHandler):
    """Record routed calls in a feedback store and learn from their ratings.

    Args:
        store: where decisions, outcomes and ratings go; default: an in-memory SQLite store
            (``FeedbackStore("sqlite://")``), lost when the process ends.
        router: the :class:`~llamaindex_router.RouterLLM` (or its :class:`shared.RoutingEngine`)
            whose cards price the calls and whose router learns from ratings; without it, the
            handler binds to the engine of the first routed call it sees.
        learn: update the router online at each rating (each decision is learned from once,
            however often its rating is re-sent).
        request_id_tag: the instrument tag whose value ratings may use instead of a decision
            id (every decision made under the tag is rated).
        max_tracked: how many open calls, request ids and learned decision ids stay in memory.

    Ratings use the id the user sees: the ``decision_id`` of
    ``response.additional_kwargs["routing"]``, or the value of the ``request_id`` instrument tag
    the call ran under (``with instrument_tags({"request_id": "r-1"}): ...``). Older request ids
    than the last ``max_tracked`` are found through the stored metadata. Members must emit
    LlamaIndex's LLM events (every integration decorated with ``llm_chat_callback`` does) for
    their usage to be recorded.

    Examples:
        >>> from llama_index.core.instrumentation import get_dispatcher
        >>> from shared import HashingEncoder
        >>> from llamaindex_router import FeedbackEventHandler, RouterLLM
        >>> from llamaindex_router.testing import MockChatLLM
        >>> router = RouterLLM({"a": MockChatLLM(reply="hi there")},
        ...                    encoder=HashingEncoder(n_features=16))
        >>> handler = FeedbackEventHandler(router=router)
        >>> get_dispatcher().add_event_handler(handler)
        >>> response = router.complete("hello")
        >>> record = handler.rate(response.additional_kwargs["routing"]["decision_id"], 1.0)[0]
        >>> record.model, record.input_tokens, record.output_tokens, record.score
        ('a', 1, 2, 1.0)
        >>> get_dispatcher().event_handlers.remove(handler)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    recorder: FeedbackRecorder
    request_id_tag: str = "request_id"

    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _pending: BoundedMap[str, _Pending] = PrivateAttr()

    def __init__(
        self,
        store: FeedbackStore | None = None,
        *,
        router: RouterLLM | RoutingEngine | None = None,
        learn: bool = True,
        request_id_tag: str = "request_id",
        max_tracked: int | None = None,
    ) -> None:
        engine = router.engine if isinstance(router, RouterLLM) else router
        tracked = MAX_TRACKED if max_tracked is None else max_tracked
        super().__init__(
            recorder=FeedbackRecorder(store, engine=engine, learn=learn, max_tracked=tracked),
            request_id_tag=request_id_tag,
        )
        self._pending = BoundedMap(tracked)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "FeedbackEventHandler"

    # ------------------------------------------------------------------ events
    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Record decisions and the outcome of the member that served each of them."""
        try:
            if isinstance(event, RoutingDecisionEvent):
                self._on_decision(event)
            elif isinstance(event, RoutingFallbackEvent):
                self._on_fallback(event)
            elif isinstance(event, _START + _END):
                decision_id = event.tags.get(DECISION_ID_TAG)
                model = event.tags.get(MODEL_TAG)
                if isinstance(decision_id, str) and isinstance(model, str):
                    if isinstance(event, _START):
                        self._on_start(decision_id, model, event)
                    else:
                        self._on_end(decision_id, model, event)
        except Exception:  # the dispatcher would swallow it silently
            logger.exception("FeedbackEventHandler could not record %s", event.class_name())

    def _on_decision(self, event: RoutingDecisionEvent) -> None:
        if isinstance(event.engine, RoutingEngine):
            self.recorder.bind(event.engine)
        request_id = event.tags.get(self.request_id_tag)
        metadata: dict[str, Any] = {
            "router_name": event.router_name,
            "needs_tools": event.needs_tools,
            "sticky": event.sticky,
        }
        if request_id is not None:
            metadata["request_id"] = str(request_id)
            self.recorder.alias(request_id, event.decision_id)
        self._pending[event.decision_id] = _Pending(event.decision, event.prompt, metadata)

    def _on_fallback(self, event: RoutingFallbackEvent) -> None:
        pending = self._pending.get(event.decision_id)
        if pending is None:
            return
        with self._lock:
            pending.failures.append({"model": event.failed_model, "error": event.error})
        if event.next_model is None:  # every candidate failed
            self._flush(event.decision_id, Outcome(error=event.error))

    def _on_start(self, decision_id: str, model: str, event: BaseEvent) -> None:
        pending = self._pending.get(decision_id)
        if pending is not None:
            with self._lock:  # the first start event of a member is its outermost LLM call
                pending.started.setdefault(model, (event.span_id, event.timestamp))

    def _on_end(self, decision_id: str, model: str, event: BaseEvent) -> None:
        pending = self._pending.get(decision_id)
        started = None if pending is None else pending.started.get(model)
        if pending is None or started is None:  # not a routed call we saw start
            return
        span_id, start = started
        if span_id is not None and event.span_id != span_id:  # a nested LLM event
            return
        response = getattr(event, "response", None)
        if not isinstance(response, ChatResponse | CompletionResponse):
            response = None
        n_in, n_out = usage_from_response(response)
        estimated = n_in is None and n_out is None
        if estimated:
            n_in, n_out = estimate_usage(pending.prompt, _text_of(response))
        outcome = Outcome(
            model=model,
            input_tokens=n_in,
            output_tokens=n_out,
            usage_estimated=estimated,
            latency_s=max((event.timestamp - start).total_seconds(), 0.0),
            fallbacks=[f for f in pending.failures if f["model"] != model],
        )
        self._flush(decision_id, outcome)

    def _flush(self, decision_id: str, outcome: Outcome | None) -> DecisionRecord | None:
        """Write a pending decision (with its outcome when the call ended) through the core."""
        pending = self._pending.pop(decision_id)
        if pending is None:
            return None
        decision = pending.decision
        if outcome is not None and outcome.model is not None and outcome.model != decision.model:
            decision = decision.with_model(outcome.model)
        return self.recorder.record(
            decision, prompt=pending.prompt, metadata=pending.metadata, outcome=outcome
        )

    # ------------------------------------------------------------------ ratings
    def decision_ids(self, request_id: object) -> list[str]:
        """The decisions made under a ``request_id`` tag value, oldest first.

        Recent request ids are answered from memory (the last ``max_tracked``); older ones, or
        ones recorded by another process, by one store query (:meth:`shared.FeedbackStore.find`).
        """
        key = str(request_id)
        known = self.recorder.keys(key)
        if known != [key]:
            return known
        return [r.decision_id for r in self.store.find("request_id", key)]

    def rate(
        self, key: object, score: float, *, source: str = "user", comment: str | None = None
    ) -> list[DecisionRecord]:
        """Rate the answer of a decision, or of every decision of a request, then learn once.

        Args:
            key: a decision id (``response.additional_kwargs["routing"]["decision_id"]``) or a
                ``request_id`` tag value.
            score: quality of the answer in [0, 1].
            source: who rated (one rating per decision and source; the later value wins).
            comment: free text kept with the rating.

        Returns:
            The updated records (one per decision rated).

        Raises:
            FeedbackError: the score is not in [0, 1] (nothing is written).
            UnknownDecisionError: no decision or request has that id.
        """
        text = str(key)
        ids = self.recorder.keys(text)
        if ids == [text] and text not in self._pending:
            try:
                self.store.get(text)
            except KeyError:
                found = self.decision_ids(text)
                ids = found or ids
        for ident in ids:  # a call still running (or whose member emits no events)
            self._flush(ident, None)
        return self.recorder.rate(ids, score, source=source, comment=comment)
