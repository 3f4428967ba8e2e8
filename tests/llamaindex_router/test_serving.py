"""RouterLLM over the core serving module: empty streams, which errors fall back, agents over
mixed pools, usage estimates, learning once, feedback binding, the shared constructor words
(issue #11 regressions)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool

from llamaindex_router import FeedbackEventHandler, RouterLLM
from llamaindex_router.testing import FailingLLM, MockChatLLM, MockToolLLM
from shared import HashingEncoder, InvalidParameterError, ModelPool, RoutingEngine

from .conftest import EventRecorder, make_cards, make_router


def user(text: str = "What is the capital of France?") -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def flaky(**failing: Any) -> RouterLLM:
    return make_router(
        models={"big": FailingLLM(**failing), "small": MockToolLLM(model="small", reply="backup")}
    )


# ------------------------------------------------------------------ 3. empty streams
def test_empty_stream_falls_back() -> None:
    router = flaky(empty_stream=True)
    chunks = list(router.stream_chat(user(), preference="quality"))
    assert chunks[-1].message.content == "backup"
    routing = chunks[-1].additional_kwargs["routing"]
    assert routing["model"] == "small"
    assert routing["fallbacks"][0]["error"].startswith("EmptyStreamError")
    assert (
        "".join(c.delta or "" for c in router.stream_complete("hi", preference="quality"))
        == "backup"
    )


async def test_empty_stream_falls_back_async() -> None:
    router = flaky(empty_stream=True)
    chunks = [c async for c in await router.astream_chat(user(), preference="quality")]
    assert chunks[-1].message.content == "backup"
    completion = [c async for c in await router.astream_complete("hi", preference="quality")]
    assert completion[-1].additional_kwargs["routing"]["model"] == "small"


# ------------------------------------------------------------------ 5. which errors fall back
def test_programming_errors_are_raised_at_once(recorder: EventRecorder) -> None:
    router = flaky(error=TypeError, message="unexpected keyword 'temprature'")
    with pytest.raises(TypeError, match="temprature"):
        router.chat(user(), preference="quality")
    with pytest.raises(TypeError):
        list(router.stream_chat(user(), preference="quality"))
    assert router.llms["small"].calls == []  # type: ignore[attr-defined]
    assert recorder.of("RoutingFallbackEvent") == []


async def test_programming_errors_are_raised_at_once_async() -> None:
    router = flaky(error=TypeError)
    with pytest.raises(TypeError):
        await router.achat(user(), preference="quality")
    with pytest.raises(TypeError):
        await router.astream_chat(user(), preference="quality")


def test_fallback_can_be_disabled() -> None:
    router = make_router(
        models={"big": FailingLLM(message="down"), "small": MockToolLLM()}, fallback=False
    )
    with pytest.raises(RuntimeError, match="down"):
        router.chat(user(), preference="quality")


# ------------------------------------------------------------------ 4. agents over mixed pools
async def test_function_agent_accepts_a_pool_with_one_tool_member() -> None:
    """FunctionAgent takes the router when at least one member calls tools; the tool calls go
    to that member only."""
    router = make_router(
        models={"big": MockChatLLM(reply="no tools"), "small": MockToolLLM(model="small")}
    )
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(add)], llm=router)
    result = await agent.run("add two numbers")
    assert router.llms["small"].calls  # type: ignore[attr-defined]
    assert not any("tools" in c for c in router.llms["big"].calls)  # type: ignore[attr-defined]
    assert str(result)


# ------------------------------------------------------------------ 7. usage estimates
def test_missing_usage_is_estimated_and_marked(attach: Any) -> None:
    router = make_router(
        models={
            "big": MockChatLLM(reply="a short reply", report_usage=False),
            "small": MockChatLLM(),
        }
    )
    handler = attach(FeedbackEventHandler(router=router))
    list(router.stream_chat(user(), preference="quality"))
    (record,) = handler.store.records()
    assert record.model == "big"
    assert record.input_tokens and record.output_tokens
    assert record.cost_usd is not None and record.cost_usd > 0
    assert record.metadata["usage_estimated"] is True


# ------------------------------------------------------------------ 8. learn once
def test_resent_ratings_learn_once(
    router: RouterLLM, attach: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = attach(FeedbackEventHandler(router=router))
    learned: list[str] = []
    monkeypatch.setattr(
        router.engine, "learn_record", lambda record: learned.append(record.decision_id)
    )
    response = router.chat(user(), preference="quality")
    decision_id = response.additional_kwargs["routing"]["decision_id"]
    for _ in range(3):
        handler.rate(decision_id, 0.9)
    assert learned == [decision_id]
    assert handler.store.stats()["ratings"] == 1


# ------------------------------------------------------------------ 10. feedback binding
def test_handler_binds_on_first_use(router: RouterLLM, attach: Any) -> None:
    handler = attach(FeedbackEventHandler())
    response = router.chat(user(), preference="cost")
    assert handler.engine is router.engine
    (record,) = handler.rate(response.additional_kwargs["routing"]["decision_id"], 1.0)
    assert record.cost_usd is not None


def test_with_feedback(router: RouterLLM) -> None:
    from llama_index_instrumentation import get_dispatcher

    assert router.with_feedback() is router
    try:
        response = router.chat(user(), preference="cost")
        decision_id = response.additional_kwargs["routing"]["decision_id"]
        assert router.feedback.rate(decision_id, 0.7)[0].model == "small"
    finally:
        get_dispatcher().event_handlers.remove(router.feedback)


# ------------------------------------------------------------------ constructor words
def test_pool_accepts_a_model_pool_a_sequence_or_a_mapping() -> None:
    cards = make_cards()
    for pool in (ModelPool(cards), cards, {c.name: c for c in cards}):
        assert make_router(pool=pool).engine.pool["big"] == cards[0]


def test_engine_refuses_parts_it_would_ignore() -> None:
    engine = RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=8))
    members = {"big": MockToolLLM(), "small": MockToolLLM()}
    for part in ({"pool": make_cards()}, {"explore": False}, {"prior_quality": {"big": 0.5}}):
        with pytest.raises(InvalidParameterError, match="would be ignored"):
            RouterLLM(members, engine=engine, **part)
    assert RouterLLM(models=members, engine=engine, sticky=False).sticky is False


def test_deprecated_spellings() -> None:
    with pytest.warns(DeprecationWarning, match="models="):
        router = RouterLLM(llms={"a": MockChatLLM()}, encoder=HashingEncoder(n_features=8))
    assert list(router.models) == ["a"]
    with pytest.warns(DeprecationWarning, match="sticky="):
        assert make_router(sticky_tools=False).sticky is False
