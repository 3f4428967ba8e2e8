"""A fast, stateless, dependency-light encoder: hashed word (and character) n-grams."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .._base import BaseEstimator
from .._validation import Constraint, Interval
from .base import check_texts

__all__ = ["HashingEncoder"]

# Keep one-character tokens ("a", "2", "x") that scikit-learn's default pattern drops.
_TOKEN_PATTERN = r"(?u)\b\w+\b"
_TOKENS = re.compile(_TOKEN_PATTERN)
# From this many texts on, scikit-learn's compiled hasher beats a Python loop.
_BATCH_THRESHOLD = 16


def _word_ngrams(doc: str, ngram_range: tuple[int, int], lowercase: bool) -> list[str]:
    """Word n-grams exactly as scikit-learn's word analyzer makes them, without its overhead."""
    tokens = _TOKENS.findall(doc.lower() if lowercase else doc)
    low, high = ngram_range
    out = list(tokens) if low == 1 else []
    for size in range(max(low, 2), min(high, len(tokens)) + 1):
        out.extend(" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1))
    return out


def _ngram_range(value: Any) -> bool:
    """a tuple (low, high) of ints with 1 <= low <= high"""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1]
    )


class HashingEncoder(BaseEstimator):
    """Hashed bag of n-grams: no model, no fitting, microseconds per prompt.

    Each text becomes counts of its word n-grams (and, optionally, character n-grams within word
    boundaries) hashed into ``n_features`` buckets exactly as scikit-learn's ``HashingVectorizer``
    does (``alternate_sign=False``): the bucket of a feature is ``|MurmurHash3(feature)| mod
    n_features``, so the output is identical across processes and machines (Python's salted
    ``hash()`` is never used). Words are runs of letters and digits, single characters included.
    Counts are damped to ``1 + log(count)`` (sublinear tf) and each row is scaled to unit L2 norm.
    With character n-grams, the word block and the character block are normalized separately and
    summed before the final normalization, so both weigh the same.

    A text with no token (the empty string, only punctuation) encodes to the **zero vector**, the
    one exception to unit-norm rows.

    It is the encoder of tests and of latency-critical deployments; it captures vocabulary, not
    meaning, so routers on top of it learn less than on MiniLM embeddings.

    Args:
        n_features: output width (number of hash buckets).
        ngram_range: ``(low, high)`` word n-gram sizes.
        char_ngram_range: ``(low, high)`` character n-gram sizes, or ``None`` for words only.
        lowercase: lowercase before tokenizing.
        sublinear_tf: use ``1 + log(count)`` instead of raw counts.

    Parameters are validated at the first :meth:`encode` (scikit-learn style).

    Examples:
        >>> from shared import HashingEncoder
        >>> enc = HashingEncoder(n_features=64)
        >>> X = enc.encode(["What is 2 + 2?", "Write a haiku about autumn.", ""])
        >>> X.shape, X.dtype, enc.name
        ((3, 64), dtype('float32'), 'hashing:64')
        >>> [round(float(v), 4) for v in (X * X).sum(axis=1)]
        [1.0, 1.0, 0.0]
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_features": [Interval(int, 1, None)],
        "ngram_range": [_ngram_range],
        "char_ngram_range": [None, _ngram_range],
        "lowercase": ["boolean"],
        "sublinear_tf": ["boolean"],
    }

    def __init__(
        self,
        *,
        n_features: int = 384,
        ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] | None = None,
        lowercase: bool = True,
        sublinear_tf: bool = True,
    ) -> None:
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.char_ngram_range = char_ngram_range
        self.lowercase = lowercase
        self.sublinear_tf = sublinear_tf

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_built", None)  # rebuilt on the next encode
        return state

    @property
    def name(self) -> str:
        """``"hashing:<n_features>"``, plus a suffix for each non-default setting."""
        parts = [f"hashing:{self.n_features}"]
        if tuple(self.ngram_range) != (1, 2):
            parts.append(f"word{self.ngram_range[0]}-{self.ngram_range[1]}")
        if self.char_ngram_range is not None:
            parts.append(f"char{self.char_ngram_range[0]}-{self.char_ngram_range[1]}")
        if not self.lowercase:
            parts.append("cased")
        if not self.sublinear_tf:
            parts.append("rawtf")
        return ":".join(parts)

    @property
    def dimension(self) -> int:
        """Width of the output, ``n_features``."""
        return int(self.n_features)

    def _analyzers(self) -> list[Callable[[str], list[str]]]:
        """Feature extractors (one per block), rebuilt when a parameter changed."""
        key = (
            self.n_features,
            self.ngram_range,
            self.char_ngram_range,
            self.lowercase,
            self.sublinear_tf,
        )
        cached: tuple[tuple[Any, ...], list[Any]] | None = getattr(self, "_built", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        self._validate_params()
        # import scikit-learn's hashing code now, so that no later call pays for it
        from sklearn.feature_extraction import FeatureHasher  # noqa: F401
        from sklearn.utils import murmurhash3_32  # noqa: F401

        analyzers: list[Callable[[str], list[str]]] = [
            partial(_word_ngrams, ngram_range=self.ngram_range, lowercase=self.lowercase)
        ]
        if self.char_ngram_range is not None:
            from sklearn.feature_extraction.text import HashingVectorizer

            vec = HashingVectorizer(
                analyzer="char_wb", ngram_range=self.char_ngram_range, lowercase=self.lowercase
            )
            analyzers.append(vec.build_analyzer())
        self._built = (key, analyzers)
        return analyzers

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode texts to an ``(n, n_features)`` ``float32`` array of unit (or zero) rows.

        Raises:
            InvalidParameterError: a parameter is invalid, or ``texts`` is not a sequence of str.
        """
        docs = check_texts(texts, type(self).__name__)
        analyzers = self._analyzers()
        n, width = len(docs), self.n_features
        total = np.zeros((n, width), dtype=np.float32)
        if not docs:
            return total
        for analyze in analyzers:
            block = _hashed_counts(docs, analyze, width)
            if self.sublinear_tf:
                nz = block > 0
                block[nz] = 1.0 + np.log(block[nz])
            if len(analyzers) > 1:
                _normalize_rows(block)
            total += block
        _normalize_rows(total)
        return total


def _hashed_counts(
    docs: list[str], analyze: Callable[[str], list[str]], width: int
) -> NDArray[np.float32]:
    """Counts of hashed features, ``(len(docs), width)``.

    The bucket of a feature is ``|murmurhash3_32(feature, seed=0)| mod width``, as in
    scikit-learn's ``HashingVectorizer``. Large batches go through scikit-learn's compiled
    ``FeatureHasher``; small ones use a plain loop, which avoids the sparse-matrix overhead
    (same result).
    """
    n = len(docs)
    if n >= _BATCH_THRESHOLD:
        from sklearn.feature_extraction import FeatureHasher

        hasher = FeatureHasher(
            n_features=width, input_type="string", alternate_sign=False, dtype=np.float32
        )
        return np.asarray(hasher.transform(analyze(doc) for doc in docs).toarray())
    from sklearn.utils import murmurhash3_32

    flat: list[int] = []
    for row, doc in enumerate(docs):
        offset = row * width
        flat.extend(offset + abs(murmurhash3_32(f, seed=0)) % width for f in analyze(doc))
    counts = np.bincount(np.asarray(flat, dtype=np.int64), minlength=n * width)
    return counts.reshape(n, width).astype(np.float32)


def _normalize_rows(X: NDArray[np.float32]) -> None:
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    np.divide(X, norms[:, None], out=X, where=norms[:, None] > 0)
