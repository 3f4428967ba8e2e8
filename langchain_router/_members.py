"""Plumbing between the router and its pool members (no routing decisions are made here).

* :func:`default_card`: a zero-price :class:`~shared.ModelCard` whose capabilities are read from
  the member (does it implement ``bind_tools``? what does its ``profile`` say?).
* :func:`member_kwargs`: the router's call kwargs translated for one member (tools formatted by the
  member's own ``bind_tools``; router-only keys removed).
* :func:`sticky_member`: the member that answered the previous assistant turn, if the history says.
* :func:`generate` / :func:`member_chunks` and their async forms: call a member's protected
  methods inside the router's own LLM run (one run per call, usage reported once); a member that
  cannot stream answers as one final chunk.
* :func:`finish_result` / :func:`stamp_chunk` / :class:`UsageTracker`: the
  ``response_metadata["routing"]`` of an answer (the core's layout), the tracing identity of the
  member that answered, and estimated usage when a member reports none.

The fallback loop itself is the core's :class:`shared.serving.Attempts`.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableBinding

from shared import EmptyStreamError, ModelCard
from shared.serving import Attempts, estimate_usage

logger = logging.getLogger("prefroute.langchain")

__all__ = [
    "DECISION_KEY",
    "GATEWAY_KEY",
    "ROUTER_ONLY_KEYS",
    "TOOL_KWARGS_KEY",
    "UsageTracker",
    "agenerate",
    "default_card",
    "finish_result",
    "generate",
    "has_output",
    "intersect_profiles",
    "member_achunks",
    "member_chunks",
    "member_kwargs",
    "message_to_chunk",
    "stamp_chunk",
    "sticky_member",
    "streams_natively",
]

#: Call kwarg carrying the :class:`shared.serving.Route` (the ``Decision`` object) from ``invoke``
#: to ``_generate``/``_stream`` and, in the invocation params, to the feedback handler.
DECISION_KEY = "router_decision"
#: ``generation_info`` key whose ``{"model", "provider"}`` langchain-core's tracer promotes to the
#: run's ``ls_model_name``/``ls_provider`` (1.7.x and 1.8.x): the member that answered names the run.
GATEWAY_KEY = "lc_gateway_metadata"
#: Call kwarg carrying the extra keyword arguments given to ``bind_tools``.
TOOL_KWARGS_KEY = "bind_tools_kwargs"
#: Kwargs meant for the router, never forwarded to a member.
ROUTER_ONLY_KEYS = frozenset({"model", "preference", DECISION_KEY, TOOL_KWARGS_KEY})


def _overrides(member: BaseChatModel, name: str) -> bool:
    return getattr(type(member), name, None) is not getattr(BaseChatModel, name)


def default_card(name: str, member: BaseChatModel) -> ModelCard:
    """A zero-price card for ``member``; capabilities from its ``profile`` or its overrides."""
    profile: Mapping[str, Any] = member.profile or {}
    tools = bool(profile.get("tool_calling", _overrides(member, "bind_tools")))
    structured = bool(
        profile.get("structured_output", tools or _overrides(member, "with_structured_output"))
    )
    window = profile.get("max_input_tokens")
    return ModelCard(
        name,
        supports_tools=tools,
        supports_structured_output=structured,
        context_window=window if isinstance(window, int) and window > 0 else None,
    )


def intersect_profiles(profiles: Sequence[Mapping[str, Any] | None]) -> ModelProfile | None:
    """The pool's profile: smallest limits, capabilities every member has; ``None`` if unknown."""
    if not profiles or any(p is None for p in profiles):
        return None
    known = [dict(p or {}) for p in profiles]
    merged: dict[str, Any] = {}
    for name in sorted(set.intersection(*(set(p) for p in known))):
        values = [p[name] for p in known]
        if all(isinstance(v, bool) for v in values):
            merged[name] = all(values)
        elif all(isinstance(v, int) for v in values):
            merged[name] = min(values)
    return cast("ModelProfile", merged) if merged else None


def streams_natively(member: BaseChatModel, *, async_api: bool, tools: bool) -> bool:
    """Whether ``member`` implements streaming and has not disabled it for this call."""
    sync = _overrides(member, "_stream")
    if not (sync or (async_api and _overrides(member, "_astream"))):
        return False
    disabled = member.disable_streaming
    return not (disabled is True or (disabled == "tool_calling" and tools))


