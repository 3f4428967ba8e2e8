"""Calling the chosen pool member with ordered fallback (private helpers of ``RouterLLM``).

A member that raises before it produced output (for a stream: before its first chunk) is replaced
by the next candidate of the decision's ranking; once output exists, errors propagate. Every
attempt runs inside instrument tags naming the decision and the member, so the member's own LLM
events can be joined to the decision.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llama_index.core.llms.llm import LLM
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.dispatcher import active_instrument_tags

from shared import AllCandidatesFailedError, Decision

from .events import DECISION_ID_TAG, MODEL_TAG, RoutingFallbackEvent

__all__ = ["Attempt", "ToolCallOwners", "member_tags"]

T = TypeVar("T")
R = TypeVar("R")

dispatcher = get_dispatcher("llamaindex_router")
logger = logging.getLogger("llamaindex_router")


@contextmanager
def member_tags(decision_id: str, model: str) -> Iterator[None]:
    """Add the decision id and member name to the active instrument tags (kept otherwise)."""
    tags = {**active_instrument_tags.get(), DECISION_ID_TAG: decision_id, MODEL_TAG: model}
    token = active_instrument_tags.set(tags)
    try:
        yield
    finally:
        active_instrument_tags.reset(token)


class ToolCallOwners:
    """Bounded, thread-safe map from tool-call id to the member that emitted the call."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, ids: Iterable[str], model: str) -> None:
        """Remember that ``model`` emitted the tool calls ``ids``."""
        with self._lock:
            for ident in ids:
                self._owners[ident] = model
                self._owners.move_to_end(ident)
            while len(self._owners) > self.maxsize:
                self._owners.popitem(last=False)

    def get(self, ident: str) -> str | None:
        """The member that emitted ``ident``, if known."""
        with self._lock:
            return self._owners.get(ident)

    def __len__(self) -> int:
        return len(self._owners)


@dataclass
class Attempt:
    """Runs one decision over its ranking until a member answers.

    Attributes:
        decision: the routing decision; ``served`` is the decision that actually answered
            (``decision.with_model(fallback)`` after a fallback).
        members: the pool members by name.
        sticky: whether the decision was pinned to the member of an open tool loop.
        errors: member name -> the exception it raised, for the members that failed.
    """

    decision: Decision
    members: Mapping[str, LLM]
    sticky: bool = False
    errors: dict[str, BaseException] = field(default_factory=dict)
    served: Decision | None = None
    _routing: dict[str, Any] | None = None

    def routing(self) -> dict[str, Any]:
        """What responses carry as ``additional_kwargs["routing"]``.

        ``Decision.to_dict()`` of the decision that answered, plus ``"sticky"`` and
        ``"fallbacks"`` (the members that failed first, ``[{"model", "error"}]``), the same
        layout as the LangChain plugin's ``response_metadata["routing"]``.
        """
        if self._routing is None:
            served = self.served or self.decision
            self._routing = {
                **served.to_dict(),
                "sticky": self.sticky,
                "fallbacks": [
                    {"model": name, "error": f"{type(err).__name__}: {err}"}
                    for name, err in self.errors.items()
                ],
            }
        return self._routing

    def _failed(self, index: int, name: str, err: BaseException) -> None:
        self.errors[name] = err
        ranking = self.decision.ranking
        logger.warning(
            "member %r failed (%s: %s); trying the next candidate", name, type(err).__name__, err
        )
        dispatcher.event(
            RoutingFallbackEvent(
                decision_id=self.decision.decision_id,
                failed_model=name,
                error=f"{type(err).__name__}: {err}",
                next_model=ranking[index + 1] if index + 1 < len(ranking) else None,
            )
        )

    def _succeeded(self, name: str) -> Decision:
        served = self.decision if name == self.decision.model else self.decision.with_model(name)
        self.served = served
        return served

    def _all_failed(self) -> AllCandidatesFailedError:
        return AllCandidatesFailedError(self.errors)

    # ---------------------------------------------------------------- one-shot calls
    def run(self, call: Callable[[LLM], R]) -> R:
        """``call(member)`` for each candidate in order until one returns."""
        last: BaseException | None = None
        for index, name in enumerate(self.decision.ranking):
            try:
                with member_tags(self.decision.decision_id, name):
                    result = call(self.members[name])
            except Exception as err:
                last = err
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return result
        raise self._all_failed() from last

    async def arun(self, call: Callable[[LLM], Awaitable[R]]) -> R:
        """Async :meth:`run`."""
        last: BaseException | None = None
        for index, name in enumerate(self.decision.ranking):
            try:
                with member_tags(self.decision.decision_id, name):
                    result = await call(self.members[name])
            except Exception as err:
                last = err
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return result
        raise self._all_failed() from last

    # ---------------------------------------------------------------- streams
    def stream(
        self, call: Callable[[LLM], Iterable[T]], stamp: Callable[[T], T]
    ) -> Generator[T, None, None]:
        """Start ``call(member)`` and pull its first chunk now, falling back on failure.

        Returns a generator that yields the first chunk and the rest, each passed to ``stamp``.
        """
        last: BaseException | None = None
        for index, name in enumerate(self.decision.ranking):
            try:
                with member_tags(self.decision.decision_id, name):
                    iterator = iter(call(self.members[name]))
                    first: tuple[T] | tuple[()] = (next(iterator),)
            except StopIteration:
                first = ()
            except Exception as err:
                last = err
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return self._rest(name, first, iterator, stamp)
        raise self._all_failed() from last

    def _rest(
        self, name: str, first: tuple[T] | tuple[()], iterator: Iterator[T], stamp: Callable[[T], T]
    ) -> Generator[T, None, None]:
        if not first:
            return
        yield stamp(first[0])
        while True:
            with member_tags(self.decision.decision_id, name):
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
            yield stamp(chunk)

    async def astream(
        self, call: Callable[[LLM], Awaitable[AsyncIterator[T]]], stamp: Callable[[T], T]
    ) -> AsyncGenerator[T, None]:
        """Async :meth:`stream`: awaits the member's stream and its first chunk now."""
        last: BaseException | None = None
        for index, name in enumerate(self.decision.ranking):
            try:
                with member_tags(self.decision.decision_id, name):
                    iterator = await call(self.members[name])
                    first: tuple[T] | tuple[()] = (await iterator.__anext__(),)
            except StopAsyncIteration:
                first = ()
            except Exception as err:
                last = err
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return self._arest(name, first, iterator, stamp)
        raise self._all_failed() from last

    async def _arest(
        self,
        name: str,
        first: tuple[T] | tuple[()],
        iterator: AsyncIterator[T],
        stamp: Callable[[T], T],
    ) -> AsyncGenerator[T, None]:
        if not first:
            return
        yield stamp(first[0])
        while True:
            with member_tags(self.decision.decision_id, name):
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    return
            yield stamp(chunk)
