"""FeedbackEventHandler: events once, usage and cost stored, ratings by id, online learning."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms import MockLLM
from llama_index.core.tools import FunctionTool
from llama_index_instrumentation.dispatcher import instrument_tags

from llamaindex_router import FeedbackEventHandler, RouterLLM
from llamaindex_router.testing import FailingLLM, MockToolLLM
from shared import (
    AllCandidatesFailedError,
    FeedbackError,
    FeedbackStore,
    OnlineLearner,
    UnknownDecisionError,
)

from .conftest import QUESTION, EventRecorder, make_cards, make_router


def user() -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=QUESTION)]


def add(a: int, b: int = 2) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def handler(router: RouterLLM, attach: Any) -> FeedbackEventHandler:
    """An attached handler over an in-memory store that learns online."""
    h = FeedbackEventHandler(router=router)
    attach(h)
    return h


def count_outcomes(handler: FeedbackEventHandler, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on the store's record_outcome calls (decision ids)."""
    seen: list[str] = []
    original = handler.store.record_outcome

    def spy(key: object, **kwargs: Any) -> Any:
        seen.append(str(key))
        return original(key, **kwargs)

    monkeypatch.setattr(handler.store, "record_outcome", spy)
    return seen


def test_llm_events_are_emitted_once(router: RouterLLM, recorder: EventRecorder) -> None:
    """One routed chat gives one decision event and one LLM start/end pair, from the member."""
    router.chat(user(), preference="cost")
    names = [e.class_name() for e in recorder.events]
    decision = names.index("RoutingDecisionEvent")
    assert names.count("LLMChatStartEvent") == names.count("LLMChatEndEvent") == 1
    assert decision < names.index("LLMChatStartEvent") < names.index("LLMChatEndEvent")
    (start,) = recorder.of("LLMChatStartEvent")
    assert start.model_dict["class_name"] == "MockToolLLM"  # type: ignore[attr-defined]
    assert start.tags["prefroute.model"] == "small"


def test_streamed_llm_events_are_emitted_once(router: RouterLLM, recorder: EventRecorder) -> None:
    """A routed stream gives one start/end pair and one in-progress event per chunk."""
    chunks = list(router.stream_chat(user(), preference="cost"))
    assert len(recorder.of("LLMChatStartEvent")) == len(recorder.of("LLMChatEndEvent")) == 1
    assert len(recorder.of("LLMChatInProgressEvent")) == len(chunks)
    (end,) = recorder.of("LLMChatEndEvent")
    assert (
        end.tags["prefroute.decision_id"] == chunks[-1].additional_kwargs["routing"]["decision_id"]
    )


def test_token_counting_handler_counts_once() -> None:
    """Legacy callbacks reach the member once: tokens are not double counted."""
    counter = TokenCountingHandler(tokenizer=str.split)
    router = make_router(callback_manager=CallbackManager([counter]))
    router.chat(user(), preference="cost")
    assert len(counter.llm_token_counts) == 1
    assert counter.prompt_llm_token_count == 6
    assert counter.completion_llm_token_count == 2


def test_outcome_has_usage_cost_and_latency(
    router: RouterLLM, handler: FeedbackEventHandler
) -> None:
    """The stored record has the member's reported tokens and the card price of the call."""
    response = router.chat(user(), preference="quality")
    record = handler.store.get(response.additional_kwargs["routing"]["decision_id"])
    assert (record.model, record.input_tokens, record.output_tokens) == ("big", 6, 2)
    assert record.cost_usd == pytest.approx(make_cards()[0].cost(6, 2))
    assert record.latency_s is not None and record.latency_s >= 0
    assert record.prompt == QUESTION
    assert record.metadata["router_name"] == "prefroute-router"


def test_streamed_outcome_uses_final_usage(
    router: RouterLLM, handler: FeedbackEventHandler
) -> None:
    """For a stream, the usage of the last chunk is stored."""
    chunks = list(router.stream_chat(user(), preference="cost"))
    record = handler.store.get(chunks[-1].additional_kwargs["routing"]["decision_id"])
    assert (record.model, record.input_tokens, record.output_tokens) == ("small", 6, 2)


