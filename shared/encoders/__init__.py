"""Prompt encoders: text in, fixed-width unit vectors out.

* :class:`PromptEncoder`: the protocol every encoder satisfies (``name``, ``dimension``,
  ``encode``).
* :class:`SentenceTransformerEncoder`: all-MiniLM-L6-v2 by default (offline from the packaged
  copy when installed), with a rule for prompts longer than the model reads.
* :class:`HashingEncoder`: hashed n-grams, no model, for tests and latency-critical use.
* :class:`ConcatEncoder` / :func:`minilm_with_hashing`: encoders side by side (MiniLM beside
  hashed words of the whole prompt).
* :class:`OnnxEncoder`: MiniLM exported locally to ONNX Runtime, float32 or int8 (optional extra
  ``prefroute[onnx]``).
* :class:`StaticEncoder`: a model2vec static encoder distilled locally from MiniLM, tens of times
  faster (optional extra ``prefroute[model2vec]``).
* :class:`CachedEncoder` / :func:`default_encoder`: an in-memory LRU cache by text.
* :func:`cached_embeddings`: an on-disk cache of whole embedding matrices.
* :class:`PromptEmbedding`: one prompt's vector tagged with its encoder, as the feedback store
  keeps it with the decision.
* :func:`messages_to_text` / :func:`truncate_prompt`: conversations and long prompts to text.

Nothing heavy is imported here: scikit-learn loads at the first hashing ``encode`` and
sentence-transformers (with torch) at the first MiniLM ``encode``; ONNX Runtime and model2vec at
the first ``encode`` of their encoders.
"""

from __future__ import annotations

from ..embedding import EMBEDDING_DTYPES, PromptEmbedding, encoder_fingerprint
from .base import PromptEncoder
from .cache import CachedEncoder, CacheInfo
from .concat import ConcatEncoder, minilm_with_hashing
from .disk import cached_embeddings
from .hashing import HashingEncoder
from .onnx import ONNX_PRECISIONS, OnnxEncoder
from .sentence import DEFAULT_MODEL, SentenceTransformerEncoder, default_encoder
from .static import StaticEncoder
from .text import messages_to_text, truncate_prompt

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDING_DTYPES",
    "ONNX_PRECISIONS",
    "CacheInfo",
    "CachedEncoder",
    "ConcatEncoder",
    "HashingEncoder",
    "OnnxEncoder",
    "PromptEmbedding",
    "PromptEncoder",
    "SentenceTransformerEncoder",
    "StaticEncoder",
    "cached_embeddings",
    "default_encoder",
    "encoder_fingerprint",
    "messages_to_text",
    "minilm_with_hashing",
    "truncate_prompt",
]
