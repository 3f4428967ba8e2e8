"""FeedbackCallbackHandler: recording routed calls, rating them by any id, learning from ratings."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from langchain_router import FeedbackCallbackHandler, RouterChatModel
from langchain_router.testing import FailingChatModel, FakeToolChatModel
from shared import (
    AllCandidatesFailedError,
    FeedbackError,
    FeedbackStore,
    OnlineLearner,
    RidgeRouter,
    RouterHandle,
    UnknownDecisionError,
    save_router,
)

from .conftest import BIG, SMALL, MakeRouter


def test_records_decision_usage_cost_and_latency(make_router: MakeRouter) -> None:
    """A routed call is stored under its run id with usage, card cost, latency and prompt."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router)
    run_id = uuid.uuid4()
    msg = router.invoke(
        "What is 2 + 2?",
        {"callbacks": [handler], "run_id": run_id, "metadata": {"request_id": "r1"}},
        preference="quality",
    )
    record = handler.store.get(str(run_id))
    assert record.decision_id == msg.response_metadata["routing"]["decision_id"]
    assert (record.model, record.input_tokens, record.output_tokens) == ("big", 5, 7)
    assert record.cost_usd == pytest.approx(BIG.cost(5, 7))
    assert record.latency_s is not None and record.latency_s >= 0
    assert record.prompt == "What is 2 + 2?" and record.metadata["request_id"] == "r1"


def test_ignores_other_chat_models() -> None:
    """Runs of chat models that are not routers are not recorded."""
    handler = FeedbackCallbackHandler()
    FakeToolChatModel().invoke("hi", {"callbacks": [handler]})
    assert handler.store.records() == []


def test_rate_by_every_kind_of_id(make_router: MakeRouter) -> None:
    """rate() accepts a run UUID, its string, the message id, the decision id and a request id."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router, learn=False)
    run_id = uuid.uuid4()
    msg = router.invoke(
        "hi", {"callbacks": [handler], "run_id": run_id, "metadata": {"request_id": "q"}}
    )
    decision_id = msg.response_metadata["routing"]["decision_id"]
    for key, score in [
        (run_id, 0.1),
        (str(run_id), 0.2),
        (msg.id, 0.3),
        (decision_id, 0.4),
        ("q", 0.5),
    ]:
        (record,) = handler.rate(key, score)
        assert record.decision_id == decision_id and record.score == score
    with pytest.raises(UnknownDecisionError):
        handler.rate("never-seen", 1.0)
    with pytest.raises(FeedbackError):
        handler.rate(run_id, 1.5)
    assert handler.store.get(run_id).score == 0.5


def test_root_run_rating_reaches_every_routed_call(make_router: MakeRouter) -> None:
    """Rating a chain's root run rates each routed call made under it."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router, learn=False)
    prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
    chain = prompt | router | StrOutputParser() | RunnableLambda(lambda s: router.invoke(s))
    root = uuid.uuid4()
    chain.invoke({"q": "hello"}, {"callbacks": [handler], "run_id": root})
    records = handler.rate(root, 0.7)
    assert len(records) == 2 and {r.score for r in records} == {0.7}
    assert all(r.metadata["root_run_id"] == str(root) for r in records)


def test_fallback_and_total_failure_are_recorded(make_router: MakeRouter) -> None:
    """The store keeps the router's choice, the member that answered, and total failures."""
    router = make_router(models={"big": FailingChatModel(), "small": FakeToolChatModel()})
    handler = FeedbackCallbackHandler(router=router)
    router.invoke(
        "hi", {"callbacks": [handler], "metadata": {"request_id": "a"}}, preference="quality"
    )
    record = handler.store.get(handler.run_ids("a")[0])
    assert (record.chosen_model, record.model) == ("big", "small")
    assert record.metadata["fallbacks"][0]["model"] == "big"
    broken = make_router(models={"big": FailingChatModel(), "small": FailingChatModel()})
    with pytest.raises(AllCandidatesFailedError):
        broken.invoke("hi", {"callbacks": [handler], "metadata": {"request_id": "b"}})
    assert "AllCandidatesFailedError" in (handler.store.get(handler.run_ids("b")[0]).error or "")


def test_streamed_and_concurrent_calls_are_recorded(make_router: MakeRouter) -> None:
    """Streaming calls and a concurrent batch are each recorded once (thread safety)."""
    router = make_router()
    store = FeedbackStore("sqlite://")
    handler = FeedbackCallbackHandler(store, router=router)
    list(router.stream("hi there", {"callbacks": [handler], "metadata": {"request_id": "s"}}))
    (streamed,) = handler.rate("s", 1.0, learn=False)
    assert streamed.output_tokens == 4 and streamed.cost_usd == pytest.approx(BIG.cost(2, 4))
    router.batch(
        [f"question {i}" for i in range(12)],
        {"callbacks": [handler], "max_concurrency": 4},
    )
    assert len(store.records()) == 13


