"""The public mock LLMs behave as documented."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.tools import FunctionTool

from llamaindex_router.testing import FailingLLM, MockChatLLM, MockToolLLM


def lookup(city: str, limit: int = 3, exact: bool = False) -> str:
    """Look a city up."""
    return city


def test_mock_chat_echoes_and_reports_usage() -> None:
    """Without a reply the mock echoes the last message; usage counts words."""
    llm = MockChatLLM()
    response = llm.chat([ChatMessage(role=MessageRole.USER, content="one two three")])
    assert response.message.content == "one two three"
    assert response.raw["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert MockChatLLM(report_usage=False).complete("x").raw == {"model": "mock-chat"}


def test_mock_tool_calls_first_tool_with_schema_arguments() -> None:
    """Required arguments get placeholders, optional ones their defaults; only the first tool."""
    llm = MockToolLLM()
    tools = [FunctionTool.from_defaults(lookup), FunctionTool.from_defaults(lambda: 1, name="x")]
    response = llm.chat_with_tools(tools, user_msg="find Paris")
    (call,) = llm.get_tool_calls_from_response(response)
    assert call.tool_name == "lookup"
    assert call.tool_kwargs == {"city": "x", "limit": 3, "exact": False}


def test_mock_tool_answers_after_tool_results() -> None:
    """Once a tool result follows the last user message, the mock answers in text."""
    llm = MockToolLLM()
    history = [
        ChatMessage(role=MessageRole.USER, content="find Paris"),
        ChatMessage(role=MessageRole.TOOL, content="Paris, France"),
    ]
    response = llm.chat_with_tools([FunctionTool.from_defaults(lookup)], chat_history=history)
    assert response.message.content == "Tool result: Paris, France"
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="no tool call"):
        llm.get_tool_calls_from_response(response)


def test_failing_llm_fails_everywhere() -> None:
    """FailingLLM raises on every call, and on streams after the configured chunks."""
    llm = FailingLLM(message="down", chunks_before_failure=2)
    with pytest.raises(RuntimeError, match="down"):
        llm.chat([ChatMessage(role=MessageRole.USER, content="hi")])
    stream = llm.stream_complete("hi")
    assert [next(stream).text, next(stream).text] == ["partial", "partial"]
    with pytest.raises(RuntimeError, match="down"):
        next(stream)
    assert llm.metadata.is_function_calling_model is False
    assert FailingLLM(function_calling=True).metadata.is_function_calling_model is True
