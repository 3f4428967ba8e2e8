"""An on-disk cache of whole embedding matrices, for benchmarks and batch training."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..exceptions import EncoderError, InvalidParameterError
from .base import PromptEncoder, check_texts

__all__ = [
    "MissEncoder",
    "cache_key",
    "cached_embeddings",
    "default_cache_dir",
    "encode_in_chunks",
]

#: How :func:`cached_embeddings` encodes a miss: ``encode(texts, encoder) -> (n, dimension)``
#: ``float32`` array, e.g. :class:`shared.feedback.distributed.DaskEncoding` (on a cluster).
MissEncoder = Callable[[list[str], PromptEncoder], NDArray[np.float32]]

logger = logging.getLogger("prefroute.encoders")


def default_cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The embeddings folder of a prefroute cache: ``<root>/embeddings``.

    ``root`` defaults to ``$PREFROUTE_CACHE_DIR``, else ``~/.cache/prefroute``; the command line's
    ``--cache-dir`` is the same level as ``PREFROUTE_CACHE_DIR`` (one layout).

    Examples:
        >>> default_cache_dir().name
        'embeddings'
        >>> default_cache_dir("/tmp/c").as_posix()
        '/tmp/c/embeddings'
    """
    env = os.environ.get("PREFROUTE_CACHE_DIR")
    if root is None:
        base = Path(env).expanduser() if env else Path.home() / ".cache" / "prefroute"
    else:
        base = Path(root).expanduser()
    return base / "embeddings"


def cache_key(texts: Sequence[str], encoder_name: str) -> str:
    """SHA-256 hex digest of the encoder name and the texts (order matters).

    Each text is length-prefixed, so no two different lists share a key.

    Examples:
        >>> cache_key(["a", "b"], "hashing:8") == cache_key(["a", "b"], "hashing:8")
        True
        >>> cache_key(["a\\x00b"], "hashing:8") == cache_key(["a", "b"], "hashing:8")
        False
    """
    digest = hashlib.sha256()
    digest.update(encoder_name.encode("utf-8") + b"\0")
    for text in texts:
        raw = text.encode("utf-8", errors="surrogatepass")
        digest.update(len(raw).to_bytes(8, "little") + raw)
    return digest.hexdigest()


def _load(path: Path, n: int) -> NDArray[np.float32] | None:
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        logger.warning("ignoring unreadable embedding cache %s (%s); re-encoding", path, err)
        return None
    if arr.ndim != 2 or arr.shape[0] != n or arr.dtype != np.float32:
        logger.warning("ignoring embedding cache %s with shape %s; re-encoding", path, arr.shape)
        return None
    return np.asarray(arr)


def _save(path: Path, arr: NDArray[np.float32]) -> None:
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        logger.warning("could not write embedding cache %s (%s); continuing without it", path, err)


def encode_in_chunks(
    texts: Sequence[str],
    encoder: PromptEncoder,
    *,
    progress: bool = True,
    chunk_size: int = 128,
    desc: str = "encoding",
) -> NDArray[np.float32]:
    """``encoder.encode`` over chunks of ``chunk_size`` texts, with a progress bar on stderr
    (prompts done, rate and time left, from ``tqdm``) when ``progress`` and there is more than one
    chunk.

    Examples:
        >>> from shared import HashingEncoder
        >>> encode_in_chunks(["a", "b", "c"], HashingEncoder(n_features=8), chunk_size=2).shape
        (3, 8)
    """
    from tqdm.auto import tqdm

    n = len(texts)
    if n == 0:
        return np.asarray(encoder.encode([]), dtype=np.float32)
    chunks: list[NDArray[np.float32]] = []
    with tqdm(
        total=n,
        desc=desc,
        unit=" prompts",
        file=sys.stderr,
        disable=not progress or n <= chunk_size,
        mininterval=1.0,
        dynamic_ncols=True,
    ) as bar:
        for start in range(0, n, chunk_size):
            chunk = texts[start : start + chunk_size]
            chunks.append(np.asarray(encoder.encode(chunk), dtype=np.float32))
            bar.update(len(chunk))
    return np.ascontiguousarray(np.concatenate(chunks, axis=0), dtype=np.float32)


