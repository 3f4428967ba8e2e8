"""RouterChatModel: preference resolution, delegation, tracing, fallbacks, tools and stickiness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler, UsageMetadataCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from langchain_router import RouterChatModel
from langchain_router.testing import FailingChatModel, FakeToolChatModel
from shared import (
    AllCandidatesFailedError,
    HashingEncoder,
    InvalidParameterError,
    ModelCard,
    Preference,
    PreferenceError,
    RoutingEngine,
    UnknownModelError,
)
from tests.async_helpers import SlowEncoder, ticks_during

from .conftest import BIG, SMALL, MakeRouter


class _Starts(BaseCallbackHandler):
    """Collects the chat-model run starts (one per LLM run)."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.starts.append({"run_id": run_id, **kwargs})


def _answered(msg: AIMessage) -> str:
    return str(msg.response_metadata["routing"]["model"])


def test_preference_argument_beats_config_and_default(make_router: MakeRouter) -> None:
    """The preference= keyword wins over the configurable key, which wins over the field."""
    router = make_router(default_preference="cost")
    assert _answered(router.invoke("hi")) == "small"
    cfg: RunnableConfig = {"configurable": {"router_preference": "quality"}}
    assert _answered(router.invoke("hi", cfg)) == "big"
    assert _answered(router.invoke("hi", cfg, preference=1.0)) == "small"
    assert _answered(router.invoke("hi", {"configurable": {"preference": {"cost": 0.0}}})) == "big"


def test_router_preference_key_beats_alternative_key(make_router: MakeRouter) -> None:
    """configurable["router_preference"] takes precedence over configurable["preference"]."""
    cfg: RunnableConfig = {"configurable": {"router_preference": "cost", "preference": "quality"}}
    msg = make_router().invoke("hi", cfg)
    assert msg.response_metadata["routing"]["preference"]["cost"] == 1.0


def test_bind_and_with_config_carry_preference(make_router: MakeRouter) -> None:
    """.bind(preference=...) and .with_config(configurable=...) reach the routing decision."""
    router = make_router()
    assert _answered(router.bind(preference="cost").invoke("hi")) == "small"
    bound = router.with_config(configurable={"router_preference": "cost"})
    assert _answered(bound.invoke("hi")) == "small"


@pytest.mark.parametrize("bad", ["cheap", 1.5, {"speed": 1.0}, -0.1, True])
def test_invalid_preferences_raise_preference_error(make_router: MakeRouter, bad: Any) -> None:
    """Unknown presets, keys and out-of-range weights raise PreferenceError everywhere."""
    router = make_router()
    with pytest.raises(PreferenceError):
        router.invoke("hi", preference=bad)
    with pytest.raises(PreferenceError):
        router.invoke("hi", {"configurable": {"router_preference": bad}})
    with pytest.raises(PreferenceError):
        make_router(default_preference=bad)


def test_routing_metadata_and_member_metadata_kept(make_router: MakeRouter) -> None:
    """The answer keeps the member's metadata and usage and adds the decision under "routing"."""
    msg = make_router().invoke("What is 2 + 2?", preference="quality")
    routing = msg.response_metadata["routing"]
    assert msg.response_metadata["model_name"] == "big"
    assert routing["model"] == "big" and routing["ranking"] == ["big", "small"]
    assert routing["fallbacks"] == [] and routing["sticky"] is False
    assert set(routing["scores"]) == {"big", "small"} and routing["propensity"] == 1.0
    assert routing["decision_id"] and routing["preference"]["quality"] == 1.0
    assert msg.usage_metadata == {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}


def test_one_llm_run_traced_as_the_member(make_router: MakeRouter) -> None:
    """A call is one LLM run whose tracing params name the member, with usage counted once."""
    starts, usage = _Starts(), UsageMetadataCallbackHandler()
    make_router().invoke("hello", {"callbacks": [starts, usage]}, preference="cost")
    assert len(starts.starts) == 1
    meta = starts.starts[0]["metadata"]
    assert (meta["ls_provider"], meta["ls_model_name"]) == ("fake", "small")
    assert starts.starts[0]["invocation_params"]["_type"] == "prefroute-router"
    assert usage.usage_metadata["small"]["input_tokens"] == 1
    assert list(usage.usage_metadata) == ["small"]


def test_ls_params_honour_member_keys_and_other_names(make_router: MakeRouter) -> None:
    """_get_ls_params gives the member's provider for a key and echoes any other model name."""
    router = make_router()
    assert router._get_ls_params(model="big")["ls_model_name"] == "big"
    assert router._get_ls_params(model="sentinel")["ls_model_name"] == "sentinel"
    assert router._get_ls_params()["ls_provider"] == "prefroute"


