"""The encoders the command line offers, by short name.

Examples:
    >>> from shared.encoders.named import ENCODER_CHOICES, named_encoder
    >>> ENCODER_CHOICES
    ('minilm', 'hashing', 'minilm+hashing')
    >>> named_encoder("hashing").name
    'hashing:384'
"""

from __future__ import annotations

from ..exceptions import InvalidParameterError
from .base import PromptEncoder

__all__ = ["ENCODER_CHOICES", "named_encoder"]

#: Short names accepted by ``--encoder``.
ENCODER_CHOICES = ("minilm", "hashing", "minilm+hashing")


def named_encoder(name: str) -> PromptEncoder:
    """``"minilm"`` (the shared cached MiniLM), ``"hashing"`` (384 buckets) or
    ``"minilm+hashing"`` (:func:`~shared.encoders.minilm_with_hashing`).

    Raises:
        InvalidParameterError: an unknown name.
    """
    if name == "minilm":
        from .sentence import default_encoder

        return default_encoder()
    if name == "hashing":
        from .hashing import HashingEncoder

        return HashingEncoder()
    if name == "minilm+hashing":
        from .concat import minilm_with_hashing

        return minilm_with_hashing()
    raise InvalidParameterError(f"Unknown encoder {name!r}; choose one of {ENCODER_CHOICES}.")
