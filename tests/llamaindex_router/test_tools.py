"""Tool calling through the router: delegation, parsing by the producing member, stickiness, agents."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index_instrumentation.dispatcher import instrument_tags
from pydantic import BaseModel

from llamaindex_router import FeedbackEventHandler, RouterLLM
from llamaindex_router.testing import FailingLLM, MockChatLLM, MockToolLLM
from shared import InvalidParameterError

from .conftest import EventRecorder, make_router


def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


TOOL = FunctionTool.from_defaults(add)


def test_chat_with_tools_delegates_to_chosen_member(router: RouterLLM) -> None:
    """The chosen member runs the whole tool call and its tool calls are parsed back."""
    response = router.chat_with_tools([TOOL], user_msg="add 1 and 2", preference="cost")
    assert response.additional_kwargs["routing"]["model"] == "small"
    (call,) = router.get_tool_calls_from_response(response)
    assert (call.tool_name, call.tool_kwargs) == ("add", {"a": 1, "b": 2})
    assert call.tool_id == "small-call-1"
    assert router.producer_of(response) == "small"


def test_tool_calls_are_parsed_by_the_producing_member(router: RouterLLM) -> None:
    """get_tool_calls_from_response dispatches to the member that produced the response."""
    calls: list[str] = []
    original = MockToolLLM.get_tool_calls_from_response

    def spy(self: MockToolLLM, response: ChatResponse, **kw: object) -> object:
        calls.append(self.model)
        return original(self, response, **kw)  # type: ignore[arg-type]

    response = router.chat_with_tools([TOOL], user_msg="add", preference="cost")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(MockToolLLM, "get_tool_calls_from_response", spy)
        router.get_tool_calls_from_response(response)
    assert calls == ["small"]


def test_unstamped_response_parsed_from_blocks(router: RouterLLM) -> None:
    """A response the router never saw is parsed from its neutral ToolCallBlocks."""
    block = ToolCallBlock(tool_call_id="x1", tool_name="add", tool_kwargs='{"a": 5}')
    response = ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, blocks=[block]))
    (call,) = router.get_tool_calls_from_response(response)
    assert (call.tool_id, call.tool_kwargs) == ("x1", {"a": 5})
    empty = ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="no"))
    assert router.get_tool_calls_from_response(empty, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="tool call"):
        router.get_tool_calls_from_response(empty)


def test_tool_loop_is_sticky(router: RouterLLM, recorder: EventRecorder) -> None:
    """The turn answering a tool call goes to the member that emitted it, whatever the preference."""
    first = router.chat_with_tools([TOOL], user_msg="add 1 and 2", preference="quality")
    assert first.additional_kwargs["routing"]["model"] == "big"
    (call,) = router.get_tool_calls_from_response(first)
    history = [
        ChatMessage(role=MessageRole.USER, content="add 1 and 2"),
        first.message,
        ChatMessage(
            role=MessageRole.TOOL, content="3", additional_kwargs={"tool_call_id": call.tool_id}
        ),
    ]
    second = router.chat_with_tools([TOOL], chat_history=history, preference="cost")
    assert second.message.content == "big answer"
    assert second.additional_kwargs["routing"]["sticky"] is True
    assert second.additional_kwargs["routing"]["ranking"] == ["big", "small"]
    assert second.additional_kwargs["routing"]["propensity"] == 1.0
    events = recorder.of("RoutingDecisionEvent")
    assert [e.sticky for e in events] == [False, True]  # type: ignore[attr-defined]
    # a new user turn is routed afresh
    history += [second.message, ChatMessage(role=MessageRole.USER, content="thanks")]
    third = router.chat(history, preference="cost")
    assert third.additional_kwargs["routing"]["model"] == "small"


class BreakableToolLLM(MockToolLLM):
    """A tool-calling mock that fails before any output once ``broken`` is set."""

    broken: bool = False

    def _response(self, messages: Any, **kwargs: Any) -> Any:
        if self.broken:
            raise RuntimeError("owner down")
        return super()._response(messages, **kwargs)


def test_sticky_owner_failure_falls_back_to_the_others(attach: Any) -> None:
    """When the pinned member fails before output, the next candidate answers and it is recorded."""
    router = make_router(
        models={
            "big": BreakableToolLLM(model="big", reply="big answer"),
            "small": MockToolLLM(model="small", reply="small answer"),
        }
    )
    handler = attach(FeedbackEventHandler(router=router))
    first = router.chat_with_tools([TOOL], user_msg="add 1 and 2", preference="quality")
    (call,) = router.get_tool_calls_from_response(first)
    history = [
        ChatMessage(role=MessageRole.USER, content="add 1 and 2"),
        first.message,
        ChatMessage(
            role=MessageRole.TOOL, content="3", additional_kwargs={"tool_call_id": call.tool_id}
        ),
    ]
    router.llms["big"].broken = True  # type: ignore[attr-defined]
    second = router.chat_with_tools([TOOL], chat_history=history, preference="quality")
    routing = second.additional_kwargs["routing"]
    assert second.message.content == "small answer" and routing["model"] == "small"
    assert routing["sticky"] is True and routing["propensity"] == 1.0
    assert routing["fallbacks"] == [{"model": "big", "error": "RuntimeError: owner down"}]
    record = handler.store.get(routing["decision_id"])
    assert (record.chosen_model, record.model, record.propensity) == ("big", "small", 1.0)


def test_sticky_tools_can_be_disabled() -> None:
    """With sticky=False a tool-result turn is routed like any other."""
    router = make_router(sticky=False)
    first = router.chat_with_tools([TOOL], user_msg="add", preference="quality")
    (call,) = router.get_tool_calls_from_response(first)
    history = [
        ChatMessage(role=MessageRole.USER, content="add"),
        first.message,
        ChatMessage(
            role=MessageRole.TOOL, content="3", additional_kwargs={"tool_call_id": call.tool_id}
        ),
    ]
    second = router.chat_with_tools([TOOL], chat_history=history, preference="cost")
    assert second.additional_kwargs["routing"]["model"] == "small"


def test_tool_calls_only_go_to_tool_members() -> None:
    """A member without function calling is never chosen for a call with tools."""
    router = make_router(
        models={"big": MockChatLLM(reply="no tools"), "small": MockToolLLM(model="small")},
    )
    assert (
        router.chat([ChatMessage(role="user", content="hi")], preference="quality").message.content
        == "no tools"
    )
    response = router.chat_with_tools([TOOL], user_msg="add", preference="quality")
    assert response.additional_kwargs["routing"]["ranking"] == ["small"]
    assert router.metadata.is_function_calling_model is True  # at least one member calls tools


def test_no_tool_member_raises() -> None:
    """Tools with no tool-capable member is a clear error."""
    router = make_router(models={"big": MockChatLLM(), "small": MockChatLLM()})
    with pytest.raises(InvalidParameterError, match="tool calling"):
        router.chat_with_tools([TOOL], user_msg="add")


def test_tool_call_falls_back() -> None:
    """A failing tool-capable member is replaced by the next one, streaming or not."""
    router = make_router(
        models={"big": FailingLLM(function_calling=True), "small": MockToolLLM(model="small")},
        pool=None,
        prior_quality={"big": 0.9, "small": 0.5},
    )
    response = router.chat_with_tools([TOOL], user_msg="add", preference="quality")
    routing = response.additional_kwargs["routing"]
    assert (routing["model"], routing["fallbacks"][0]["model"]) == ("small", "big")
    assert router.producer_of(response) == "small"
    chunks = list(router.stream_chat_with_tools([TOOL], user_msg="add", preference="quality"))
    assert chunks[-1].additional_kwargs["routing"]["model"] == "small"


def test_failing_llm_without_function_calling_is_skipped_for_tools() -> None:
    """A member that cannot call tools is not even tried for a tool call."""
    router = make_router(
        models={"big": FailingLLM(), "small": MockToolLLM(model="small")},
        pool=None,
        prior_quality={"big": 0.9, "small": 0.5},
    )
    response = router.chat_with_tools([TOOL], user_msg="add", preference="quality")
    assert response.additional_kwargs["routing"]["ranking"] == ["small"]


def test_streaming_tool_calls(router: RouterLLM) -> None:
    """stream_chat_with_tools streams the member's tool call, stamped and parseable."""
    chunks = list(router.stream_chat_with_tools([TOOL], user_msg="add", preference="cost"))
    (call,) = router.get_tool_calls_from_response(chunks[-1])
    assert call.tool_name == "add"
    assert router.producer_of(chunks[-1]) == "small"


