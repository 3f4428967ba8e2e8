"""The prompt-encoder protocol: text in, L2-normalized ``float32`` rows out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..exceptions import InvalidParameterError

__all__ = ["PromptEncoder", "check_texts"]


@runtime_checkable
class PromptEncoder(Protocol):
    """Anything that turns prompts into fixed-width vectors a router can learn from.

    An encoder has a stable ``name`` (it keys the embedding caches, so two encoders with the same
    name must produce the same vectors), a fixed ``dimension`` and an ``encode`` method that maps
    ``n`` texts to an ``(n, dimension)`` ``float32`` array with L2-normalized rows. The protocol is
    structural: any object with these three members qualifies, no subclassing needed.

    Examples:
        >>> from shared import HashingEncoder, PromptEncoder
        >>> isinstance(HashingEncoder(), PromptEncoder)
        True
    """

    @property
    def name(self) -> str:
        """Stable identifier of the encoder and its settings, e.g. ``"hashing:384"``."""
        ...

    @property
    def dimension(self) -> int:
        """Width of the vectors :meth:`encode` returns."""
        ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode a batch of texts to an ``(len(texts), dimension)`` array of unit rows."""
        ...


def check_texts(texts: object, owner: str) -> list[str]:
    """Validate an ``encode`` argument: a sequence of strings, not a bare string.

    Raises:
        InvalidParameterError: ``texts`` is a single string, not a sequence, or holds non-strings.

    Examples:
        >>> check_texts(("a", "b"), "MyEncoder")
        ['a', 'b']
        >>> check_texts("a prompt", "MyEncoder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        shared.exceptions.InvalidParameterError: MyEncoder.encode expects a sequence of strings, ...
    """
    if isinstance(texts, str | bytes):
        raise InvalidParameterError(
            f"{owner}.encode expects a sequence of strings, got a single {type(texts).__name__}; "
            'wrap it in a list: encode(["..."]).'
        )
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, Sequence):
        raise InvalidParameterError(
            f"{owner}.encode expects a sequence of strings, got {type(texts).__name__}."
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"{owner}.encode expects strings; item {i} is {type(text).__name__}."
            )
    return out
