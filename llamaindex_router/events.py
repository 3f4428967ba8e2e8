"""Instrumentation events emitted by :class:`~llamaindex_router.RouterLLM`.

The router emits these through LlamaIndex's instrumentation dispatcher; the pool member it calls
emits the usual ``LLMChatStartEvent``/``LLMChatEndEvent`` pair (the router never emits LLM events
of its own, so token counters see each call once). While a member runs, the router adds two
instrument tags, :data:`DECISION_ID_TAG` and :data:`MODEL_TAG`, so the member's events can be
joined to the decision.

Examples:
    >>> from shared import Decision, Preference
    >>> from llamaindex_router import RoutingDecisionEvent
    >>> d = Decision(model="a", models=("a", "b"), scores=(0.9, 0.1), propensity=1.0,
    ...              preference=Preference(), ranking=("a", "b"), decision_id="d1")
    >>> event = RoutingDecisionEvent(decision=d, prompt="user: hi", router_name="router")
    >>> event.decision_id, event.model
    ('d1', 'a')
    >>> event.model_dump()["routing"]["ranking"]
    ['a', 'b']
"""

from __future__ import annotations

from typing import Any

from llama_index.core.instrumentation.events import BaseEvent
from pydantic import ConfigDict, Field

from shared import Decision

__all__ = [
    "DECISION_ID_TAG",
    "MODEL_TAG",
    "RoutingDecisionEvent",
    "RoutingFallbackEvent",
]

#: Instrument tag carrying the decision id on the events of the member that serves the call.
DECISION_ID_TAG = "prefroute.decision_id"
#: Instrument tag carrying the name of the pool member that runs (the chosen one or a fallback).
MODEL_TAG = "prefroute.model"


class RoutingDecisionEvent(BaseEvent):
    """The router chose a pool member for one call (emitted before the member runs).

    Attributes:
        decision: the core :class:`~shared.Decision` (chosen model, scores, propensity, ranking).
        prompt: the conversation text the decision was made on (``shared.messages_to_text``).
        router_name: the ``model_name`` of the router that decided.
        needs_tools: whether the call carried tools (only tool-capable members were candidates).
        sticky: whether the call was pinned to the member that emitted earlier tool calls.
        engine: the :class:`~shared.RoutingEngine` that decided (not serialized); a feedback
            handler created without a router binds to it on first use.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    decision: Decision = Field(exclude=True)
    prompt: str
    router_name: str
    needs_tools: bool = False
    sticky: bool = False
    engine: Any = Field(default=None, exclude=True)

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialized events."""
        return "RoutingDecisionEvent"

    @property
    def decision_id(self) -> str:
        """The id ratings refer to."""
        return self.decision.decision_id

    @property
    def model(self) -> str:
        """The chosen member."""
        return self.decision.model

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """Serialized event; the decision appears under ``"routing"`` (``Decision.to_dict()``)."""
        data = super().model_dump(**kwargs)
        data["routing"] = self.decision.to_dict()
        return data


class RoutingFallbackEvent(BaseEvent):
    """A pool member failed before producing output; the next candidate will be tried.

    Attributes:
        decision_id: the id of the decision being served.
        failed_model: the member that raised.
        error: ``"ExceptionType: message"`` of the failure.
        next_model: the member tried next, or ``None`` when no candidate is left.
    """

    decision_id: str
    failed_model: str
    error: str
    next_model: str | None = None

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialized events."""
        return "RoutingFallbackEvent"
