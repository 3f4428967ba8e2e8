"""Offline test doubles for routing with LlamaIndex (public, used by the project's own tests).

* :class:`MockChatLLM`: a chat model with a fixed (or echoed) reply that streams word by word and
  reports token usage in ``raw["usage"]`` like OpenAI-style integrations.
* :class:`MockToolLLM`: the same plus function calling: given tools, it calls the first one with
  arguments built from its schema; once the conversation holds tool results, it answers.
* :class:`FailingLLM`: always raises (at the call, or after some streamed chunks).

All of them emit the standard LlamaIndex LLM events through ``llm_chat_callback`` /
``llm_completion_callback``, as real integrations do, and record the methods called.

Examples:
    >>> from llama_index.core.llms import ChatMessage
    >>> from llamaindex_router.testing import MockChatLLM
    >>> llm = MockChatLLM(reply="hello there")
    >>> response = llm.chat([ChatMessage(role="user", content="hi you")])
    >>> response.message.content, response.raw["usage"]["completion_tokens"]
    ('hello there', 2)
    >>> [chunk.delta for chunk in llm.stream_chat([ChatMessage(role="user", content="hi")])]
    ['hello', ' there']
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from pydantic import Field

from ._tools import join_messages

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["FailingLLM", "MockChatLLM", "MockToolLLM"]


def _count_tokens(text: str) -> int:
    return len(text.split())


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    }


class MockChatLLM(LLM):
    """A deterministic chat model.

    Args:
        reply: the answer; ``None`` echoes the last message's text.
        model: the model name reported in ``metadata`` and ``raw["model"]``.
        context_window: reported context window.
        num_output: reported maximum output tokens.
        is_chat: reported ``metadata.is_chat_model`` (``False`` makes it look like a completion
            model; it still answers chats).
        report_usage: put ``{"usage": {...}}`` (word counts) in ``raw``.

    Attributes:
        calls: names of the methods called (``"chat"``, ``"complete"``, ``"stream_chat"``...).
        last_messages: the messages of the last chat call (a completion is one user message).
    """

    reply: str | None = None
    model: str = "mock-chat"
    context_window: int = 8_192
    num_output: int = 256
    is_chat: bool = True
    report_usage: bool = True
    calls: list[str] = Field(default_factory=list, exclude=True)
    last_messages: list[ChatMessage] = Field(default_factory=list, exclude=True)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "MockChatLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Reported capabilities."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=self.is_chat,
            is_function_calling_model=False,
            model_name=self.model,
        )

    # ----------------------------------------------------------------- answers
    def _answer(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        if self.reply is not None:
            return ChatMessage(role=MessageRole.ASSISTANT, content=self.reply)
        text = (messages[-1].content or "") if messages else ""
        return ChatMessage(role=MessageRole.ASSISTANT, content=text)

    def _raw(self, messages: Sequence[ChatMessage], answer: ChatMessage) -> dict[str, Any]:
        raw: dict[str, Any] = {"model": self.model}
        if self.report_usage:
            prompt = sum(_count_tokens(m.content or "") for m in messages)
            raw.update(_usage(prompt, _count_tokens(answer.content or "")))
        return raw

    def _response(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self.last_messages = list(messages)
        answer = self._answer(messages, **kwargs)
        return ChatResponse(
            message=answer, raw=self._raw(messages, answer), delta=answer.content or ""
        )

    def _chunks(self, messages: Sequence[ChatMessage], **kwargs: Any) -> list[ChatResponse]:
        self.last_messages = list(messages)
        answer = self._answer(messages, **kwargs)
        text = answer.content or ""
        words = text.split(" ")
        if not text or any(isinstance(b, ToolCallBlock) for b in answer.blocks):
            return [ChatResponse(message=answer, raw=self._raw(messages, answer), delta=text)]
        chunks, so_far = [], ""
        for i, word in enumerate(words):
            delta = word if i == 0 else " " + word
            so_far += delta
            last = i == len(words) - 1
            chunks.append(
                ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=so_far),
                    delta=delta,
                    raw=self._raw(messages, answer) if last else {"model": self.model},
                )
            )
        return chunks

    # ----------------------------------------------------------------- chat
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Answer the conversation."""
        self.calls.append("chat")
        return self._response(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        self.calls.append("achat")
        return self._response(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the answer word by word; the last chunk carries the usage."""
        self.calls.append("stream_chat")
        chunks = self._chunks(messages, **kwargs)

        def gen() -> Generator[ChatResponse, None, None]:
            yield from chunks

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        self.calls.append("astream_chat")
        chunks = self._chunks(messages, **kwargs)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            for chunk in chunks:
                yield chunk

        return gen()

    # ----------------------------------------------------------------- complete
    def _completion(self, prompt: str) -> CompletionResponse:
        response = self._response([ChatMessage(role=MessageRole.USER, content=prompt)])
        return CompletionResponse(
            text=response.message.content or "", raw=response.raw, delta=response.delta
        )

    def _completion_chunks(self, prompt: str) -> list[CompletionResponse]:
        return [
            CompletionResponse(text=c.message.content or "", delta=c.delta, raw=c.raw)
            for c in self._chunks([ChatMessage(role=MessageRole.USER, content=prompt)])
        ]

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer ``prompt`` as one user message."""
        self.calls.append("complete")
        return self._completion(prompt)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete`."""
        self.calls.append("acomplete")
        return self._completion(prompt)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Streaming :meth:`complete`."""
        self.calls.append("stream_complete")
        chunks = self._completion_chunks(prompt)

        def gen() -> Generator[CompletionResponse, None, None]:
            yield from chunks

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        self.calls.append("astream_complete")
        chunks = self._completion_chunks(prompt)

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            for chunk in chunks:
                yield chunk

        return gen()


def _placeholder(annotation: Any) -> Any:
    """A deterministic value for a required argument of the given JSON-schema type."""
    return {
        "integer": 1,
        "number": 1.0,
        "boolean": True,
        "array": [],
        "object": {},
    }.get(annotation, "x")


def _tool_arguments(tool: BaseTool) -> dict[str, Any]:
    """Arguments from the tool's schema: defaults where given, placeholders otherwise."""
    schema = tool.metadata.fn_schema
    if schema is None:
        return {}
    properties = schema.model_json_schema().get("properties", {})
    args: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        if info.is_required():
            args[name] = _placeholder(properties.get(name, {}).get("type"))
        else:
            args[name] = info.get_default(call_default_factory=True)
    return args


class MockToolLLM(MockChatLLM, FunctionCallingLLM):
    """A function-calling chat model.

    Given tools, and no tool results since the last user message, it calls the first tool with
    arguments from the tool's schema (defaults, else placeholders: ``1`` for integers, ``1.0``,
    ``True``, ``[]``, ``{}``, ``"x"``). Once tool results follow the last user message, it answers
    ``reply`` (or ``"Tool result: <last tool output>"`` when ``reply`` is ``None``).

    Attributes:
        tool_call_count: how many tool calls it has emitted (ids are ``"<model>-call-<n>"``).

    Examples:
        >>> from llama_index.core.tools import FunctionTool
        >>> from llamaindex_router.testing import MockToolLLM
        >>> def add(a: int, b: int = 2) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> llm = MockToolLLM(model="m")
        >>> response = llm.chat_with_tools([FunctionTool.from_defaults(add)], user_msg="add")
        >>> llm.get_tool_calls_from_response(response)[0].tool_kwargs
        {'a': 1, 'b': 2}
    """

    model: str = "mock-tools"
    tool_call_count: int = Field(default=0, exclude=True)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "MockToolLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Reported capabilities (function calling)."""
        return super().metadata.model_copy(update={"is_function_calling_model": True})

    def _answer(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        tools: Sequence[BaseTool] = kwargs.get("tools") or []
        since_user: list[ChatMessage] = []
        for message in reversed(messages):
            if message.role == MessageRole.USER:
                break
            since_user.append(message)
        results = [m for m in since_user if m.role == MessageRole.TOOL]
        if results:
            content = self.reply or f"Tool result: {results[0].content}"
            return ChatMessage(role=MessageRole.ASSISTANT, content=content)
        if tools:
            self.tool_call_count += 1
            tool = tools[0]
            block = ToolCallBlock(
                tool_call_id=f"{self.model}-call-{self.tool_call_count}",
                tool_name=tool.metadata.get_name(),
                tool_kwargs=_tool_arguments(tool),
            )
            return ChatMessage(role=MessageRole.ASSISTANT, blocks=[block])
        return super()._answer(messages, **kwargs)

    def _raw(self, messages: Sequence[ChatMessage], answer: ChatMessage) -> dict[str, Any]:
        raw = super()._raw(messages, answer)
        if self.report_usage:
            calls = [b for b in answer.blocks if isinstance(b, ToolCallBlock)]
            text = " ".join(json.dumps(b.tool_kwargs) for b in calls)
            raw["usage"]["completion_tokens"] += _count_tokens(text)
            raw["usage"]["total_tokens"] += _count_tokens(text)
        return raw

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Messages plus the tools (a real integration would format provider tool specs)."""
        return {"messages": join_messages(chat_history, user_msg), "tools": list(tools), **kwargs}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """Tool selections from the response's ``ToolCallBlock``s.

        Raises:
            ValueError: no tool call and ``error_on_no_tool_call``.
        """
        selections = [
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=block.tool_kwargs if isinstance(block.tool_kwargs, dict) else {},
            )
            for block in response.message.blocks
            if isinstance(block, ToolCallBlock)
        ]
        if not selections and error_on_no_tool_call:
            raise ValueError(f"{self.model} returned no tool call.")
        return selections


class FailingLLM(MockToolLLM):
    """A model that always fails, to exercise fallback.

    Args:
        message: the text of the raised error.
        error: the type of the raised error (default ``RuntimeError``; ``TypeError`` plays a
            programming error).
        chunks_before_failure: for streams, how many chunks to yield before raising (0: the
            stream fails before its first chunk, which a router can still recover from).
        empty_stream: streams end without any chunk instead of raising.
        function_calling: report function calling (so it is a candidate for tool calls, where
            it fails too).

    Examples:
        >>> from llamaindex_router.testing import FailingLLM
        >>> FailingLLM(message="down").complete("hi")
        Traceback (most recent call last):
        ...
        RuntimeError: down
    """

    model: str = "failing"
    message: str = "provider unavailable"
    error: type[Exception] = RuntimeError
    chunks_before_failure: int = 0
    empty_stream: bool = False
    function_calling: bool = False

    def _fail(self) -> None:
        if not self.empty_stream:
            raise self.error(self.message)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "FailingLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Reported capabilities (function calling only if ``function_calling``)."""
        return super().metadata.model_copy(
            update={"is_function_calling_model": self.function_calling}
        )

    def _response(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        raise self.error(self.message)

    def _chunks(self, messages: Sequence[ChatMessage], **kwargs: Any) -> list[ChatResponse]:
        return [
            ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="partial"))
            for _ in range(self.chunks_before_failure)
        ]

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Yield ``chunks_before_failure`` chunks, then raise."""
        self.calls.append("stream_chat")
        chunks = self._chunks(messages)

        def gen() -> Generator[ChatResponse, None, None]:
            yield from chunks
            self._fail()

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        self.calls.append("astream_chat")
        chunks = self._chunks(messages)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            for chunk in chunks:
                yield chunk
            self._fail()

        return gen()

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Yield ``chunks_before_failure`` chunks, then raise."""
        self.calls.append("stream_complete")
        count = self.chunks_before_failure

        def gen() -> Generator[CompletionResponse, None, None]:
            for _ in range(count):
                yield CompletionResponse(text="partial", delta="partial")
            self._fail()

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        self.calls.append("astream_complete")
        count = self.chunks_before_failure

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            for _ in range(count):
                yield CompletionResponse(text="partial", delta="partial")
            self._fail()

        return gen()