def test_model_argument_forces_a_member(make_router: MakeRouter) -> None:
    """model=<key> answers with that member; an unknown name raises UnknownModelError."""
    router = make_router()
    msg = router.invoke("hi", model="small", preference="quality")
    assert _answered(msg) == "small" and msg.response_metadata["routing"]["ranking"] == ["small"]
    with pytest.raises(UnknownModelError):
        router.invoke("hi", model="gpt-9")


def test_generate_and_v3_events_route_inside_the_model(make_router: MakeRouter) -> None:
    """Paths that skip invoke (generate(), stream_events v3) still route with the preference."""
    router = make_router()
    result = router.generate([[HumanMessage("hi")]], preference="cost")
    generation = result.generations[0][0]
    assert isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage)
    assert _answered(generation.message) == "small"
    stream = router.stream_events("hi", version="v3")
    list(stream)
    assert stream.output.response_metadata["model_name"] == "big"


def test_fallback_before_output(make_router: MakeRouter) -> None:
    """A failing first choice is replaced by the next candidate and recorded in fallbacks."""
    router = make_router(
        models={"big": FailingChatModel(message="quota"), "small": FakeToolChatModel()}
    )
    msg = router.invoke("hi", preference="quality")
    routing = msg.response_metadata["routing"]
    assert routing["model"] == "small" and routing["ranking"] == ["small", "big"]
    assert routing["fallbacks"] == [{"model": "big", "error": "RuntimeError: quota"}]


def test_all_candidates_failed(make_router: MakeRouter) -> None:
    """When every member fails, AllCandidatesFailedError lists each error."""
    router = make_router(models={"big": FailingChatModel(), "small": FailingChatModel()})
    with pytest.raises(AllCandidatesFailedError) as info:
        router.invoke("hi")
    assert set(info.value.errors) == {"big", "small"}


def test_fallback_disabled_propagates_member_error(make_router: MakeRouter) -> None:
    """fallback=False raises the first member's own error."""
    router = make_router(
        models={"big": FailingChatModel(message="down"), "small": FakeToolChatModel()},
        fallback=False,
    )
    with pytest.raises(RuntimeError, match="down"):
        router.invoke("hi", preference="quality")


def test_stream_falls_back_before_first_chunk(make_router: MakeRouter) -> None:
    """Streaming switches member when the first one fails before its first chunk."""
    router = make_router(models={"big": FailingChatModel(), "small": FakeToolChatModel()})
    chunks = list(router.stream("one two", preference="quality"))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.response_metadata["routing"]["model"] == "small"
    assert full.content == "fake-tool-model says: one two"
    assert chunks[-1].chunk_position == "last" and full.usage_metadata is not None


def test_stream_error_after_first_chunk_propagates(make_router: MakeRouter) -> None:
    """After output was streamed, a member error is raised, not hidden by a fallback."""
    router = make_router(
        models={"big": FailingChatModel(fail_after_chunks=1), "small": FakeToolChatModel()}
    )
    stream = router.stream("one two", preference="quality")
    assert next(stream).content == "failing-model"
    with pytest.raises(RuntimeError, match="provider error"):
        next(stream)


async def test_async_paths_route_and_fall_back(make_router: MakeRouter) -> None:
    """ainvoke, astream and abatch route per call, and async fallback works."""
    router = make_router(models={"big": FailingChatModel(), "small": FakeToolChatModel()})
    assert _answered(await router.ainvoke("hi", preference="quality")) == "small"
    chunks = [c async for c in router.astream("hi", preference="quality")]
    assert chunks[0].response_metadata["routing"]["fallbacks"][0]["model"] == "big"
    ok = make_router()
    out = await ok.abatch(
        ["a", "b"],
        [{"configurable": {"router_preference": p}} for p in ("quality", "cost")],
    )
    assert [_answered(m) for m in out] == ["big", "small"]


def test_member_without_streaming_yields_one_final_chunk(make_router: MakeRouter) -> None:
    """A member that cannot stream is called once and its answer becomes one final chunk (then
    the router's estimated usage, as the member reports none)."""
    plain = FakeMessagesListChatModel(responses=[AIMessage("whole answer")])
    router = make_router(models={"plain": plain}, pool=None)
    chunks = list(router.stream("hi"))
    assert [c.content for c in chunks] == ["whole answer", ""]
    assert chunks[0].chunk_position == "last" and chunks[0].usage_metadata is None
    assert chunks[1].usage_metadata == {"input_tokens": 1, "output_tokens": 3, "total_tokens": 4}
    assert chunks[1].response_metadata["routing"] == {"usage_estimated": True}


