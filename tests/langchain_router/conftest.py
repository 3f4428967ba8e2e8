"""Shared fixtures: a two-member pool of fakes with a price-based cold start."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from langchain_router import RouterChatModel
from langchain_router.testing import FakeToolChatModel
from shared import HashingEncoder, ModelCard

BIG = ModelCard("big", input_usd_per_1m=10.0, output_usd_per_1m=30.0)
SMALL = ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4)

MakeRouter = Callable[..., RouterChatModel]


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread: tiny solves are thousands of times slower with busy spinning threads."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def make_router() -> MakeRouter:
    """Build a router over fakes "big" (pricey, routed to for quality) and "small" (cheap)."""

    def make(**overrides: Any) -> RouterChatModel:
        params: dict[str, Any] = {
            "models": {
                "big": FakeToolChatModel(model_name="big"),
                "small": FakeToolChatModel(model_name="small"),
            },
            "pool": {"big": BIG, "small": SMALL},
            "encoder": HashingEncoder(n_features=64),
            "explore": False,
        }
        params.update(overrides)
        return RouterChatModel(**params)

    return make
