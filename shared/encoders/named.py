"""The encoders the command line offers, by short name.

Examples:
    >>> from shared.encoders.named import ENCODER_CHOICES, named_encoder
    >>> ENCODER_CHOICES
    ('minilm', 'hashing', 'minilm+hashing', 'onnx', 'onnx-int8', 'model2vec')
    >>> named_encoder("hashing").name, named_encoder("onnx-int8").name
    ('hashing:384', 'onnx:all-MiniLM-L6-v2:int8')
"""

from __future__ import annotations

from ..exceptions import InvalidParameterError
from .base import PromptEncoder

__all__ = ["ENCODER_CHOICES", "choice_of", "named_encoder"]

#: Short names accepted by ``--encoder``.
ENCODER_CHOICES = ("minilm", "hashing", "minilm+hashing", "onnx", "onnx-int8", "model2vec")


def named_encoder(name: str) -> PromptEncoder:
    """``"minilm"`` (the shared cached MiniLM), ``"hashing"`` (384 buckets),
    ``"minilm+hashing"`` (:func:`~shared.encoders.minilm_with_hashing`), ``"onnx"`` /
    ``"onnx-int8"`` (:class:`~shared.encoders.OnnxEncoder` float32 / int8) or ``"model2vec"``
    (:class:`~shared.encoders.StaticEncoder`). Nothing is loaded or built until the first
    ``encode``.

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
    if name in ("onnx", "onnx-int8"):
        from .onnx import OnnxEncoder

        return OnnxEncoder(precision="int8" if name == "onnx-int8" else "float32")
    if name == "model2vec":
        from .static import StaticEncoder

        return StaticEncoder()
    raise InvalidParameterError(f"Unknown encoder {name!r}; choose one of {ENCODER_CHOICES}.")


def choice_of(encoder_name: str) -> str | None:
    """The ``--encoder`` choice whose encoder is named ``encoder_name`` (as ``training.json``
    records it), ``"hashing"`` for any hashing width, or ``None``.

    Examples:
        >>> choice_of("onnx:all-MiniLM-L6-v2:int8"), choice_of("hashing:64"), choice_of("x")
        ('onnx-int8', 'hashing', None)
    """
    if encoder_name.startswith("hashing:"):
        return "hashing"
    for choice in ENCODER_CHOICES:
        if choice != "hashing" and named_encoder(choice).name == encoder_name:
            return choice
    return None
