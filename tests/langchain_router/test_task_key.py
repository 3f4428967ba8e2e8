"""RouterChatModel(task_key=...): which run fields give a call its task key, through real LCEL
chains and a LangGraph node, and ratings that teach the task level."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig

from langchain_router import RouterChatModel
from shared import InvalidParameterError, RidgeRouter

from .conftest import MakeRouter

PROMPT = ChatPromptTemplate.from_template("Summarize: {text}")


def _task(message: AIMessage) -> Any:
    return message.response_metadata["routing"]["task"]


def test_run_fields_are_not_read_by_default(make_router: MakeRouter) -> None:
    """Without task_key, run name, tags and metadata never become a task key."""
    router = make_router()
    config: RunnableConfig = {
        "run_name": "summarizer",
        "tags": ["task:summarize"],
        "metadata": {"task": "summarize"},
    }
    assert _task(router.invoke("hi", config)) is None
    chain = PROMPT | router.with_config(run_name="summarizer", tags=["task:summarize"])
    assert _task(chain.invoke({"text": "a report"})) is None


def test_explicit_task_keys_are_always_read(make_router: MakeRouter) -> None:
    """task= (keyword or bind) and configurable router_task need no opt-in; the keyword wins."""
    router = make_router()
    assert _task(router.invoke("hi", task="kw")) == "kw"
    assert _task(router.bind(task="bound").invoke("hi")) == "bound"
    configured: RunnableConfig = {"configurable": {"router_task": "configured"}}
    assert _task((PROMPT | router).invoke({"text": "x"}, configured)) == "configured"
    assert _task(router.invoke("hi", configured, task="kw")) == "kw"


def test_run_name_of_the_model_step_in_a_chain(make_router: MakeRouter) -> None:
    """task_key="run_name" reads the model run's own name: prompt | model.with_config(run_name=)
    and invoke(config={"run_name": ...}); a chain's run name names the chain, not its steps."""
    router = make_router(task_key="run_name")
    chain = PROMPT | router.with_config(run_name="summarizer")
    assert _task(chain.invoke({"text": "a report"})) == "summarizer"
    assert _task(router.invoke("hi", {"run_name": "direct"})) == "direct"
    whole = (PROMPT | router).with_config(run_name="the_chain")
    assert _task(whole.invoke({"text": "a report"})) is None


def test_tag_prefix_and_metadata_are_inherited_through_the_chain(make_router: MakeRouter) -> None:
    """task_key="tag:task:" takes the first tag with that prefix; "metadata:<key>" a metadata
    value; both set on the whole chain reach the model step. Sources are tried in order."""
    router = make_router(task_key=["metadata:step", "tag:task:"])
    tagged = (PROMPT | router).with_config(tags=["team:a", "task:summarize"])
    assert _task(tagged.invoke({"text": "a report"})) == "summarize"
    both: RunnableConfig = {"tags": ["task:summarize"], "metadata": {"step": "extract"}}
    assert _task((PROMPT | router).invoke({"text": "x"}, both)) == "extract"
    streamed = list((PROMPT | router).stream({"text": "x"}, both))
    assert _task(streamed[0]) == "extract"


async def test_async_entry_points_read_the_task(make_router: MakeRouter) -> None:
    """ainvoke and astream resolve the task key like invoke."""
    router = make_router(task_key="tag:task:")
    config: RunnableConfig = {"tags": ["task:async"]}
    assert _task(await (PROMPT | router).ainvoke({"text": "x"}, config)) == "async"
    chunks = [c async for c in router.astream("hi", config)]
    assert _task(chunks[0]) == "async"


def test_langgraph_node_name_as_the_task(make_router: MakeRouter) -> None:
    """task_key="metadata:langgraph_node": each graph node's calls get the node's name."""
    from langgraph.graph import END, START, StateGraph

    router = make_router(task_key="metadata:langgraph_node")

    class State(TypedDict):
        text: str
        tasks: list[str]

    def node(state: State) -> dict[str, Any]:
        reply = router.invoke(state["text"])
        return {"tasks": [*state["tasks"], _task(reply)]}

    graph = StateGraph(State)
    graph.add_node("draft", node)
    graph.add_node("review", node)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", END)
    result = graph.compile().invoke({"text": "write a memo", "tasks": []})
    assert result["tasks"] == ["draft", "review"]


def test_ratings_teach_the_task_level_through_the_chain(make_router: MakeRouter) -> None:
    """Three poor ratings of "big" in the run-named step "summarizer" send that step's quality
    calls to "small", while another step (and calls without a task) stay on "big"."""
    router = make_router(task_key="run_name").with_feedback()
    summarize = PROMPT | router.with_config(run_name="summarizer")
    translate = PROMPT | router.with_config(run_name="translator")
    quality: RunnableConfig = {"configurable": {"router_preference": "quality"}}
    for _ in range(3):  # member level (8 + 0.3) / 13, task offset 3 (0.1 - that) / (5 + 3)
        reply = summarize.invoke({"text": "the report"}, quality)
        assert reply.response_metadata["routing"]["model"] == "big"
        assert router.feedback.rate(reply.id, 0.1)[0].task == "summarizer"
    engine_router = router.routing_engine.router
    assert isinstance(engine_router, RidgeRouter) and engine_router.tasks_ == ["summarizer"]
    routed = summarize.invoke({"text": "the report"}, quality).response_metadata["routing"]
    assert routed["model"] == "small"
    other = translate.invoke({"text": "the report"}, quality).response_metadata["routing"]
    assert (other["model"], other["task"]) == ("big", "translator")
    plain = (PROMPT | router).invoke({"text": "the report"}, quality)
    assert plain.response_metadata["routing"]["model"] == "big"


@pytest.mark.parametrize("spec", ["tags", "tag:", "run_name:x", 3, ["metadata:"]])
def test_bad_task_key_option_raises(make_router: MakeRouter, spec: object) -> None:
    """An unknown source is refused when the router is built."""
    with pytest.raises(InvalidParameterError):
        make_router(task_key=spec)


def test_a_bad_value_in_a_run_field_raises(make_router: MakeRouter) -> None:
    """A metadata value that is not a task key is an error, not silently skipped."""
    router = make_router(task_key="metadata:step")
    with pytest.raises(InvalidParameterError):
        router.invoke("hi", {"metadata": {"step": 7}})
    with pytest.raises(InvalidParameterError):
        router.invoke("hi", task="")


def test_task_key_survives_copies(make_router: MakeRouter) -> None:
    """with_feedback() and model_copy keep the task sources."""
    router: RouterChatModel = make_router(task_key="tag:task:").with_feedback()
    copy = router.model_copy()
    assert _task(copy.invoke("hi", {"tags": ["task:copied"]})) == "copied"
