"""Fallback: a member failing before output is replaced by the next candidate of the ranking."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from llamaindex_router import RouterLLM
from llamaindex_router.testing import FailingLLM, MockToolLLM
from shared import AllCandidatesFailedError

from .conftest import QUESTION, EventRecorder, make_router


def user() -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=QUESTION)]


@pytest.fixture
def flaky() -> RouterLLM:
    """``big`` (chosen for quality) always fails; ``small`` answers."""
    return make_router(
        models={
            "big": FailingLLM(message="big is down"),
            "small": MockToolLLM(model="small", reply="small answer"),
        },
        pool=None,
        prior_quality={"big": 0.9, "small": 0.5},
    )


def check_fallback(routing: dict[str, object]) -> None:
    assert routing["model"] == "small"
    assert routing["ranking"] == ["small", "big"]
    assert routing["fallbacks"] == [{"model": "big", "error": "RuntimeError: big is down"}]


def test_chat_falls_back(flaky: RouterLLM, recorder: EventRecorder) -> None:
    """chat() answers with the next candidate and records the fallback."""
    assert flaky.route(user(), "quality").model == "big"
    response = flaky.chat(user(), preference="quality")
    assert response.message.content == "small answer"
    check_fallback(response.additional_kwargs["routing"])
    (event,) = recorder.of("RoutingFallbackEvent")
    assert (event.failed_model, event.next_model) == ("big", "small")  # type: ignore[attr-defined]


def test_complete_falls_back(flaky: RouterLLM) -> None:
    """complete() falls back like chat()."""
    response = flaky.complete(QUESTION, preference="quality")
    assert response.text == "small answer"
    check_fallback(response.additional_kwargs["routing"])


async def test_async_falls_back(flaky: RouterLLM) -> None:
    """achat() and acomplete() fall back too."""
    response = await flaky.achat(user(), preference="quality")
    check_fallback(response.additional_kwargs["routing"])
    completion = await flaky.acomplete(QUESTION, preference="quality")
    assert completion.text == "small answer"


def test_stream_falls_back_before_first_chunk(flaky: RouterLLM) -> None:
    """A stream failing before its first chunk is replaced by the next candidate's stream."""
    chunks = list(flaky.stream_chat(user(), preference="quality"))
    assert chunks[-1].message.content == "small answer"
    check_fallback(chunks[-1].additional_kwargs["routing"])
    completions = list(flaky.stream_complete(QUESTION, preference="quality"))
    assert completions[-1].text == "small answer"


async def test_async_stream_falls_back_before_first_chunk(flaky: RouterLLM) -> None:
    """astream_chat and astream_complete fall back before the first chunk."""
    stream = await flaky.astream_chat(user(), preference="quality")
    chunks = [c async for c in stream]
    check_fallback(chunks[-1].additional_kwargs["routing"])
    completions = await flaky.astream_complete(QUESTION, preference="quality")
    assert [c.text async for c in completions][-1] == "small answer"


def test_stream_error_after_first_chunk_propagates() -> None:
    """Once a member has streamed output, its error reaches the caller (no silent switch)."""
    router = make_router(
        models={"big": FailingLLM(chunks_before_failure=1), "small": MockToolLLM()},
        pool=None,
        prior_quality={"big": 0.9, "small": 0.5},
    )
    stream = router.stream_chat(user(), preference="quality")
    first = next(stream)
    assert first.additional_kwargs["routing"]["model"] == "big"
    with pytest.raises(RuntimeError, match="provider unavailable"):
        next(stream)


async def test_async_stream_error_after_first_chunk_propagates() -> None:
    """The async stream behaves the same after its first chunk."""
    router = make_router(
        models={"big": FailingLLM(chunks_before_failure=1), "small": MockToolLLM()},
        pool=None,
        prior_quality={"big": 0.9, "small": 0.5},
    )
    stream = await router.astream_chat(user(), preference="quality")
    await stream.__anext__()
    with pytest.raises(RuntimeError, match="provider unavailable"):
        await stream.__anext__()


def test_all_failed(recorder: EventRecorder) -> None:
    """When every candidate fails, AllCandidatesFailedError lists each member's error."""
    router = make_router(
        models={"big": FailingLLM(message="a"), "small": FailingLLM(message="b")}, pool=None
    )
    with pytest.raises(AllCandidatesFailedError) as info:
        router.chat(user())
    assert {k: str(v) for k, v in info.value.errors.items()} == {"big": "a", "small": "b"}
    with pytest.raises(AllCandidatesFailedError):
        list(router.stream_chat(user()))
    first, second = router.route(user()).ranking
    events = recorder.of("RoutingFallbackEvent")[:2]
    assert [(e.failed_model, e.next_model) for e in events] == [(first, second), (second, None)]  # type: ignore[attr-defined]


async def test_async_all_failed() -> None:
    """The async paths raise AllCandidatesFailedError too."""
    router = make_router(models={"big": FailingLLM(), "small": FailingLLM()}, pool=None)
    with pytest.raises(AllCandidatesFailedError):
        await router.achat(user())
    with pytest.raises(AllCandidatesFailedError):
        await router.astream_chat(user())
