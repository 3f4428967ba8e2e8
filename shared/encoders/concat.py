"""Several encoders side by side: one weighted block per encoder, rows renormalized.

MiniLM reads only the first 256 word pieces of a prompt, so prompts that share a long few-shot
preamble get the same embedding; a :class:`~shared.HashingEncoder` block sees every word of the
prompt at a cost of microseconds. :func:`minilm_with_hashing` stacks the two (MiniLM, then hashed
words at weight 0.5), which raised the validation AIQ of ``RidgeRouter(alpha="cv")`` on the train
splits of both RouterBench and LLMRouter tables (see ``docs/encoders.md``).

The weight of a block sets how much the router's shared ridge penalty lets it speak: a block at
weight ``w`` is penalized like a block at weight 1 with ``1 / w**2`` times the penalty.

Examples:
    >>> import numpy as np
    >>> from shared import ConcatEncoder, HashingEncoder
    >>> enc = ConcatEncoder([(HashingEncoder(n_features=8), 1.0),
    ...                      (HashingEncoder(n_features=4, ngram_range=(1, 1)), 0.5)])
    >>> enc.name, enc.dimension
    ('concat(1*hashing:8+0.5*hashing:4:word1-1)', 12)
    >>> X = enc.encode(["route this prompt", "and that one"])
    >>> X.shape, [round(float(v), 4) for v in np.linalg.norm(X, axis=1)]
    ((2, 12), [1.0, 1.0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..exceptions import InvalidParameterError
from .base import PromptEncoder, check_texts

__all__ = ["ConcatEncoder", "minilm_with_hashing"]


def _looks_like_encoder(obj: object) -> bool:
    """The protocol's members are present (checked on the class: no property is evaluated, so
    no model is loaded)."""
    cls = type(obj)
    return all(
        hasattr(cls, a) or a in getattr(obj, "__dict__", {}) for a in ("name", "dimension")
    ) and callable(getattr(obj, "encode", None))


class ConcatEncoder:
    """Concatenate the outputs of several encoders, each scaled by its weight.

    Each row is ``[w_1 * e_1(text), w_2 * e_2(text), ...]`` divided by its L2 norm, so the output
    keeps the :class:`~shared.PromptEncoder` contract (unit rows; a text every part maps to zero
    stays zero). :func:`~shared.cached_embeddings` caches each part under its own name, so adding a
    block does not re-encode the others.

    Args:
        parts: ``(encoder, weight)`` pairs, weights > 0; at least one.

    Raises:
        InvalidParameterError: no parts, a part that is not an encoder, or a weight that is not a
            positive finite number.
    """

    def __init__(self, parts: Sequence[tuple[PromptEncoder, float]]) -> None:
        items = list(parts)
        if not items:
            raise InvalidParameterError("ConcatEncoder needs at least one (encoder, weight) pair.")
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise InvalidParameterError(
                    f"ConcatEncoder parts are (encoder, weight) pairs; got {item!r}."
                )
            encoder, weight = item
            if not _looks_like_encoder(encoder):
                raise InvalidParameterError(
                    f"ConcatEncoder: {encoder!r} is not a PromptEncoder (name, dimension, encode)."
                )
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not math.isfinite(weight)
                or weight <= 0
            ):
                raise InvalidParameterError(
                    f"ConcatEncoder weights must be positive numbers; got {weight!r}."
                )
        self.encoders: tuple[PromptEncoder, ...] = tuple(e for e, _ in items)
        self.weights: tuple[float, ...] = tuple(float(w) for _, w in items)

    @property
    def name(self) -> str:
        """``concat(w1*name1+w2*name2...)``: changes with any part or weight."""
        inner = "+".join(f"{w:g}*{e.name}" for e, w in zip(self.encoders, self.weights))
        return f"concat({inner})"

    @property
    def dimension(self) -> int:
        """Sum of the parts' dimensions."""
        return sum(e.dimension for e in self.encoders)

    def combine(self, blocks: Sequence[NDArray[np.float32]]) -> NDArray[np.float32]:
        """Weight, stack and renormalize the parts' outputs (one ``(n, d_i)`` array per part).

        Raises:
            InvalidParameterError: the blocks do not match the parts' number or dimensions.
        """
        if len(blocks) != len(self.encoders):
            raise InvalidParameterError(
                f"ConcatEncoder.combine expects {len(self.encoders)} blocks, got {len(blocks)}."
            )
        arrays = [np.asarray(b, dtype=np.float64) for b in blocks]
        rows = {a.shape[0] for a in arrays}
        dims = [a.shape[1] if a.ndim == 2 else -1 for a in arrays]
        if len(rows) != 1 or dims != [e.dimension for e in self.encoders]:
            raise InvalidParameterError(
                "ConcatEncoder.combine: block shapes "
                f"{[a.shape for a in arrays]} do not match the parts' dimensions."
            )
        X = np.hstack([w * a for w, a in zip(self.weights, arrays)])
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return np.asarray(X / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode ``texts`` with every part and :meth:`combine` the blocks."""
        docs = check_texts(texts, "ConcatEncoder")
        if not docs:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.combine([e.encode(docs) for e in self.encoders])

    def __repr__(self) -> str:
        return f"ConcatEncoder({list(zip(self.encoders, self.weights))!r})"


def minilm_with_hashing(
    *, hashing_features: int = 1024, hashing_weight: float = 0.5, **minilm_kwargs: object
) -> ConcatEncoder:
    """MiniLM embeddings beside hashed words of the whole prompt.

    The defaults (1,024 buckets at weight 0.5) were chosen on validation splits of the train
    prompts of routerbench_zs and llmrouter_nim (``docs/encoders.md``).

    Args:
        hashing_features: buckets of the :class:`~shared.HashingEncoder` block.
        hashing_weight: weight of the hashing block (MiniLM has weight 1).
        **minilm_kwargs: passed to :class:`~shared.SentenceTransformerEncoder`.

    Examples:
        >>> from shared.encoders import minilm_with_hashing
        >>> minilm_with_hashing().name
        'concat(1*minilm:all-MiniLM-L6-v2+0.5*hashing:1024)'
    """
    from .hashing import HashingEncoder
    from .sentence import SentenceTransformerEncoder

    minilm = SentenceTransformerEncoder(**minilm_kwargs)  # type: ignore[arg-type]
    return ConcatEncoder(
        [(minilm, 1.0), (HashingEncoder(n_features=hashing_features), hashing_weight)]
    )
