"""Both plugins make the same routing decision for the same prompt, preference and router state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_router import RouterChatModel
from langchain_router.testing import FakeToolChatModel
from llamaindex_router import RouterLLM
from llamaindex_router.testing import MockToolLLM
from shared import HashingEncoder, RidgeRouter, RoutingEngine

from .conftest import make_cards

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