def cached_embeddings(
    texts: Sequence[str],
    encoder: PromptEncoder,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    chunk_size: int = 128,
    encode: MissEncoder | None = None,
) -> NDArray[np.float32]:
    """Encode ``texts`` once per machine: later calls load the matrix from disk.

    The file is ``<cache_dir>/<encoder name>-<key>.npy`` where ``key`` is :func:`cache_key`
    (SHA-256 of the encoder name and the texts), so changing the encoder, its settings (they are
    part of its name), a text or the order gives a new file. Files are plain ``.npy`` read with
    ``allow_pickle=False`` and written atomically (temporary file, then rename), so concurrent
    processes never read half a file. An unreadable or mismatched file is re-encoded and
    replaced; an unwritable cache folder only logs a warning.

    A :class:`~shared.ConcatEncoder` is cached part by part (each under its own name) and
    combined, so its MiniLM block reuses the MiniLM cache.

    With ``progress``, one line on stderr says whether the cache had the matrix (``cache hit``)
    or not (``cache miss``, then a progress bar with rate and time left while encoding, in chunks of
    ``chunk_size`` texts; see :func:`encode_in_chunks`).

    Args:
        texts: the prompts.
        encoder: any :class:`~shared.PromptEncoder`.
        cache_dir: folder of the cache files; default :func:`default_cache_dir`
            (``$PREFROUTE_CACHE_DIR/embeddings`` or ``~/.cache/prefroute/embeddings``).
        progress: say cache hit or miss on stderr, and show a progress bar while encoding.
        chunk_size: texts per call to ``encoder.encode``.
        encode: how a miss is encoded, ``encode(texts, encoder)``: default
            :func:`encode_in_chunks` in this process; a
            :class:`~shared.feedback.distributed.DaskEncoding` encodes on a Dask cluster (not
            called at all on a hit). Its result is checked and cached under the same key.

    Returns:
        ``(len(texts), encoder.dimension)`` ``float32`` array.

    Raises:
        InvalidParameterError: ``texts`` is not a sequence of strings or ``chunk_size < 1``.
        EncoderError: the encoder failed, or ``encode`` returned the wrong shape.

    Examples:
        >>> import tempfile
        >>> from shared import HashingEncoder, cached_embeddings
        >>> folder = tempfile.mkdtemp()
        >>> X = cached_embeddings(["a prompt", "another"], HashingEncoder(n_features=16),
        ...                       cache_dir=folder)
        >>> X.shape
        (2, 16)
        >>> (cached_embeddings(["a prompt", "another"], HashingEncoder(n_features=16),
        ...                    cache_dir=folder) == X).all()
        np.True_
    """
    docs = check_texts(texts, "cached_embeddings")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidParameterError(f"chunk_size must be an int >= 1; got {chunk_size!r}.")
    if not docs:
        return np.asarray(encoder.encode([]), dtype=np.float32)
    from .concat import ConcatEncoder

    if isinstance(encoder, ConcatEncoder):  # one cache file per part: parts are shared
        blocks = [
            cached_embeddings(
                docs,
                part,
                cache_dir=cache_dir,
                progress=progress,
                chunk_size=chunk_size,
                encode=encode,
            )
            for part in encoder.encoders
        ]
        return encoder.combine(blocks)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder.name)[:80]
    path = folder / f"{safe_name}-{cache_key(docs, encoder.name)[:40]}.npy"
    cached = _load(path, len(docs))
    what = f"embeddings of {len(docs)} prompts ({encoder.name})"
    if cached is not None:
        logger.debug("loaded %d embeddings from %s", len(docs), path)
        if progress:
            print(f"{what}: cache hit, {path}", file=sys.stderr, flush=True)
        return cached
    if progress:
        print(f"{what}: cache miss, encoding (saved to {path})", file=sys.stderr, flush=True)
    if encode is None:
        arr = encode_in_chunks(docs, encoder, progress=progress, chunk_size=chunk_size)
    else:
        arr = np.ascontiguousarray(encode(docs, encoder), dtype=np.float32)
        if arr.shape != (len(docs), encoder.dimension):
            raise EncoderError(
                f"encode returned an array of shape {arr.shape} for {len(docs)} texts; "
                f"expected ({len(docs)}, {encoder.dimension}) ({encoder.name})."
            )
    _save(path, arr)
    return arr
