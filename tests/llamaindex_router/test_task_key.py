"""RouterLLM task keys: the task= keyword, the "router_task" instrument tag and the opt-in
task_key tags, through chat, complete, streams and tools; ratings
teach the task level."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.tools import FunctionTool
from llama_index_instrumentation.dispatcher import instrument_tags

from llamaindex_router import TASK_TAG, FeedbackEventHandler
from shared import InvalidParameterError, RidgeRouter

from .conftest import QUESTION, make_router

USER = [ChatMessage(role=MessageRole.USER, content=QUESTION)]


def _task(response: Any) -> Any:
    return response.additional_kwargs["routing"]["task"]


def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


def test_tags_are_not_read_by_default() -> None:
    """Without task_key, an application's own instrument tags never become a task key."""
    router = make_router()
    with instrument_tags({"step": "retrieve"}):
        assert _task(router.chat(USER)) is None
    assert router.resolve_task() is None


def test_explicit_keyword_and_router_task_tag() -> None:
    """task= and the "router_task" instrument tag need no opt-in; the keyword wins."""
    router = make_router()
    assert TASK_TAG == "router_task"
    assert _task(router.complete(QUESTION, task="kw")) == "kw"
    with instrument_tags({TASK_TAG: "tagged"}):
        assert _task(router.chat(USER)) == "tagged"
        assert _task(router.chat(USER, task="kw")) == "kw"
    assert router.route(USER, task="dry").task == "dry"


def test_task_key_tags_in_order_and_every_entry_point() -> None:
    """task_key="tag:<name>" reads that instrument tag (sources in order) on every sync entry
    point, tool calls included."""
    router = make_router(task_key=["tag:node", "tag:step"])
    tool = FunctionTool.from_defaults(add)
    with instrument_tags({"step": "retrieve"}):
        assert _task(router.chat(USER)) == "retrieve"
        assert _task(router.complete(QUESTION)) == "retrieve"
        assert _task(list(router.stream_chat(USER))[-1]) == "retrieve"
        assert _task(list(router.stream_complete(QUESTION))[-1]) == "retrieve"
        assert _task(router.chat_with_tools([tool], user_msg="add 1 and 2")) == "retrieve"
        with instrument_tags({"step": "retrieve", "node": "answer"}):
            assert _task(router.chat(USER)) == "answer"


async def test_async_entry_points_read_the_task() -> None:
    """achat, acomplete, astream_chat read the tags of the calling task."""
    router = make_router(task_key="tag:step")
    with instrument_tags({"step": "synthesize"}):
        assert _task(await router.achat(USER)) == "synthesize"
        assert _task(await router.acomplete(QUESTION)) == "synthesize"
        chunks = [c async for c in await router.astream_chat(USER)]
        assert _task(chunks[-1]) == "synthesize"
    assert _task(await router.acomplete(QUESTION, task="kw")) == "kw"


def test_ratings_teach_the_task_level(attach: Any) -> None:
    """Three poor ratings of "big" in step "summarize" send that step's quality calls to
    "small"; another step and untagged calls stay on "big"."""
    router = make_router(task_key="tag:step")
    handler = attach(FeedbackEventHandler(router=router))
    for _ in range(3):
        with instrument_tags({"step": "summarize"}):
            response = router.chat(USER, preference="quality")
        assert response.additional_kwargs["routing"]["model"] == "big"
        (record,) = handler.rate(response.additional_kwargs["routing"]["decision_id"], 0.1)
        assert record.task == "summarize"
    learned = router.engine.router
    assert isinstance(learned, RidgeRouter) and learned.tasks_ == ["summarize"]
    with instrument_tags({"step": "summarize"}):
        assert router.route(USER, preference="quality").model == "small"
    with instrument_tags({"step": "answer"}):
        assert router.route(USER, preference="quality").model == "big"
    assert router.route(USER, preference="quality").model == "big"


@pytest.mark.parametrize("spec", ["run_name", "metadata:x", "tag:", 5, []])
def test_only_tag_sources_are_accepted(spec: object) -> None:
    """LlamaIndex calls have tags but no run name or run metadata: other sources are refused."""
    with pytest.raises(InvalidParameterError):
        make_router(task_key=spec)


def test_a_bad_tag_value_raises() -> None:
    """A tag value that is not a task key is an error, not silently skipped."""
    router = make_router(task_key="tag:step")
    with instrument_tags({"step": 3}), pytest.raises(InvalidParameterError):
        router.chat(USER)
    with pytest.raises(InvalidParameterError):
        router.complete(QUESTION, task="x" * 500)