def test_ratings_change_later_decisions(make_router: MakeRouter) -> None:
    """After enough bad ratings for the expensive member (its prior 0.8 is worth 10 ratings:
    seven zeros bring it below the cheap member's 0.5), the router switches to the cheap one."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router)
    question = "Summarize the plot of Hamlet."
    first = router.invoke(question, {"callbacks": [handler]}, preference="quality")
    assert first.response_metadata["routing"]["model"] == "big"
    for _ in range(10):
        msg = router.invoke(question, {"callbacks": [handler]}, preference="quality")
        if msg.response_metadata["routing"]["model"] == "small":
            break
        handler.rate(msg.id, 0.0)
    assert (
        router.invoke(question, preference="quality").response_metadata["routing"]["model"]
        == "small"
    )
    assert len(handler.learned()) >= 1


def test_each_decision_is_learned_once(make_router: MakeRouter) -> None:
    """Rating the same call twice stores the later score but learns from it only once."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router)
    msg = router.invoke("hi", {"callbacks": [handler]})
    handler.rate(msg.id, 0.0)
    handler.rate(msg.id, 1.0)
    assert handler.learned() == [msg.response_metadata["routing"]["decision_id"]]
    assert handler.store.get(msg.response_metadata["routing"]["decision_id"]).score == 1.0


def test_langsmith_feedback_on_root_runs_is_imported(make_router: MakeRouter) -> None:
    """LangSmith feedback given on a root trace is applied to the routed calls under it."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router, learn=False)
    root = uuid.uuid4()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | router
    chain.invoke({"q": "hello"}, {"callbacks": [handler], "run_id": root})
    direct = router.invoke([HumanMessage("bye")], {"callbacks": [handler]})
    run_of_direct = direct.id.removeprefix("lc_run--").rsplit("-", 1)[0]  # type: ignore[union-attr]
    items = [
        {"run_id": root, "key": "correctness", "score": 1.0},
        {"run_id": uuid.UUID(run_of_direct), "key": "correctness", "score": 0.0},
        {"run_id": uuid.uuid4(), "key": "correctness", "score": 1.0},
    ]
    assert handler.import_langsmith_feedback(items) == 2
    scores = sorted((r.prompt, r.score) for r in handler.store.records(rated_only=True))
    assert scores == [("bye", 0.0), ("hello", 1.0)]


def test_learner_object_is_used_when_given(make_router: MakeRouter) -> None:
    """A learner passed to the handler receives each rated record."""
    seen: list[str] = []

    class Learner:
        def learn(self, record: object) -> None:
            seen.append(record.model)  # type: ignore[attr-defined]

    router = RouterChatModel(
        models={"a": FakeToolChatModel(model_name="a")},
        pool={"a": SMALL.__class__("a")},
        encoder=make_router().routing_engine.encoder,
    )
    handler = FeedbackCallbackHandler(router=router, learner=Learner())
    msg = router.invoke("x", {"callbacks": [handler]})
    handler.rate(msg.id, 1.0)
    assert seen == ["a"]


def test_batch_retrain_and_hot_swap(make_router: MakeRouter, tmp_path: Path) -> None:
    """Ratings in the store retrain a ridge router that a RouterHandle swaps into the model."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router, learn=False)
    for i in range(6):
        msg = router.invoke(
            f"task {i}", {"callbacks": [handler]}, preference=["quality", "cost"][i % 2]
        )
        handler.rate(msg.id, 0.2 if msg.response_metadata["routing"]["model"] == "big" else 0.9)
    encoder = router.routing_engine.encoder
    fresh = OnlineLearner(RidgeRouter(), encoder, store=handler.store).retrain()
    save_router(fresh, tmp_path / "router")
    handle = RouterHandle(tmp_path / "router")
    router.routing_engine.router = handle.router
    msg = router.invoke("task 9", preference="quality")
    assert msg.response_metadata["routing"]["router"] == "RidgeRouter"
    assert msg.response_metadata["routing"]["model"] == "small"


def test_parent_run_id_is_a_rating_key(make_router: MakeRouter) -> None:
    """The run of the step that called the router (here a lambda) rates that call only."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router, learn=False)
    parents: list[str] = []

    def step(text: str) -> str:
        return str(router.invoke(text).content)

    chain = RunnableLambda(step) | RunnableLambda(step)
    chain.invoke("hello", {"callbacks": [handler]})
    for record in handler.store.records():
        parents.append(record.metadata["parent_run_id"])
    assert len(set(parents)) == 2
    (rated,) = handler.rate(parents[0], 0.4)
    assert rated.metadata["parent_run_id"] == parents[0]


def test_rating_by_alias_never_reads_every_record(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Request, root and message ids resolve from memory or by key, never by store.records()."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router, learn=False)

    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("store.records() must not be called to resolve a rating key")

    monkeypatch.setattr(handler.store, "records", no_scan)
    root = uuid.uuid4()
    msg = router.invoke(
        "hi", {"callbacks": [handler], "run_id": root, "metadata": {"request_id": "r"}}
    )
    for key in ("r", msg.id, root):
        (record,) = handler.rate(key, 0.5)
        assert record.decision_id == msg.response_metadata["routing"]["decision_id"]


def test_fallback_answer_is_learned_with_propensity_one(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rating of a fallback's answer reaches engine.learn with propensity 1.0."""
    router = make_router()
    handler = FeedbackCallbackHandler(router=router)
    learned: list[tuple[str, float]] = []
    monkeypatch.setattr(
        router.routing_engine,
        "learn",
        lambda *args, **kw: learned.append((args[1], kw["propensity"])),
    )
    chosen = dataclasses.replace(router.routing_engine.route("hi", "quality"), propensity=0.4)
    for decision_id, answered in (("fb", "small"), ("direct", "big")):
        decision = dataclasses.replace(chosen, decision_id=decision_id)
        handler.store.record_decision(decision, prompt="hi")
        handler.store.record_outcome(decision_id, model=answered)
        handler.rate(decision_id, 1.0)
    assert learned == [("small", 1.0), ("big", 0.4)]
