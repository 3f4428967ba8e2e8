"""RouterChatModel over the core serving module: tracing identity, v3 events, which errors fall
back, stream usage, feedback binding and the default preference (issue #11 regressions)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tracers.context import collect_runs

from langchain_router import FeedbackCallbackHandler, RouterChatModel
from langchain_router.testing import FailingChatModel, FakeToolChatModel
from shared import AllCandidatesFailedError, HashingEncoder, ModelPool, RoutingEngine

from .conftest import BIG, SMALL, MakeRouter

COST = {"configurable": {"router_preference": "cost"}}


class MetadataRecorder(BaseCallbackHandler):
    """Keeps the run metadata of every chat model start (where the ls_* params go)."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, Any]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, metadata: Any = None, **kwargs: Any
    ) -> None:
        self.metadata.append(dict(metadata or {}))


def ls(meta: dict[str, Any]) -> tuple[Any, Any]:
    return meta.get("ls_provider"), meta.get("ls_model_name")


def flaky(**overrides: Any) -> dict[str, Any]:
    return {
        "models": {
            "big": FailingChatModel(model_name="big", provider="bigco", **overrides),
            "small": FakeToolChatModel(model_name="small", provider="smallco"),
        }
    }


# ------------------------------------------------------------------ 1. stream_events v3
def test_stream_events_v3_uses_the_config_preference(make_router: MakeRouter) -> None:
    """v3 events honour configurable["router_preference"] and name the member in the trace."""
    router = make_router()
    spy = MetadataRecorder()
    out = router.stream_events("hi", {**COST, "callbacks": [spy]}, version="v3").output
    assert out.response_metadata["routing"]["model"] == "small"
    assert ls(spy.metadata[-1]) == ("fake", "small")
    bound = router.with_config({**COST, "callbacks": [spy]})
    assert bound.stream_events("hi", version="v3").output.response_metadata["model_name"] == "small"
    assert ls(spy.metadata[-1]) == ("fake", "small")
    quality = router.stream_events(
        "hi", {"configurable": {"router_preference": "quality"}}, version="v3"
    )
    assert quality.output.response_metadata["model_name"] == "big"


async def test_astream_events_v3_uses_the_config_preference(make_router: MakeRouter) -> None:
    router = make_router()
    spy = MetadataRecorder()
    stream = await router.astream_events("hi", {**COST, "callbacks": [spy]}, version="v3")
    out = await stream
    assert out.response_metadata["model_name"] == "small"
    assert ls(spy.metadata[-1]) == ("fake", "small")


# ------------------------------------------------------------------ 2. tracing after fallback
@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_trace_names_the_member_that_answered(make_router: MakeRouter, how: str) -> None:
    """After a fallback the run's ls_model_name / ls_provider are the backup's, not the
    failed member's (LangSmith prices the tokens at the model that produced them)."""
    router = make_router(**flaky())
    with collect_runs() as runs:
        if how == "invoke":
            router.invoke("hi", preference="quality")
        else:
            list(router.stream("hi", preference="quality"))
    (run,) = runs.traced_runs
    assert ls(run.extra["metadata"]) == ("smallco", "small")


async def test_trace_names_the_member_that_answered_async(make_router: MakeRouter) -> None:
    router = make_router(**flaky())
    with collect_runs() as runs:
        await router.ainvoke("hi", preference="quality")
    assert ls(runs.traced_runs[0].extra["metadata"]) == ("smallco", "small")


# ------------------------------------------------------------------ 5. which errors fall back
@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_programming_errors_are_raised_at_once(make_router: MakeRouter, how: str) -> None:
    """A TypeError (a wrong keyword) is re-raised, not retried on every member."""
    router = make_router(**flaky(error=TypeError, message="unexpected keyword 'temprature'"))
    call = router.invoke if how == "invoke" else lambda *a, **k: list(router.stream(*a, **k))
    with pytest.raises(TypeError, match="temprature"):
        call("hi", preference="quality")


async def test_programming_errors_are_raised_at_once_async(make_router: MakeRouter) -> None:
    router = make_router(**flaky(error=TypeError, message="bad keyword"))
    with pytest.raises(TypeError):
        await router.ainvoke("hi", preference="quality")
    with pytest.raises(TypeError):
        async for _ in router.astream("hi", preference="quality"):
            pass


@pytest.mark.parametrize("error", [TimeoutError, ConnectionError, RuntimeError, ValueError])
def test_provider_errors_fall_back(make_router: MakeRouter, error: type[Exception]) -> None:
    router = make_router(**flaky(error=error))
    msg = router.invoke("hi", preference="quality")
    assert msg.response_metadata["routing"]["fallbacks"][0]["model"] == "big"


def test_empty_stream_falls_back(make_router: MakeRouter) -> None:
    router = make_router(**flaky(empty_stream=True))
    chunks = list(router.stream("hi", preference="quality"))
    routing = chunks[0].response_metadata["routing"]
    assert routing["model"] == "small"
    assert routing["fallbacks"][0]["error"].startswith("EmptyStreamError")


def test_all_failed_lists_every_member(make_router: MakeRouter) -> None:
    router = make_router(
        models={"big": FailingChatModel(model_name="big"), "small": FailingChatModel()}
    )
    with pytest.raises(AllCandidatesFailedError) as info:
        router.invoke("hi")
    assert sorted(info.value.errors) == ["big", "small"]


