"""The router inside LCEL chains and a tool-calling agent loop, with a fitted RidgeRouter."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import tool

from langchain_router import RouterChatModel
from langchain_router.testing import FakeToolChatModel
from shared import HashingEncoder, RidgeRouter

from .conftest import BIG, SMALL

MATH = ["compute 12 times 7", "integrate x squared", "solve the equation for x", "prove 2 is prime"]
CHAT = ["hello there friend", "good morning to you", "thanks a lot buddy", "nice weather today"]


@pytest.fixture
def fitted_router() -> RouterChatModel:
    """A router whose ridge learned: math needs "big", chit-chat is fine on "small"."""
    encoder = HashingEncoder(n_features=256)
    X = encoder.encode(MATH + CHAT)
    Q = np.array([[1.0, 0.1]] * len(MATH) + [[0.9, 0.9]] * len(CHAT))
    C = np.array([[0.01, 0.0001]] * (len(MATH) + len(CHAT)))
    ridge = RidgeRouter(alpha=0.1).fit(X, Q, C, models=["big", "small"])
    return RouterChatModel(
        models={
            "big": FakeToolChatModel(model_name="big"),
            "small": FakeToolChatModel(model_name="small"),
        },
        pool={"big": BIG, "small": SMALL},
        router=ridge,
        encoder=encoder,
        explore=False,
    )


def _chain(router: RouterChatModel) -> Runnable[dict[str, str], str]:
    prompt = ChatPromptTemplate.from_messages([("system", "Be terse."), ("human", "{question}")])
    return prompt | router | StrOutputParser()


def test_lcel_chain_routes_by_prompt_and_preference(fitted_router: RouterChatModel) -> None:
    """In a prompt | router | parser chain, the fitted router picks by prompt and preference."""
    chain = _chain(fitted_router)
    mixed: RunnableConfig = {"configurable": {"router_preference": {"cost": 0.2}}}
    assert chain.invoke({"question": MATH[0]}, mixed).startswith("big says:")
    assert chain.invoke({"question": CHAT[0]}, mixed).startswith("small says:")
    cheap: RunnableConfig = {"configurable": {"router_preference": "cost"}}
    assert chain.invoke({"question": MATH[0]}, cheap).startswith("small says:")


def test_lcel_batch_uses_per_item_configs(fitted_router: RouterChatModel) -> None:
    """chain.batch routes each item with its own configurable preference."""
    configs: list[RunnableConfig] = [
        {"configurable": {"router_preference": p}} for p in ("quality", "cost")
    ]
    out = _chain(fitted_router).batch([{"question": MATH[1]}] * 2, configs)
    assert [o.split()[0] for o in out] == ["big", "small"]


def test_lcel_stream_and_async(fitted_router: RouterChatModel) -> None:
    """chain.stream yields the member's words one by one."""
    parts = list(
        _chain(fitted_router).stream(
            {"question": CHAT[1]}, {"configurable": {"router_preference": "cost"}}
        )
    )
    assert parts[0] == "small" and "".join(parts) == f"small says: {CHAT[1]}"


async def test_astream_events_name_the_member(fitted_router: RouterChatModel) -> None:
    """astream_events(v2) in a chain streams tokens and traces the member's model name."""
    events = [
        e
        async for e in _chain(fitted_router).astream_events(
            {"question": MATH[2]}, {"configurable": {"router_preference": "quality"}}, version="v2"
        )
    ]
    starts = [e for e in events if e["event"] == "on_chat_model_start"]
    tokens = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert len(starts) == 1 and starts[0]["metadata"]["ls_model_name"] == "big"
    assert "".join(tokens) == f"big says: {MATH[2]}"
    end = next(e for e in events if e["event"] == "on_chat_model_end")
    assert end["data"]["output"].response_metadata["routing"]["model"] == "big"


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def _agent(router: RouterChatModel, question: str, preference: str) -> list[BaseMessage]:
    llm = router.bind_tools([multiply])
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(4):
        ai = llm.invoke(messages, {"configurable": {"router_preference": preference}})
        messages.append(ai)
        if not ai.tool_calls:
            break
        messages.extend(multiply.invoke(call) for call in ai.tool_calls)
    return messages


@pytest.mark.parametrize(("preference", "member"), [("quality", "big"), ("cost", "small")])
def test_agent_loop_with_a_tool(
    fitted_router: RouterChatModel, preference: str, member: str
) -> None:
    """A tool-calling loop runs through the router; each preference keeps its member throughout."""
    messages = _agent(fitted_router, "compute 6 times 7", preference)
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert isinstance(messages[2], ToolMessage) and messages[2].content == "42"
    answers = [m for m in messages if isinstance(m, AIMessage)]
    assert [m.response_metadata["routing"]["model"] for m in answers] == [member, member]
    assert answers[-1].content == f"{member} says: compute 6 times 7"
