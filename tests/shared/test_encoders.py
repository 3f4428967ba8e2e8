"""Prompt encoders: protocol, hashing encoder, in-memory and on-disk caches (fast, no model)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import shared
from shared import (
    CachedEncoder,
    EncoderError,
    HashingEncoder,
    InvalidParameterError,
    PromptEncoder,
    SentenceTransformerEncoder,
    cached_embeddings,
    default_encoder,
)
from shared.encoders import CacheInfo
from shared.encoders.disk import cache_key

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "Prove that the square root of 2 is irrational.",
    "Translate 'good morning' into Spanish.",
    "",
]


class CountingEncoder:
    """A test double that records every batch it is asked to encode."""

    def __init__(self, dim: int = 8) -> None:
        self.inner = HashingEncoder(n_features=dim)
        self.batches: list[list[str]] = []

    @property
    def name(self) -> str:
        return "counting:" + self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.batches.append(list(texts))
        return self.inner.encode(texts)


# --------------------------------------------------------------------------- protocol / API
def test_public_names_resolve_from_shared() -> None:
    """The seven encoder names of the public API import from ``shared``."""
    names = [
        "PromptEncoder",
        "HashingEncoder",
        "SentenceTransformerEncoder",
        "CachedEncoder",
        "default_encoder",
        "messages_to_text",
        "cached_embeddings",
    ]
    assert all(getattr(shared, name) is not None for name in names)
    assert set(names) <= set(shared.__all__)


def test_encoders_satisfy_the_protocol() -> None:
    """Every shipped encoder (and a duck-typed one) is a PromptEncoder; a plain object is not."""
    assert isinstance(HashingEncoder(), PromptEncoder)
    assert isinstance(SentenceTransformerEncoder(), PromptEncoder)
    assert isinstance(CachedEncoder(HashingEncoder()), PromptEncoder)
    assert isinstance(CountingEncoder(), PromptEncoder)
    assert not isinstance(object(), PromptEncoder)


def test_importing_and_constructing_encoders_loads_no_heavy_library() -> None:
    """Encoders import and construct without loading scikit-learn, torch or transformers."""
    code = (
        "import sys\n"
        "from shared import HashingEncoder, SentenceTransformerEncoder, default_encoder\n"
        "HashingEncoder(); SentenceTransformerEncoder(); default_encoder().name\n"
        "heavy = ('sklearn', 'torch', 'sentence_transformers', 'transformers')\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------------------- hashing
def test_hashing_shape_dtype_and_unit_rows() -> None:
    """Rows are float32 and unit-norm, except the documented zero vector for empty text."""
    X = HashingEncoder(n_features=128).encode(PROMPTS)
    assert X.shape == (5, 128)
    assert X.dtype == np.float32
    norms = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(norms[:4], 1.0, rtol=1e-5)
    assert norms[4] == 0.0
    assert HashingEncoder().encode(["?!"]).sum() == 0.0


def test_hashing_matches_scikit_learn_hashing_vectorizer() -> None:
    """Small (loop) and large (compiled) batches equal HashingVectorizer + 1+log + l2."""
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = [f"{p} variant {i} of a prompt" for i in range(12) for p in PROMPTS[:4]]
    vec = HashingVectorizer(
        n_features=64, alternate_sign=False, norm=None, token_pattern=r"(?u)\b\w+\b",
        ngram_range=(1, 2),
    )  # fmt: skip
    ref = vec.transform(texts)
    ref.data = 1.0 + np.log(ref.data)
    dense = ref.toarray()
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    enc = HashingEncoder(n_features=64)
    np.testing.assert_allclose(enc.encode(texts), dense, atol=1e-6)
    np.testing.assert_allclose(enc.encode(texts[:3]), dense[:3], atol=1e-6)


def test_hashing_batch_equals_one_by_one() -> None:
    """Encoding a batch gives the same rows as encoding each text alone."""
    texts = [f"prompt number {i} about topic {i % 3}" for i in range(20)] + PROMPTS
    enc = HashingEncoder(n_features=96, char_ngram_range=(3, 4))
    together = enc.encode(texts)
    alone = np.vstack([enc.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_hashing_is_deterministic_across_processes() -> None:
    """Another interpreter with a different hash seed produces identical bytes."""
    code = (
        "import sys; from shared import HashingEncoder\n"
        "X = HashingEncoder(n_features=64, char_ngram_range=(2, 3)).encode(sys.argv[1:])\n"
        "sys.stdout.write(X.tobytes().hex())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, *PROMPTS[:3]],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    )  # fmt: skip
    local = HashingEncoder(n_features=64, char_ngram_range=(2, 3)).encode(PROMPTS[:3])
    assert out.stdout == local.tobytes().hex()


def test_hashing_similar_prompts_are_closer() -> None:
    """Prompts sharing words are closer than prompts sharing none."""
    X = HashingEncoder().encode(
        ["what is the capital of france", "what is the capital of spain", "write a sonnet"]
    )
    assert X[0] @ X[1] > X[0] @ X[2] + 0.3


def test_hashing_char_ngrams_change_name_and_vectors() -> None:
    """Character n-grams are part of the name and make misspellings closer."""
    word = HashingEncoder(n_features=256)
    char = HashingEncoder(n_features=256, char_ngram_range=(3, 5))
    assert char.name == "hashing:256:char3-5"
    a, b = "colour palette", "color palettes"
    Xw, Xc = word.encode([a, b]), char.encode([a, b])
    assert Xc[0] @ Xc[1] > Xw[0] @ Xw[1]


def test_hashing_name_reflects_every_setting() -> None:
    """Settings that change the vectors change the name (it keys the disk cache)."""
    assert HashingEncoder().name == "hashing:384"
    assert HashingEncoder().dimension == 384
    name = HashingEncoder(ngram_range=(1, 1), lowercase=False, sublinear_tf=False).name
    assert name == "hashing:384:word1-1:cased:rawtf"


def test_hashing_raw_tf_and_case() -> None:
    """Without sublinear tf repeated words weigh more; without lowercasing case matters."""
    sub = HashingEncoder(n_features=64, ngram_range=(1, 1)).encode(["a a a a b"])
    raw = HashingEncoder(n_features=64, ngram_range=(1, 1), sublinear_tf=False).encode(
        ["a a a a b"]
    )
    assert raw.max() > sub.max()
    cased = HashingEncoder(n_features=64, lowercase=False).encode(["Hello", "hello"])
    assert cased[0] @ cased[1] < 0.99
    lower = HashingEncoder(n_features=64).encode(["Hello", "hello"])
    assert lower[0] @ lower[1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "params",
    [
        {"n_features": 0},
        {"ngram_range": (2, 1)},
        {"ngram_range": [1, 2]},
        {"char_ngram_range": (0, 3)},
        {"lowercase": "yes"},
    ],
)
def test_hashing_invalid_params_raise_at_encode(params: dict[str, object]) -> None:
    """Bad parameters are stored silently and rejected with a clear error at encode."""
    enc = HashingEncoder(**params)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="parameter of HashingEncoder"):
        enc.encode(["x"])


def test_hashing_set_params_takes_effect() -> None:
    """Changing n_features after a first encode rebuilds the encoder."""
    enc = HashingEncoder(n_features=16)
    assert enc.encode(["a b"]).shape == (1, 16)
    enc.set_params(n_features=32)
    assert enc.encode(["a b"]).shape == (1, 32)
    assert enc.clone().get_params()["n_features"] == 32


@pytest.mark.parametrize("bad", ["a bare string", b"bytes", 42, ["ok", 3]])
def test_encode_rejects_non_sequences_of_str(bad: object) -> None:
    """A bare string, a non-sequence or a non-str item is an InvalidParameterError."""
    with pytest.raises(InvalidParameterError):
        HashingEncoder().encode(bad)  # type: ignore[arg-type]


def test_encode_empty_batch_and_numpy_input() -> None:
    """An empty batch gives a (0, d) array and a numpy array of str is accepted."""
    enc = HashingEncoder(n_features=16)
    assert enc.encode([]).shape == (0, 16)
    arr = np.array(["a b", "c"])
    from_numpy = enc.encode(arr)  # type: ignore[arg-type]
    np.testing.assert_array_equal(from_numpy, enc.encode(["a b", "c"]))


# --------------------------------------------------------------------------- CachedEncoder
def test_cached_encoder_sends_only_new_texts_in_one_batch() -> None:
    """Cached texts are not re-encoded; the new ones go in one deduplicated batch."""
    inner = CountingEncoder()
    enc = CachedEncoder(inner)
    first = enc.encode(["a", "b"])
    second = enc.encode(["b", "c", "c", "a", "d"])
    assert inner.batches == [["a", "b"], ["c", "d"]]
    np.testing.assert_array_equal(second, inner.inner.encode(["b", "c", "c", "a", "d"]))
    np.testing.assert_array_equal(second[[3, 0]], first)
    assert enc.cache_info() == CacheInfo(hits=2, misses=5, maxsize=10_000, size=4)


def test_cached_encoder_evicts_least_recently_used() -> None:
    """Beyond maxsize the least recently used text is dropped and re-encoded later."""
    inner = CountingEncoder()
    enc = CachedEncoder(inner, maxsize=2)
    enc.encode(["a", "b"])
    enc.encode(["a"])  # a is now more recent than b
    enc.encode(["c"])  # evicts b
    enc.encode(["a", "b"])
    assert inner.batches[-1] == ["b"]
    assert enc.cache_info().size == 2


def test_cached_encoder_maxsize_zero_and_none() -> None:
    """maxsize=0 caches nothing; maxsize=None never evicts."""
    inner = CountingEncoder()
    off = CachedEncoder(inner, maxsize=0)
    off.encode(["a"])
    off.encode(["a"])
    assert inner.batches == [["a"], ["a"]]
    assert off.cache_info().size == 0
    unbounded = CachedEncoder(CountingEncoder(), maxsize=None)
    unbounded.encode([str(i) for i in range(50)])
    assert unbounded.cache_info().size == 50


def test_cached_encoder_delegates_and_clears() -> None:
    """name/dimension are the inner encoder's; cache_clear resets size and counters."""
    inner = CountingEncoder(dim=12)
    enc = CachedEncoder(inner, maxsize=5)
    assert (enc.name, enc.dimension) == (inner.name, 12)
    enc.encode(["x", "y"])
    enc.cache_clear()
    assert enc.cache_info() == CacheInfo(0, 0, 5, 0)
    assert enc.encode([]).shape == (0, 12)
    assert "maxsize=5" in repr(enc)


