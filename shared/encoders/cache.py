"""An in-memory LRU cache in front of any prompt encoder."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..exceptions import EncoderError, InvalidParameterError
from .base import PromptEncoder, check_texts

__all__ = ["CacheInfo", "CachedEncoder"]


class CacheInfo(NamedTuple):
    """Counters of a :class:`CachedEncoder` (texts found, texts encoded, capacity, entries)."""

    hits: int
    misses: int
    maxsize: int | None
    size: int


class CachedEncoder:
    """Remember the vectors of recently seen texts; encode only the new ones.

    Keys are the exact texts. On each :meth:`encode`, texts found in the cache are hits; the
    others are misses and are sent to the inner encoder in **one** batch (a text repeated
    within the call is encoded once). The least recently used entries are dropped beyond
    ``maxsize``. The cache is safe to share between threads: the lock is not held while the
    inner encoder runs, so concurrent callers only wait for the bookkeeping.

    ``name`` and ``dimension`` are the inner encoder's, so a cached encoder is interchangeable
    with the encoder it wraps (same vectors, same disk-cache keys).

    Args:
        encoder: the encoder to wrap (any :class:`PromptEncoder`).
        maxsize: number of texts kept; ``None`` for no limit, ``0`` to disable caching.

    Raises:
        InvalidParameterError: ``encoder`` is not a prompt encoder or ``maxsize`` is invalid
            (checked here: the wrapper has no ``fit`` to defer it to).

    Examples:
        >>> from shared import CachedEncoder, HashingEncoder
        >>> enc = CachedEncoder(HashingEncoder(n_features=32), maxsize=100)
        >>> _ = enc.encode(["hello there", "general question"])
        >>> _ = enc.encode(["hello there", "a new prompt"])
        >>> enc.cache_info()
        CacheInfo(hits=1, misses=3, maxsize=100, size=3)
    """

    def __init__(self, encoder: PromptEncoder, maxsize: int | None = 10_000) -> None:
        if not isinstance(encoder, PromptEncoder):
            raise InvalidParameterError(
                "CachedEncoder wraps a prompt encoder (with name, dimension and encode); "
                f"got {type(encoder).__name__}."
            )
        if maxsize is not None and (
            isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 0
        ):
            raise InvalidParameterError(f"maxsize must be an int >= 0 or None; got {maxsize!r}.")
        self.encoder = encoder
        self.maxsize = maxsize
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CachedEncoder({self.encoder!r}, maxsize={self.maxsize!r})"

    @property
    def name(self) -> str:
        """The inner encoder's name."""
        return self.encoder.name

    @property
    def dimension(self) -> int:
        """The inner encoder's dimension."""
        return self.encoder.dimension

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode texts, reusing cached vectors; same output as the inner encoder.

        Raises:
            InvalidParameterError: ``texts`` is not a sequence of strings.
            EncoderError: the inner encoder failed or returned a wrongly shaped array.
        """
        docs = check_texts(texts, type(self).__name__)
        found: dict[str, NDArray[np.float32]] = {}
        missing: list[str] = []
        with self._lock:
            for text in docs:
                row = self._cache.get(text)
                if row is not None:
                    self._cache.move_to_end(text)
                    found[text] = row
                    self._hits += 1
                else:
                    self._misses += 1
                    if text not in found:
                        missing.append(text)
                        found[text] = _PENDING
        if missing:
            fresh = np.asarray(self.encoder.encode(missing), dtype=np.float32)
            if fresh.ndim != 2 or fresh.shape[0] != len(missing):
                raise EncoderError(
                    f"{self.encoder!r} returned an array of shape {fresh.shape} for "
                    f"{len(missing)} texts; expected ({len(missing)}, dimension)."
                )
            with self._lock:
                for text, row in zip(missing, fresh):
                    kept = row.copy()
                    kept.flags.writeable = False
                    found[text] = kept
                    if self.maxsize != 0:
                        self._cache[text] = kept
                        self._cache.move_to_end(text)
                while self.maxsize is not None and len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
        if not docs:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[text] for text in docs]).astype(np.float32, copy=False)

    def cache_info(self) -> CacheInfo:
        """Hits and misses since creation (or the last :meth:`cache_clear`), capacity, size."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.maxsize, len(self._cache))

    def cache_clear(self) -> None:
        """Drop every cached vector and reset the counters."""
        with self._lock:
            self._cache.clear()
            self._hits = 0
            self._misses = 0


_PENDING: NDArray[np.float32] = np.zeros(0, dtype=np.float32)