def test_nested_member_events_recorded_once(
    attach: Any, monkeypatch: pytest.MonkeyPatch, recorder: EventRecorder
) -> None:
    """A member whose chat() calls its own complete() emits two LLM pairs; one outcome is stored."""
    router = make_router(models={"big": MockLLM(), "small": MockLLM()}, pool=None)
    handler = attach(FeedbackEventHandler(router=router))
    seen = count_outcomes(handler, monkeypatch)
    response = router.chat(user())
    assert len(recorder.of("LLMChatEndEvent")) == len(recorder.of("LLMCompletionEndEvent")) == 1
    assert seen == [response.additional_kwargs["routing"]["decision_id"]]


def test_fallback_outcome_names_the_answering_member(attach: Any) -> None:
    """After a fallback, the record names the member that answered; all-failed records an error."""
    router = make_router(
        models={"big": FailingLLM(), "small": MockToolLLM(model="small")},
        pool=None,
        prior_quality={"big": 0.9, "small": 0.5},
    )
    handler = attach(FeedbackEventHandler(router=router))
    response = router.chat(user(), preference="quality")
    record = handler.store.get(response.additional_kwargs["routing"]["decision_id"])
    assert (record.chosen_model, record.model) == ("big", "small")
    broken = make_router(models={"big": FailingLLM(), "small": FailingLLM()}, pool=None)
    attach(FeedbackEventHandler(handler.store, router=broken))
    with pytest.raises(AllCandidatesFailedError):
        broken.chat(user())
    (failed,) = [r for r in handler.store.records() if r.error]
    assert failed.error == "RuntimeError: provider unavailable"


def test_rate_by_decision_id_and_errors(router: RouterLLM, handler: FeedbackEventHandler) -> None:
    """Ratings use the decision id the user sees; bad scores and unknown ids raise."""
    decision_id = router.chat(user()).additional_kwargs["routing"]["decision_id"]
    (record,) = handler.rate(decision_id, 0.8, comment="good")
    assert (record.score, record.comment) == (0.8, "good")
    with pytest.raises(FeedbackError):
        handler.rate(decision_id, 1.5)
    assert handler.store.get(decision_id).score == 0.8
    with pytest.raises(UnknownDecisionError):
        handler.rate("no-such-id", 1.0)


async def test_rate_agent_run_by_request_id(
    router: RouterLLM, handler: FeedbackEventHandler
) -> None:
    """Every decision of an agent run made under a request_id tag is rated by that id."""
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(add)], llm=router)
    with instrument_tags({"request_id": "req-42", "router_preference": "cost"}):
        await agent.run("add 1 and 2")
    ids = handler.decision_ids("req-42")
    assert len(ids) == 2  # the tool call, then the answer
    records = handler.rate("req-42", 1.0)
    assert [r.decision_id for r in records] == ids
    assert all(r.score == 1.0 and r.model == "small" for r in records)
    # a new handler over the same store finds the request through the stored metadata
    fresh = FeedbackEventHandler(handler.store, router=router, learn=False)
    assert fresh.decision_ids("req-42") == ids


def test_ratings_change_later_decisions(router: RouterLLM, handler: FeedbackEventHandler) -> None:
    """Online learning: once the cheap member is rated well often enough to outweigh its prior
    (0.5, worth 10 ratings, against the big member's 0.8: 16 perfect ratings), it wins for
    quality too; a couple of ratings do not flip it."""
    assert router.route(user(), "quality").model == "big"
    routed = []
    for _ in range(20):
        response = router.chat(user(), preference="cost")
        handler.rate(response.additional_kwargs["routing"]["decision_id"], 1.0)
        routed.append(router.route(user(), "quality").model)
    assert routed[:2] == ["big", "big"]
    assert routed[-1] == "small"


