"""RouterLLM inside LlamaIndex query engines, with scoped preferences."""

from __future__ import annotations

from llama_index.core import Document, MockEmbedding, Settings, SummaryIndex, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index_instrumentation.dispatcher import instrument_tags

from llamaindex_router import FeedbackEventHandler, RouterLLM

from .conftest import EventRecorder

DOCS = [
    Document(text="Paris is the capital of France."),
    Document(text="Routers pick a model for each call."),
]


def test_vector_query_engine_routes_by_scoped_preference(
    router: RouterLLM, recorder: EventRecorder
) -> None:
    """A vector index query engine answers through the member the scoped preference selects."""
    index = VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=router, similarity_top_k=1)
    with router.preference("quality"):
        assert str(engine.query("What is the capital of France?")) == "big answer"
    with instrument_tags({"router_preference": "cost"}):
        assert str(engine.query("What is the capital of France?")) == "small answer"
    models = [e.decision.model for e in recorder.of("RoutingDecisionEvent")]  # type: ignore[attr-defined]
    assert models == ["big", "small"]


def test_streaming_query_engine_with_bound_router(router: RouterLLM, attach: object) -> None:
    """A streaming summary-index query engine works with a bound copy; the call is recorded."""
    handler = FeedbackEventHandler(router=router)
    attach(handler)  # type: ignore[operator]
    index = SummaryIndex.from_documents(DOCS)
    engine = index.as_query_engine(llm=router.with_preference("cost"), streaming=True)
    response = engine.query("What do routers do?")
    assert "".join(response.response_gen) == "small answer"  # type: ignore[union-attr,arg-type]
    (record,) = handler.store.records()
    assert record.model == "small"
    assert record.output_tokens == 2


def test_settings_llm(router: RouterLLM) -> None:
    """With Settings.llm = router, engines use the router and the Settings callbacks reach members."""
    counter = TokenCountingHandler(tokenizer=str.split)
    saved_llm, saved_callbacks = Settings._llm, Settings._callback_manager
    try:
        Settings.callback_manager = CallbackManager([counter])
        Settings.llm = router
        engine = SummaryIndex.from_documents(DOCS).as_query_engine()
        with router.preference("cost"):
            assert str(engine.query("What do routers do?")) == "small answer"
        assert len(counter.llm_token_counts) == 1
    finally:
        Settings._llm, Settings._callback_manager = saved_llm, saved_callbacks
