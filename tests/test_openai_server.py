"""The test server speaks the OpenAI protocol as the real clients read it."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.openai_server import Cut, Empty, Fail, Malformed, OpenAIServer, Reply, ToolCall


def client(server: OpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.url, api_key="test", **kwargs)


def chat(server: OpenAIServer, model: str = "m", **kwargs):
    return client(server).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "say hello"}], **kwargs
    )


def test_default_reply_names_the_model_and_counts_words(openai_server):
    out = chat(openai_server, "gpt-x")
    assert out.choices[0].message.content == "gpt-x answers: say hello"
    assert out.usage is not None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (2, 4)
    assert openai_server.count("gpt-x") == 1 and openai_server.count("other") == 0


def test_script_is_consumed_in_order_then_always_answers(openai_server):
    openai_server.script("m", Reply("one"), Reply("two")).always("m", Reply("rest"))
    texts = [chat(openai_server).choices[0].message.content for _ in range(4)]
    assert texts == ["one", "two", "rest", "rest"]


def test_stream_with_usage_chunk(openai_server):
    openai_server.always("m", Reply("a b c"))
    chunks = list(chat(openai_server, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a b c"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert openai_server.requests[-1].include_usage
    without = list(chat(openai_server, stream=True))
    assert all(c.usage is None for c in without)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls(openai_server, stream):
    openai_server.script("m", Reply(tool_calls=[ToolCall("add", {"a": 1, "b": 2}, id="call_1")]))
    if not stream:
        call = chat(openai_server).choices[0].message.tool_calls[0]
        assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
            "call_1",
            "add",
            {"a": 1, "b": 2},
        )
        return
    chunks = list(chat(openai_server, stream=True))
    deltas = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    arguments = "".join(d[0].function.arguments or "" for d in deltas)
    assert deltas[0][0].function.name == "add" and json.loads(arguments) == {"a": 1, "b": 2}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_reply(openai_server):
    openai_server.script("m", Reply(json={"name": "Ada"}))
    out = chat(openai_server, response_format={"type": "json_object"})
    assert json.loads(out.choices[0].message.content) == {"name": "Ada"}


@pytest.mark.parametrize(
    ("status", "error"), [(500, openai.InternalServerError), (429, openai.RateLimitError)]
)
def test_http_errors_and_client_retries_are_recorded(openai_server, status, error):
    openai_server.always("m", Fail(status, retry_after=0.01))
    with pytest.raises(error):
        client(openai_server, max_retries=2).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert openai_server.count("m") == 3


def test_slow_reply_times_the_client_out(openai_server):
    openai_server.always("m", Reply("late", delay=5))
    with pytest.raises(openai.APITimeoutError):
        client(openai_server, timeout=0.2).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )


@pytest.mark.parametrize("after", [0, 2])
def test_cut_stream_raises_a_transport_error(openai_server, after):
    openai_server.always("m", Cut(after=after))
    seen: list[str] = []

    def consume() -> None:
        for chunk in chat(openai_server, stream=True):
            seen.extend(c.delta.content for c in chunk.choices if c.delta.content)

    with pytest.raises((httpx.RemoteProtocolError, openai.APIError)):
        consume()
    assert len(seen) == after


def test_cut_body_raises(openai_server):
    openai_server.always("m", Cut())
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        chat(openai_server)


def test_empty_stream_has_no_chunk(openai_server):
    openai_server.always("m", Empty())
    assert list(chat(openai_server, stream=True)) == []


def test_malformed_body(openai_server):
    openai_server.always("m", Malformed())
    with pytest.raises(json.JSONDecodeError):
        chat(openai_server)


def test_text_completions(openai_server):
    out = client(openai_server).completions.create(model="m", prompt="say hello")
    assert out.choices[0].text == "m answers: say hello"
    streamed = client(openai_server).completions.create(model="m", prompt="a", stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "m answers: a"


@pytest.mark.enable_socket
def test_context_manager_and_reset():
    with OpenAIServer() as server:
        server.always("m", Reply("x"))
        chat(server)
        server.reset()
        assert server.count() == 0
        assert chat(server).choices[0].message.content == "m answers: say hello"
    with pytest.raises(RuntimeError):
        _ = server.url


def test_langchain_openai_client(openai_server):
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str

    model = ChatOpenAI(
        model="gpt-a", base_url=openai_server.url, api_key="test", max_retries=0, stream_usage=True
    )
    assert model.invoke("hi").content == "gpt-a answers: hi"
    chunks = list(model.stream("hi there"))
    assert [c.usage_metadata["output_tokens"] for c in chunks if c.usage_metadata] == [4]
    openai_server.script("gpt-a", Reply(json={"name": "Ada"}))
    assert model.with_structured_output(Person).invoke("who?") == Person(name="Ada")
    assert openai_server.requests[-1].body["response_format"]["type"] == "json_schema"


def test_llama_index_openai_client(openai_server):
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai import OpenAI

    llm = OpenAI(
        model="gpt-4o-mini",
        api_base=openai_server.url,
        api_key="test",
        max_retries=0,
        additional_kwargs={"stream_options": {"include_usage": True}},
    )
    messages = [ChatMessage(role="user", content="hi")]
    assert llm.chat(messages).message.content == "gpt-4o-mini answers: hi"
    last = list(llm.stream_chat(messages))[-1]
    assert last.message.content == "gpt-4o-mini answers: hi"
    assert last.raw.usage.completion_tokens == 3
