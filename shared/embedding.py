"""Prompt embeddings kept with decision records: compact bytes tagged with their encoder.

At decision time the prompt is already encoded; :class:`PromptEmbedding` keeps that vector with
the encoder's ``name``, ``dimension`` and a ``fingerprint`` so that a retrain can reuse it instead
of encoding the prompt again, and can tell when a stored vector comes from another encoder.

Examples:
    >>> import numpy as np
    >>> from shared import HashingEncoder
    >>> from shared.embedding import PromptEmbedding
    >>> enc = HashingEncoder(n_features=8)
    >>> emb = PromptEmbedding.of(enc.encode(["hi"])[0], enc)
    >>> emb.encoder, emb.dimension, emb.matches(enc)
    ('hashing:8', 8, True)
    >>> back = PromptEmbedding.from_bytes(emb.to_bytes("float32"), encoder=emb.encoder,
    ...                                   dimension=8, dtype="float32", fingerprint=emb.fingerprint)
    >>> bool(np.array_equal(back.vector, emb.vector))
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .exceptions import FeedbackError

__all__ = ["EMBEDDING_DTYPES", "PromptEmbedding", "encoder_fingerprint"]

#: Byte formats an embedding may be stored in.
EMBEDDING_DTYPES = ("float16", "float32")


def encoder_fingerprint(encoder: Any) -> str:
    """A short id of an encoder's output space: its own ``fingerprint`` if it has one, else a
    hash of its ``name`` and ``dimension``.

    Encoders that can change weights under one name (a local model directory) should expose a
    ``fingerprint`` attribute (e.g. a hash of their weights) so that stored embeddings of the old
    weights are told apart.

    Examples:
        >>> from shared import HashingEncoder
        >>> encoder_fingerprint(HashingEncoder(n_features=8))
        'd7acadc58d6fcc85'
    """
    own = getattr(encoder, "fingerprint", None)
    if isinstance(own, str) and own:
        return own
    text = f"{encoder.name}|{int(encoder.dimension)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class PromptEmbedding:
    """One prompt's embedding and the encoder it came from.

    Attributes:
        vector: the embedding, ``(dimension,)`` ``float32``.
        encoder: the encoder's ``name``.
        fingerprint: :func:`encoder_fingerprint` of the encoder.
    """

    vector: NDArray[np.float32] = field(repr=False)
    encoder: str
    fingerprint: str

    @classmethod
    def of(cls, vector: ArrayLike, encoder: Any) -> PromptEmbedding:
        """The embedding ``vector`` produced by ``encoder``."""
        vec = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).ravel())
        return cls(vector=vec, encoder=str(encoder.name), fingerprint=encoder_fingerprint(encoder))

    @property
    def dimension(self) -> int:
        """Width of the vector."""
        return int(self.vector.shape[0])

    def matches(self, encoder: Any) -> bool:
        """Whether ``encoder`` produces vectors of this embedding's space."""
        return (
            self.encoder == encoder.name
            and self.dimension == int(encoder.dimension)
            and self.fingerprint == encoder_fingerprint(encoder)
        )

    def to_bytes(self, dtype: str) -> bytes:
        """The vector as little-endian ``float16`` or ``float32`` bytes."""
        return self.vector.astype(_dtype(dtype)).tobytes()

    @classmethod
    def from_bytes(
        cls, data: bytes, *, encoder: str, dimension: int, dtype: str, fingerprint: str
    ) -> PromptEmbedding:
        """Inverse of :meth:`to_bytes`.

        Raises:
            FeedbackError: the byte count does not match ``dimension`` and ``dtype``.
        """
        dt = _dtype(dtype)
        if len(data) != dimension * dt.itemsize:
            raise FeedbackError(
                f"Stored embedding has {len(data)} bytes, expected {dimension} x {dt.itemsize}."
            )
        vec = np.frombuffer(data, dtype=dt).astype(np.float32)
        return cls(vector=vec, encoder=encoder, fingerprint=fingerprint)


def _dtype(name: str) -> np.dtype[Any]:
    if name not in EMBEDDING_DTYPES:
        raise FeedbackError(f"Embedding dtype must be one of {EMBEDDING_DTYPES}, got {name!r}.")
    return np.dtype(name).newbyteorder("<")
