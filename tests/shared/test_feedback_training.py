"""Retraining from the store: stored embeddings, chunked statistics, the Dask engine."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import inspect, text

from shared import (
    Decision,
    FeedbackStore,
    HashingEncoder,
    ModelCard,
    Preference,
    RidgeRouter,
    RoutingEngine,
)
from shared.encoders import PromptEmbedding
from shared.exceptions import EncoderMismatchError, FeedbackError
from shared.feedback.learner import fill_missing_costs
from shared.feedback.training import LogReader, fit_ridge_streaming, read_log

MODELS = ("big", "mid", "small")
DIM = 16  # 480 rated rows > 20 per design column: "cv" chooses from the statistics
WORDS = ("solve", "integral", "poem", "hello", "code", "python", "story", "proof", "sum")


class CountingEncoder:
    """A hashing encoder that counts the texts it encodes."""

    def __init__(self, n_features: int = DIM) -> None:
        self.inner = HashingEncoder(n_features=n_features)
        self.calls = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += len(texts)
        return self.inner.encode(texts)


def _fill(
    store: FeedbackStore, n: int, *, seed: int = 0, embed: HashingEncoder | None = None
) -> None:
    """``n`` decisions: ~80% rated, ~2/3 with a cost, every other one with its embedding."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        model = MODELS[int(rng.integers(3))]
        prompt = " ".join(rng.choice(WORDS, size=4)) + f" {i}"
        d = Decision(
            model=model,
            models=MODELS,
            scores=(0.0, 0.0, 0.0),
            propensity=0.5,
            preference=Preference(),
            ranking=(model, *(m for m in MODELS if m != model)),
        )
        emb = None
        if embed is not None and i % 2:
            emb = PromptEmbedding.of(embed.encode([prompt])[0], embed)
        store.record_decision(d, prompt=prompt, embedding=emb)
        if i % 3:
            store.record_outcome(d.decision_id, cost_usd=float(rng.uniform(0.0, 0.01)))
        if i % 5:
            store.rate(d.decision_id, float(rng.uniform()))


def _single() -> Decision:
    """A decision of a one-model router."""
    return Decision(
        model="a",
        models=("a",),
        scores=(0.0,),
        propensity=1.0,
        preference=Preference(),
        ranking=("a",),
    )


def _in_memory(store: FeedbackStore, encoder: HashingEncoder, alpha: object) -> RidgeRouter:
    log = store.export_bandit_log()
    X = encoder.encode(list(log.prompts))
    return RidgeRouter(alpha=alpha).fit_bandit(  # type: ignore[arg-type]
        X,
        list(log.chosen),
        log.quality,
        fill_missing_costs(log),
        log.propensity,
        models=list(log.models),
    )


def _assert_same(a: RidgeRouter, b: RidgeRouter) -> None:
    assert a.models_ == b.models_
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.alpha_, b.alpha_, rtol=1e-12)
    np.testing.assert_allclose(a.cost_alpha_, b.cost_alpha_, rtol=1e-12)
    assert a.cost_scale_ == pytest.approx(b.cost_scale_, rel=1e-12)
    X = np.random.default_rng(1).normal(size=(20, a.n_features_in_))
    for qa, qb in zip(a.predict_outcomes(X), b.predict_outcomes(X), strict=True):
        np.testing.assert_allclose(qa, qb, rtol=0, atol=1e-8)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file store of 600 decisions (float32 embeddings on every other one)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('train') / 'fb.sqlite3'}"
    with FeedbackStore(url, embeddings="float32") as store:
        _fill(store, 600, embed=HashingEncoder(n_features=DIM))
    return url


@pytest.mark.parametrize("alpha", [0.5, "gcv", "cv"])
@pytest.mark.parametrize("chunk_size", [1, 64, 10_000])
def test_chunked_fit_equals_in_memory_fit(filled: str, alpha: object, chunk_size: int) -> None:
    """Chunks of any size give the router fit_bandit fits on the whole exported log."""
    if chunk_size == 1 and alpha != "gcv":
        pytest.skip("one-row chunks: checked once")
    enc = HashingEncoder(n_features=DIM)
    with FeedbackStore(filled) as store:
        result = fit_ridge_streaming(
            RidgeRouter(alpha=alpha),  # type: ignore[arg-type]
            store,
            enc,
            chunk_size=chunk_size,
        )
        reference = _in_memory(store, enc, alpha)
    assert result.engine == "stream"  # 480 rows > 20 per design column: no LOO rows needed
    assert result.rows == 480 and result.reused == 240
    _assert_same(result.router, reference)