def test_cached_encoder_output_does_not_alias_the_cache() -> None:
    """Mutating a returned array leaves the cached vectors intact."""
    enc = CachedEncoder(HashingEncoder(n_features=16))
    out = enc.encode(["hello world"])
    expected = out.copy()
    out[:] = 0.0
    np.testing.assert_array_equal(enc.encode(["hello world"]), expected)


def test_cached_encoder_is_thread_safe() -> None:
    """Concurrent overlapping calls return correct rows and consistent counters."""
    enc = CachedEncoder(HashingEncoder(n_features=32), maxsize=40)
    texts = [f"prompt {i}" for i in range(60)]
    reference = HashingEncoder(n_features=32).encode(texts)
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(30):
            idx = rng.choice(60, size=7)
            if not np.array_equal(enc.encode([texts[i] for i in idx]), reference[idx]):
                errors.append(f"mismatch in thread {seed}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = enc.cache_info()
    assert errors == []
    assert info.hits + info.misses == 6 * 30 * 7
    assert info.size <= 40


def test_cached_encoder_rejects_bad_arguments() -> None:
    """A non-encoder, a negative maxsize or a misbehaving inner encoder raise typed errors."""
    with pytest.raises(InvalidParameterError, match="prompt encoder"):
        CachedEncoder(object())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="maxsize"):
        CachedEncoder(HashingEncoder(), maxsize=-1)

    class Broken(CountingEncoder):
        def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
            return np.zeros((1, 8), dtype=np.float32)

    with pytest.raises(EncoderError, match="shape"):
        CachedEncoder(Broken()).encode(["a", "b"])


