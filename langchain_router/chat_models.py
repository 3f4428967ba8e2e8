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
* the fallback loop, the routing metadata, the default-preference rule and the engine's
  construction are the core's (:mod:`shared.serving`), shared with the LlamaIndex adapter: a member
  that raises a provider error (HTTP status, timeout, connection, rate limit, malformed response,
  empty stream) before producing output is replaced by the next candidate of
  ``Decision.ranking``; a programming error (``TypeError``...) is re-raised at once;
* the :class:`shared.serving.Route` (the ``Decision`` object, sticky flag, engine) travels in the
  call kwargs from the entry point to ``_generate``/``_stream`` and to the feedback handler;
* the answering member names the run for tracing: ``ls_model_name``/``ls_provider`` of the
  member, and after a fallback the answer's gateway metadata (``lc_gateway_metadata``, which
  langchain-core's tracer promotes to the run's metadata, 1.7.x and 1.8.x) names the member
  that answered.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
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
from pydantic import PrivateAttr

from shared import (
    BaseRouter,
    InvalidParameterError,
    Preference,
    RoutingEngine,
    UnknownModelError,
    estimate_tokens,
    messages_to_text,
)
from shared.serving import (
    TASK_CONFIG_KEY,
    Attempts,
    Route,
    build_engine,
    parse_task_key,
    resolve_task,
    warn_member_retries,
)

from ._members import (
    DECISION_KEY,
    TOOL_KWARGS_KEY,
    UsageTracker,
    agenerate,
    default_card,
    finish_result,
    generate,
    has_output,
    intersect_profiles,
    member_achunks,
    member_chunks,
    member_kwargs,
    stamp_chunk,
    sticky_member,
)
from ._preference import coerce_preference, resolve_preference

__all__ = ["RouterChatModel"]

logger = logging.getLogger("prefroute.langchain")

_PROVIDER = "prefroute"


