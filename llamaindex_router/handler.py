"""``FeedbackEventHandler``: store routed calls with usage and cost, take ratings, learn online.

Attach it to LlamaIndex's root instrumentation dispatcher. For every call of a
:class:`~llamaindex_router.RouterLLM` it stores the :class:`~llamaindex_router.RoutingDecisionEvent`
in a :class:`shared.FeedbackStore`, then joins the serving member's ``LLMChatEndEvent`` (or
``LLMCompletionEndEvent``) through the instrument tags the router adds while the member runs, and
stores the member that answered, the token usage it reported, the cost from the model cards and
the latency. Only the outermost LLM event of the member is counted, so a member whose ``chat``
calls its own ``complete`` is not counted twice.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, TypeVar

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

from shared import DecisionRecord, FeedbackStore, RoutingEngine, UnknownDecisionError

from ._convert import usage_from_response
from .events import DECISION_ID_TAG, MODEL_TAG, RoutingDecisionEvent, RoutingFallbackEvent
from .llms import RouterLLM

__all__ = ["FeedbackEventHandler"]

logger = logging.getLogger(__name__)

_START = (LLMChatStartEvent, LLMCompletionStartEvent)
_END = (LLMChatEndEvent, LLMCompletionEndEvent)

#: How many open calls and request ids the handler keeps in memory (oldest dropped first).
MAX_TRACKED = 10_000

_V = TypeVar("_V")


def _remember(table: OrderedDict[str, _V], key: str, default: _V) -> _V:
    """``table.setdefault(key, default)`` that keeps at most ``MAX_TRACKED`` newest keys."""
    if key in table:
        table.move_to_end(key)
        return table[key]
    table[key] = default
    while len(table) > MAX_TRACKED:
        table.popitem(last=False)
    return default


class FeedbackEventHandler(BaseEventHandler):
    """Record routed calls in a feedback store and learn from their ratings.

    Args:
        store: where decisions, outcomes and ratings go; default: an in-memory SQLite store
            (``FeedbackStore("sqlite://")``), lost when the process ends.
        router: the :class:`~llamaindex_router.RouterLLM` (or its :class:`shared.RoutingEngine`)
            whose cards price the calls and whose router learns from ratings.
        learn: update the router online at each rating (needs ``router``).
        request_id_tag: the instrument tag whose value ratings may use instead of a decision
            id (every decision made under the tag is rated).

    Ratings use the id the user sees: the ``decision_id`` of
    ``response.additional_kwargs["routing"]``, or the value of the ``request_id`` instrument tag
    the call ran under (``with instrument_tags({"request_id": "r-1"}): ...``). The handler keeps
    the last ``MAX_TRACKED`` request ids in memory; older ones are found through the stored
    metadata. Members must emit LlamaIndex's LLM events (every integration decorated with
    ``llm_chat_callback`` does) for their usage to be recorded.

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

    store: Any = None
    engine: Any = None
    learn: bool = True
    request_id_tag: str = "request_id"

    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _requests: OrderedDict[str, list[str]] = PrivateAttr(default_factory=OrderedDict)
    _open: OrderedDict[str, dict[str, tuple[str | None, Any]]] = PrivateAttr(
        default_factory=OrderedDict
    )

    def __init__(
        self,
        store: FeedbackStore | None = None,
        *,
        router: RouterLLM | RoutingEngine | None = None,
        learn: bool = True,
        request_id_tag: str = "request_id",
    ) -> None:
        engine = router.engine if isinstance(router, RouterLLM) else router
        super().__init__(
            store=store if store is not None else FeedbackStore("sqlite://"),
            engine=engine,
            learn=learn,
            request_id_tag=request_id_tag,
        )

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
        request_id = event.tags.get(self.request_id_tag)
        metadata: dict[str, Any] = {
            "router_name": event.router_name,
            "needs_tools": event.needs_tools,
            "sticky": event.sticky,
        }
        if request_id is not None:
            metadata["request_id"] = str(request_id)
        self.store.record_decision(event.decision, prompt=event.prompt, metadata=metadata)
        with self._lock:
            _remember(self._open, event.decision_id, {})
            if request_id is not None:
                _remember(self._requests, str(request_id), []).append(event.decision_id)

    def _on_fallback(self, event: RoutingFallbackEvent) -> None:
        if event.next_model is None:  # every candidate failed
            with self._lock:
                self._open.pop(event.decision_id, None)
            self.store.record_outcome(event.decision_id, error=event.error)

    def _on_start(self, decision_id: str, model: str, event: BaseEvent) -> None:
        with self._lock:
            attempts = _remember(self._open, decision_id, {})
            # the first start event of a member is its outermost LLM call
            attempts.setdefault(model, (event.span_id, event.timestamp))

    def _on_end(self, decision_id: str, model: str, event: BaseEvent) -> None:
        with self._lock:
            started = self._open.get(decision_id, {}).get(model)
            if started is None:  # not a routed call we saw start, or already recorded
                return
            span_id, start = started
            if span_id is not None and event.span_id != span_id:  # a nested LLM event
                return
            del self._open[decision_id]
        response = getattr(event, "response", None)
        if not isinstance(response, ChatResponse | CompletionResponse):
            response = None
        input_tokens, output_tokens = usage_from_response(response)
        cost = None
        if self.engine is not None and (input_tokens is not None or output_tokens is not None):
            cost = self.engine.estimate_cost(model, input_tokens or 0, output_tokens or 0)
        self.store.record_outcome(
            decision_id,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            latency_s=max((event.timestamp - start).total_seconds(), 0.0),
        )

    # ------------------------------------------------------------------ ratings
    def decision_ids(self, request_id: object) -> list[str]:
        """The decisions made under a ``request_id`` tag value, oldest first.

        Recent request ids are answered from memory (the last ``MAX_TRACKED``, kept as decisions
        are recorded); older ones, or ones recorded by another process, by one store query
        (:meth:`shared.FeedbackStore.find`).
        """
        key = str(request_id)
        with self._lock:
            known = list(self._requests.get(key, ()))
        if known:
            return known
        return [r.decision_id for r in self.store.find("request_id", key)]

    def rate(
        self, key: object, score: float, *, source: str = "user", comment: str | None = None
    ) -> list[DecisionRecord]:
        """Rate the answer of a decision, or of every decision of a request.

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
            InvalidParameterError: ``learn`` is on and the router cannot learn online (the
                rating is stored).
        """
        try:
            records = [self.store.rate(key, score, source=source, comment=comment)]
        except UnknownDecisionError:
            ids = self.decision_ids(key)
            if not ids:
                raise
            records = [self.store.rate(i, score, source=source, comment=comment) for i in ids]
        if self.learn and self.engine is not None:
            for record in records:
                if record.prompt is None or record.score is None:
                    continue
                self.engine.learn_record(record)
        return records