def test_tools_route_only_to_capable_members(make_router: MakeRouter) -> None:
    """With tools bound, members whose card lacks tool support are never candidates."""
    no_tools = ModelCard("small", input_usd_per_1m=0.1, supports_tools=False)
    router = make_router(pool={"big": BIG, "small": no_tools})

    def lookup(city: str) -> str:
        """Look up a city."""
        return city

    msg = router.bind_tools([lookup]).invoke("Find 'Paris'", preference="cost")
    assert _answered(msg) == "big" and msg.response_metadata["routing"]["ranking"] == ["big"]
    assert msg.tool_calls[0]["args"] == {"city": "Paris"}
    assert _answered(router.invoke("hi", preference="cost")) == "small"


def test_structured_output_across_the_pool(make_router: MakeRouter) -> None:
    """with_structured_output parses the chosen member's tool call into the schema."""

    class Answer(BaseModel):
        """An answer."""

        value: int

    router = make_router(pool={"big": BIG, "small": SMALL})
    assert router.with_structured_output(Answer).invoke("2 + 40 = 42", preference="cost") == (
        Answer(value=2)
    )


def test_default_cards_read_member_capabilities() -> None:
    """Without cards, a member lacking bind_tools is not a tool candidate."""
    router = RouterChatModel(
        models={"tools": FakeToolChatModel(), "plain": FakeMessagesListChatModel(responses=[])},
        encoder=HashingEncoder(n_features=16),
    )
    pool = router.routing_engine.pool
    assert pool["tools"].supports_tools and not pool["plain"].supports_tools
    assert pool["plain"].input_usd_per_1m == 0.0


def test_tool_loop_sticks_to_the_member(make_router: MakeRouter) -> None:
    """A tool result after a routed answer keeps the member unless sticky=False."""
    previous = AIMessage(
        "",
        tool_calls=[{"name": "f", "args": {}, "id": "c1", "type": "tool_call"}],
        response_metadata={"model_name": "big"},
    )
    history = [HumanMessage("go"), previous, ToolMessage("42", tool_call_id="c1")]
    msg = make_router().invoke(history, preference="cost")
    routing = msg.response_metadata["routing"]
    assert _answered(msg) == "big" and routing["sticky"] is True
    assert routing["propensity"] == 1.0 and routing["ranking"] == ["big", "small"]
    assert _answered(make_router(sticky=False).invoke(history, preference="cost")) == "small"


def test_conversation_sticks_to_routed_member(make_router: MakeRouter) -> None:
    """A previous answer stamped with routing metadata keeps the next turn on that member."""
    router = make_router()
    first = router.invoke("hi", preference="quality")
    second = router.invoke([HumanMessage("hi"), first, HumanMessage("more")], preference="cost")
    assert _answered(second) == "big"


def test_sticky_member_failure_falls_back_to_the_others(make_router: MakeRouter) -> None:
    """A pinned member failing before output is replaced by the next candidate, and recorded."""
    router = make_router(
        models={"big": FailingChatModel(message="down"), "small": FakeToolChatModel()}
    )
    previous = AIMessage("x", response_metadata={"routing": {"model": "big"}})
    msg = router.invoke([HumanMessage("a"), previous, HumanMessage("b")], preference="quality")
    routing = msg.response_metadata["routing"]
    assert routing["model"] == "small" and routing["sticky"] is True
    assert routing["propensity"] == 1.0
    assert routing["fallbacks"] == [{"model": "big", "error": "RuntimeError: down"}]
    pinned = make_router(
        models={"big": FailingChatModel(message="down"), "small": FakeToolChatModel()},
        fallback=False,
    )
    with pytest.raises(RuntimeError, match="down"):
        pinned.invoke([HumanMessage("a"), previous, HumanMessage("b")], preference="cost")


def test_sticky_member_must_still_be_a_candidate(make_router: MakeRouter) -> None:
    """Stickiness never overrides capability filtering."""
    router = make_router(pool={"big": BIG, "small": SMALL.__class__("small", supports_tools=False)})
    previous = AIMessage("x", response_metadata={"routing": {"model": "small"}})

    def f(x: int) -> int:
        """F."""
        return x

    msg = router.bind_tools([f]).invoke([HumanMessage("a"), previous, HumanMessage("1")])
    assert _answered(msg) == "big" and msg.response_metadata["routing"]["sticky"] is False


