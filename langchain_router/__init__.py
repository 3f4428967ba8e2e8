"""prefroute for LangChain: a routing chat model and a feedback callback handler.

* :class:`RouterChatModel` sends each call to the pool member that best fits the call's
  quality/cost preference (a drop-in ``BaseChatModel``: LCEL, agents, tools, streaming, async).
* :class:`FeedbackCallbackHandler` records each routed call and turns ratings into learning.

Test doubles (offline fake chat models) are in :mod:`langchain_router.testing`. Names are
imported lazily, so the ``prefroute`` CLI can register the ``demo`` command without loading
LangChain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "CONFIG_KEYS": "._preference",
    "PRESETS": "._preference",
    "FeedbackCallbackHandler": ".callbacks",
    "RouterChatModel": ".chat_models",
}

__all__ = ["CONFIG_KEYS", "PRESETS", "FeedbackCallbackHandler", "RouterChatModel"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from ._preference import CONFIG_KEYS, PRESETS
    from .callbacks import FeedbackCallbackHandler
    from .chat_models import RouterChatModel
