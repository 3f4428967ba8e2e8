"""Conversions between LlamaIndex objects and the framework-free core (private helpers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    ToolCallBlock,
)

__all__ = [
    "chat_to_completion",
    "message_pairs",
    "routing_text",
    "tool_call_ids",
    "usage_from_response",
]

_INPUT_KEYS = ("prompt_tokens", "input_tokens", "prompt_token_count")
_OUTPUT_KEYS = ("completion_tokens", "output_tokens", "candidates_token_count")


def message_pairs(messages: Iterable[ChatMessage]) -> list[tuple[str, str]]:
    """``(role, text)`` pairs; :func:`shared.messages_to_text` maps LlamaIndex's role names
    (``chatbot``, ``model``, ``developer``, ``function``) to the canonical ones itself."""
    out = []
    for message in messages:
        role = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
        out.append((role, message.content or ""))
    return out


def routing_text(messages: Iterable[ChatMessage]) -> str:
    """The text the core routes on (``shared.messages_to_text`` of the role/content pairs)."""
    from shared import messages_to_text

    return messages_to_text(message_pairs(messages))


def _ids_from_tool_calls(items: Any) -> list[str]:
    out: list[str] = []
    if not isinstance(items, (list, tuple)):
        return out
    for item in items:
        ident = item.get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
        if ident is None:
            ident = getattr(item, "tool_id", None)
        if isinstance(ident, str) and ident:
            out.append(ident)
    return out


def tool_call_ids(message: ChatMessage) -> list[str]:
    """Tool-call ids a message emits (assistant) or answers (tool), in order."""
    ids = [
        block.tool_call_id
        for block in message.blocks
        if isinstance(block, ToolCallBlock) and block.tool_call_id
    ]
    ids.extend(_ids_from_tool_calls(message.additional_kwargs.get("tool_calls")))
    answered = message.additional_kwargs.get("tool_call_id")
    if isinstance(answered, str) and answered:
        ids.append(answered)
    return ids


def _as_dict(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dict(dumped) if isinstance(dumped, Mapping) else None
    return None


def usage_from_response(
    response: ChatResponse | CompletionResponse | None,
) -> tuple[int | None, int | None]:
    """Prompt and completion token counts reported by a response, ``None`` when absent.

    Uses the heuristics of LlamaIndex's ``TokenCountingHandler``: ``raw["usage"]`` or
    ``raw["usage_metadata"]``, else ``additional_kwargs``; keys ``prompt_tokens`` /
    ``input_tokens`` / ``prompt_token_count`` and ``completion_tokens`` / ``output_tokens`` /
    ``candidates_token_count``.
    """
    if response is None:
        return None, None
    raw = _as_dict(response.raw) or {}
    usage = _as_dict(raw.get("usage", raw.get("usage_metadata")))
    if not usage:
        usage = dict(response.additional_kwargs)

    def first(keys: Sequence[str]) -> int | None:
        for key in keys:
            value = usage.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
        return None

    return first(_INPUT_KEYS), first(_OUTPUT_KEYS)


def chat_to_completion(response: ChatResponse) -> CompletionResponse:
    """A completion response carrying the text, delta, raw payload and extras of a chat response."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        logprobs=response.logprobs,
        additional_kwargs=dict(response.additional_kwargs),
    )