@lru_cache(maxsize=256)
def _accepts_run_manager(method: Callable[..., Any]) -> bool:
    return "run_manager" in inspect.signature(method).parameters


@lru_cache(maxsize=256)
def _accepts_stream_usage(method: Callable[..., Any]) -> bool:
    return "stream_usage" in inspect.signature(method).parameters


def _with_stream_usage(member: BaseChatModel, name: str, call: dict[str, Any]) -> dict[str, Any]:
    """Ask a member that supports it for the usage of its stream: ``stream_usage=True`` when its
    ``_stream`` declares the keyword or it has a ``stream_usage`` field (``ChatOpenAI``)."""
    if "stream_usage" in call:
        return call
    if "stream_usage" in type(member).model_fields or _accepts_stream_usage(
        getattr(type(member), name)
    ):
        return {**call, "stream_usage": True}
    return call


def has_output(chunk: ChatGenerationChunk) -> bool:
    """Whether a streamed chunk carries output (text or a tool call), unlike a role chunk."""
    message = chunk.message
    if chunk.text or getattr(message, "tool_call_chunks", None):
        return True
    extra = message.additional_kwargs
    return bool(extra.get("tool_calls") or extra.get("function_call"))


def _answer(result: ChatResult, member: BaseChatModel) -> ChatResult:
    if not result.generations:  # e.g. an OpenAI response with no choices
        raise EmptyStreamError(f"{type(member).__name__} returned no generation")
    return result


def accepts_run_manager(member: BaseChatModel, name: str) -> bool:
    """Whether the member's ``_generate``/``_agenerate`` declares ``run_manager`` (as core checks)."""
    return _accepts_run_manager(getattr(type(member), name))