def test_profile_is_the_intersection_of_members() -> None:
    """The router's profile keeps the smallest limits and the common capabilities."""
    a = FakeToolChatModel(profile={"max_input_tokens": 1000, "tool_calling": True})
    b = FakeToolChatModel(profile={"max_input_tokens": 500, "tool_calling": False})
    router = RouterChatModel(models={"a": a, "b": b}, encoder=HashingEncoder(n_features=8))
    assert router.profile == {"max_input_tokens": 500, "tool_calling": False}


def test_engine_can_be_given(make_router: MakeRouter) -> None:
    """A ready RoutingEngine is used as is; its pool must match the members."""
    engine = RoutingEngine([BIG, SMALL], encoder=HashingEncoder(n_features=32), explore=False)
    members = make_router().models
    router = RouterChatModel(models=members, engine=engine)
    assert router.routing_engine is engine
    assert _answered(router.invoke("hi", preference=Preference(quality=0, cost=1))) == "small"
    with pytest.raises(InvalidParameterError):
        RouterChatModel(
            models=members, engine=RoutingEngine([BIG], encoder=HashingEncoder(n_features=8))
        )


@pytest.mark.parametrize(
    "part",
    [
        {"pool": {"big": BIG}},
        {"encoder": HashingEncoder(n_features=8)},
        {"explore": False},
        {"prior_quality": {"big": 0.9}},
    ],
)
def test_engine_refuses_parts_it_would_ignore(make_router: MakeRouter, part: Any) -> None:
    """engine= with a pool, encoder, router, priors or explore flag is refused, not ignored."""
    engine = RoutingEngine([BIG, SMALL], encoder=HashingEncoder(n_features=32))
    with pytest.raises(InvalidParameterError, match="would be ignored"):
        RouterChatModel(models=make_router().models, engine=engine, **part)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"models": {}}, InvalidParameterError),
        ({"models": {"a": "not a model"}}, InvalidParameterError),
        ({"pool": {"other": ModelCard("other")}}, UnknownModelError),
        ({"pool": {"big": ModelCard("renamed")}}, InvalidParameterError),
        ({"prior_quality": {"big": 2.0}}, InvalidParameterError),
    ],
)
def test_invalid_construction(make_router: MakeRouter, overrides: Any, error: type) -> None:
    """Bad pools, cards and priors raise typed errors at construction."""
    with pytest.raises(error):
        make_router(**overrides)


def test_long_conversations_skip_small_context_windows(make_router: MakeRouter) -> None:
    """The whole history counts against a member's context window."""
    tiny = ModelCard("small", input_usd_per_1m=0.1, context_window=50)
    router = make_router(pool={"big": BIG, "small": tiny}, sticky=False)
    assert _answered(router.invoke("short", preference="cost")) == "small"
    turns = [HumanMessage("q"), AIMessage("a")] * 3  # pushes the long turn out of the encoded text
    history = [HumanMessage("word " * 100), AIMessage("ok"), *turns, HumanMessage("short")]
    assert _answered(router.invoke(history, preference="cost")) == "big"


def test_structured_output_skips_members_without_it(make_router: MakeRouter) -> None:
    """with_structured_output only considers members whose card supports structured output."""

    class Answer(BaseModel):
        """An answer."""

        value: int

    plain = ModelCard("small", input_usd_per_1m=0.1, supports_structured_output=False)
    router = make_router(pool={"big": BIG, "small": plain})
    chain = router.with_structured_output(Answer, include_raw=True)
    out = chain.invoke("7", preference="cost")
    assert isinstance(out, dict) and out["parsed"] == Answer(value=7)
    assert out["raw"].response_metadata["routing"]["ranking"] == ["big"]


async def test_async_routing_does_not_block_the_event_loop(make_router: MakeRouter) -> None:
    """ainvoke, astream and agenerate encode in a worker thread: a concurrent ticker keeps going."""
    router = make_router(encoder=SlowEncoder())

    async def drain() -> None:
        async for _ in router.astream("hi", preference="cost"):
            pass

    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: router.ainvoke("hi", config={"configurable": {"router_preference": "cost"}}),
        drain,
        lambda: router.agenerate([[HumanMessage("hi")]]),
    ]
    for call in calls:
        assert await ticks_during(call) >= 5  # about 20 when not blocked, 0-1 when blocked
    msg = await router.ainvoke("hi", config={"configurable": {"router_preference": "cost"}})
    assert _answered(msg) == "small"  # the run config reached the worker thread