def test_default_encoder_is_a_shared_cached_minilm_without_loading() -> None:
    """default_encoder returns one cached MiniLM encoder per process and loads nothing."""
    enc = default_encoder()
    assert enc is default_encoder()
    assert isinstance(enc, CachedEncoder)
    assert isinstance(enc.encoder, SentenceTransformerEncoder)
    assert (enc.name, enc.dimension) == ("minilm:all-MiniLM-L6-v2", 384)


# ------------------------------------------------------------------------ disk cache
def test_cached_embeddings_round_trip(tmp_path: Path) -> None:
    """The second call loads the .npy from disk without calling the encoder."""
    inner = CountingEncoder()
    first = cached_embeddings(PROMPTS, inner, cache_dir=tmp_path)
    second = cached_embeddings(PROMPTS, inner, cache_dir=tmp_path)
    assert len(inner.batches) == 1
    np.testing.assert_array_equal(first, second)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].suffix == ".npy"
    assert files[0].name.startswith("counting_hashing_8-")
    np.testing.assert_array_equal(np.load(files[0], allow_pickle=False), first)


def test_cached_embeddings_default_dir_follows_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without cache_dir, files go to $PREFROUTE_CACHE_DIR/embeddings."""
    monkeypatch.setenv("PREFROUTE_CACHE_DIR", str(tmp_path))
    cached_embeddings(["a", "b"], HashingEncoder(n_features=8))
    assert len(list((tmp_path / "embeddings").glob("hashing_8-*.npy"))) == 1


def test_cache_key_depends_on_texts_order_and_encoder() -> None:
    """Reordering texts, changing one, or changing the encoder name changes the key."""
    base = cache_key(["a", "b"], "hashing:8")
    assert base == cache_key(["a", "b"], "hashing:8")
    assert base != cache_key(["b", "a"], "hashing:8")
    assert base != cache_key(["a", "bb"], "hashing:8")
    assert base != cache_key(["a", "b"], "hashing:16")
    assert cache_key(["ab"], "x") != cache_key(["a", "b"], "x")


def test_cached_embeddings_progress_and_chunks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A miss says so and encodes in chunks with a progress bar (count, rate); a hit says so."""
    inner = CountingEncoder()
    texts = [f"text {i}" for i in range(10)]
    X = cached_embeddings(texts, inner, cache_dir=tmp_path, chunk_size=4)
    assert [len(b) for b in inner.batches] == [4, 4, 2]
    err = capsys.readouterr().err
    assert err.startswith(f"embeddings of 10 prompts ({inner.name}): cache miss, encoding")
    assert "10/10" in err and "prompts/s" in err
    np.testing.assert_array_equal(X, inner.inner.encode(texts))
    again = cached_embeddings(texts, inner, cache_dir=tmp_path, chunk_size=4)
    np.testing.assert_array_equal(again, X)
    assert [len(b) for b in inner.batches] == [4, 4, 2]  # nothing re-encoded
    err = capsys.readouterr().err
    assert err.startswith("embeddings of 10 prompts") and ": cache hit, " in err
    cached_embeddings([*texts, "new"], inner, cache_dir=tmp_path, chunk_size=4, progress=False)
    assert capsys.readouterr().err == ""


