"""The machinery of locally built encoders: source digests, the atomic build cache, lazy loading.

A small subclass builds a text file instead of a model, so these tests need no torch and run in
milliseconds; tests/shared/test_encoders_onnx.py and test_encoders_static.py run the real builds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from shared import EncoderError, PromptEncoder
from shared.encoders._local import (
    LocalModelEncoder,
    build_cached,
    directory_digest,
    local_model_dir,
    models_cache_dir,
)


class CountingEncoder(LocalModelEncoder):
    """Builds ``vector.json`` from the source folder's ``weights.json``; counts builds."""

    _kind: ClassVar[str] = "counting"
    builds: ClassVar[list[Path]] = []

    def __init__(self, *, model_name: str = "", scale: float = 1.0, cache_dir: Any = None) -> None:
        self.model_name = model_name
        self.scale = scale
        self.cache_dir = cache_dir
        self._init_state()

    @property
    def name(self) -> str:
        return f"counting:{self.scale}"

    @property
    def dimension(self) -> int:
        return 2

    def _settings(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def _build(self, tmp: Path, source: Path) -> Mapping[str, Any]:
        time.sleep(0.02)  # widen the window for concurrent first calls
        CountingEncoder.builds.append(tmp)
        weights = json.loads((source / "weights.json").read_text())
        (tmp / "vector.json").write_text(json.dumps([w * self.scale for w in weights]))
        return {"note": "test"}

    def _open(self, folder: Path, manifest: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(json.loads((folder / "vector.json").read_text()), dtype=np.float32)

    def encode(self, texts: Any) -> np.ndarray:
        vec = self._get_runtime()
        return np.tile(vec / np.linalg.norm(vec), (len(texts), 1)).astype(np.float32)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.json").write_text("[3.0, 4.0]")
    CountingEncoder.builds = []
    return folder


def test_protocol_and_lazy_build(source: Path, tmp_path: Path) -> None:
    """Nothing is built until encode; a second construction reuses the cached build."""
    enc = CountingEncoder(model_name=str(source), cache_dir=tmp_path / "cache")
    assert isinstance(enc, PromptEncoder)
    assert CountingEncoder.builds == []
    np.testing.assert_allclose(enc.encode(["a"]), [[0.6, 0.8]], rtol=1e-6)
    assert enc.build_info_["built"] is True and len(CountingEncoder.builds) == 1
    again = CountingEncoder(model_name=str(source), cache_dir=tmp_path / "cache")
    again.encode(["b"])
    assert again.build_info_["built"] is False and len(CountingEncoder.builds) == 1
    folder = Path(again.build_info_["folder"])
    assert folder.parent == models_cache_dir(tmp_path / "cache")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["note"] == "test" and set(manifest["files"]) == {"vector.json"}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp-")]


def test_a_new_setting_or_source_never_reuses_a_build(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = CountingEncoder(model_name=str(source), cache_dir=cache)
    first.encode(["a"])
    first_fingerprint = first.fingerprint
    other = CountingEncoder(model_name=str(source), scale=2.0, cache_dir=cache)
    other.encode(["a"])
    assert other.build_info_["folder"] != first.build_info_["folder"]
    (source / "weights.json").write_text("[4.0, 3.0]")  # new weights, same folder name
    changed = CountingEncoder(model_name=str(source), cache_dir=cache)
    np.testing.assert_allclose(changed.encode(["a"]), [[0.8, 0.6]], rtol=1e-6)
    assert changed.build_info_["built"] is True and len(CountingEncoder.builds) == 3
    assert changed.fingerprint != first_fingerprint
    assert other.fingerprint != changed.fingerprint


def test_corrupt_or_incomplete_build_is_built_again(source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    enc = CountingEncoder(model_name=str(source), cache_dir=cache)
    enc.encode(["a"])
    folder = Path(enc.build_info_["folder"])
    (folder / "vector.json").write_text("[1.0, 0.0]")  # content no longer matches its digest
    fresh = CountingEncoder(model_name=str(source), cache_dir=cache)
    np.testing.assert_allclose(fresh.encode(["a"]), [[0.6, 0.8]], rtol=1e-6)
    assert fresh.build_info_["built"] is True
    (folder / "manifest.json").unlink()  # an interrupted copy, say
    again = CountingEncoder(model_name=str(source), cache_dir=cache)
    again.encode(["a"])
    assert again.build_info_["built"] is True and len(CountingEncoder.builds) == 3


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "x"

    def build(tmp: Path) -> dict[str, Any]:
        (tmp / "half.bin").write_bytes(b"12")
        raise EncoderError("export failed")

    with pytest.raises(EncoderError, match="export failed"):
        build_cached(folder, "k", build)
    assert list((tmp_path / "models").iterdir()) == []
    manifest, built = build_cached(folder, "k", lambda _tmp: {"ok": 1})
    assert built and manifest["ok"] == 1 and manifest["files"] == {}
    assert build_cached(folder, "k", lambda _tmp: {"ok": 2}) == (manifest, False)
    _, rebuilt = build_cached(folder, "other key", lambda _tmp: {"ok": 3})
    assert rebuilt


def test_concurrent_first_calls_build_once(source: Path, tmp_path: Path) -> None:
    enc = CountingEncoder(model_name=str(source), cache_dir=tmp_path / "cache")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            enc.encode(["a"])
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(CountingEncoder.builds) == 1


def test_missing_model_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError, match="never download"):
        local_model_dir(str(tmp_path / "no-such-model"))
    enc = CountingEncoder(model_name=str(tmp_path / "no-such-model"), cache_dir=tmp_path)
    with pytest.raises(EncoderError, match="not a local folder"):
        enc.encode(["a"])


def test_directory_digest_ignores_readme_and_hidden_files(source: Path) -> None:
    first = directory_digest(source)
    (source / "README.md").write_text("docs")
    (source / ".lock").write_text("")
    assert directory_digest(source) == first
    (source / "extra.json").write_text("{}")
    assert directory_digest(source) != first