# ------------------------------------------------------------------ 6. retries
def test_members_that_retry_are_reported(
    make_router: MakeRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """The router owns retries: members with max_retries > 0 are named in a warning."""

    class Retrying(FakeToolChatModel):
        max_retries: int = 2

    with caplog.at_level(logging.WARNING, logger="prefroute.serving"):
        make_router(models={"big": Retrying(model_name="big"), "small": FakeToolChatModel()})
    assert "['big']" in caplog.text and "max_retries=0" in caplog.text


# ------------------------------------------------------------------ 7. stream usage
ASKED: list[Any] = []


class UsageOnRequest(FakeToolChatModel):
    """Reports stream usage only when asked with stream_usage=True (as ChatOpenAI)."""

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        ASKED.append(stream_usage)
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            if not stream_usage:
                chunk.message.usage_metadata = None  # type: ignore[attr-defined]
            yield chunk


def test_stream_usage_is_requested_from_members_that_support_it(make_router: MakeRouter) -> None:
    ASKED.clear()
    router = make_router(
        models={"big": UsageOnRequest(model_name="big"), "small": UsageOnRequest()}
    )
    chunks = list(router.stream("hi there", preference="quality"))
    assert ASKED == [True]
    merged = sum(chunks[1:], chunks[0])
    assert merged.usage_metadata is not None and merged.usage_metadata["input_tokens"] > 0
    assert "usage_estimated" not in merged.response_metadata["routing"]


def test_streamed_usage_is_estimated_and_marked_when_missing(make_router: MakeRouter) -> None:
    """A member that reports no usage gets an estimate, marked as such, down to the store."""

    class NoUsage(FakeToolChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            for chunk in super()._stream(*args, **kwargs):
                chunk.message.usage_metadata = None  # type: ignore[attr-defined]
                yield chunk

    handler = FeedbackCallbackHandler()
    router = make_router(
        models={"big": NoUsage(model_name="big"), "small": NoUsage()}, callbacks=[handler]
    )
    chunks = list(router.stream("what is the answer", preference="quality"))
    merged = sum(chunks[1:], chunks[0])
    assert merged.response_metadata["routing"]["usage_estimated"] is True
    assert merged.usage_metadata["input_tokens"] > 0 and merged.usage_metadata["output_tokens"] > 0
    (record,) = handler.store.records()
    assert record.input_tokens == merged.usage_metadata["input_tokens"]
    assert record.cost_usd is not None and record.cost_usd > 0
    assert record.metadata["usage_estimated"] is True


# ------------------------------------------------------------------ 10. feedback binding
def test_handler_given_at_construction_binds_to_the_router(make_router: MakeRouter) -> None:
    handler = FeedbackCallbackHandler()
    router = make_router(callbacks=[handler])
    assert handler.engine is router.routing_engine
    msg = router.invoke("hi", preference="cost")
    (record,) = handler.rate(msg.id, 1.0)
    assert record.cost_usd is not None and handler.learned() == [record.decision_id]


def test_handler_binds_on_first_use(make_router: MakeRouter) -> None:
    handler = FeedbackCallbackHandler()
    router = make_router()
    router.invoke("hi", config={"callbacks": [handler]})
    assert handler.engine is router.routing_engine


def test_with_feedback(make_router: MakeRouter) -> None:
    router = make_router().with_feedback()
    msg = router.invoke("hi", preference="cost")
    handler = router.feedback
    assert isinstance(handler, FeedbackCallbackHandler)
    assert handler.engine is router.routing_engine
    assert handler.rate(msg.id, 0.5)[0].model == "small"


# ------------------------------------------------------------------ 9. default preference
def test_no_preference_uses_the_engines_default() -> None:
    """With no preference anywhere, the engine's default_preference decides."""
    engine = RoutingEngine(
        ModelPool([BIG, SMALL]),
        encoder=HashingEncoder(n_features=64),
        explore=False,
        default_preference="cost",
    )
    members = {"big": FakeToolChatModel(model_name="big"), "small": FakeToolChatModel()}
    router = RouterChatModel(models=members, engine=engine)
    assert router.invoke("hi").response_metadata["routing"]["model"] == "small"
    assert router._identifying_params["default_preference"]["cost"] == 1.0
    own = RouterChatModel(models=members, engine=engine, default_preference="quality")
    assert own.invoke("hi").response_metadata["routing"]["model"] == "big"


# ------------------------------------------------------------------ Decision as an object
def test_decision_travels_as_an_object(make_router: MakeRouter) -> None:
    """The invocation params carry the core's Route (the Decision object), not a dict."""
    from shared import Decision
    from shared.serving import Route

    seen: list[Any] = []

    class Params(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            seen.append(kwargs["invocation_params"]["router_decision"])

    make_router().invoke("hi", config={"callbacks": [Params()]})
    assert isinstance(seen[0], Route) and isinstance(seen[0].decision, Decision)


def test_pool_accepts_a_model_pool_a_sequence_or_a_mapping(make_router: MakeRouter) -> None:
    for pool in (ModelPool([BIG, SMALL]), [BIG, SMALL], {"big": BIG, "small": SMALL}):
        router = make_router(pool=pool)
        assert router.routing_engine.pool["big"] == BIG


def test_cards_is_a_deprecated_spelling_of_pool(make_router: MakeRouter) -> None:
    with pytest.warns(DeprecationWarning, match="pool="):
        router = RouterChatModel(
            models=make_router().models, cards={"big": BIG}, encoder=HashingEncoder(n_features=8)
        )
    assert router.routing_engine.pool["big"] == BIG