def test_cached_embeddings_replaces_a_corrupt_file(tmp_path: Path) -> None:
    """An unreadable cache file is re-encoded and atomically replaced, leaving no temp file."""
    enc = HashingEncoder(n_features=8)
    X = cached_embeddings(["a", "b"], enc, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(cached_embeddings(["a", "b"], enc, cache_dir=tmp_path), X)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), X)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_cached_embeddings_survives_an_unwritable_cache(tmp_path: Path) -> None:
    """When the cache folder cannot be created the embeddings are still returned."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    X = cached_embeddings(["a"], HashingEncoder(n_features=8), cache_dir=blocker / "sub")
    assert X.shape == (1, 8)


def test_cached_embeddings_edge_cases(tmp_path: Path) -> None:
    """An empty list gives (0, d) without a file; a bad chunk_size or text raises."""
    assert cached_embeddings([], HashingEncoder(n_features=8), cache_dir=tmp_path).shape == (0, 8)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidParameterError, match="chunk_size"):
        cached_embeddings(["a"], HashingEncoder(), cache_dir=tmp_path, chunk_size=0)
    with pytest.raises(InvalidParameterError):
        cached_embeddings("abc", HashingEncoder(), cache_dir=tmp_path)


def test_encoders_pickle() -> None:
    """Encoders survive pickling (the lock is recreated, a loaded model is not copied)."""
    enc = pickle.loads(pickle.dumps(SentenceTransformerEncoder(long_prompts="tail")))
    assert enc.name == "minilm:all-MiniLM-L6-v2:tail800"
    hashing = HashingEncoder(n_features=8, char_ngram_range=(2, 3))
    hashing.encode(["a"])
    cached = CachedEncoder(hashing)
    cached.encode(["a"])
    copy = pickle.loads(pickle.dumps(cached))
    np.testing.assert_array_equal(copy.encode(["a", "b"]), hashing.encode(["a", "b"]))
    assert copy.cache_info().hits == 1
