"""Both plugins make the same routing decision for the same prompt, preference and router state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.messages import (
    AIMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.tools import FunctionTool

from langchain_router import RouterChatModel
from langchain_router.testing import FakeToolChatModel
from llamaindex_router import RouterLLM
from llamaindex_router.testing import MockToolLLM
from shared import HashingEncoder, RidgeRouter, RoutingEngine, messages_to_text

from .conftest import EventRecorder, make_cards

CONVERSATIONS: list[list[tuple[str, str]]] = [
    [("user", "What is the capital of France?")],
    [("user", "Prove that the square root of two is irrational, step by step.")],
    [
        ("system", "You are a terse assistant."),
        ("user", "Hi!"),
        ("assistant", "Hello. What do you need?"),
        ("user", "Write a haiku about routers."),
    ],
]
PREFERENCES: list[Any] = ["quality", "balanced", "cost", 0.3, {"quality": 0.6, "cost": 0.4}]


def as_langchain(turns: list[tuple[str, str]]) -> list[Any]:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[role](content=text) for role, text in turns]


def as_llamaindex(turns: list[tuple[str, str]]) -> list[ChatMessage]:
    return [ChatMessage(role=role, content=text) for role, text in turns]


def plugins(engine: RoutingEngine) -> tuple[RouterChatModel, RouterLLM]:
    lc = RouterChatModel(
        models={
            "big": FakeToolChatModel(model_name="big"),
            "small": FakeToolChatModel(model_name="small"),
        },
        engine=engine,
    )
    li = RouterLLM(
        {"big": MockToolLLM(model="big"), "small": MockToolLLM(model="small")}, engine=engine
    )
    return lc, li


def same_decision(lc_routing: dict[str, Any], li_routing: dict[str, Any]) -> None:
    for key in ("model", "ranking", "propensity", "preference", "router"):
        assert lc_routing[key] == li_routing[key], key
    assert lc_routing["scores"].keys() == li_routing["scores"].keys()
    for name, score in lc_routing["scores"].items():
        assert li_routing["scores"][name] == pytest.approx(score, abs=1e-12)


@pytest.mark.parametrize("turns", CONVERSATIONS)
def test_same_decisions_cold_start(turns: list[tuple[str, str]]) -> None:
    """Over one engine (cold start), every preference gives the same decision in both plugins."""
    engine = RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=64), explore=False)
    lc, li = plugins(engine)
    models = set()
    for pref in PREFERENCES:
        lc_routing = lc.invoke(as_langchain(turns), preference=pref).response_metadata["routing"]
        li_routing = li.chat(as_llamaindex(turns), preference=pref).additional_kwargs["routing"]
        same_decision(lc_routing, li_routing)
        models.add(li_routing["model"])
    assert models == {"big", "small"}  # the preferences do change the decision


def test_same_decisions_fitted_router() -> None:
    """With a fitted router shared by two separately built engines, decisions agree too."""
    encoder = HashingEncoder(n_features=64)
    texts = ["capital of France", "prove a theorem", "write a haiku", "say hi"] * 3
    rng = np.random.default_rng(0)
    quality = rng.uniform(0, 1, size=(len(texts), 2))
    cost = np.tile([0.01, 0.0002], (len(texts), 1))
    router = RidgeRouter(alpha=0.5).fit(
        encoder.encode(texts), quality, cost, models=["big", "small"]
    )
    lc, _ = plugins(RoutingEngine(make_cards(), router=router, encoder=encoder, explore=False))
    _, li = plugins(RoutingEngine(make_cards(), router=router, encoder=encoder, explore=False))
    for turns in CONVERSATIONS:
        for pref in PREFERENCES:
            lc_routing = lc.invoke(as_langchain(turns), preference=pref).response_metadata[
                "routing"
            ]
            li_routing = li.chat(as_llamaindex(turns), preference=pref).additional_kwargs["routing"]
            same_decision(lc_routing, li_routing)


def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


@pytest.mark.parametrize("pref", ["cost", "quality"])
def test_same_sticky_decision_in_a_tool_loop(pref: str) -> None:
    """A tool-result turn is pinned to the member that called the tool, identically in both."""
    engine = RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=64), explore=False)
    lc, li = plugins(engine)
    first = li.chat_with_tools([FunctionTool.from_defaults(add)], user_msg="add 1", preference=1.0)
    assert first.additional_kwargs["routing"]["model"] == "small"
    (call,) = li.get_tool_calls_from_response(first)
    li_history = [
        ChatMessage(role=MessageRole.USER, content="add 1"),
        first.message,
        ChatMessage(
            role=MessageRole.TOOL, content="3", additional_kwargs={"tool_call_id": call.tool_id}
        ),
    ]
    lc_history = [
        HumanMessage("add 1"),
        AIMessage(
            first.message.content or "",
            tool_calls=[{"name": "add", "args": {"a": 1}, "id": call.tool_id, "type": "tool_call"}],
            response_metadata={"routing": first.additional_kwargs["routing"]},
        ),
        ToolMessage("3", tool_call_id=call.tool_id),
    ]
    li_routing = li.chat(li_history, preference=pref).additional_kwargs["routing"]
    lc_routing = lc.invoke(lc_history, preference=pref).response_metadata["routing"]
    same_decision(lc_routing, li_routing)
    for routing in (lc_routing, li_routing):
        assert routing["sticky"] is True and routing["model"] == "small"
        assert routing["propensity"] == 1.0 and routing["ranking"] == ["small", "big"]


def test_framework_role_names_render_the_same_text(recorder: EventRecorder) -> None:
    """LlamaIndex's model/function/developer roles route like LangChain's AI/function/system."""
    engine = RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=64), explore=False)
    lc, li = plugins(engine)
    li_turns = [
        ChatMessage(role=MessageRole.DEVELOPER, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="Weather in Paris?"),
        ChatMessage(role=MessageRole.MODEL, content="Looking it up."),
        ChatMessage(role=MessageRole.FUNCTION, content="sunny, 21 C"),
        ChatMessage(role=MessageRole.USER, content="And tomorrow?"),
    ]
    lc_turns = [
        SystemMessage("Be brief."),
        HumanMessage("Weather in Paris?"),
        AIMessage("Looking it up."),
        FunctionMessage(content="sunny, 21 C", name="weather"),
        HumanMessage("And tomorrow?"),
    ]
    for pref in PREFERENCES:
        li_routing = li.chat(li_turns, preference=pref).additional_kwargs["routing"]
        lc_routing = lc.invoke(lc_turns, preference=pref).response_metadata["routing"]
        same_decision(lc_routing, li_routing)
    expected = (
        "And tomorrow?\n\nsystem: Be brief.\nuser: Weather in Paris?\n"
        "assistant: Looking it up.\ntool: sunny, 21 C"
    )
    assert messages_to_text(lc_turns) == expected  # what RouterChatModel encodes
    prompts = {e.prompt for e in recorder.of("RoutingDecisionEvent")}  # type: ignore[attr-defined]
    assert prompts == {expected}


def test_one_good_rating_of_the_expensive_member_keeps_cost_calls_off_it_in_both(
    attach: Any,
) -> None:
    """The issue's adapter repro, with default exploration in both plugins: after one perfect
    rating of the expensive member, no new "cost" call goes to it."""
    from langchain_router import FeedbackCallbackHandler
    from llamaindex_router import FeedbackEventHandler

    lc, _ = plugins(RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=64)))
    lc_handler = FeedbackCallbackHandler(router=lc)
    _, li = plugins(RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=64)))
    li_handler = attach(FeedbackEventHandler(router=li))

    lc_first = lc.invoke("Prove it.", {"callbacks": [lc_handler]}, preference="quality")
    li_first = li.chat(as_llamaindex([("user", "Prove it.")]), preference="quality")
    assert lc_first.response_metadata["routing"]["model"] == "big"
    assert li_first.additional_kwargs["routing"]["model"] == "big"
    lc_handler.rate(lc_first.id, 1.0)
    li_handler.rate(li_first.additional_kwargs["routing"]["decision_id"], 1.0)

    questions = [f"Classify ticket {i}." for i in range(10)]
    lc_models = [
        lc.invoke(q, preference="cost").response_metadata["routing"]["model"] for q in questions
    ]
    li_models = [
        li.chat(as_llamaindex([("user", q)]), preference="cost").additional_kwargs["routing"][
            "model"
        ]
        for q in questions
    ]
    assert lc_models == li_models == ["small"] * 10


def test_same_default_preference_without_any_preference() -> None:
    """With no preference given, both plugins use the engine's default_preference."""
    engine = RoutingEngine(
        make_cards(),
        encoder=HashingEncoder(n_features=64),
        explore=False,
        default_preference="cost",
    )
    lc, li = plugins(engine)
    lc_routing = lc.invoke("What is the capital of France?").response_metadata["routing"]
    li_routing = li.chat(
        as_llamaindex([("user", "What is the capital of France?")])
    ).additional_kwargs["routing"]
    assert lc_routing["model"] == li_routing["model"] == "small"
    same_decision(lc_routing, li_routing)


def test_same_decisions_with_a_task_key() -> None:
    """A task level learned through one plugin routes the same way through the other: the key
    given per call (LangChain task=, LlamaIndex task=) reaches the same engine."""
    engine = RoutingEngine(make_cards(), encoder=HashingEncoder(n_features=64), explore=False)
    lc, li = plugins(engine)
    turns = CONVERSATIONS[0]
    for _ in range(3):
        engine.learn(messages_to_text(as_llamaindex(turns)), "big", 0.1, task="geo")
    for task, expected in (("geo", "small"), ("other", "big"), (None, "big")):
        lc_routing = lc.invoke(as_langchain(turns), preference="quality", task=task)
        li_routing = li.chat(as_llamaindex(turns), preference="quality", task=task)
        same_decision(
            lc_routing.response_metadata["routing"], li_routing.additional_kwargs["routing"]
        )
        assert li_routing.additional_kwargs["routing"]["model"] == expected
        assert lc_routing.response_metadata["routing"]["task"] == task