class RouterChatModel(BaseChatModel):
    """Chat model that sends each call to the pool member that best fits its preference.

    Setup:
        ``pip install prefroute``; members are any LangChain chat models. Build provider
        members with ``max_retries=0``: the router owns retries (its fallback to the next
        candidate is the retry), and warns about members that retry by themselves.

    Key init args (the same words as LlamaIndex's ``RouterLLM``):
        models: ``{key: chat model}``, the pool.
        pool: the model cards (prices, capabilities): a ``ModelPool``, a sequence of cards or
            ``{key: ModelCard}``; members without one get a zero-price card whose capabilities
            are read from the member. (``cards=`` is the deprecated spelling.)
        engine: a ready ``RoutingEngine`` over the same member keys; it cannot be combined with
            ``pool``, ``router``, ``encoder``, ``prior_quality`` or ``explore``.
        router: a fitted core router (``RidgeRouter``, ``BaRPRouter``...) or ``None`` for the
            engine's cold start (priors from card prices and ``prior_quality``).
        encoder: prompt encoder (default: cached all-MiniLM-L6-v2).
        default_preference: preference used when a call gives none (default: the engine's
            ``default_preference``).
        sticky: keep a conversation or tool loop on the member of the previous turn.
        fallback: on a provider error before any output, try the next candidate.
        task_key: where to read each call's task key from the run (off by default): one
            source or a list tried in order, ``"run_name"`` (the model run's own name),
            ``"tag:<prefix>"`` (the first run tag starting with ``<prefix>``, without it) or
            ``"metadata:<key>"`` (e.g. ``"metadata:langgraph_node"``). See below.

    Task key per call (first found wins; the engine learns a level per member and task, see
    docs/concepts.md): ``invoke(..., task=...)`` or ``.bind(task=...)``;
    ``config["configurable"]["router_task"]``; the ``task_key`` sources (only when set). It is
    recorded in ``Decision.task`` (``response_metadata["routing"]["task"]``) and the feedback
    store, so a rating teaches that task.

    Preference per call (first found wins): ``invoke(..., preference=...)`` or
    ``.bind(preference=...)``; ``config["configurable"]["router_preference"]`` (or
    ``["preference"]``); ``default_preference``; the engine's ``default_preference``. Values: a
    ``Preference``, a cost weight in [0, 1], a mapping with ``quality``/``cost``/``latency``
    keys, or ``"quality"``, ``"balanced"``, ``"cost"``.

    Response metadata: the member's own ``response_metadata`` and ``usage_metadata``, plus
    ``response_metadata["routing"]`` = ``Decision.to_dict()`` with ``"fallbacks"`` (members
    that failed first, ``[{"model", "error"}]``) and ``"sticky"``; ``"usage_estimated": True``
    when the member reported no usage and the router estimated it. Streams ask members that
    support it for their usage (``stream_usage=True``).

    Examples:
        >>> from shared import HashingEncoder, ModelCard
        >>> from langchain_router import RouterChatModel
        >>> from langchain_router.testing import FakeToolChatModel
        >>> router = RouterChatModel(
        ...     models={"big": FakeToolChatModel(model_name="big"),
        ...             "small": FakeToolChatModel(model_name="small")},
        ...     pool={"big": ModelCard("big", input_usd_per_1m=10, output_usd_per_1m=30),
        ...           "small": ModelCard("small", input_usd_per_1m=0.1, output_usd_per_1m=0.4)},
        ...     encoder=HashingEncoder(n_features=32), explore=False)
        >>> router.invoke("What is 2 + 2?", preference="quality").response_metadata["model_name"]
        'big'
        >>> msg = router.invoke("What is 2 + 2?", preference="cost")
        >>> msg.response_metadata["routing"]["model"], msg.usage_metadata["input_tokens"]
        ('small', 5)
    """

    models: dict[str, BaseChatModel]
    """The pool: member key -> chat model."""
    pool: Any = None
    """Model cards (a ``ModelPool``, a sequence or ``{key: ModelCard}``); missing members get
    zero-price cards."""
    router: BaseRouter | None = None
    """Core router; ``None`` starts the engine's cold-start router."""
    encoder: Any = None
    """A ``shared.PromptEncoder``; ``None`` uses ``shared.default_encoder()`` (loaded lazily)."""
    engine: RoutingEngine | None = None
    """A ready ``RoutingEngine`` over the same member keys; replaces pool/router/encoder."""
    default_preference: Preference | None = None
    """Preference of calls that give none; ``None``: the engine's ``default_preference``."""
    prior_quality: dict[str, float] | None = None
    """Cold-start prior quality in [0, 1] per member key."""
    explore: bool = True
    """Let a router configured to explore (UCB, Thompson, sampling policies) do so."""
    sticky: bool = True
    """Keep a conversation or tool loop on the member that answered the previous turn."""
    fallback: bool = True
    """On a member's provider error before any output, try the next candidate of the ranking."""
    task_key: str | list[str] | None = None
    """Run fields read as the call's task key: ``"run_name"``, ``"tag:<prefix>"``,
    ``"metadata:<key>"`` or a list of them; ``None`` (default): only explicit task keys."""
    streaming: bool = False
    """Use the streaming path for ``invoke`` too (as other chat models)."""
    model_name: str = "prefroute-router"
    """Name reported to tracing when no member is selected yet."""

    _engine: RoutingEngine = PrivateAttr()
    _aliases: dict[str, str] = PrivateAttr(default_factory=dict)
    _task_sources: tuple[str, ...] = PrivateAttr(default=())

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
        if "cards" in kwargs:
            warnings.warn(
                "RouterChatModel(cards=...) is deprecated; pass the cards as pool=.",
                DeprecationWarning,
                stacklevel=2,
            )
            cards = kwargs.pop("cards")
            if kwargs.get("pool") is None:
                kwargs["pool"] = cards
        if kwargs.get("default_preference") is not None:
            kwargs["default_preference"] = coerce_preference(kwargs["default_preference"])
        explore_given = "explore" in kwargs
        task_sources = parse_task_key(kwargs.get("task_key"))
        super().__init__(**kwargs)
        self._task_sources = task_sources
        self._engine = build_engine(
            list(self.models),
            engine=self.engine,
            pool=self.pool,
            default_card=lambda key: default_card(key, self.models[key]),
            default_preference=self.default_preference,
            router=self.router,
            encoder=self.encoder,
            prior_quality=self.prior_quality,
            explore=self.explore if explore_given else None,
        )
        self._aliases = {key: key for key in self.models}
        for key, member in self.models.items():
            for attr in ("model_name", "model"):
                name = getattr(member, attr, None)
                if isinstance(name, str) and name:
                    self._aliases.setdefault(name, key)
        warn_member_retries(self.models)
        self._bind_handlers()

    def _bind_handlers(self) -> None:
        """Bind the feedback handlers given in ``callbacks=`` that have no router yet."""
        from .callbacks import FeedbackCallbackHandler

        handlers = self.callbacks if isinstance(self.callbacks, list) else []
        for handler in handlers:
            if isinstance(handler, FeedbackCallbackHandler):
                handler.bind(self)

    def with_feedback(self, store: Any = None, **options: Any) -> RouterChatModel:
        """A copy of this router that records its calls and learns from their ratings.

        The copy shares the pool and engine; its :attr:`feedback` handler (a
        :class:`~langchain_router.FeedbackCallbackHandler` over ``store``, default an in-memory
        SQLite store; ``options`` are the handler's) is attached to every call.

        Examples:
            >>> from shared import HashingEncoder
            >>> from langchain_router import RouterChatModel
            >>> from langchain_router.testing import FakeToolChatModel
            >>> router = RouterChatModel(models={"a": FakeToolChatModel(model_name="a")},
            ...                          encoder=HashingEncoder(n_features=16)).with_feedback()
            >>> msg = router.invoke("hi")
            >>> router.feedback.rate(msg.id, 1.0)[0].model
            'a'
        """
        from .callbacks import FeedbackCallbackHandler

        handler = FeedbackCallbackHandler(store, router=self, **options)
        current = self.callbacks if isinstance(self.callbacks, list) else []
        if self.callbacks is not None and not isinstance(self.callbacks, list):
            raise InvalidParameterError(
                "with_feedback() needs callbacks= to be a list of handlers (or None)."
            )
        return self.model_copy(update={"callbacks": [*current, handler]})

    @property
    def feedback(self) -> Any:
        """The first ``FeedbackCallbackHandler`` in ``callbacks`` (see :meth:`with_feedback`)."""
        from .callbacks import FeedbackCallbackHandler

        handlers = self.callbacks if isinstance(self.callbacks, list) else []
        for handler in handlers:
            if isinstance(handler, FeedbackCallbackHandler):
                return handler
        return None

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
        default = self.default_preference or self._engine.default_preference
        return {
            "model_name": self.model_name,
            "models": list(self.models),
            "default_preference": default.as_dict(),
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
        preference: Preference | None,
        kwargs: Mapping[str, Any],
        *,
        structured: bool = False,
        task: str | None = None,
    ) -> Route:
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
            decision = self._engine.route(text, preference, allowed=[key], task=task, **needs)
        else:
            previous = sticky_member(messages, self.member_key) if self.sticky else None
            if previous is None:
                decision = self._engine.route(text, preference, task=task, **needs)
            else:  # pinned with propensity 1.0, other candidates as fallbacks (engine rule)
                decision, sticky = self._engine.route_sticky(
                    text, previous, preference, fallback=self.fallback, task=task, **needs
                )
        return Route(decision, sticky=sticky, engine=self._engine, prompt=text)

    def call_task(self, explicit: Any, config: RunnableConfig | None) -> str | None:
        """The task key of a call: ``explicit`` (the ``task=`` keyword), else
        ``config["configurable"]["router_task"]``, else the first :attr:`task_key` source found
        in the run's ``run_name``, ``tags`` or ``metadata``; ``None`` when there is none.

        Raises:
            InvalidParameterError: the value found is not a valid task key.

        Examples:
            >>> from langchain_router import RouterChatModel
            >>> from langchain_router.testing import FakeToolChatModel
            >>> router = RouterChatModel(models={"a": FakeToolChatModel(model_name="a")},
            ...                          task_key="tag:task:")
            >>> router.call_task(None, {"tags": ["seq:step:2", "task:summarize"]})
            'summarize'
        """
        cfg = ensure_config(config)
        return resolve_task(
            self._task_sources,
            explicit,
            (cfg.get("configurable") or {}).get(TASK_CONFIG_KEY),
            run_name=cfg.get("run_name"),
            tags=cfg.get("tags") or (),
            metadata=cfg.get("metadata") or {},
        )

    def _route_call(
        self, input: LanguageModelInput, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Resolve the preference and decide before the LLM run starts (public entry points)."""
        preference = resolve_preference(
            kwargs.pop("preference", None), ensure_config(config), self.default_preference
        )
        task = self.call_task(kwargs.pop("task", None), config)
        messages = self._convert_input(input).to_messages()
        structured = bool(
            kwargs.get("ls_structured_output_format") or kwargs.get("structured_output_format")
        )
        route = self._decide(messages, preference, kwargs, structured=structured, task=task)
        kwargs[DECISION_KEY] = route
        kwargs["model"] = route.decision.model
        return kwargs

    def _route_of(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Route:
        """The route passed by the entry points, or a new one (``generate()``)."""
        route = kwargs.pop(DECISION_KEY, None)
        preference = kwargs.pop("preference", None)
        task = kwargs.pop("task", None)
        if not isinstance(route, Route):
            pref = resolve_preference(preference, ensure_config(), self.default_preference)
            route = self._decide(messages, pref, kwargs, task=self.call_task(task, None))
        kwargs.pop("model", None)
        return route

    async def _aroute_of(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Route:
        """Async :meth:`_route_of`: a new decision is made off the event loop."""
        if isinstance(kwargs.get(DECISION_KEY), Route):
            return self._route_of(messages, kwargs)
        # encoding may take a while (MiniLM); to_thread copies the context (run config)
        return await asyncio.to_thread(self._route_of, messages, kwargs)

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

    def stream_events(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        version: Any = "v2",
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``BaseChatModel.stream_events``; ``version="v3"`` is routed here with the call's
        config (langchain-core's v3 path reaches ``_stream`` without it)."""
        if version == "v3":
            kwargs = self._route_call(input, config, kwargs)
        return super().stream_events(input, config, version=version, stop=stop, **kwargs)

    def astream_events(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        version: Any = "v2",
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async :meth:`stream_events` (v1/v2 events go through :meth:`astream`, routed)."""
        if version != "v3":
            return super().astream_events(input, config, version=version, stop=stop, **kwargs)
        parent = super().astream_events

        async def routed() -> Any:
            call = await asyncio.to_thread(self._route_call, input, config, kwargs)
            started: Awaitable[Any] = parent(input, config, version=version, stop=stop, **call)
            return await started

        return routed()

    # ------------------------------------------------------------------ delegation
    def _attempts(self, route: Route) -> Attempts:
        return route.attempts(fallback=self.fallback)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        route = self._route_of(messages, kwargs)
        attempts = self._attempts(route)
        result = attempts.run(
            lambda name: generate(
                self.models[name],
                messages,
                stop,
                run_manager,
                member_kwargs(self.models[name], kwargs),
            )
        )
        return finish_result(result, attempts, self._ls_identity(attempts), route.prompt)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        route = await self._aroute_of(messages, kwargs)
        attempts = self._attempts(route)
        result = await attempts.arun(
            lambda name: agenerate(
                self.models[name],
                messages,
                stop,
                run_manager,
                member_kwargs(self.models[name], kwargs),
            )
        )
        return finish_result(result, attempts, self._ls_identity(attempts), route.prompt)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        route = self._route_of(messages, kwargs)
        attempts = self._attempts(route)
        _, head, rest = attempts.stream(
            lambda name: member_chunks(
                self.models[name],
                messages,
                stop,
                run_manager,
                member_kwargs(self.models[name], kwargs),
            ),
            has_output=has_output,
        )
        usage = UsageTracker(route.prompt)
        stamp_chunk(head[0], attempts.routing(), self._ls_identity(attempts))
        for chunk in head:
            yield usage.see(chunk)
        for chunk in rest:
            yield usage.see(chunk)
        estimate = usage.estimate_chunk()
        if estimate is not None:
            yield estimate

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        route = await self._aroute_of(messages, kwargs)
        attempts = self._attempts(route)
        _, head, rest = await attempts.astream(
            lambda name: member_achunks(
                self.models[name],
                messages,
                stop,
                run_manager,
                member_kwargs(self.models[name], kwargs),
            ),
            has_output=has_output,
        )
        usage = UsageTracker(route.prompt)
        stamp_chunk(head[0], attempts.routing(), self._ls_identity(attempts))
        for chunk in head:
            yield usage.see(chunk)
        async for chunk in rest:
            yield usage.see(chunk)
        estimate = usage.estimate_chunk()
        if estimate is not None:
            yield estimate

    def _ls_identity(self, attempts: Attempts) -> dict[str, str]:
        """The tracing identity (model, provider) of the member that answered."""
        served = (attempts.served or attempts.decision).model
        params = self.models[served]._get_ls_params()
        return {
            "model": str(params.get("ls_model_name") or served),
            "provider": str(params.get("ls_provider") or _PROVIDER),
        }
