"""``RouterChatModel``: a LangChain chat model that routes each call to a member of a pool.

The routing itself (encoding the conversation, filtering capable candidates, scoring under the
call's preference, the cold start) is done by :class:`shared.RoutingEngine`; this module only
wires it into LangChain's ``BaseChatModel`` contract:

* the decision is made in ``invoke``/``ainvoke``/``stream``/``astream``, before the LLM run
  starts (async entry points make it in a worker thread, so encoding never blocks the event
  loop), and passed on as ``model=<member key>`` so traces show the member's provider and model
  name; ``_generate``/``_stream`` route again when called without it (``generate()``,
  ``stream_events(version="v3")``);
* the member's protected ``_generate``/``_agenerate``/``_stream``/``_astream`` run inside the
  router's own LLM run: one run per call, usage reported once;
* a member that raises before producing output (before the first streamed chunk) is replaced by
  the next candidate of ``Decision.ranking``; the failures are listed in the routing metadata.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.tools import BaseTool
from pydantic import Field, PrivateAttr

from shared._base import BaseRouter
from shared.encoders.text import messages_to_text
from shared.engine import RoutingEngine, estimate_tokens
from shared.exceptions import AllCandidatesFailedError, InvalidParameterError, UnknownModelError
from shared.pool import ModelCard, ModelPool
from shared.preference import Preference

from ._members import (
    DECISION_KEY,
    TOOL_KWARGS_KEY,
    agenerate,
    answered,
    default_card,
    generate,
    intersect_profiles,
    member_achunks,
    member_chunks,
    member_kwargs,
    note_failure,
    stamp,
    stamp_chunk,
    sticky_member,
)
from ._preference import coerce_preference, resolve_preference

__all__ = ["RouterChatModel"]

logger = logging.getLogger(__name__)

_PROVIDER = "prefroute"


class RouterChatModel(BaseChatModel):
    """Chat model that sends each call to the pool member that best fits its preference.

    Setup:
        ``pip install prefroute``; members are any LangChain chat models.

    Key init args:
        models: ``{key: chat model}``, the pool.
        cards: ``{key: ModelCard}`` prices and capabilities; members without one get a
            zero-price card whose capabilities are read from the member.
        router: a fitted core router (``RidgeRouter``, ``BaRPRouter``...) or ``None`` for the
            engine's cold start (priors from card prices and ``prior_quality``).
        encoder: prompt encoder (default: cached all-MiniLM-L6-v2).
        default_preference: preference used when a call gives none.

    Preference per call (first found wins): ``invoke(..., preference=...)`` or
    ``.bind(preference=...)``; ``config["configurable"]["router_preference"]`` (or
    ``["preference"]``); ``default_preference``. Values: a ``Preference``, a cost weight in
    [0, 1], a mapping with ``quality``/``cost``/``latency`` keys, or ``"quality"``,
    ``"balanced"``, ``"cost"``.

    Response metadata: the member's own ``response_metadata`` and ``usage_metadata``, plus
    ``response_metadata["routing"]`` = ``Decision.to_dict()`` with ``"fallbacks"`` (members
    that failed first, ``[{"model", "error"}]``) and ``"sticky"``.

    Examples:
        >>> from shared import HashingEncoder, ModelCard
        >>> from langchain_router import RouterChatModel
        >>> from langchain_router.testing import FakeToolChatModel
        >>> router = RouterChatModel(
        ...     models={"big": FakeToolChatModel(model_name="big"),
        ...             "small": FakeToolChatModel(model_name="small")},
        ...     cards={"big": ModelCard("big", input_usd_per_1m=10, output_usd_per_1m=30),
        ...            "small": ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4)},
        ...     encoder=HashingEncoder(n_features=32), explore=False)
        >>> router.invoke("What is 2 + 2?", preference="quality").response_metadata["model_name"]
        'big'
        >>> msg = router.invoke("What is 2 + 2?", preference="cost")
        >>> msg.response_metadata["routing"]["model"], msg.usage_metadata["input_tokens"]
        ('small', 5)
    """

    models: dict[str, BaseChatModel]
    """The pool: member key -> chat model."""
    cards: dict[str, ModelCard] | None = None
    """Model cards by member key; missing members get zero-price cards."""
    router: BaseRouter | None = None
    """Core router; ``None`` starts the engine's cold-start router."""
    encoder: Any = None
    """A ``shared.PromptEncoder``; ``None`` uses ``shared.default_encoder()`` (loaded lazily)."""
    engine: RoutingEngine | None = None
    """A ready ``RoutingEngine`` over the same member keys; replaces cards/router/encoder."""
    default_preference: Preference = Field(default_factory=Preference)
    """Preference of calls that give none (any accepted form; stored as a ``Preference``)."""
    prior_quality: dict[str, float] | None = None
    """Cold-start prior quality in [0, 1] per member key."""
    explore: bool = True
    """Let a router configured to explore (UCB, Thompson, sampling policies) do so."""
    sticky: bool = True
    """Keep a conversation or tool loop on the member that answered the previous turn."""
    fallback: bool = True
    """On a member error before any output, try the next candidate of the ranking."""
    streaming: bool = False
    """Use the streaming path for ``invoke`` too (as other chat models)."""
    model_name: str = "prefroute-router"
    """Name reported to tracing when no member is selected yet."""

    _engine: RoutingEngine = PrivateAttr()
    _aliases: dict[str, str] = PrivateAttr(default_factory=dict)

    def __init__(self, **kwargs: Any) -> None:
        members = kwargs.get("models")
        if not isinstance(members, Mapping) or not members:
            raise InvalidParameterError("RouterChatModel needs models={key: chat model, ...}.")
        for key, member in members.items():
            if not isinstance(key, str) or not isinstance(member, BaseChatModel):
                raise InvalidParameterError(
                    f"Pool member {key!r} must be a BaseChatModel under a string key, "
                    f"got {type(member).__name__}."
                )
        if "default_preference" in kwargs:
            kwargs["default_preference"] = coerce_preference(kwargs["default_preference"])
        super().__init__(**kwargs)
        self._engine = self._build_engine()
        self._aliases = {key: key for key in self.models}
        for key, member in self.models.items():
            for attr in ("model_name", "model"):
                name = getattr(member, attr, None)
                if isinstance(name, str) and name:
                    self._aliases.setdefault(name, key)

    def _build_engine(self) -> RoutingEngine:
        keys = list(self.models)
        if self.engine is not None:
            if set(self.engine.pool.names) != set(keys):
                raise InvalidParameterError(
                    f"The engine's pool {list(self.engine.pool.names)} must name exactly the "
                    f"members {keys}."
                )
            return self.engine
        cards = dict(self.cards or {})
        for key, card in cards.items():
            if key not in self.models:
                raise UnknownModelError(key, keys)
            if card.name != key:
                raise InvalidParameterError(f"cards[{key!r}] is named {card.name!r}.")
        pool = ModelPool(cards.get(k) or default_card(k, m) for k, m in self.models.items())
        return RoutingEngine(
            pool,
            router=self.router,
            encoder=self.encoder,
            default_preference=self.default_preference,
            prior_quality=self.prior_quality,
            explore=self.explore,
        )

    # ------------------------------------------------------------------ description
    @property
    def routing_engine(self) -> RoutingEngine:
        """The engine that makes the decisions (cards in ``routing_engine.pool``)."""
        return self._engine

    @property
    def _llm_type(self) -> str:
        return "prefroute-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "models": list(self.models),
            "default_preference": self.default_preference.as_dict(),
        }

    def member_key(self, name: str) -> str | None:
        """The member key ``name`` refers to (a key or a member's model name), else ``None``."""
        return self._aliases.get(name)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        requested = kwargs.get("model")
        key = self.member_key(requested) if isinstance(requested, str) else None
        if key is not None:
            params = self.models[key]._get_ls_params(stop=stop)
            params.setdefault("ls_model_name", key)
            params["ls_model_type"] = "chat"
            return params
        params = LangSmithParams(
            ls_provider=_PROVIDER,
            ls_model_name=requested if isinstance(requested, str) else self.model_name,
            ls_model_type="chat",
        )
        if stop:
            params["ls_stop"] = stop
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        return intersect_profiles([m.profile for m in self.models.values()])

    # ------------------------------------------------------------------ tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools for every member: each call formats them with the chosen member's own
        ``bind_tools`` (extra keyword arguments are forwarded to it), and only members whose card
        supports tools are candidates."""
        bound: dict[str, Any] = {"tools": list(tools)}
        if tool_choice is not None:
            bound["tool_choice"] = tool_choice
        structured = kwargs.pop("ls_structured_output_format", None)
        if structured is not None:
            bound["ls_structured_output_format"] = structured
        if kwargs:
            bound[TOOL_KWARGS_KEY] = kwargs
        return self.bind(**bound)

    # ------------------------------------------------------------------ deciding
    def _decide(
        self,
        messages: list[BaseMessage],
        preference: Preference,
        kwargs: Mapping[str, Any],
        *,
        structured: bool = False,
    ) -> dict[str, Any]:
        text = messages_to_text(messages)
        # the whole conversation counts against context windows, not just the encoded part
        tokens = estimate_tokens("\n".join(m.text for m in messages))
        needs: dict[str, Any] = {
            "needs_tools": bool(kwargs.get("tools")),
            "needs_structured_output": structured,
            "input_tokens": tokens,
        }
        requested = kwargs.get("model")
        sticky = False
        if requested is not None:
            key = self.member_key(str(requested))
            if key is None:
                raise UnknownModelError(str(requested), list(self.models))
            decision = self._engine.route(text, preference, allowed=[key], **needs)
        else:
            previous = sticky_member(messages, self.member_key) if self.sticky else None
            if previous is None:
                decision = self._engine.route(text, preference, **needs)
            else:  # pinned with propensity 1.0, other candidates as fallbacks (engine rule)
                decision, sticky = self._engine.route_sticky(
                    text, previous, preference, fallback=self.fallback, **needs
                )
        return {**decision.to_dict(), "sticky": sticky, "fallbacks": []}

    def _route_call(
        self, input: LanguageModelInput, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Resolve the preference and decide before the LLM run starts (public entry points)."""
        preference = resolve_preference(
            kwargs.pop("preference", None), ensure_config(config), self.default_preference
        )
        messages = self._convert_input(input).to_messages()
        structured = bool(
            kwargs.get("ls_structured_output_format") or kwargs.get("structured_output_format")
        )
        routing = self._decide(messages, preference, kwargs, structured=structured)
        kwargs[DECISION_KEY] = routing
        kwargs["model"] = routing["model"]
        return kwargs

    def _routing_of(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The decision passed by the entry points, or a new one (``generate()``, v3 events)."""
        routing = kwargs.pop(DECISION_KEY, None)
        preference = kwargs.pop("preference", None)
        if routing is None:
            pref = resolve_preference(preference, ensure_config(), self.default_preference)
            routing = self._decide(messages, pref, kwargs)
        kwargs.pop("model", None)
        return dict(routing)

    async def _arouting_of(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Async :meth:`_routing_of`: a new decision is made off the event loop."""
        if DECISION_KEY in kwargs:
            return self._routing_of(messages, kwargs)
        # encoding may take a while (MiniLM); to_thread copies the context (run config)
        return await asyncio.to_thread(self._routing_of, messages, kwargs)

    def _attempts(self, routing: Mapping[str, Any]) -> list[str]:
        ranking = list(routing["ranking"])
        return ranking if self.fallback else ranking[:1]

    # ------------------------------------------------------------------ public entry points
    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs = self._route_call(input, config, kwargs)
        return super().invoke(input, config, stop=stop, **kwargs)

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs = await asyncio.to_thread(self._route_call, input, config, kwargs)
        return await super().ainvoke(input, config, stop=stop, **kwargs)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        kwargs = self._route_call(input, config, kwargs)
        return super().stream(input, config, stop=stop, **kwargs)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        kwargs = await asyncio.to_thread(self._route_call, input, config, kwargs)
        async for chunk in super().astream(input, config, stop=stop, **kwargs):
            yield chunk

    # ------------------------------------------------------------------ delegation
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        routing = self._routing_of(messages, kwargs)
        failures: list[tuple[str, Exception]] = []
        for name in self._attempts(routing):
            member = self.models[name]
            try:
                result = generate(
                    member, messages, stop, run_manager, member_kwargs(member, kwargs)
                )
            except Exception as err:
                if not self.fallback:
                    raise
                note_failure(name, err, failures)
                continue
            return stamp(result, answered(routing, name, failures))
        raise AllCandidatesFailedError(dict(failures)) from failures[-1][1]

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        routing = await self._arouting_of(messages, kwargs)
        failures: list[tuple[str, Exception]] = []
        for name in self._attempts(routing):
            member = self.models[name]
            try:
                call = member_kwargs(member, kwargs)
                result = await agenerate(member, messages, stop, run_manager, call)
            except Exception as err:
                if not self.fallback:
                    raise
                note_failure(name, err, failures)
                continue
            return stamp(result, answered(routing, name, failures))
        raise AllCandidatesFailedError(dict(failures)) from failures[-1][1]

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        routing = self._routing_of(messages, kwargs)
        failures: list[tuple[str, Exception]] = []
        for name in self._attempts(routing):
            member = self.models[name]
            try:
                chunks = member_chunks(
                    member, messages, stop, run_manager, member_kwargs(member, kwargs)
                )
                first = next(chunks)
            except StopIteration:
                note_failure(name, RuntimeError("the member streamed no chunk"), failures)
                continue
            except Exception as err:
                if not self.fallback:
                    raise
                note_failure(name, err, failures)
                continue
            yield stamp_chunk(first, answered(routing, name, failures))
            yield from chunks
            return
        raise AllCandidatesFailedError(dict(failures)) from failures[-1][1]

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        routing = await self._arouting_of(messages, kwargs)
        failures: list[tuple[str, Exception]] = []
        for name in self._attempts(routing):
            member = self.models[name]
            try:
                chunks = member_achunks(
                    member, messages, stop, run_manager, member_kwargs(member, kwargs)
                )
                first = await anext(chunks)
            except StopAsyncIteration:
                note_failure(name, RuntimeError("the member streamed no chunk"), failures)
                continue
            except Exception as err:
                if not self.fallback:
                    raise
                note_failure(name, err, failures)
                continue
            yield stamp_chunk(first, answered(routing, name, failures))
            async for chunk in chunks:
                yield chunk
            return
        raise AllCandidatesFailedError(dict(failures)) from failures[-1][1]
