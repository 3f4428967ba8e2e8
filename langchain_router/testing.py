"""Offline chat models for tests, demos and benchmarks (no network, deterministic).

* :class:`FakeToolChatModel`: a tool-aware, usage-reporting, word-by-word streaming fake. It
  honours ``bind_tools`` (it calls the first bound tool, or the one named by ``tool_choice``, with
  arguments built from the tool's JSON schema and the prompt), ``stop`` sequences and a
  ``model=`` override, and reports ``usage_metadata`` and ``response_metadata["model_name"]``.
* :class:`FailingChatModel`: always raises, either before the first token or after a number of
  streamed chunks; for testing fallbacks.
* :class:`ReplayChatModel`: answers from a recorded outcome table ``{prompt: (quality, cost)}``
  and reports usage such that its :meth:`~ReplayChatModel.card` prices the call at the recorded
  cost; the recorded quality is in ``response_metadata["replay"]`` so a demo can rate it.

Rules of :class:`FakeToolChatModel` (documented so tests can rely on them):

* Text answer: ``answer`` if set, else ``"<model_name> says: <last user message>"``; cut before the
  first ``stop`` sequence.
* Tool call: when tools are bound and either ``tool_choice`` forces one (``"any"``,
  ``"required"``, ``True`` or a tool name) or the last message is not a tool result. Arguments:
  integers and numbers take the numbers found in the last user message, in order (0 when none);
  strings take the first quoted phrase of that message, else the message itself; booleans
  ``True``; arrays ``[]``; objects ``{}``; enums their first value.
* Usage: input tokens = words in the conversation, output tokens = words in the answer (1 for a
  tool call).

Examples:
    >>> from langchain_router.testing import FakeToolChatModel
    >>> fake = FakeToolChatModel(model_name="small")
    >>> msg = fake.invoke("hello there")
    >>> msg.content, msg.usage_metadata["input_tokens"], msg.response_metadata["model_name"]
    ('small says: hello there', 2, 'small')
    >>> def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> fake.bind_tools([add]).invoke("what is 2 + 3?").tool_calls[0]["args"]
    {'a': 2, 'b': 3}
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from shared.exceptions import DataError, InvalidParameterError
from shared.pool import ModelCard

__all__ = ["FailingChatModel", "FakeToolChatModel", "ReplayChatModel"]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_FORCING_CHOICES = ("any", "required")


def _text_of(message: BaseMessage) -> str:
    return message.text if isinstance(message.text, str) else str(message.content)


def _last_user_text(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return _text_of(message)
    return _text_of(messages[-1]) if messages else ""


def _count_words(messages: Sequence[BaseMessage]) -> int:
    return sum(len(_text_of(m).split()) for m in messages)


def _value_for(schema: Mapping[str, Any], numbers: list[str], text: str) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:  # Optional[...] and unions: first non-null branch
        for branch in schema["anyOf"]:
            if branch.get("type") != "null":
                return _value_for(branch, numbers, text)
        return None
    if kind == "integer":
        return int(float(numbers.pop(0))) if numbers else 0
    if kind == "number":
        return float(numbers.pop(0)) if numbers else 0.0
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    quoted = _QUOTED.search(text)
    if quoted:
        return quoted.group(1) or quoted.group(2)
    return text or "value"


def _tool_args(tool: Mapping[str, Any], text: str) -> dict[str, Any]:
    params = tool.get("function", {}).get("parameters", {}) or {}
    numbers = _NUMBER.findall(text)
    return {
        name: _value_for(spec, numbers, text)
        for name, spec in (params.get("properties") or {}).items()
    }


class FakeToolChatModel(BaseChatModel):
    """A deterministic, tool-aware, streaming chat model that reports token usage.

    See the module docstring for the exact answering rules.

    Examples:
        >>> from langchain_router.testing import FakeToolChatModel
        >>> [c.content for c in FakeToolChatModel(answer="a b").stream("hi")]
        ['a', ' b', '']
    """

    model_name: str = "fake-tool-model"
    """Name reported in ``response_metadata["model_name"]`` (a ``model=`` kwarg overrides it)."""
    answer: str | None = None
    """Fixed answer text; ``None`` echoes the last user message."""
    provider: str = "fake"
    """``ls_provider`` reported for tracing."""

    @property
    def _llm_type(self) -> str:
        return "fake-tool-chat-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=self.provider,
            ls_model_name=str(kwargs.get("model") or self.model_name),
            ls_model_type="chat",
        )
        if stop:
            params["ls_stop"] = stop
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (converted to the OpenAI tool format) and an optional ``tool_choice``."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    # ----------------------------------------------------------------- answering
    def _reply_text(self, messages: Sequence[BaseMessage], model_name: str) -> str:
        """The text answer (before stop sequences); subclasses override."""
        if self.answer is not None:
            return self.answer
        return f"{model_name} says: {_last_user_text(messages)}"

    def _extra_metadata(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        """Extra ``response_metadata`` entries; subclasses override."""
        return {}

    def _usage(self, messages: Sequence[BaseMessage], text: str, n_calls: int) -> UsageMetadata:
        """Token usage of one answer; subclasses override."""
        n_in = _count_words(messages)
        n_out = len(text.split()) + n_calls
        return UsageMetadata(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out)

    def _respond(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> AIMessage:
        model_name = str(kwargs.get("model") or self.model_name)
        tools = list(kwargs.get("tools") or [])
        choice = kwargs.get("tool_choice")
        tool_calls: list[dict[str, Any]] = []
        text = ""
        if tools and choice != "none":
            named = [t for t in tools if t.get("function", {}).get("name") == choice]
            forced = bool(named) or choice is True or choice in _FORCING_CHOICES
            if forced or not (messages and isinstance(messages[-1], ToolMessage)):
                tool = named[0] if named else tools[0]
                user = _last_user_text(messages)
                tool_calls.append(
                    {
                        "name": tool["function"]["name"],
                        "args": _tool_args(tool, user),
                        "id": f"call_{len(messages)}_{tool['function']['name']}",
                        "type": "tool_call",
                    }
                )
        if not tool_calls:
            text = self._reply_text(messages, model_name)
            for seq in stop or ():
                if seq and seq in text:
                    text = text[: text.index(seq)]
        return AIMessage(
            content=text,
            tool_calls=tool_calls,
            usage_metadata=self._usage(messages, text, len(tool_calls)),
            response_metadata={"model_name": model_name, **self._extra_metadata(messages)},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(
            generations=[ChatGeneration(message=self._respond(messages, stop, kwargs))]
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, **kwargs)

    def _chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> Iterator[ChatGenerationChunk]:
        message = self._respond(messages, stop, kwargs)
        text = str(message.content)
        words = re.findall(r"\s*\S+", text) or [text]
        pieces: list[AIMessageChunk] = [AIMessageChunk(content=w) for w in words]
        if message.tool_calls:
            pieces = [
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": _json_dumps(call["args"]),
                            "id": call["id"],
                            "index": i,
                            "type": "tool_call_chunk",
                        }
                        for i, call in enumerate(message.tool_calls)
                    ],
                )
            ]
        pieces.append(
            AIMessageChunk(
                content="",
                usage_metadata=message.usage_metadata,
                response_metadata=dict(message.response_metadata),
                chunk_position="last",
            )
        )
        for piece in pieces:
            yield ChatGenerationChunk(message=piece)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, stop, kwargs):
            if run_manager is not None:
                run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, stop, kwargs):
            if run_manager is not None:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk


def _json_dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


class FailingChatModel(FakeToolChatModel):
    """A chat model that always fails: before answering, or after ``fail_after_chunks`` chunks.

    Examples:
        >>> from langchain_router.testing import FailingChatModel
        >>> try:
        ...     FailingChatModel(message="quota exceeded").invoke("hi")
        ... except RuntimeError as err:
        ...     print(err)
        quota exceeded
    """

    model_name: str = "failing-model"
    message: str = "provider error"
    """Message of the raised error."""
    error: type[Exception] = RuntimeError
    """The type of the raised error (``TypeError`` plays a programming error)."""
    fail_after_chunks: int = 0
    """When streaming, how many chunks to yield before raising (0: raise before the first)."""
    empty_stream: bool = False
    """When streaming, end the stream without any chunk instead of raising."""

    @property
    def _llm_type(self) -> str:
        return "failing-chat-model"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise self.error(self.message)

    def _chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> Iterator[ChatGenerationChunk]:
        if self.empty_stream:
            return
        produced = super()._chunks(messages, stop, kwargs)
        for _ in range(self.fail_after_chunks):
            chunk = next(produced, None)
            if chunk is None:
                break
            yield chunk
        raise self.error(self.message)


Outcome = tuple[float, float]


class ReplayChatModel(FakeToolChatModel):
    """Answers from recorded outcomes: ``outcomes[prompt] = (quality, cost_usd)``.

    Each call answers ``answer`` (default ``"[<name>] recorded answer"``) and reports usage such
    that :meth:`card` prices it at the recorded cost: no billed input tokens, and
    ``round(cost / usd_per_token)`` output tokens (exact up to ``usd_per_token / 2``). The
    recorded outcome is in ``response_metadata["replay"] = {"quality": q, "cost_usd": c}``.
    The prompt key is the text of the last user message.

    Args:
        model_name: the member's name.
        outcomes: ``{prompt: (quality, cost)}`` or a callable ``prompt -> (quality, cost) | None``.
        usd_per_token: price of one reported output token.

    Raises:
        DataError: at call time, when the prompt has no recorded (finite) outcome.

    Examples:
        >>> from langchain_router.testing import ReplayChatModel
        >>> m = ReplayChatModel(model_name="m", outcomes={"2+2?": (1.0, 0.0042)})
        >>> msg = m.invoke("2+2?")
        >>> msg.response_metadata["replay"]
        {'quality': 1.0, 'cost_usd': 0.0042}
        >>> u = msg.usage_metadata
        >>> round(m.card().cost(u["input_tokens"], u["output_tokens"]), 10)
        0.0042
    """

    outcomes: Mapping[str, Outcome] | Callable[[str], Outcome | None] = Field(default_factory=dict)
    usd_per_token: float = 1e-7

    @property
    def _llm_type(self) -> str:
        return "replay-chat-model"

    def outcome(self, prompt: str) -> Outcome:
        """The recorded ``(quality, cost)`` of ``prompt``.

        Raises:
            DataError: no finite outcome is recorded for ``prompt``.
        """
        got = self.outcomes(prompt) if callable(self.outcomes) else self.outcomes.get(prompt)
        if got is None or not all(math.isfinite(float(v)) for v in got):
            raise DataError(f"{self.model_name!r} has no recorded outcome for prompt {prompt!r}.")
        return float(got[0]), float(got[1])

    def card(self, **overrides: Any) -> ModelCard:
        """A :class:`~shared.ModelCard` pricing this member's replayed calls at the recorded cost.

        ``expected_output_tokens`` is the median recorded cost in tokens (when ``outcomes`` is a
        mapping), so price-based cold starts see each member's typical cost.
        """
        if self.usd_per_token <= 0:
            raise InvalidParameterError("usd_per_token must be > 0.")
        expected = 256
        if not callable(self.outcomes):
            costs = sorted(float(c) for _, c in self.outcomes.values() if math.isfinite(float(c)))
            if costs:
                expected = round(costs[len(costs) // 2] / self.usd_per_token)
        kwargs: dict[str, Any] = {
            "input_usd_per_1m": 0.0,
            "output_usd_per_1m": self.usd_per_token * 1e6,
            "expected_output_tokens": expected,
            **overrides,
        }
        return ModelCard(self.model_name, **kwargs)

    def _reply_text(self, messages: Sequence[BaseMessage], model_name: str) -> str:
        self.outcome(_last_user_text(messages))
        return self.answer if self.answer is not None else f"[{model_name}] recorded answer"

    def _extra_metadata(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        quality, cost = self.outcome(_last_user_text(messages))
        return {"replay": {"quality": quality, "cost_usd": cost}}

    def _usage(self, messages: Sequence[BaseMessage], text: str, n_calls: int) -> UsageMetadata:
        _, cost = self.outcome(_last_user_text(messages))
        n_out = round(cost / self.usd_per_token)
        return UsageMetadata(input_tokens=0, output_tokens=n_out, total_tokens=n_out)
