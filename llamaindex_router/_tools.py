"""Tool calling through ``RouterLLM``: route among tool-capable members, delegate the whole call.

The chosen member prepares its provider's tool specs itself (the decision comes first), runs the
call, and parses the tool calls it produced (:meth:`ToolRoutingMixin.get_tool_calls_from_response`
dispatches on the response's routing stamp or its tool-call ids). A turn answering tool calls goes
back to the member that emitted them (stickiness, see ``RouterLLM.sticky``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from llama_index.core.tools.types import BaseTool

from shared import InvalidParameterError
from shared.serving import Attempts

from ._convert import tool_call_ids
from ._delegate import ToolCallOwners, dispatcher, serve_astream, serve_stream, stream_kwargs

if TYPE_CHECKING:
    from ._preference import PreferenceInput

__all__ = ["ToolRoutingMixin", "join_messages", "router_tools", "supports_tools"]


def supports_tools(llm: LLM) -> bool:
    """Whether a member can run ``chat_with_tools``."""
    return isinstance(llm, FunctionCallingLLM) and bool(llm.metadata.is_function_calling_model)


def join_messages(
    chat_history: Sequence[ChatMessage] | None, user_msg: str | ChatMessage | None
) -> list[ChatMessage]:
    """The conversation ``chat_with_tools`` sends: the history, then the user message."""
    messages = list(chat_history or [])
    if isinstance(user_msg, str):
        messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
    elif user_msg is not None:
        messages.append(user_msg)
    return messages


def router_tools(kwargs: dict[str, Any]) -> list[BaseTool] | None:
    """Pop ``tools`` from chat kwargs if they are LlamaIndex tools.

    They come from :meth:`RouterLLM._prepare_chat_with_tools`; provider-format tool specs stay in
    the kwargs for the member.
    """
    tools = kwargs.get("tools")
    if tools and all(isinstance(t, BaseTool) for t in tools):
        del kwargs["tools"]
        return list(tools)
    return None


class ToolRoutingMixin:
    """The tool-calling methods of ``RouterLLM`` (``FunctionCallingLLM`` overrides)."""

    if TYPE_CHECKING:
        _llms: dict[str, LLM]
        _owners: ToolCallOwners

        def _attempt(
            self,
            messages: Sequence[ChatMessage],
            preference: PreferenceInput | None,
            *,
            needs_tools: bool = False,
            task: str | None = None,
        ) -> Attempts: ...

        async def _aattempt(
            self,
            messages: Sequence[ChatMessage],
            preference: PreferenceInput | None,
            *,
            needs_tools: bool = False,
            task: str | None = None,
        ) -> Attempts: ...

        def _stamper(self, attempt: Attempts) -> Callable[[Any], Any]: ...

        def _member(self, call: Callable[[LLM], Any]) -> Callable[[str], Any]: ...

    # ------------------------------------------------------------------ tools
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
        """Keyword arguments for :meth:`chat` that make it route a tool call.

        Provider-specific tool specs are prepared later by the member that is chosen.
        """
        return {
            "messages": join_messages(chat_history, user_msg),
            "tools": list(tools),
            "verbose": verbose,
            "allow_parallel_tool_calls": allow_parallel_tool_calls,
            "tool_required": tool_required,
            **kwargs,
        }

    @staticmethod
    def _tool_call(llm: LLM) -> FunctionCallingLLM:
        if not isinstance(llm, FunctionCallingLLM):  # the engine only picks tool-capable cards
            raise InvalidParameterError(f"{type(llm).__name__} cannot call tools.")
        return llm

    @dispatcher.span
    def chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Route to a tool-capable member and let it run the whole tool call."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        attempt = self._attempt(
            join_messages(chat_history, user_msg), preference, needs_tools=True, task=task
        )
        response = attempt.run(
            self._member(
                lambda llm: self._tool_call(llm).chat_with_tools(
                    tools,
                    user_msg=user_msg,
                    chat_history=chat_history,
                    verbose=verbose,
                    allow_parallel_tool_calls=allow_parallel_tool_calls,
                    tool_required=tool_required,
                    **kwargs,
                )
            )
        )
        stamped: ChatResponse = self._stamper(attempt)(response)
        return stamped

    @dispatcher.span
    async def achat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Async :meth:`chat_with_tools`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        attempt = await self._aattempt(
            join_messages(chat_history, user_msg), preference, needs_tools=True, task=task
        )
        response = await attempt.arun(
            self._member(
                lambda llm: self._tool_call(llm).achat_with_tools(
                    tools,
                    user_msg=user_msg,
                    chat_history=chat_history,
                    verbose=verbose,
                    allow_parallel_tool_calls=allow_parallel_tool_calls,
                    tool_required=tool_required,
                    **kwargs,
                )
            )
        )
        stamped: ChatResponse = self._stamper(attempt)(response)
        return stamped

    @dispatcher.span
    def stream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseGen:
        """Streaming :meth:`chat_with_tools`; falls back before the first chunk only."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        attempt = self._attempt(
            join_messages(chat_history, user_msg), preference, needs_tools=True, task=task
        )
        return serve_stream(
            attempt,
            self._member(
                lambda llm: self._tool_call(llm).stream_chat_with_tools(
                    tools,
                    user_msg=user_msg,
                    chat_history=chat_history,
                    verbose=verbose,
                    allow_parallel_tool_calls=allow_parallel_tool_calls,
                    tool_required=tool_required,
                    **stream_kwargs(llm, kwargs),
                )
            ),
            self._stamper(attempt),
        )

    @dispatcher.span
    async def astream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseAsyncGen:
        """Async streaming :meth:`chat_with_tools`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        attempt = await self._aattempt(
            join_messages(chat_history, user_msg), preference, needs_tools=True, task=task
        )
        return await serve_astream(
            attempt,
            self._member(
                lambda llm: self._tool_call(llm).astream_chat_with_tools(
                    tools,
                    user_msg=user_msg,
                    chat_history=chat_history,
                    verbose=verbose,
                    allow_parallel_tool_calls=allow_parallel_tool_calls,
                    tool_required=tool_required,
                    **stream_kwargs(llm, kwargs),
                )
            ),
            self._stamper(attempt),
        )

    def producer_of(self, response: ChatResponse) -> str | None:
        """The member that produced ``response`` (from its routing stamp or its tool-call ids)."""
        routing = response.additional_kwargs.get("routing")
        if isinstance(routing, Mapping) and routing.get("model") in self._llms:
            return str(routing["model"])
        for ident in tool_call_ids(response.message):
            owner = self._owners.get(ident)
            if owner is not None and owner in self._llms:
                return owner
        return None

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """Parse tool calls with the member that produced ``response``.

        A response the router did not stamp (an agent's empty placeholder, for example) is parsed
        from its provider-neutral ``ToolCallBlock``s.

        Raises:
            ValueError: no tool call and ``error_on_no_tool_call`` (LlamaIndex's convention).
        """
        owner = self.producer_of(response)
        if owner is not None:
            member = self._tool_call(self._llms[owner])
            return member.get_tool_calls_from_response(
                response, error_on_no_tool_call=error_on_no_tool_call, **kwargs
            )
        selections = []
        for block in response.message.blocks:
            if isinstance(block, ToolCallBlock):
                args = block.tool_kwargs
                if isinstance(args, str):
                    try:
                        args = parse_partial_json(args)
                    except (ValueError, TypeError):
                        args = {}
                selections.append(
                    ToolSelection(
                        tool_id=block.tool_call_id or "",
                        tool_name=block.tool_name,
                        tool_kwargs=args if isinstance(args, dict) else {},
                    )
                )
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got none.")
        return selections