def test_no_learning_without_learn(router: RouterLLM, attach: Any) -> None:
    """With learn=False ratings are stored but the router is unchanged."""
    handler = attach(FeedbackEventHandler(router=router, learn=False))
    for _ in range(2):
        response = router.chat(user(), preference="cost")
        handler.rate(response.additional_kwargs["routing"]["decision_id"], 1.0)
    assert router.route(user(), "quality").model == "big"
    assert handler.store.stats()["rated"] == 2


def test_file_store(router: RouterLLM, attach: Any, tmp_path: Any) -> None:
    """Decisions go to a given SQLite file store and survive the handler."""
    url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    handler = attach(FeedbackEventHandler(FeedbackStore(url), router=router))
    decision_id = router.chat(user()).additional_kwargs["routing"]["decision_id"]
    handler.store.close()
    with FeedbackStore(url) as store:
        assert store.get(decision_id).input_tokens == 6


def test_batch_retrain_from_store_and_swap(router: RouterLLM, attach: Any) -> None:
    """A router retrained on the stored ratings can be swapped into the running RouterLLM."""
    handler = attach(FeedbackEventHandler(router=router, learn=False))
    prompts = [QUESTION, "Write a poem about rain.", "Prove Fermat's little theorem.", "Say hi."]
    for prompt in prompts:
        for pref in ("quality", "cost"):
            response = router.complete(prompt, preference=pref)
            routing = response.additional_kwargs["routing"]
            handler.rate(routing["decision_id"], 1.0 if routing["model"] == "small" else 0.2)
    assert router.route(user(), "quality").model == "big"
    assert router.engine.router is not None
    retrained = OnlineLearner(router.engine.router, router.engine.encoder).retrain(handler.store)
    router.engine.set_router(retrained)
    assert router.route(user(), "quality").model == "small"


def test_memory_is_bounded(router: RouterLLM, attach: Any) -> None:
    """Only the newest request ids stay in memory; older ones are found in the store."""
    handler = FeedbackEventHandler(router=router, max_tracked=2)
    attach(handler)
    for i in range(3):
        with instrument_tags({"request_id": f"r{i}"}):
            router.chat(user())
    assert handler.recorder.keys("r0") == ["r0"]  # forgotten in memory
    assert len(handler.recorder.keys("r2")) == 1 and handler.recorder.keys("r2") != ["r2"]
    (record,) = handler.rate("r0", 0.5)
    assert record.metadata["request_id"] == "r0"


def test_rating_by_request_id_never_reads_every_record(
    router: RouterLLM, handler: FeedbackEventHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Request ids resolve from memory, else by one targeted store query, never store.records()."""

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("store.records() must not be called to resolve a request id")

    monkeypatch.setattr(handler.store, "records", no_scan)
    with instrument_tags({"request_id": "req-9"}):
        router.chat(user())
    (record,) = handler.rate("req-9", 0.5)
    fresh = FeedbackEventHandler(handler.store, router=router, learn=False)
    assert fresh.decision_ids("req-9") == [record.decision_id]
    assert fresh.decision_ids("unknown") == []


def test_fallback_answer_is_learned_with_propensity_one(
    router: RouterLLM, handler: FeedbackEventHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rating of a fallback's answer reaches engine.learn with propensity 1.0."""
    learned: list[tuple[str, float]] = []
    monkeypatch.setattr(
        router.engine, "learn", lambda *args, **kw: learned.append((args[1], kw["propensity"]))
    )
    chosen = dataclasses.replace(router.route(user(), "quality"), propensity=0.4)
    for decision_id, answered in (("fb", "small"), ("direct", "big")):
        decision = dataclasses.replace(chosen, decision_id=decision_id)
        handler.store.record_decision(decision, prompt=QUESTION)
        handler.store.record_outcome(decision_id, model=answered)
        handler.rate(decision_id, 1.0)
    assert learned == [("small", 1.0), ("big", 0.4)]
