"""Fixtures of the core's tests that more than one module uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """The TCP address of a real 2-worker Dask cluster, in this process (threads, no spawn:
    fast), listening on 127.0.0.1 only; what ``--scheduler ADDRESS`` is given."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield str(cluster.scheduler_address)
