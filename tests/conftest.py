"""Test-wide fixtures: isolate tests from the developer's environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.openai_server import openai_server  # noqa: F401 - the fixture, for every test
from tests.private_postgres import PrivatePostgres, private_postgres

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test writes embedding caches into a temporary folder, never into ~/.cache."""
    monkeypatch.setenv("PREFROUTE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL server for the session (skips when PostgreSQL is not installed)."""
    with private_postgres() as server:
        yield server
