"""prefroute for LangChain: a routing chat model and a feedback callback handler.

* :class:`RouterChatModel` sends each call to the pool member that best fits the call's
  quality/cost preference (a drop-in ``BaseChatModel``: LCEL, agents, tools, streaming, async).
* :class:`FeedbackCallbackHandler` records each routed call and turns ratings into learning.

Test doubles (offline fake chat models) are in :mod:`langchain_router.testing`.
"""

from __future__ import annotations

from ._preference import CONFIG_KEYS, PRESETS
from .callbacks import FeedbackCallbackHandler
from .chat_models import RouterChatModel

__all__ = ["CONFIG_KEYS", "PRESETS", "FeedbackCallbackHandler", "RouterChatModel"]
