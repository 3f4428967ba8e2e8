"""prefroute for LlamaIndex: a routing LLM and a feedback handler.

* :class:`RouterLLM`: a ``FunctionCallingLLM`` over a pool ``{name: LLM}`` that sends each call to
  the member that best fits the call's quality/cost preference (chat, completion, streaming,
  async, tool calling, agents), with fallback to the next candidate.
* :class:`FeedbackEventHandler`: an instrumentation handler that stores each routed call with its
  usage and cost, takes ratings and lets the router learn from them.
* :class:`RoutingDecisionEvent`, :class:`RoutingFallbackEvent`: the router's instrumentation
  events. Test doubles live in :mod:`llamaindex_router.testing`.
"""

from __future__ import annotations

from ._preference import PRESETS, coerce_preference
from .events import DECISION_ID_TAG, MODEL_TAG, RoutingDecisionEvent, RoutingFallbackEvent
from .handler import FeedbackEventHandler
from .llms import PREFERENCE_TAG, TASK_TAG, RouterLLM

__all__ = [
    "DECISION_ID_TAG",
    "MODEL_TAG",
    "PREFERENCE_TAG",
    "PRESETS",
    "TASK_TAG",
    "FeedbackEventHandler",
    "RouterLLM",
    "RoutingDecisionEvent",
    "RoutingFallbackEvent",
    "coerce_preference",
]
