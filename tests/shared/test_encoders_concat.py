"""ConcatEncoder and minilm_with_hashing (shared.encoders.concat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared import (
    ConcatEncoder,
    HashingEncoder,
    InvalidParameterError,
    PromptEncoder,
    SentenceTransformerEncoder,
    cached_embeddings,
)
from shared.encoders import minilm_with_hashing

from .test_encoders import CountingEncoder

TEXTS = ["What is 2 + 2?", "Write a haiku about autumn.", "Explain recursion briefly."]


def test_blocks_are_weighted_then_rows_renormalized() -> None:
    a, b = HashingEncoder(n_features=16), HashingEncoder(n_features=8, ngram_range=(1, 1))
    enc = ConcatEncoder([(a, 1.0), (b, 0.5)])
    X = enc.encode(TEXTS)
    assert isinstance(enc, PromptEncoder)
    assert X.shape == (3, 24) and X.dtype == np.float32 and enc.dimension == 24
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)
    # both parts give unit rows, so the blocks are the parts scaled by w / sqrt(1 + 0.25)
    scale = np.sqrt(1.25)
    assert np.allclose(X[:, :16], a.encode(TEXTS) / scale, atol=1e-6)
    assert np.allclose(X[:, 16:], 0.5 * b.encode(TEXTS) / scale, atol=1e-6)


def test_name_changes_with_parts_and_weights() -> None:
    a = HashingEncoder(n_features=16)
    names = {
        ConcatEncoder([(a, 1.0), (HashingEncoder(n_features=8), 0.5)]).name,
        ConcatEncoder([(a, 1.0), (HashingEncoder(n_features=8), 1.0)]).name,
        ConcatEncoder([(a, 1.0), (HashingEncoder(n_features=4), 0.5)]).name,
    }
    assert len(names) == 3


def test_texts_every_part_maps_to_zero_stay_zero_and_empty_batches_work() -> None:
    enc = ConcatEncoder([(HashingEncoder(n_features=8), 1.0), (HashingEncoder(n_features=4), 2.0)])
    X = enc.encode(["", "..."])
    assert not X.any()
    assert enc.encode([]).shape == (0, 12)
    with pytest.raises(InvalidParameterError, match="sequence of strings"):
        enc.encode("a bare string")


@pytest.mark.parametrize(
    ("parts", "match"),
    [
        ([], "at least one"),
        ([HashingEncoder()], "pairs"),
        ([(object(), 1.0)], "not a PromptEncoder"),
        ([(HashingEncoder(), 0.0)], "positive"),
        ([(HashingEncoder(), float("nan"))], "positive"),
        ([(HashingEncoder(), True)], "positive"),
    ],
)
def test_bad_parts_are_rejected(parts: list[object], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        ConcatEncoder(parts)  # type: ignore[arg-type]


def test_combine_checks_block_shapes() -> None:
    enc = ConcatEncoder([(HashingEncoder(n_features=8), 1.0), (HashingEncoder(n_features=4), 1.0)])
    with pytest.raises(InvalidParameterError, match="expects 2 blocks"):
        enc.combine([np.zeros((2, 8), dtype=np.float32)])
    with pytest.raises(InvalidParameterError, match="do not match"):
        enc.combine([np.zeros((2, 8), dtype=np.float32), np.zeros((2, 5), dtype=np.float32)])


def test_disk_cache_stores_each_part_so_parts_are_shared(tmp_path: Path) -> None:
    """A second concatenation that shares a part re-encodes only its new part."""
    first, second, third = CountingEncoder(8), CountingEncoder(12), CountingEncoder(16)
    X = cached_embeddings(
        TEXTS, ConcatEncoder([(first, 1.0), (second, 0.5)]), cache_dir=tmp_path, progress=False
    )
    assert np.allclose(X, ConcatEncoder([(first, 1.0), (second, 0.5)]).encode(TEXTS))
    first.batches.clear()
    Y = cached_embeddings(
        TEXTS, ConcatEncoder([(first, 1.0), (third, 2.0)]), cache_dir=tmp_path, progress=False
    )
    assert first.batches == [] and third.batches == [TEXTS]
    assert Y.shape == (3, 24)
    assert len(list(tmp_path.glob("*.npy"))) == 3


def test_minilm_with_hashing_builds_without_loading_the_model() -> None:
    enc = minilm_with_hashing(hashing_features=256, hashing_weight=0.25)
    minilm, hashing = enc.encoders
    assert isinstance(minilm, SentenceTransformerEncoder) and minilm._model is None
    assert isinstance(hashing, HashingEncoder) and hashing.n_features == 256
    assert enc.weights == (1.0, 0.25) and enc.dimension == 384 + 256


def test_named_encoders_for_the_command_line() -> None:
    from shared.encoders.named import ENCODER_CHOICES, named_encoder

    assert [named_encoder(n).name for n in ENCODER_CHOICES] == [
        "minilm:all-MiniLM-L6-v2",
        "hashing:384",
        "concat(1*minilm:all-MiniLM-L6-v2+0.5*hashing:1024)",
        "onnx:all-MiniLM-L6-v2:float32",
        "onnx:all-MiniLM-L6-v2:int8",
        "model2vec:all-MiniLM-L6-v2:pca256",
    ]
    with pytest.raises(InvalidParameterError, match="Unknown encoder"):
        named_encoder("bert")
