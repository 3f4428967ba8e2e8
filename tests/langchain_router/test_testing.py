"""The public fakes in langchain_router.testing behave as documented."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_router.testing import FailingChatModel, FakeToolChatModel, ReplayChatModel
from shared import DataError


def lookup(city: str, days: int = 1, metric: bool = False) -> str:
    """Forecast for a city."""
    return city


def other(x: float) -> float:
    """Another tool."""
    return x


def test_tool_call_arguments_follow_the_schema_and_prompt() -> None:
    """Strings take the quoted phrase, integers the numbers, booleans True."""
    msg = FakeToolChatModel().bind_tools([lookup]).invoke("Weather in 'São Paulo' for 3 days")
    assert msg.tool_calls[0]["name"] == "lookup"
    assert msg.tool_calls[0]["args"] == {"city": "São Paulo", "days": 3, "metric": True}


def test_tool_choice_rules() -> None:
    """A named tool_choice picks that tool, "none" answers in text, a tool result ends the loop."""
    fake = FakeToolChatModel(answer="done")
    assert fake.bind_tools([lookup, other], tool_choice="other").invoke("2.5").tool_calls[0][
        "args"
    ] == {"x": 2.5}
    assert fake.bind_tools([lookup], tool_choice="none").invoke("hi").content == "done"
    history = [
        HumanMessage("hi"),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {}, "id": "1", "type": "tool_call"}]),
        ToolMessage("sunny", tool_call_id="1"),
    ]
    assert fake.bind_tools([lookup]).invoke(history).content == "done"
    assert fake.bind_tools([lookup], tool_choice="any").invoke(history).tool_calls


def test_stream_usage_stop_and_model_override() -> None:
    """Streaming is word by word with usage on the final chunk; stop and model= are honoured."""
    fake = FakeToolChatModel(answer="alpha beta gamma")
    chunks = list(fake.stream("one two three", stop=["gamma"], model="other-name"))
    assert [c.content for c in chunks] == ["alpha", " beta", ""]
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.content == "alpha beta"
    assert full.usage_metadata == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert full.response_metadata["model_name"] == "other-name"
    assert chunks[-1].chunk_position == "last"


def test_failing_model_fails_before_or_after_chunks() -> None:
    """FailingChatModel raises on invoke, and when streaming after the configured chunks."""
    with pytest.raises(RuntimeError, match="boom"):
        FailingChatModel(message="boom").invoke("x")
    stream = FailingChatModel(fail_after_chunks=2, answer="a b c").stream("x")
    assert [next(stream).content, next(stream).content] == ["a", " b"]
    with pytest.raises(RuntimeError):
        next(stream)


def test_replay_reports_recorded_quality_and_cost() -> None:
    """ReplayChatModel's usage priced by its card equals the recorded cost."""
    replay = ReplayChatModel(model_name="m", outcomes={"q1": (0.25, 0.00123), "q2": (1.0, 0.002)})
    msg = replay.invoke("q1")
    usage = msg.usage_metadata
    assert usage is not None and msg.response_metadata["replay"] == {
        "quality": 0.25,
        "cost_usd": 0.00123,
    }
    assert replay.card().cost(usage["input_tokens"], usage["output_tokens"]) == pytest.approx(
        0.00123, abs=1e-7
    )
    assert replay.card().expected_output_tokens == 20_000
    assert msg.content == "[m] recorded answer"


def test_replay_lookup_callable_and_missing_prompt() -> None:
    """A lookup callable works; a prompt without a finite outcome raises DataError."""
    replay = ReplayChatModel(model_name="m", outcomes=lambda p: (0.5, 0.001) if p == "a" else None)
    assert replay.invoke("a").response_metadata["replay"]["quality"] == 0.5
    with pytest.raises(DataError):
        replay.invoke("b")
    with pytest.raises(DataError):
        ReplayChatModel(outcomes={"a": (float("nan"), 0.1)}).invoke("a")
