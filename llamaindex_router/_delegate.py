"""Calling the chosen pool member through the core's fallback loop (private helpers of
``RouterLLM``).

The loop itself, which errors fall back and the routing metadata are the core's
(:class:`shared.serving.Attempts`); this module adds the LlamaIndex glue: every attempt runs inside
instrument tags naming the decision and the member (so the member's own LLM events can be joined
to the decision), each failure is emitted as a :class:`RoutingFallbackEvent`, and streams are
handed back as generators that keep the tags while the member produces its chunks.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import contextmanager
from typing import Any, TypeVar

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse, ToolCallBlock
from llama_index.core.llms.llm import LLM
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import active_instrument_tags

from shared import Decision
from shared.serving import Attempts, BoundedMap

from .events import DECISION_ID_TAG, MODEL_TAG, RoutingFallbackEvent

__all__ = [
    "ToolCallOwners",
    "attempts_for",
    "dispatcher",
    "has_output",
    "member_tags",
    "serve_astream",
    "serve_stream",
    "stream_kwargs",
]

T = TypeVar("T")

dispatcher = get_dispatcher("llamaindex_router")


@contextmanager
def member_tags(decision_id: str, model: str) -> Iterator[None]:
    """Add the decision id and member name to the active instrument tags (kept otherwise)."""
    tags = {**active_instrument_tags.get(), DECISION_ID_TAG: decision_id, MODEL_TAG: model}
    token = active_instrument_tags.set(tags)
    try:
        yield
    finally:
        active_instrument_tags.reset(token)


class ToolCallOwners:
    """Bounded, thread-safe map from tool-call id to the member that emitted the call."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._owners: BoundedMap[str, str] = BoundedMap(maxsize)

    def add(self, ids: Iterable[str], model: str) -> None:
        """Remember that ``model`` emitted the tool calls ``ids``."""
        for ident in ids:
            self._owners[ident] = model

    def get(self, ident: str) -> str | None:
        """The member that emitted ``ident``, if known."""
        return self._owners.get(ident)

    def __len__(self) -> int:
        return len(self._owners)


def _speaks_openai(llm: LLM) -> bool:
    """Whether a member is llama-index's OpenAI client (or a subclass: ``OpenAILike``...)."""
    return any(c.__module__.startswith("llama_index.llms.openai") for c in type(llm).__mro__)


def stream_kwargs(llm: LLM, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Stream kwargs for a member: OpenAI clients are asked for the usage of their stream."""
    extra = getattr(llm, "additional_kwargs", None) or {}
    if _speaks_openai(llm) and "stream_options" not in kwargs and "stream_options" not in extra:
        return {**kwargs, "stream_options": {"include_usage": True}}
    return dict(kwargs)


def attempts_for(decision: Decision, *, sticky: bool, fallback: bool) -> Attempts:
    """The core fallback loop for ``decision``, with member tags and fallback events."""

    def failed(index: int, name: str, err: BaseException) -> None:
        candidates = attempts.candidates
        dispatcher.event(
            RoutingFallbackEvent(
                decision_id=decision.decision_id,
                failed_model=name,
                error=f"{type(err).__name__}: {err}",
                next_model=candidates[index + 1] if index + 1 < len(candidates) else None,
            )
        )

    attempts = Attempts(
        decision,
        sticky=sticky,
        fallback=fallback,
        scope=lambda name: member_tags(decision.decision_id, name),
        on_failure=failed,
    )
    return attempts


def has_output(response: Any) -> bool:
    """Whether a streamed response carries output (text or a tool call), unlike a role chunk."""
    if isinstance(response, ChatResponse):
        message = response.message
        text = response.delta if response.delta is not None else message.content
        if text or message.additional_kwargs.get("tool_calls"):
            return True
        return any(isinstance(block, ToolCallBlock) for block in message.blocks)
    if isinstance(response, CompletionResponse):
        return bool(response.delta if response.delta is not None else response.text)
    return True


def serve_stream(
    attempts: Attempts, call: Callable[[str], Iterable[T]], stamp: Callable[[T], T]
) -> Generator[T, None, None]:
    """Start the stream now (falling back until a member yields a chunk with output) and return
    a generator over every chunk, each passed to ``stamp``."""
    name, head, rest = attempts.stream(call, has_output=has_output)

    def chunks() -> Generator[T, None, None]:
        for chunk in head:
            yield stamp(chunk)
        while True:
            with attempts.scope(name):
                try:
                    chunk = next(rest)
                except StopIteration:
                    return
            yield stamp(chunk)

    return chunks()


async def serve_astream(
    attempts: Attempts,
    call: Callable[[str], Awaitable[AsyncIterator[T]]],
    stamp: Callable[[T], T],
) -> AsyncGenerator[T, None]:
    """Async :func:`serve_stream`."""
    name, head, rest = await attempts.astream(call, has_output=has_output)

    async def chunks() -> AsyncGenerator[T, None]:
        for chunk in head:
            yield stamp(chunk)
        while True:
            with attempts.scope(name):
                try:
                    chunk = await rest.__anext__()
                except StopAsyncIteration:
                    return
            yield stamp(chunk)

    return chunks()
