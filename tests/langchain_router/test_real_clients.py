"""RouterChatModel over real ``langchain_openai.ChatOpenAI`` members talking HTTP to the local
OpenAI-compatible server (tests/openai_server.py): chains, agents with tools, structured output,
streaming with fallback, retries, usage and feedback by run id."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_core.tracers.context import collect_runs
from pydantic import BaseModel

from langchain_router import FeedbackCallbackHandler, RouterChatModel
from shared import AllCandidatesFailedError, HashingEncoder, ModelCard
from tests.openai_server import Cut, Empty, Fail, Malformed, OpenAIServer, Reply, ToolCall

langchain_openai = pytest.importorskip("langchain_openai")

CARDS = {
    "big": ModelCard("big", input_usd_per_1m=10.0, output_usd_per_1m=30.0),
    "small": ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4),
}


def member(server: OpenAIServer, name: str, **options: Any) -> Any:
    options.setdefault("max_retries", 0)
    return langchain_openai.ChatOpenAI(model=name, base_url=server.url, api_key="test", **options)


def router_over(server: OpenAIServer, **options: Any) -> RouterChatModel:
    members = options.pop("members", {})
    return RouterChatModel(
        models={
            "big": members.get("big") or member(server, "gpt-big"),
            "small": members.get("small") or member(server, "gpt-small"),
        },
        pool=CARDS,
        encoder=HashingEncoder(n_features=64),
        explore=False,
        **options,
    )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    name: str
    age: int


def test_chain(openai_server: OpenAIServer) -> None:
    router = router_over(openai_server)
    chain = ChatPromptTemplate.from_messages([("user", "Say {word}")]) | router | StrOutputParser()
    assert chain.invoke({"word": "hi"}, {"configurable": {"router_preference": "cost"}}) == (
        "gpt-small answers: Say hi"
    )
    assert chain.invoke({"word": "hi"}, {"configurable": {"router_preference": "quality"}}) == (
        "gpt-big answers: Say hi"
    )
    assert openai_server.count("gpt-small") == openai_server.count("gpt-big") == 1


def test_agent_with_tools(openai_server: OpenAIServer) -> None:
    """create_agent over the router: the tool loop stays on the member that called the tool."""
    from langchain.agents import create_agent

    openai_server.script(
        "gpt-big", Reply(tool_calls=[ToolCall("add", {"a": 2, "b": 3})]), Reply("The sum is 5.")
    )
    agent = create_agent(router_over(openai_server, default_preference="quality"), tools=[add])
    result = agent.invoke({"messages": [("user", "What is 2 + 3?")]})
    messages = result["messages"]
    assert messages[-1].content == "The sum is 5."
    assert any(m.type == "tool" and m.content == "5" for m in messages)
    assert openai_server.count("gpt-big") == 2 and openai_server.count("gpt-small") == 0
    second = openai_server.requests_for("gpt-big")[1].body
    assert second["tools"][0]["function"]["name"] == "add"
    assert second["messages"][-1]["role"] == "tool"


def test_structured_output(openai_server: OpenAIServer) -> None:
    openai_server.script(
        "gpt-small", Reply(tool_calls=[ToolCall("Person", {"name": "Ada", "age": 36})])
    )
    structured = router_over(openai_server).with_structured_output(Person)
    assert structured.invoke("Who wrote the first program?", preference="cost") == Person(
        name="Ada", age=36
    )
    (request,) = openai_server.requests_for("gpt-small")
    assert request.body["tools"][0]["function"]["name"] == "Person"


def test_stream_with_fallback_reports_usage_and_the_answering_member(
    openai_server: OpenAIServer,
) -> None:
    """A 500 from the chosen member: one request to it (no member retries), the backup streams
    with its usage requested, and the trace names the backup."""
    openai_server.always("gpt-big", Fail(500))
    openai_server.always("gpt-small", Reply("a b c"))
    router = router_over(openai_server)
    with collect_runs() as runs:
        chunks = list(router.stream("hi", preference="quality"))
    merged = sum(chunks[1:], chunks[0])
    assert merged.content == "a b c"
    routing = merged.response_metadata["routing"]
    assert routing["model"] == "small" and routing["fallbacks"][0]["model"] == "big"
    assert "usage_estimated" not in routing
    assert merged.usage_metadata["output_tokens"] == 3
    assert openai_server.count("gpt-big") == 1
    assert openai_server.requests_for("gpt-small")[0].include_usage
    assert runs.traced_runs[0].extra["metadata"]["ls_model_name"] == "gpt-small"


@pytest.mark.parametrize(
    "failure",
    [
        Fail(500),
        Fail(429, retry_after=0.01),
        Cut(after=0),
        Empty(),
        Malformed(),
        Reply("late", delay=5),
    ],
    ids=["500", "429", "cut", "empty", "malformed", "timeout"],
)
def test_provider_failures_fall_back(openai_server: OpenAIServer, failure: Any) -> None:
    openai_server.always("gpt-big", failure)
    router = router_over(
        openai_server, members={"big": member(openai_server, "gpt-big", timeout=0.5)}
    )
    streamed = list(router.stream("hi", preference="quality"))
    assert streamed[0].response_metadata["routing"]["model"] == "small"
    answer = router.invoke("hi", preference="quality")
    assert answer.response_metadata["routing"]["model"] == "small"
    assert openai_server.count("gpt-big") == 2  # one request per call: the router owns retries


def test_a_stream_cut_after_output_is_not_retried(openai_server: OpenAIServer) -> None:
    openai_server.always("gpt-big", Cut(after=2))
    router = router_over(openai_server)
    seen: list[str] = []
    with pytest.raises(Exception, match=r"incomplete|peer closed|chunked"):  # noqa: PT012
        for chunk in router.stream("hi", preference="quality"):
            seen.append(str(chunk.content))
    assert "".join(seen).strip() and openai_server.count("gpt-small") == 0


def test_every_member_failing(openai_server: OpenAIServer) -> None:
    openai_server.always("gpt-big", Fail(500)).always("gpt-small", Fail(503))
    with pytest.raises(AllCandidatesFailedError):
        router_over(openai_server).invoke("hi")


def test_a_wrong_keyword_is_raised_at_once(openai_server: OpenAIServer) -> None:
    """A caller error (TypeError from the client) is not retried on the other members."""
    router = router_over(openai_server)
    with pytest.raises(TypeError):
        router.invoke("hi", preference="quality", temprature=0.2)
    assert openai_server.count() == 0


def test_member_retries_are_reported(
    openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    """ChatOpenAI's default max_retries=2 sends three requests before the router can fall back;
    the router warns about such members."""
    openai_server.always("gpt-big", Fail(500, retry_after=0.01))
    with caplog.at_level(logging.WARNING, logger="prefroute.serving"):
        router = router_over(
            openai_server, members={"big": member(openai_server, "gpt-big", max_retries=2)}
        )
    assert "['big']" in caplog.text
    router.invoke("hi", preference="quality")
    assert openai_server.count("gpt-big") == 3


def test_feedback_rating_by_run_id(openai_server: OpenAIServer) -> None:
    handler = FeedbackCallbackHandler()
    router = router_over(openai_server, callbacks=[handler])
    run_id = uuid.uuid4()
    router.invoke("What is the capital of France?", {"run_id": run_id}, preference="cost")
    (record,) = handler.rate(run_id, 0.9)
    assert record.model == "small" and record.score == 0.9
    assert record.input_tokens == 6 and record.output_tokens == 8
    assert record.cost_usd == pytest.approx(CARDS["small"].cost(6, 8))
    assert handler.learned() == [record.decision_id]
    streamed_id = uuid.uuid4()
    list(router.stream("and Spain?", {"run_id": streamed_id}, preference="cost"))
    (streamed,) = handler.rate(streamed_id, 0.5)
    assert streamed.output_tokens == 4 and "usage_estimated" not in streamed.metadata