def test_small_log_with_cv_is_fitted_on_its_rows() -> None:
    """alpha="cv" on a log of <= 20 rows per column chooses by exact LOO, on the rows."""
    enc = HashingEncoder(n_features=DIM)
    with FeedbackStore("sqlite://", embeddings="float32") as store:
        _fill(store, 120, embed=enc)
        result = fit_ridge_streaming(RidgeRouter(), store, enc, chunk_size=16)
        reference = _in_memory(store, enc, "cv")
    assert result.engine == "memory"
    _assert_same(result.router, reference)


def test_stored_embeddings_are_used_without_encoding() -> None:
    """Decisions routed by the engine carry their embedding; retraining encodes nothing."""
    encoder = CountingEncoder()
    engine = RoutingEngine(
        [ModelCard("big", input_usd_per_1m=10), ModelCard("small", input_usd_per_1m=0.1)],
        encoder=encoder,
        explore=False,
    )
    rng = np.random.default_rng(3)
    with FeedbackStore("sqlite://", embeddings="float32") as store:
        for i in range(300):
            prompt = " ".join(rng.choice(WORDS, size=5)) + f" {i}"
            decision = engine.route(prompt)
            rec = store.record_decision(decision, prompt=prompt)
            assert rec.embedding is not None and rec.embedding.matches(encoder)
            store.record_outcome(decision.decision_id, cost_usd=float(rng.uniform(0, 0.01)))
            store.rate(decision.decision_id, float(rng.uniform()))
        routed = encoder.calls
        result = fit_ridge_streaming(RidgeRouter(alpha="gcv"), store, encoder, chunk_size=50)
        assert encoder.calls == routed  # no encoder call on retrain
        assert (result.rows, result.encoded) == (300, 0)
        # the stored vectors are the routed ones, so the fit equals encoding afresh
        _assert_same(result.router, _in_memory(store, encoder.inner, "gcv"))


def test_float16_embeddings_round_trip_closely() -> None:
    """The default float16 bytes hold the vector to ~1e-3 and take 2 bytes per dimension."""
    enc = HashingEncoder(n_features=64)
    vec = enc.encode(["a float16 prompt embedding"])[0]
    d = _single()
    with FeedbackStore("sqlite://") as store:
        rec = store.record_decision(d, prompt="p", embedding=PromptEmbedding.of(vec, enc))
        raw = store._run(
            lambda c: c.execute(text("SELECT embedding FROM prefroute_decisions")).scalar_one(),
            readonly=True,
        )
    assert rec.embedding is not None
    assert len(raw) == 2 * 64
    np.testing.assert_allclose(rec.embedding.vector, vec, atol=2e-3)


def test_mixed_encoders_are_refused(tmp_path: Path) -> None:
    """Embeddings of another encoder stop the retrain before any work, unless re-encoding."""
    other = HashingEncoder(n_features=8)
    train_with = CountingEncoder(n_features=DIM)
    with FeedbackStore("sqlite://") as store:
        _fill(store, 60, embed=other)
        with pytest.raises(
            EncoderMismatchError, match=r"hashing:8 \(24 decisions\), not hashing:16"
        ):
            fit_ridge_streaming(RidgeRouter(alpha=1.0), store, train_with)
        assert train_with.calls == 0
        with pytest.raises(EncoderMismatchError):
            LogReader(store, train_with).plan()
        result = fit_ridge_streaming(
            RidgeRouter(alpha=1.0), store, train_with, reencode_mismatched=True
        )
    assert result.encoded == result.rows == train_with.calls == 48


