"""Fixtures for the LlamaIndex plugin tests: a two-model pool of mocks and an event recorder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index_instrumentation import get_dispatcher
from pydantic import Field

from llamaindex_router import RouterLLM
from llamaindex_router.testing import MockToolLLM
from shared import HashingEncoder, ModelCard

QUESTION = "What is the capital of France?"


def make_cards() -> list[ModelCard]:
    """An expensive and a cheap card (the cold start prefers ``big`` for quality)."""
    return [
        ModelCard("big", input_usd_per_1m=10.0, output_usd_per_1m=30.0),
        ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4),
    ]


def make_router(**kwargs: Any) -> RouterLLM:
    """A deterministic router over two tool-calling mocks."""
    llms = kwargs.pop(
        "models",
        {
            "big": MockToolLLM(model="big", reply="big answer"),
            "small": MockToolLLM(model="small", reply="small answer"),
        },
    )
    kwargs.setdefault("pool", make_cards())
    kwargs.setdefault("encoder", HashingEncoder(n_features=64))
    kwargs.setdefault("explore", False)
    return RouterLLM(llms, **kwargs)


class EventRecorder(BaseEventHandler):
    """Keeps every instrumentation event it sees."""

    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, *names: str) -> list[BaseEvent]:
        """Events whose class name is among ``names``."""
        return [e for e in self.events if e.class_name() in names]


@pytest.fixture
def router() -> RouterLLM:
    """A fresh two-member router (big/small tool-calling mocks, no exploration)."""
    return make_router()


@pytest.fixture
def attach() -> Iterator[Any]:
    """Attach instrumentation handlers to the root dispatcher for one test only."""
    root = get_dispatcher()
    added: list[BaseEventHandler] = []

    def add(handler: BaseEventHandler) -> BaseEventHandler:
        root.add_event_handler(handler)
        added.append(handler)
        return handler

    yield add
    for handler in added:
        root.event_handlers.remove(handler)


@pytest.fixture
def recorder(attach: Any) -> EventRecorder:
    """An attached event recorder."""
    rec = EventRecorder()
    attach(rec)
    return rec
