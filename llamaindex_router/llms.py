"""``RouterLLM``: a LlamaIndex LLM that routes each call to the best pool member.

The router holds a pool ``{name: LLM}`` and a :class:`shared.RoutingEngine`. For each call it
renders the conversation with :func:`shared.messages_to_text`, asks the engine for a
:class:`shared.Decision` and delegates the whole call to the chosen member; if that member fails
before producing output, the next candidate of ``decision.ranking`` answers. The decision is
emitted as a :class:`~llamaindex_router.RoutingDecisionEvent` and attached to the response as
``response.additional_kwargs["routing"]``. The router contains no routing logic of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM
from llama_index_instrumentation.dispatcher import active_instrument_tags
from pydantic import Field, PrivateAttr

from shared import (
    Decision,
    InvalidParameterError,
    ModelCard,
    ModelPool,
    Preference,
    RoutingEngine,
)
from shared.engine import estimate_tokens

from ._convert import chat_to_completion, message_pairs, routing_text, tool_call_ids
from ._delegate import Attempt, ToolCallOwners, dispatcher
from ._preference import PreferenceInput, coerce_preference
from ._tools import ToolRoutingMixin, router_tools, supports_tools
from .events import RoutingDecisionEvent

if TYPE_CHECKING:
    from shared import BaseRouter, PromptEncoder

__all__ = ["PREFERENCE_TAG", "RouterLLM"]

#: Instrument tag read as the call's preference (``with instrument_tags({PREFERENCE_TAG: 0.3})``).
PREFERENCE_TAG = "router_preference"

_R = TypeVar("_R", ChatResponse, CompletionResponse)
_counter = itertools.count()


def _card_from_metadata(name: str, llm: LLM) -> ModelCard:
    window = llm.metadata.context_window
    return ModelCard(
        name,
        context_window=window if window > 0 else None,
        supports_tools=supports_tools(llm),
    )


class RouterLLM(ToolRoutingMixin, FunctionCallingLLM):
    """Route every call to the pool member that best fits a quality/cost preference.

    Args:
        llms: the pool, ``{name: LLM}``; names must match the model cards.
        engine: a ready :class:`shared.RoutingEngine` over the same names; mutually exclusive with
            ``pool``, ``router`` and ``encoder``.
        pool: model cards (prices, context window, tool support); by default cards are built
            from each member's ``metadata`` (no prices, so routing ignores cost until given).
            A card that claims tool support for a member that cannot call tools is corrected.
        router: the core router for a new engine (``None``: cold-start ridge from the cards).
        encoder: the prompt encoder for a new engine (``None``: the cached MiniLM).
        prior_quality: cold-start prior quality in [0, 1] per member, for a new engine.
        explore: let a router configured to explore do so, for a new engine.
        default_preference: preference used when a call sets none (see :meth:`preference`).
        model_name: the router's name in ``metadata`` and events.
        sticky_tools: route a turn that answers tool calls to the member that emitted them.
        callback_manager: legacy callbacks; given (at each call) to members that have no
            handlers of their own. The router itself emits no LLM callbacks.

    Raises:
        InvalidParameterError: empty pool, a member that is not an ``LLM``, names that differ
            from the cards, or ``engine`` combined with ``pool``/``router``/``encoder``.

    Preference for a call is, first found: the ``preference=`` keyword of a direct call; the
    innermost ``with router.preference(...)``; the ``"router_preference"`` instrument tag;
    ``default_preference`` (see :meth:`with_preference`); the engine's default.

    Examples:
        >>> from shared import HashingEncoder, ModelCard
        >>> from llamaindex_router import RouterLLM
        >>> from llamaindex_router.testing import MockChatLLM
        >>> router = RouterLLM(
        ...     {"big": MockChatLLM(reply="big answer"), "small": MockChatLLM(reply="small answer")},
        ...     pool=[ModelCard("big", input_usd_per_1m=10, output_usd_per_1m=30),
        ...           ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4)],
        ...     encoder=HashingEncoder(n_features=32), explore=False,
        ... )
        >>> router.complete("What is 2 + 2?", preference={"quality": 1.0}).text
        'big answer'
        >>> response = router.complete("What is 2 + 2?", preference={"cost": 0.9})
        >>> response.text, response.additional_kwargs["routing"]["model"]
        ('small answer', 'small')
    """

    model_name: str = Field(default="prefroute-router", description="Name of the router.")
    default_preference: Any = Field(
        default=None, exclude=True, description="Preference when a call sets none."
    )
    sticky_tools: bool = Field(
        default=True, description="Send turns answering tool calls to the member that made them."
    )

    _engine: RoutingEngine = PrivateAttr()
    _llms: dict[str, LLM] = PrivateAttr()
    _scoped: ContextVar[Preference | None] = PrivateAttr()
    _owners: ToolCallOwners = PrivateAttr()

    def __init__(
        self,
        llms: Mapping[str, LLM],
        *,
        engine: RoutingEngine | None = None,
        pool: ModelPool | Sequence[ModelCard] | None = None,
        router: BaseRouter | None = None,
        encoder: PromptEncoder | None = None,
        prior_quality: Mapping[str, float] | None = None,
        explore: bool = True,
        default_preference: PreferenceInput | None = None,
        model_name: str = "prefroute-router",
        sticky_tools: bool = True,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        members = self._check_members(llms)
        pref = None if default_preference is None else coerce_preference(default_preference)
        super().__init__(
            model_name=model_name,
            default_preference=pref,
            sticky_tools=sticky_tools,
            callback_manager=callback_manager,
            **kwargs,
        )
        if engine is not None:
            if any(x is not None for x in (pool, router, encoder, prior_quality)):
                raise InvalidParameterError(
                    "Pass either engine= or pool=/router=/encoder=/prior_quality= to RouterLLM, "
                    "not both."
                )
            self._check_cards(engine.pool, members, fix=False)
        else:
            cards = (
                [_card_from_metadata(name, llm) for name, llm in members.items()]
                if pool is None
                else self._check_cards(
                    pool if isinstance(pool, ModelPool) else ModelPool(pool), members, fix=True
                )
            )
            engine = RoutingEngine(
                ModelPool(cards),
                router=router,
                encoder=encoder,
                prior_quality=prior_quality,
                explore=explore,
            )
        self._engine = engine
        self._llms = members
        self._scoped = ContextVar(f"prefroute_preference_{next(_counter)}", default=None)
        self._owners = ToolCallOwners()
        self._share_callbacks()

    def _share_callbacks(self) -> None:
        """Give the router's legacy callback handlers to members that have none."""
        if self.callback_manager.handlers:
            for member in self._llms.values():
                if not member.callback_manager.handlers:
                    member.callback_manager = self.callback_manager

    @staticmethod
    def _check_members(llms: Mapping[str, LLM]) -> dict[str, LLM]:
        if not isinstance(llms, Mapping) or not llms:
            raise InvalidParameterError("RouterLLM needs a non-empty mapping {name: LLM}.")
        for name, llm in llms.items():
            if not isinstance(name, str) or not name:
                raise InvalidParameterError(f"Pool member names must be strings, got {name!r}.")
            if not isinstance(llm, LLM):
                raise InvalidParameterError(
                    f"Pool member {name!r} must be a llama_index LLM, got {type(llm).__name__}."
                )
        return dict(llms)

    @staticmethod
    def _check_cards(pool: ModelPool, members: Mapping[str, LLM], *, fix: bool) -> list[ModelCard]:
        if set(pool.names) != set(members):
            raise InvalidParameterError(
                f"The model cards {sorted(pool.names)} and the pool members {sorted(members)} "
                "must have the same names."
            )
        cards = []
        for card in pool:
            if card.supports_tools and not supports_tools(members[card.name]):
                if not fix:
                    raise InvalidParameterError(
                        f"The card of {card.name!r} says it supports tools, but the member is "
                        "not a function-calling LLM; set supports_tools=False on its card."
                    )
                card = dataclasses.replace(card, supports_tools=False)
            cards.append(card)
        return cards

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "RouterLLM"

    # ------------------------------------------------------------------ properties
    @property
    def engine(self) -> RoutingEngine:
        """The routing engine (pool, router, encoder) this router calls."""
        return self._engine

    @property
    def llms(self) -> Mapping[str, LLM]:
        """The pool members by name (read-only)."""
        return MappingProxyType(self._llms)

    @property
    def metadata(self) -> LLMMetadata:
        """Capabilities every member shares: smallest context and output, AND of the flags."""
        windows, outputs = [], []
        for name, llm in self._llms.items():
            md = llm.metadata
            card_window = self._engine.pool[name].context_window
            windows.append(min(md.context_window, card_window or md.context_window))
            outputs.append(md.num_output)
        positive = [n for n in outputs if n > 0]
        return LLMMetadata(
            context_window=min(windows),
            num_output=min(positive) if positive else min(outputs),
            is_chat_model=all(llm.metadata.is_chat_model for llm in self._llms.values()),
            is_function_calling_model=all(supports_tools(llm) for llm in self._llms.values()),
            model_name=self.model_name,
        )

    # ------------------------------------------------------------------ preference
    @contextmanager
    def preference(self, preference: PreferenceInput) -> Iterator[Preference]:
        """Use ``preference`` for every call of this router (and its copies) in the block.

        Scoped with a ``ContextVar``: safe across threads and asyncio tasks; nested blocks win.

        Examples:
            >>> from shared import HashingEncoder
            >>> from llamaindex_router import RouterLLM
            >>> from llamaindex_router.testing import MockChatLLM
            >>> router = RouterLLM({"a": MockChatLLM()}, encoder=HashingEncoder(n_features=8))
            >>> with router.preference(0.25) as pref:
            ...     pref.cost
            0.25
        """
        pref = coerce_preference(preference)
        token = self._scoped.set(pref)
        try:
            yield pref
        finally:
            self._scoped.reset(token)

    def with_preference(self, preference: PreferenceInput) -> RouterLLM:
        """A copy bound to ``preference`` (sharing the pool, engine and tool-call table).

        Useful for long-lived objects such as ``Settings.llm`` or an agent's ``llm``.
        """
        return self.model_copy(update={"default_preference": coerce_preference(preference)})

    def resolve_preference(self, preference: PreferenceInput | None = None) -> Preference | None:
        """The preference a call would use (``None``: the engine's default)."""
        if preference is not None:
            return coerce_preference(preference)
        scoped = self._scoped.get()
        if scoped is not None:
            return scoped
        tagged = active_instrument_tags.get().get(PREFERENCE_TAG)
        if tagged is not None:
            return coerce_preference(tagged)
        pref: Preference | None = self.default_preference
        return pref

    # ------------------------------------------------------------------ routing
    def _sticky_owner(self, messages: Sequence[ChatMessage]) -> str | None:
        """The member that emitted the tool calls answered after the last user message."""
        if not self.sticky_tools:
            return None
        for message in reversed(messages):
            if message.role == MessageRole.USER:
                return None
            for ident in reversed(tool_call_ids(message)):
                owner = self._owners.get(ident)
                if owner is not None and owner in self._llms:
                    return owner
        return None

    def route(
        self,
        messages: Sequence[ChatMessage],
        preference: PreferenceInput | None = None,
        *,
        needs_tools: bool = False,
    ) -> Decision:
        """The decision a call with ``messages`` would get, without calling a member.

        A dry run: no event is emitted, so nothing reaches a feedback handler. ``preference``
        overrides the scoped and default preferences (see the class docs).
        """
        return self._decide(messages, preference, needs_tools)[0]

    def _decide(
        self, messages: Sequence[ChatMessage], preference: PreferenceInput | None, needs_tools: bool
    ) -> tuple[Decision, str, bool]:
        text = routing_text(messages)
        owner = self._sticky_owner(messages)
        pref = self.resolve_preference(preference)
        # the whole conversation is priced and counts against context windows (as in LangChain)
        tokens = estimate_tokens("\n".join(content for _, content in message_pairs(messages)))
        if owner is None:
            decision = self._engine.route(text, pref, needs_tools=needs_tools, input_tokens=tokens)
            return decision, text, False
        # pinned with propensity 1.0, the other candidates as fallbacks (the engine's rule)
        decision, sticky = self._engine.route_sticky(
            text, owner, pref, needs_tools=needs_tools, input_tokens=tokens
        )
        return decision, text, sticky

    def _attempt(
        self,
        messages: Sequence[ChatMessage],
        preference: PreferenceInput | None,
        *,
        needs_tools: bool = False,
    ) -> Attempt:
        """Decide, emit the ``RoutingDecisionEvent`` and prepare the calls to the members."""
        self._share_callbacks()  # also when set later, e.g. by ``Settings.llm = router``
        return self._announce(*self._decide(messages, preference, needs_tools), needs_tools)

    async def _aattempt(
        self,
        messages: Sequence[ChatMessage],
        preference: PreferenceInput | None,
        *,
        needs_tools: bool = False,
    ) -> Attempt:
        """Async :meth:`_attempt`: the decision (encoding may be slow) runs in a worker thread."""
        self._share_callbacks()
        pref = self.resolve_preference(preference)  # read the scoped preference on this task
        decided = await asyncio.to_thread(self._decide, messages, pref, needs_tools)
        return self._announce(*decided, needs_tools)

    def _announce(self, decision: Decision, text: str, sticky: bool, needs_tools: bool) -> Attempt:
        """Emit the ``RoutingDecisionEvent`` and prepare the calls to the members."""
        dispatcher.event(
            RoutingDecisionEvent(
                decision=decision,
                prompt=text,
                router_name=self.model_name,
                needs_tools=needs_tools,
                sticky=sticky,
            )
        )
        return Attempt(decision=decision, members=self._llms, sticky=sticky)

    def _stamper(self, attempt: Attempt) -> Any:
        def stamp(response: _R) -> _R:
            served = attempt.served or attempt.decision
            response.additional_kwargs["routing"] = attempt.routing()
            if isinstance(response, ChatResponse):
                ids = tool_call_ids(response.message)
                if ids:
                    self._owners.add(ids, served.model)
            return response

        return stamp

    # ------------------------------------------------------------------ chat
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Route and chat; ``preference=`` sets the trade-off of this call."""
        preference = kwargs.pop("preference", None)
        tools = router_tools(kwargs)
        if tools:
            return self.chat_with_tools(
                tools, chat_history=list(messages), preference=preference, **kwargs
            )
        attempt = self._attempt(messages, preference)
        response = attempt.run(lambda llm: llm.chat(messages, **kwargs))
        stamped: ChatResponse = self._stamper(attempt)(response)
        return stamped

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        preference = kwargs.pop("preference", None)
        tools = router_tools(kwargs)
        if tools:
            return await self.achat_with_tools(
                tools, chat_history=list(messages), preference=preference, **kwargs
            )
        attempt = await self._aattempt(messages, preference)
        response = await attempt.arun(lambda llm: llm.achat(messages, **kwargs))
        stamped: ChatResponse = self._stamper(attempt)(response)
        return stamped

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Route and stream; falls back if the member fails before its first chunk."""
        preference = kwargs.pop("preference", None)
        tools = router_tools(kwargs)
        if tools:
            return self.stream_chat_with_tools(
                tools, chat_history=list(messages), preference=preference, **kwargs
            )
        attempt = self._attempt(messages, preference)
        return attempt.stream(
            lambda llm: llm.stream_chat(messages, **kwargs), self._stamper(attempt)
        )

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        preference = kwargs.pop("preference", None)
        tools = router_tools(kwargs)
        if tools:
            return await self.astream_chat_with_tools(
                tools, chat_history=list(messages), preference=preference, **kwargs
            )
        attempt = await self._aattempt(messages, preference)
        return await attempt.astream(
            lambda llm: llm.astream_chat(messages, **kwargs), self._stamper(attempt)
        )

    # ------------------------------------------------------------------ complete
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Route a prompt (one user message); chat members get it as a chat, others complete."""
        preference = kwargs.pop("preference", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = self._attempt(messages, preference)

        def call(llm: LLM) -> CompletionResponse:
            if llm.metadata.is_chat_model:
                return chat_to_completion(llm.chat(messages, **kwargs))
            return llm.complete(prompt, formatted=formatted, **kwargs)

        stamped: CompletionResponse = self._stamper(attempt)(attempt.run(call))
        return stamped

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete`."""
        preference = kwargs.pop("preference", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = await self._aattempt(messages, preference)

        async def call(llm: LLM) -> CompletionResponse:
            if llm.metadata.is_chat_model:
                return chat_to_completion(await llm.achat(messages, **kwargs))
            return await llm.acomplete(prompt, formatted=formatted, **kwargs)

        stamped: CompletionResponse = self._stamper(attempt)(await attempt.arun(call))
        return stamped

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Streaming :meth:`complete`."""
        preference = kwargs.pop("preference", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = self._attempt(messages, preference)

        def call(llm: LLM) -> Iterator[CompletionResponse]:
            if llm.metadata.is_chat_model:
                return (chat_to_completion(c) for c in llm.stream_chat(messages, **kwargs))
            return llm.stream_complete(prompt, formatted=formatted, **kwargs)

        return attempt.stream(call, self._stamper(attempt))

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        preference = kwargs.pop("preference", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = await self._aattempt(messages, preference)

        async def call(llm: LLM) -> AsyncIterator[CompletionResponse]:
            if not llm.metadata.is_chat_model:
                return await llm.astream_complete(prompt, formatted=formatted, **kwargs)
            chunks = await llm.astream_chat(messages, **kwargs)

            async def convert() -> AsyncIterator[CompletionResponse]:
                async for chunk in chunks:
                    yield chat_to_completion(chunk)

            return convert()

        return await attempt.astream(call, self._stamper(attempt))
