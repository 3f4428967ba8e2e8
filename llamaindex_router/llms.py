"""``RouterLLM``: a LlamaIndex LLM that routes each call to the best pool member.

The router holds a pool ``{name: LLM}`` and a :class:`shared.RoutingEngine`. For each call it
renders the conversation with :func:`shared.messages_to_text`, asks the engine for a
:class:`shared.Decision` and delegates the whole call to the chosen member; if that member fails
before producing output, the next candidate of ``decision.ranking`` answers. The decision is
emitted as a :class:`~llamaindex_router.RoutingDecisionEvent` and attached to the response as
``response.additional_kwargs["routing"]``. The router contains no routing logic of its own: the
fallback loop (which errors fall back), the routing metadata, the default-preference rule and the
engine's construction are the core's (:mod:`shared.serving`), shared with the LangChain adapter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
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
    Preference,
    RoutingEngine,
    estimate_tokens,
)
from shared.serving import (
    TASK_CONFIG_KEY,
    Attempts,
    PoolLike,
    build_engine,
    call_preference,
    parse_task_key,
    resolve_task,
    warn_member_retries,
)

from ._convert import chat_to_completion, message_pairs, routing_text, tool_call_ids
from ._delegate import (
    ToolCallOwners,
    attempts_for,
    dispatcher,
    serve_astream,
    serve_stream,
    stream_kwargs,
)
from ._preference import PreferenceInput, coerce_preference
from ._tools import ToolRoutingMixin, router_tools, supports_tools
from .events import RoutingDecisionEvent

if TYPE_CHECKING:
    from shared import BaseRouter, PromptEncoder

__all__ = ["PREFERENCE_TAG", "TASK_TAG", "RouterLLM"]

#: Instrument tag read as the call's preference (``with instrument_tags({PREFERENCE_TAG: 0.3})``).
PREFERENCE_TAG = "router_preference"
#: Instrument tag read as the call's task key (``with instrument_tags({TASK_TAG: "summarize"})``).
TASK_TAG = TASK_CONFIG_KEY

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

    Args (the same words as LangChain's ``RouterChatModel``):
        models: the pool, ``{name: LLM}`` (``llms=`` is the deprecated spelling). Build provider
            members with ``max_retries=0``: the router owns retries (its fallback to the next
            candidate is the retry) and warns about members that retry by themselves.
        engine: a ready :class:`shared.RoutingEngine` over the same names; it cannot be combined
            with ``pool``, ``router``, ``encoder``, ``prior_quality`` or ``explore``.
        pool: model cards (prices, context window, tool support): a ``ModelPool``, a sequence of
            cards or ``{name: ModelCard}``; members without one get a card built from their
            ``metadata`` (no prices, so routing ignores their cost). A card that claims tool
            support for a member that cannot call tools is corrected.
        router: the core router for a new engine (``None``: cold-start ridge from the cards).
        encoder: the prompt encoder for a new engine (``None``: the cached MiniLM).
        prior_quality: cold-start prior quality in [0, 1] per member, for a new engine.
        explore: let a router configured to explore do so, for a new engine (default ``True``).
        default_preference: preference used when a call sets none (see :meth:`preference`);
            ``None``: the engine's ``default_preference``.
        model_name: the router's name in ``metadata`` and events.
        sticky: route a turn that answers tool calls to the member that emitted them
            (``sticky_tools=`` is the deprecated spelling).
        fallback: on a member's provider error before any output, try the next candidate.
        task_key: instrument tags read as the call's task key (off by default):
            ``"tag:<name>"`` or a list of them, tried in order; e.g. ``task_key="tag:workflow_step"``
            reads ``with instrument_tags({"workflow_step": "retrieve"})``.
        callback_manager: legacy callbacks; given (at each call) to members that have no
            handlers of their own. The router itself emits no LLM callbacks.

    Raises:
        InvalidParameterError: empty pool, a member that is not an ``LLM``, a card naming no
            member, or ``engine`` combined with parts it would ignore.

    The router is a function-calling LLM (``FunctionAgent`` accepts it) when at least one member
    is; tool calls are routed only to members that can call tools. Streams ask OpenAI members for
    their usage (``stream_options={"include_usage": True}``).

    Preference for a call is, first found: the ``preference=`` keyword of a direct call; the
    innermost ``with router.preference(...)``; the ``"router_preference"`` instrument tag;
    ``default_preference`` (see :meth:`with_preference`); the engine's default.

    Task key for a call (first found wins; the engine learns a level per member and task, see
    docs/concepts.md): the ``task=`` keyword of a call; the ``"router_task"`` instrument tag
    (:data:`TASK_TAG`); the ``task_key`` tags (only when set). It is recorded in
    ``Decision.task`` (``additional_kwargs["routing"]["task"]``) and by the feedback handler, so
    a rating teaches that task.

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
    sticky: bool = Field(
        default=True, description="Send turns answering tool calls to the member that made them."
    )
    fallback: bool = Field(
        default=True, description="Try the next candidate when a member fails before any output."
    )
    task_key: Any = Field(
        default=None, exclude=True, description="Instrument tags read as the call's task key."
    )

    _engine: RoutingEngine = PrivateAttr()
    _llms: dict[str, LLM] = PrivateAttr()
    _scoped: ContextVar[Preference | None] = PrivateAttr()
    _owners: ToolCallOwners = PrivateAttr()
    _feedback: Any = PrivateAttr(default=None)
    _task_sources: tuple[str, ...] = PrivateAttr(default=())

    def __init__(
        self,
        models: Mapping[str, LLM] | None = None,
        *,
        engine: RoutingEngine | None = None,
        pool: PoolLike | None = None,
        router: BaseRouter | None = None,
        encoder: PromptEncoder | None = None,
        prior_quality: Mapping[str, float] | None = None,
        explore: bool | None = None,
        default_preference: PreferenceInput | None = None,
        model_name: str = "prefroute-router",
        sticky: bool = True,
        fallback: bool = True,
        task_key: str | Sequence[str] | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        for old, new in (("llms", "models"), ("sticky_tools", "sticky")):
            if old in kwargs:
                warnings.warn(
                    f"RouterLLM({old}=...) is deprecated; use {new}=.",
                    DeprecationWarning,
                    stacklevel=2,
                )
        if "llms" in kwargs:
            models = kwargs.pop("llms") if models is None else models
        if "sticky_tools" in kwargs:
            sticky = bool(kwargs.pop("sticky_tools"))
        members = self._check_members(models)
        pref = None if default_preference is None else coerce_preference(default_preference)
        task_sources = parse_task_key(task_key, kinds=("tag",))
        super().__init__(
            model_name=model_name,
            default_preference=pref,
            sticky=sticky,
            fallback=fallback,
            task_key=task_key,
            callback_manager=callback_manager,
            **kwargs,
        )
        self._task_sources = task_sources
        self._engine = build_engine(
            list(members),
            engine=engine,
            pool=pool,
            default_card=lambda name: _card_from_metadata(name, members[name]),
            fix_card=lambda card: self._fix_card(card, members),
            router=router,
            encoder=encoder,
            prior_quality=prior_quality,
            explore=explore,
        )
        if engine is not None:
            for card in engine.pool:
                if card.supports_tools and not supports_tools(members[card.name]):
                    raise InvalidParameterError(
                        f"The card of {card.name!r} says it supports tools, but the member is "
                        "not a function-calling LLM; set supports_tools=False on its card."
                    )
        self._llms = members
        self._scoped = ContextVar(f"prefroute_preference_{next(_counter)}", default=None)
        self._owners = ToolCallOwners()
        warn_member_retries(members)
        self._share_callbacks()

    @staticmethod
    def _fix_card(card: ModelCard, members: Mapping[str, LLM]) -> ModelCard:
        """Drop a tool claim the member cannot honour."""
        if card.supports_tools and not supports_tools(members[card.name]):
            return dataclasses.replace(card, supports_tools=False)
        return card

    @property
    def sticky_tools(self) -> bool:
        """Deprecated name of :attr:`sticky`."""
        return self.sticky

    def with_feedback(self, store: Any = None, **options: Any) -> RouterLLM:
        """Record this router's calls and learn from their ratings; returns the router.

        Creates a :class:`~llamaindex_router.FeedbackEventHandler` bound to this router (over
        ``store``, default an in-memory SQLite store; ``options`` are the handler's), adds it to
        LlamaIndex's root instrumentation dispatcher, and keeps it as :attr:`feedback`.

        Examples:
            >>> from llama_index_instrumentation import get_dispatcher
            >>> from shared import HashingEncoder
            >>> from llamaindex_router import RouterLLM
            >>> from llamaindex_router.testing import MockChatLLM
            >>> router = RouterLLM({"a": MockChatLLM(reply="hi")},
            ...                    encoder=HashingEncoder(n_features=16)).with_feedback()
            >>> response = router.complete("hello")
            >>> router.feedback.rate(response.additional_kwargs["routing"]["decision_id"], 1.0)[0].model
            'a'
            >>> get_dispatcher().event_handlers.remove(router.feedback)
        """
        from llama_index_instrumentation import get_dispatcher

        from .handler import FeedbackEventHandler

        handler = FeedbackEventHandler(store, router=self, **options)
        get_dispatcher().add_event_handler(handler)
        self._feedback = handler
        return self

    @property
    def feedback(self) -> Any:
        """The handler created by :meth:`with_feedback` (``None`` before)."""
        return self._feedback

    def _share_callbacks(self) -> None:
        """Give the router's legacy callback handlers to members that have none."""
        if self.callback_manager.handlers:
            for member in self._llms.values():
                if not member.callback_manager.handlers:
                    member.callback_manager = self.callback_manager

    @staticmethod
    def _check_members(llms: Mapping[str, LLM] | None) -> dict[str, LLM]:
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
        """The pool members by name (read-only; the same as :attr:`models`)."""
        return MappingProxyType(self._llms)

    @property
    def models(self) -> Mapping[str, LLM]:
        """The pool members by name (read-only)."""
        return MappingProxyType(self._llms)

    @property
    def metadata(self) -> LLMMetadata:
        """Capabilities of the pool: smallest context and output; a chat model when every member
        is; a function-calling model when at least one member is (tool calls go only to those)."""
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
            is_function_calling_model=any(supports_tools(llm) for llm in self._llms.values()),
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
        """The preference a call would use (``None``: the engine's default; the core's rule,
        :func:`shared.serving.call_preference`)."""
        tagged = active_instrument_tags.get().get(PREFERENCE_TAG)
        return call_preference(preference, self._scoped.get(), tagged, self.default_preference)

    def resolve_task(self, task: str | None = None) -> str | None:
        """The task key a call would use: ``task``, else the ``"router_task"`` instrument tag,
        else the first :attr:`task_key` tag present; ``None`` when there is none.

        Raises:
            InvalidParameterError: the value found is not a valid task key.

        Examples:
            >>> from llama_index_instrumentation.dispatcher import instrument_tags
            >>> from shared import HashingEncoder
            >>> from llamaindex_router import RouterLLM
            >>> from llamaindex_router.testing import MockChatLLM
            >>> router = RouterLLM({"a": MockChatLLM()}, encoder=HashingEncoder(n_features=8),
            ...                    task_key="tag:step")
            >>> with instrument_tags({"step": "retrieve"}):
            ...     router.resolve_task()
            'retrieve'
        """
        tags = active_instrument_tags.get()
        return resolve_task(self._task_sources, task, tags.get(TASK_TAG), tags=tags)

    # ------------------------------------------------------------------ routing
    def _sticky_owner(self, messages: Sequence[ChatMessage]) -> str | None:
        """The member that emitted the tool calls answered after the last user message."""
        if not self.sticky:
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
        task: str | None = None,
    ) -> Decision:
        """The decision a call with ``messages`` would get, without calling a member.

        A dry run: no event is emitted, so nothing reaches a feedback handler. ``preference``
        overrides the scoped and default preferences, ``task`` the tagged task (see the class
        docs).
        """
        return self._decide(messages, preference, needs_tools, task)[0]

    def _decide(
        self,
        messages: Sequence[ChatMessage],
        preference: PreferenceInput | None,
        needs_tools: bool,
        task: str | None = None,
    ) -> tuple[Decision, str, bool]:
        text = routing_text(messages)
        owner = self._sticky_owner(messages)
        pref = self.resolve_preference(preference)
        task = self.resolve_task(task)
        # the whole conversation is priced and counts against context windows (as in LangChain)
        tokens = estimate_tokens("\n".join(content for _, content in message_pairs(messages)))
        if owner is None:
            decision = self._engine.route(
                text, pref, needs_tools=needs_tools, input_tokens=tokens, task=task
            )
            return decision, text, False
        # pinned with propensity 1.0, the other candidates as fallbacks (the engine's rule)
        decision, sticky = self._engine.route_sticky(
            text, owner, pref, needs_tools=needs_tools, input_tokens=tokens, task=task
        )
        return decision, text, sticky

    def _attempt(
        self,
        messages: Sequence[ChatMessage],
        preference: PreferenceInput | None,
        *,
        needs_tools: bool = False,
        task: str | None = None,
    ) -> Attempts:
        """Decide, emit the ``RoutingDecisionEvent`` and prepare the calls to the members."""
        self._share_callbacks()  # also when set later, e.g. by ``Settings.llm = router``
        return self._announce(*self._decide(messages, preference, needs_tools, task), needs_tools)

    async def _aattempt(
        self,
        messages: Sequence[ChatMessage],
        preference: PreferenceInput | None,
        *,
        needs_tools: bool = False,
        task: str | None = None,
    ) -> Attempts:
        """Async :meth:`_attempt`: the decision (encoding may be slow) runs in a worker thread."""
        self._share_callbacks()
        pref = self.resolve_preference(preference)  # read the scoped preference on this task
        task = self.resolve_task(task)  # and the tagged task key
        decided = await asyncio.to_thread(self._decide, messages, pref, needs_tools, task)
        return self._announce(*decided, needs_tools)

    def _announce(self, decision: Decision, text: str, sticky: bool, needs_tools: bool) -> Attempts:
        """Emit the ``RoutingDecisionEvent`` and prepare the calls to the members."""
        dispatcher.event(
            RoutingDecisionEvent(
                decision=decision,
                prompt=text,
                router_name=self.model_name,
                needs_tools=needs_tools,
                sticky=sticky,
                engine=self._engine,
            )
        )
        return attempts_for(decision, sticky=sticky, fallback=self.fallback)

    def _stamper(self, attempt: Attempts) -> Any:
        def stamp(response: _R) -> _R:
            served = attempt.served or attempt.decision
            response.additional_kwargs["routing"] = attempt.routing()
            if isinstance(response, ChatResponse):
                ids = tool_call_ids(response.message)
                if ids:
                    self._owners.add(ids, served.model)
            return response

        return stamp

    def _member(self, call: Callable[[LLM], Any]) -> Callable[[str], Any]:
        """``call`` on the member named by the fallback loop."""
        return lambda name: call(self._llms[name])

    # ------------------------------------------------------------------ chat
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Route and chat; ``preference=`` sets the trade-off of this call."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        tools = router_tools(kwargs)
        if tools:
            return self.chat_with_tools(
                tools, chat_history=list(messages), preference=preference, task=task, **kwargs
            )
        attempt = self._attempt(messages, preference, task=task)
        response = attempt.run(self._member(lambda llm: llm.chat(messages, **kwargs)))
        stamped: ChatResponse = self._stamper(attempt)(response)
        return stamped

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        tools = router_tools(kwargs)
        if tools:
            return await self.achat_with_tools(
                tools, chat_history=list(messages), preference=preference, task=task, **kwargs
            )
        attempt = await self._aattempt(messages, preference, task=task)
        response = await attempt.arun(self._member(lambda llm: llm.achat(messages, **kwargs)))
        stamped: ChatResponse = self._stamper(attempt)(response)
        return stamped

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Route and stream; falls back if the member fails before its first chunk."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        tools = router_tools(kwargs)
        if tools:
            return self.stream_chat_with_tools(
                tools, chat_history=list(messages), preference=preference, task=task, **kwargs
            )
        attempt = self._attempt(messages, preference, task=task)
        return serve_stream(
            attempt,
            self._member(lambda llm: llm.stream_chat(messages, **stream_kwargs(llm, kwargs))),
            self._stamper(attempt),
        )

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        tools = router_tools(kwargs)
        if tools:
            return await self.astream_chat_with_tools(
                tools, chat_history=list(messages), preference=preference, task=task, **kwargs
            )
        attempt = await self._aattempt(messages, preference, task=task)
        return await serve_astream(
            attempt,
            self._member(lambda llm: llm.astream_chat(messages, **stream_kwargs(llm, kwargs))),
            self._stamper(attempt),
        )

    # ------------------------------------------------------------------ complete
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Route a prompt (one user message); chat members get it as a chat, others complete."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = self._attempt(messages, preference, task=task)

        def call(llm: LLM) -> CompletionResponse:
            if llm.metadata.is_chat_model:
                return chat_to_completion(llm.chat(messages, **kwargs))
            return llm.complete(prompt, formatted=formatted, **kwargs)

        stamped: CompletionResponse = self._stamper(attempt)(attempt.run(self._member(call)))
        return stamped

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = await self._aattempt(messages, preference, task=task)

        async def call(llm: LLM) -> CompletionResponse:
            if llm.metadata.is_chat_model:
                return chat_to_completion(await llm.achat(messages, **kwargs))
            return await llm.acomplete(prompt, formatted=formatted, **kwargs)

        stamped: CompletionResponse = self._stamper(attempt)(await attempt.arun(self._member(call)))
        return stamped

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Streaming :meth:`complete`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = self._attempt(messages, preference, task=task)

        def call(llm: LLM) -> Iterator[CompletionResponse]:
            options = stream_kwargs(llm, kwargs)
            if llm.metadata.is_chat_model:
                return (chat_to_completion(c) for c in llm.stream_chat(messages, **options))
            return llm.stream_complete(prompt, formatted=formatted, **options)

        return serve_stream(attempt, self._member(call), self._stamper(attempt))

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        preference, task = kwargs.pop("preference", None), kwargs.pop("task", None)
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        attempt = await self._aattempt(messages, preference, task=task)

        async def call(llm: LLM) -> AsyncIterator[CompletionResponse]:
            options = stream_kwargs(llm, kwargs)
            if not llm.metadata.is_chat_model:
                return await llm.astream_complete(prompt, formatted=formatted, **options)
            chunks = await llm.astream_chat(messages, **options)

            async def convert() -> AsyncIterator[CompletionResponse]:
                async for chunk in chunks:
                    yield chat_to_completion(chunk)

            return convert()

        return await serve_astream(attempt, self._member(call), self._stamper(attempt))