def test_a_store_without_embedding_columns_is_migrated(tmp_path: Path) -> None:
    """A store created before the embedding columns gains them on open; old rows still read."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    with FeedbackStore(url) as store:
        _fill(store, 10)
        for col in (
            "embedding",
            "embedding_encoder",
            "embedding_fingerprint",
            "embedding_dim",
            "embedding_dtype",
        ):
            store._run(
                lambda c, col=col: c.execute(
                    text(f"ALTER TABLE prefroute_decisions DROP COLUMN {col}")
                )
            )
        names = {c["name"] for c in inspect(store._engine).get_columns("prefroute_decisions")}
        assert "embedding" not in names
    enc = HashingEncoder(n_features=8)
    with FeedbackStore(url) as store:
        names = {c["name"] for c in inspect(store._engine).get_columns("prefroute_decisions")}
        assert {"embedding", "embedding_dtype"} <= names
        assert all(r.embedding is None for r in store.records())
        d = Decision(
            model="big",
            models=MODELS,
            scores=(0.0,) * 3,
            propensity=1.0,
            preference=Preference(),
            ranking=MODELS,
            decision_id="new",
        )
        rec = store.record_decision(
            d, prompt="x", embedding=PromptEmbedding.of(enc.encode(["x"])[0], enc)
        )
        assert rec.embedding is not None and rec.embedding.encoder == enc.name
        # recording again fills nothing twice; a row without an embedding gets one filled in
        assert store.record_decision(d, prompt="x").embedding is not None


def test_store_embeddings_off_and_bad_values() -> None:
    """embeddings=None stores none; a non-embedding or NaN vector is refused."""
    enc = HashingEncoder(n_features=8)
    emb = PromptEmbedding.of(enc.encode(["x"])[0], enc)
    d = _single()
    with FeedbackStore("sqlite://", embeddings=None) as store:
        assert store.record_decision(d, prompt="x", embedding=emb).embedding is None
    with pytest.raises(FeedbackError, match="embeddings must be"):
        FeedbackStore("sqlite://", embeddings="int8")
    with FeedbackStore("sqlite://") as store:
        with pytest.raises(FeedbackError, match="PromptEmbedding"):
            store.record_decision(d, embedding=[0.0] * 8)  # type: ignore[arg-type]
        nan = PromptEmbedding(np.full(8, np.nan, np.float32), enc.name, emb.fingerprint)
        with pytest.raises(FeedbackError, match="NaN"):
            store.record_decision(d, embedding=nan)


def test_read_log_matches_the_export(filled: str) -> None:
    """The in-memory engine's log (stored vectors + encoded ones) equals the exported log."""
    enc = HashingEncoder(n_features=DIM)
    with FeedbackStore(filled) as store:
        log, X, encoded = read_log(LogReader(store, enc, chunk_size=100))
        ref = store.export_bandit_log()
    assert log.decision_ids == ref.decision_ids and log.models == ref.models
    assert log.chosen == ref.chosen
    np.testing.assert_array_equal(log.quality, ref.quality)
    np.testing.assert_array_equal(np.isnan(log.cost), np.isnan(ref.cost))
    np.testing.assert_allclose(X, enc.encode(list(ref.prompts)), atol=1e-7)
    assert encoded == 240


def test_empty_store_is_a_clear_error() -> None:
    with FeedbackStore("sqlite://") as store, pytest.raises(FeedbackError, match="no rated"):
        fit_ridge_streaming(RidgeRouter(), store, HashingEncoder(n_features=8))


@pytest.mark.enable_socket  # the in-process cluster resolves the local host name
def test_dask_local_cluster_fit_equals_single_machine_fit(filled: str, dask_scheduler: str) -> None:
    """Partitions by id range on a 2-worker local cluster sum to the single-machine router."""
    distributed = pytest.importorskip("distributed")
    from shared.feedback.distributed import encode_dask, fit_ridge_dask

    factory = functools.partial(HashingEncoder, n_features=DIM)
    with distributed.Client(dask_scheduler) as client, FeedbackStore(filled) as store:
        result = fit_ridge_dask(
            RidgeRouter(alpha="gcv"), store, factory, client=client, partitions=5, chunk_size=40
        )
        single = fit_ridge_streaming(RidgeRouter(alpha="gcv"), store, factory())
        texts = [f"text {i}" for i in range(37)]
        X = encode_dask(texts, factory, client=client, partitions=4)
    assert result.engine == "dask" and result.rows == single.rows == 480
    assert result.encoded == 240
    _assert_same(result.router, single.router)
    np.testing.assert_array_equal(X, factory().encode(texts))
