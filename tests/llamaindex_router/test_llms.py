"""RouterLLM: direct calls, completion mapping, metadata, preference scoping, construction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import MockLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool
from llama_index_instrumentation.dispatcher import instrument_tags

from llamaindex_router import RouterLLM
from llamaindex_router.testing import MockChatLLM, MockToolLLM
from shared import (
    Decision,
    HashingEncoder,
    InvalidParameterError,
    ModelCard,
    Preference,
    PreferenceError,
    RoutingEngine,
    UnknownModelError,
)
from tests.async_helpers import SlowEncoder, ticks_during

from .conftest import QUESTION, EventRecorder, make_cards, make_router


def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


def user(text: str = QUESTION) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


def test_is_a_function_calling_llm(router: RouterLLM) -> None:
    """The router plugs in wherever LlamaIndex expects a function-calling LLM."""
    assert isinstance(router, FunctionCallingLLM)
    assert RouterLLM.class_name() == "RouterLLM"


def test_chat_routes_by_preference_and_stamps_response(router: RouterLLM) -> None:
    """Quality goes to the expensive member, cost to the cheap one; the decision is attached."""
    best = router.chat(user(), preference="quality")
    cheap = router.chat(user(), preference="cost")
    assert best.message.content == "big answer"
    assert cheap.message.content == "small answer"
    routing = cheap.additional_kwargs["routing"]
    assert routing["model"] == "small"
    assert routing["fallbacks"] == []
    assert routing["sticky"] is False
    assert Decision.from_dict(routing).model == "small"
    assert "routing" not in cheap.message.additional_kwargs


def test_stream_chat_yields_member_chunks(router: RouterLLM) -> None:
    """Streaming passes the member's chunks through, each stamped with the decision."""
    chunks = list(router.stream_chat(user(), preference="cost"))
    assert "".join(c.delta or "" for c in chunks) == "small answer"
    assert chunks[-1].message.content == "small answer"
    assert {c.additional_kwargs["routing"]["model"] for c in chunks} == {"small"}


async def test_async_chat_and_stream(router: RouterLLM) -> None:
    """achat and astream_chat route and delegate like their sync forms."""
    response = await router.achat(user(), preference="quality")
    assert response.message.content == "big answer"
    stream = await router.astream_chat(user(), preference="cost")
    chunks = [c async for c in stream]
    assert chunks[-1].message.content == "small answer"
    assert chunks[-1].additional_kwargs["routing"]["model"] == "small"


def test_complete_maps_to_chat_for_chat_members() -> None:
    """A chat member receives the prompt as one user message; a completion member completes."""
    chat_member = MockChatLLM(reply="from chat")
    text_member = MockChatLLM(reply="from complete", is_chat=False)
    router = make_router(models={"big": chat_member, "small": text_member})
    assert router.complete("hi", preference="quality").text == "from chat"
    assert chat_member.calls == ["chat"]
    assert [m.role for m in chat_member.last_messages] == [MessageRole.USER]
    assert router.complete("hi", preference="cost").text == "from complete"
    assert text_member.calls == ["complete"]


def test_stream_complete_both_member_kinds() -> None:
    """stream_complete streams chat members' chunks as completions, and completion members too."""
    router = make_router(
        models={"big": MockChatLLM(reply="a b c"), "small": MockChatLLM(reply="x y", is_chat=False)}
    )
    big = list(router.stream_complete("hi", preference="quality"))
    assert [c.delta for c in big] == ["a", " b", " c"]
    assert big[-1].text == "a b c"
    small = list(router.stream_complete("hi", preference="cost"))
    assert small[-1].text == "x y"
    assert small[-1].additional_kwargs["routing"]["model"] == "small"


async def test_async_complete_and_stream_complete() -> None:
    """acomplete and astream_complete work for chat and completion members."""
    router = make_router(
        models={"big": MockChatLLM(reply="a b"), "small": MockChatLLM(reply="x y", is_chat=False)}
    )
    assert (await router.acomplete("hi", preference="quality")).text == "a b"
    stream = await router.astream_complete("hi", preference="cost")
    chunks = [c async for c in stream]
    assert chunks[-1].text == "x y"
    stream = await router.astream_complete("hi", preference="quality")
    assert [c.delta async for c in stream] == ["a", " b"]


def test_completion_only_member_keeps_roles_through_chat() -> None:
    """chat() goes to member.chat, so a completion-only LLM formats the roles itself."""
    router = make_router(models={"big": MockLLM(), "small": MockLLM()}, pool=None)
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="hello"),
    ]
    text = router.chat(messages).message.content or ""
    assert "system: Be brief." in text
    assert "user: hello" in text


def test_metadata_is_honest() -> None:
    """Smallest context and output; chat only when every member is; function calling when at
    least one member is (tool calls are routed to those only)."""
    router = make_router(
        models={
            "big": MockToolLLM(context_window=32_000, num_output=1_000),
            "small": MockChatLLM(context_window=4_000, num_output=500, is_chat=False),
        }
    )
    md = router.metadata
    assert md.context_window == 4_000
    assert md.num_output == 500
    assert md.is_function_calling_model is True
    assert md.is_chat_model is False
    assert md.model_name == "prefroute-router"
    no_tools = make_router(models={"big": MockChatLLM(), "small": MockChatLLM()})
    assert no_tools.metadata.is_function_calling_model is False
    assert router.engine.pool["small"].supports_tools is False  # the card was corrected
    all_tools = make_router()
    assert all_tools.metadata.is_function_calling_model is True
    assert all_tools.metadata.is_chat_model is True