async def test_async_tool_calls(router: RouterLLM) -> None:
    """achat_with_tools and astream_chat_with_tools delegate too."""
    response = await router.achat_with_tools([TOOL], user_msg="add", preference="quality")
    assert router.producer_of(response) == "big"
    stream = await router.astream_chat_with_tools([TOOL], user_msg="add", preference="cost")
    chunks = [c async for c in stream]
    assert router.get_tool_calls_from_response(chunks[-1])[0].tool_id.startswith("small-call")


def test_chat_with_prepared_tool_kwargs(router: RouterLLM) -> None:
    """_prepare_chat_with_tools output fed to chat() routes a tool call (base-class flow)."""
    kwargs = router._prepare_chat_with_tools([TOOL], user_msg="add", preference="cost")
    response = router.chat(**kwargs)
    assert router.get_tool_calls_from_response(response)[0].tool_id.startswith("small-call")


def test_predict_and_call(router: RouterLLM) -> None:
    """predict_and_call runs the tool picked by the routed member."""
    result = router.predict_and_call([TOOL], user_msg="add 1 and 2", preference="quality")
    assert result.response == "3"


async def test_function_agent_with_per_call_preferences(router: RouterLLM) -> None:
    """A FunctionAgent runs through the router; bound and tagged preferences pick the member."""
    agent = FunctionAgent(tools=[TOOL], llm=router.with_preference("quality"))
    output = await agent.run("add 1 and 2")
    assert str(output) == "big answer"
    agent = FunctionAgent(tools=[TOOL], llm=router, streaming=True)
    with instrument_tags({"router_preference": "cost"}):
        output = await agent.run("add 1 and 2")
    assert str(output) == "small answer"
    assert output.tool_calls[0].tool_output.content == "3"  # type: ignore[attr-defined]


def test_structured_predict(router: RouterLLM, recorder: EventRecorder) -> None:
    """structured_predict goes through a routed tool call; llm_kwargs carry the preference."""

    class Answer(BaseModel):
        city: str
        population: int = 2

    prompt = PromptTemplate("What is the capital of {country}?")
    answer = router.structured_predict(
        Answer, prompt, llm_kwargs={"preference": "cost"}, country="France"
    )
    assert answer == Answer(city="x", population=2)
    (event,) = recorder.of("RoutingDecisionEvent")
    assert (event.model, event.needs_tools) == ("small", True)  # type: ignore[attr-defined]
