"""RouterLLM over real llama-index OpenAI clients (``OpenAI``, ``OpenAILike``) talking HTTP to the
local OpenAI-compatible server (tests/openai_server.py): chat engine, FunctionAgent with tools,
structured output, streaming with fallback, usage and feedback by request id."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms.llm import LLM
from llama_index_instrumentation.dispatcher import instrument_tags
from pydantic import BaseModel

from llamaindex_router import FeedbackEventHandler, RouterLLM
from shared import AllCandidatesFailedError, HashingEncoder, ModelCard
from tests.openai_server import Cut, Empty, Fail, Malformed, OpenAIServer, Reply, ToolCall

openai_llms = pytest.importorskip("llama_index.llms.openai")
openai_like = pytest.importorskip("llama_index.llms.openai_like")

CARDS = {
    "big": ModelCard("big", input_usd_per_1m=10.0, output_usd_per_1m=30.0),
    "small": ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4),
}


def member(server: OpenAIServer, name: str, **options: Any) -> LLM:
    options.setdefault("max_retries", 0)
    llm: LLM = openai_llms.OpenAI(model=name, api_base=server.url, api_key="test", **options)
    return llm


def router_over(server: OpenAIServer, **options: Any) -> RouterLLM:
    members = options.pop("members", {})
    return RouterLLM(
        {
            "big": members.get("big") or member(server, "gpt-4o"),
            "small": members.get("small") or member(server, "gpt-4o-mini"),
        },
        pool=CARDS,
        encoder=HashingEncoder(n_features=64),
        explore=False,
        **options,
    )


@pytest.fixture
def handler() -> Any:
    h = FeedbackEventHandler()
    root = get_dispatcher()
    root.add_event_handler(h)
    yield h
    root.event_handlers.remove(h)


def user(text: str = "What is the capital of France?") -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    name: str
    age: int


def test_chat_engine(openai_server: OpenAIServer) -> None:
    from llama_index.core.chat_engine import SimpleChatEngine

    engine = SimpleChatEngine.from_defaults(
        llm=router_over(openai_server, default_preference="cost")
    )
    assert str(engine.chat("Say hi")) == "gpt-4o-mini answers: Say hi"
    assert openai_server.count("gpt-4o-mini") == 1 and openai_server.count("gpt-4o") == 0


async def test_function_agent_over_a_mixed_pool(openai_server: OpenAIServer) -> None:
    """A pool with one member that cannot call tools still runs FunctionAgent; the tool calls go
    to the member that can, and the turn answering them stays there."""
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool

    no_tools = openai_like.OpenAILike(
        model="plain",
        api_base=openai_server.url,
        api_key="test",
        is_chat_model=True,
        is_function_calling_model=False,
        max_retries=0,
    )
    openai_server.script(
        "gpt-4o-mini", Reply(tool_calls=[ToolCall("add", {"a": 2, "b": 3})]), Reply("The sum is 5.")
    )
    router = router_over(openai_server, members={"big": no_tools}, default_preference="quality")
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(add)], llm=router)
    result = await agent.run("What is 2 + 3?")
    assert "The sum is 5." in str(result)
    assert openai_server.count("plain") == 0 and openai_server.count("gpt-4o-mini") == 2
    second = openai_server.requests_for("gpt-4o-mini")[1].body
    assert second["tools"][0]["function"]["name"] == "add"
    assert any(m["role"] == "tool" and m["content"] == "5" for m in second["messages"])


def test_structured_output(openai_server: OpenAIServer) -> None:
    from llama_index.core.prompts import PromptTemplate

    openai_server.script(
        "gpt-4o-mini", Reply(tool_calls=[ToolCall("Person", {"name": "Ada", "age": 36})])
    )
    router = router_over(openai_server, default_preference="cost")
    person = router.structured_predict(
        Person, PromptTemplate("Who wrote the first program? {x}"), x=""
    )
    assert person == Person(name="Ada", age=36)
    assert (
        openai_server.requests_for("gpt-4o-mini")[0].body["tools"][0]["function"]["name"]
        == "Person"
    )


def test_stream_with_fallback_records_reported_usage(
    openai_server: OpenAIServer, handler: Any
) -> None:
    """A 500 from the chosen member: one request to it, the backup streams with its usage
    requested (stream_options.include_usage), and the record holds that usage and its cost."""
    openai_server.always("gpt-4o", Fail(500))
    openai_server.always("gpt-4o-mini", Reply("a b c"))
    router = router_over(openai_server)
    chunks = list(router.stream_chat(user(), preference="quality"))
    assert chunks[-1].message.content == "a b c"
    routing = chunks[-1].additional_kwargs["routing"]
    assert routing["model"] == "small" and routing["fallbacks"][0]["model"] == "big"
    assert openai_server.count("gpt-4o") == 1
    assert openai_server.requests_for("gpt-4o-mini")[0].include_usage
    (record,) = handler.rate(routing["decision_id"], 0.8)
    assert (record.chosen_model, record.model) == ("big", "small")
    assert (record.input_tokens, record.output_tokens) == (6, 3)
    assert record.cost_usd == pytest.approx(CARDS["small"].cost(6, 3))
    assert "usage_estimated" not in record.metadata


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
    openai_server.always("gpt-4o", failure)
    router = router_over(
        openai_server, members={"big": member(openai_server, "gpt-4o", timeout=0.5)}
    )
    streamed = list(router.stream_chat(user(), preference="quality"))
    assert streamed[-1].additional_kwargs["routing"]["model"] == "small"
    answer = router.chat(user(), preference="quality")
    assert answer.additional_kwargs["routing"]["model"] == "small"
    assert openai_server.count("gpt-4o") == 2  # one request per call: the router owns retries


async def test_async_stream_falls_back_on_an_empty_stream(openai_server: OpenAIServer) -> None:
    openai_server.always("gpt-4o", Empty())
    router = router_over(openai_server)
    chunks = [c async for c in await router.astream_chat(user(), preference="quality")]
    assert chunks[-1].additional_kwargs["routing"]["model"] == "small"


def test_every_member_failing(openai_server: OpenAIServer) -> None:
    openai_server.always("gpt-4o", Fail(500)).always("gpt-4o-mini", Fail(503))
    with pytest.raises(AllCandidatesFailedError):
        router_over(openai_server).chat(user())


def test_feedback_rating_by_request_id_learns_once(
    openai_server: OpenAIServer, handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = router_over(openai_server)
    learned: list[str] = []
    monkeypatch.setattr(router.engine, "learn_record", lambda r: learned.append(r.decision_id))
    with instrument_tags({"request_id": "req-7"}):
        router.chat(user(), preference="cost")
        router.complete("And of Spain?", preference="cost")
    for _ in range(3):
        records = handler.rate("req-7", 1.0)
    assert [r.model for r in records] == ["small", "small"]
    assert all(r.input_tokens and r.cost_usd for r in records)
    assert sorted(learned) == sorted(r.decision_id for r in records)