def test_metadata_uses_smaller_card_context() -> None:
    """A card's context window smaller than the member's metadata is the one reported."""
    cards = [ModelCard("big", context_window=1_000), ModelCard("small")]
    router = make_router(pool=cards)
    assert router.metadata.context_window == 1_000


def test_default_cards_come_from_member_metadata() -> None:
    """Without cards, context window and tool support are read from the members."""
    router = make_router(
        models={"a": MockToolLLM(context_window=2_048), "b": MockChatLLM()}, pool=None
    )
    assert router.engine.pool["a"].context_window == 2_048
    assert router.engine.pool["a"].supports_tools is True
    assert router.engine.pool["b"].supports_tools is False


def test_preference_precedence(router: RouterLLM) -> None:
    """Keyword beats the scoped setting, which beats the tag, which beats the bound default."""
    bound = router.with_preference("cost")
    assert bound.chat(user()).message.content == "small answer"
    with instrument_tags({"router_preference": "quality"}):
        assert bound.chat(user()).message.content == "big answer"
        with bound.preference(0.9):
            assert bound.chat(user()).message.content == "small answer"
            assert bound.chat(user(), preference="quality").message.content == "big answer"
    assert router.chat(user()).message.content == "big answer"  # the original is unchanged
    assert router.resolve_preference() is None
    assert bound.resolve_preference() == Preference(quality=0, cost=1)


def test_scoped_preference_is_per_task(router: RouterLLM) -> None:
    """Concurrent asyncio tasks each see their own scoped preference."""

    async def ask(pref: str) -> str:
        with router.preference(pref):
            await asyncio.sleep(0)
            return (await router.achat(user())).message.content or ""

    async def both() -> list[str]:
        return list(await asyncio.gather(ask("quality"), ask("cost")))

    assert asyncio.run(both()) == ["big answer", "small answer"]


def test_preference_forms_and_errors(router: RouterLLM) -> None:
    """Presets, cost weights and mappings are accepted; malformed preferences raise."""
    assert router.resolve_preference("balanced") == Preference.balanced()
    assert router.resolve_preference(0.25) == Preference(quality=0.75, cost=0.25)
    assert router.resolve_preference({"cost": 1.0}) == Preference(quality=0, cost=1)
    with pytest.raises(PreferenceError, match="Unknown preference"):
        router.chat(user(), preference="cheapest")
    with pytest.raises(PreferenceError):
        router.with_preference({"speed": 1.0})
    with pytest.raises(PreferenceError), instrument_tags({"router_preference": -1}):
        router.chat(user())


def test_route_is_a_dry_run(router: RouterLLM, recorder: EventRecorder) -> None:
    """route() decides without calling any member and without emitting events."""
    decision = router.route(user(), "cost")
    assert decision.model == "small"
    assert decision.ranking == ("small", "big")
    assert router.llms["small"].calls == []  # type: ignore[attr-defined]
    assert recorder.events == []


def test_construction_errors() -> None:
    """Empty pools, non-LLM members, name mismatches and conflicting arguments are rejected."""
    with pytest.raises(InvalidParameterError, match="non-empty"):
        RouterLLM({})
    with pytest.raises(InvalidParameterError, match="must be a llama_index LLM"):
        RouterLLM({"a": "not an llm"})  # type: ignore[dict-item]
    with pytest.raises(UnknownModelError, match="other"):
        make_router(pool=[ModelCard("big"), ModelCard("other")])
    engine = RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=8))
    with pytest.raises(InvalidParameterError, match="would be ignored"):
        make_router(engine=engine)
    tool_less = {"big": MockChatLLM(), "small": MockChatLLM()}
    with pytest.raises(InvalidParameterError, match="supports tools"):
        RouterLLM(tool_less, engine=engine)


def test_shared_engine(router: RouterLLM) -> None:
    """A router built on a ready engine uses it as is."""
    engine = router.engine
    other = RouterLLM(dict(router.llms), engine=engine)
    assert other.engine is engine
    assert other.chat(user(), preference="cost").message.content == "small answer"


async def test_async_routing_does_not_block_the_event_loop() -> None:
    """Async calls route in a worker thread: a concurrent ticker keeps going while encoding."""
    router = make_router(encoder=SlowEncoder())
    tool = FunctionTool.from_defaults(add)

    async def drain_chat() -> None:
        async for _ in await router.astream_chat(user()):
            pass

    async def drain_complete() -> None:
        async for _ in await router.astream_complete(QUESTION):
            pass

    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: router.achat(user()),
        lambda: router.acomplete(QUESTION),
        drain_chat,
        drain_complete,
        lambda: router.achat_with_tools([tool], user_msg="add 1 and 2"),
    ]
    for call in calls:
        assert await ticks_during(call) >= 5  # about 20 when not blocked, 0-1 when blocked
    with router.preference("cost"):  # the scoped preference reaches the worker thread
        assert (await router.achat(user())).message.content == "small answer"