def member_kwargs(member: BaseChatModel, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The call kwargs for ``member``: tools formatted by ``member.bind_tools``, router keys dropped."""
    out = {k: v for k, v in kwargs.items() if k not in ROUTER_ONLY_KEYS}
    tools = out.pop("tools", None)
    tool_choice = out.pop("tool_choice", None)
    if tools:
        extra = dict(kwargs.get(TOOL_KWARGS_KEY) or {})
        if tool_choice is not None:
            extra["tool_choice"] = tool_choice
        bound = member.bind_tools(list(tools), **extra)
        if isinstance(bound, RunnableBinding):
            out = {**bound.kwargs, **out}
    return out


def sticky_member(
    messages: Sequence[BaseMessage], resolve: Callable[[str], str | None]
) -> str | None:
    """The member that wrote the last assistant turn, if the history identifies one.

    ``response_metadata["routing"]["model"]`` (stamped by the router) is used first; when the
    history holds tool results, ``response_metadata["model_name"]`` identifies the member too.
    ``resolve`` maps a name to a member key (``None`` when it names no member).
    """
    has_tool_results = any(isinstance(m, ToolMessage) for m in messages)
    for message in reversed(messages):
        if not isinstance(message, AIMessage):
            continue
        routing = message.response_metadata.get("routing")
        if isinstance(routing, Mapping) and isinstance(routing.get("model"), str):
            key = resolve(routing["model"])
            if key is not None:
                return key
        name = message.response_metadata.get("model_name")
        if has_tool_results and isinstance(name, str):
            return resolve(name)
        return None
    return None


def message_to_chunk(generation: ChatGeneration) -> ChatGenerationChunk:
    """One complete generation as a single final chunk (``chunk_position="last"``)."""
    message = generation.message
    tool_calls = message.tool_calls if isinstance(message, AIMessage) else []
    usage = message.usage_metadata if isinstance(message, AIMessage) else None
    chunk = AIMessageChunk(
        content=message.content,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        usage_metadata=usage,
        id=message.id,
        tool_call_chunks=[
            {
                "name": call["name"],
                "args": json.dumps(call["args"], ensure_ascii=False),
                "id": call.get("id"),
                "index": i,
                "type": "tool_call_chunk",
            }
            for i, call in enumerate(tool_calls)
        ],
        chunk_position="last",
    )
    return ChatGenerationChunk(message=chunk, generation_info=generation.generation_info)


def generate(
    member: BaseChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: CallbackManagerForLLMRun | None,
    call: dict[str, Any],
) -> ChatResult:
    """``member._generate`` inside the router's run (``run_manager`` passed if declared)."""
    if accepts_run_manager(member, "_generate"):
        call = {**call, "run_manager": run_manager}
    return _answer(member._generate(messages, stop=stop, **call), member)


async def agenerate(
    member: BaseChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: AsyncCallbackManagerForLLMRun | None,
    call: dict[str, Any],
) -> ChatResult:
    """``member._agenerate`` inside the router's run (``run_manager`` passed if declared)."""
    if accepts_run_manager(member, "_agenerate"):
        call = {**call, "run_manager": run_manager}
    return _answer(await member._agenerate(messages, stop=stop, **call), member)


def member_chunks(
    member: BaseChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: CallbackManagerForLLMRun | None,
    call: dict[str, Any],
) -> Iterator[ChatGenerationChunk]:
    """The member's stream, or its whole answer as one final chunk if it cannot stream."""
    if streams_natively(member, async_api=False, tools=bool(call.get("tools"))):
        call = _with_stream_usage(member, "_stream", call)
        return member._stream(messages, stop=stop, run_manager=run_manager, **call)
    result = generate(member, messages, stop, run_manager, call)
    return iter([message_to_chunk(result.generations[0])])


async def member_achunks(
    member: BaseChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: AsyncCallbackManagerForLLMRun | None,
    call: dict[str, Any],
) -> AsyncIterator[ChatGenerationChunk]:
    """Async :func:`member_chunks`."""
    if streams_natively(member, async_api=True, tools=bool(call.get("tools"))):
        call = _with_stream_usage(member, "_astream", call)
        async for chunk in member._astream(messages, stop=stop, run_manager=run_manager, **call):
            yield chunk
        return
    result = await agenerate(member, messages, stop, run_manager, call)
    yield message_to_chunk(result.generations[0])


def finish_result(
    result: ChatResult, attempts: Attempts, identity: Mapping[str, str], prompt: str | None
) -> ChatResult:
    """Stamp an answer: routing metadata, the answering member's tracing identity, and usage
    estimated from the text when the member reported none (marked ``usage_estimated``)."""
    routing = attempts.routing()
    for generation in result.generations:
        message = generation.message
        if isinstance(message, AIMessage) and message.usage_metadata is None:
            n_in, n_out = estimate_usage(prompt or "", message.text)
            message.usage_metadata = {
                "input_tokens": n_in,
                "output_tokens": n_out,
                "total_tokens": n_in + n_out,
            }
            routing = {**routing, "usage_estimated": True}
        _stamp_message(message, routing)
        generation.generation_info = {
            **(generation.generation_info or {}),
            GATEWAY_KEY: dict(identity),
        }
    return result


def stamp_chunk(
    chunk: ChatGenerationChunk, routing: dict[str, Any], identity: Mapping[str, str]
) -> ChatGenerationChunk:
    """Stamp the first streamed chunk (the routing and identity are sent once, with it)."""
    _stamp_message(chunk.message, routing)
    chunk.generation_info = {**(chunk.generation_info or {}), GATEWAY_KEY: dict(identity)}
    return chunk


def _stamp_message(message: BaseMessage, routing: dict[str, Any]) -> None:
    message.response_metadata = {**message.response_metadata, "routing": routing}


class UsageTracker:
    """Watches a routed stream; estimates its usage when no chunk reported any."""

    def __init__(self, prompt: str | None) -> None:
        self.prompt = prompt or ""
        self.reported = False
        self._text: list[str] = []

    def see(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        """Note the chunk's text and usage, and hand it on."""
        message = chunk.message
        if isinstance(message, AIMessageChunk) and message.usage_metadata is not None:
            self.reported = True
        self._text.append(chunk.text)
        return chunk

    def estimate_chunk(self) -> ChatGenerationChunk | None:
        """A final chunk with estimated usage (``routing.usage_estimated``), if none was reported."""
        if self.reported:
            return None
        n_in, n_out = estimate_usage(self.prompt, "".join(self._text))
        message = AIMessageChunk(
            content="",
            usage_metadata={
                "input_tokens": n_in,
                "output_tokens": n_out,
                "total_tokens": n_in + n_out,
            },
            response_metadata={"routing": {"usage_estimated": True}},
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)
