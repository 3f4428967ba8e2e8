"""Serving routed calls: everything a framework adapter does that is not framework glue.

Both adapters (LangChain's ``RouterChatModel``, LlamaIndex's ``RouterLLM``) and any third one call
these pieces, so the same engine serves, falls back, stamps and learns the same way through each:

* :func:`build_engine` / :func:`coerce_pool`: one constructor vocabulary (``models=`` members,
  ``pool=`` cards as a :class:`~shared.ModelPool`, a sequence or a mapping of cards), and
  ``engine=`` refused together with parts it would silently ignore;
* :func:`call_preference`: the default-preference rule (the first preference given, else the
  engine's ``default_preference``);
* :func:`parse_task_key` / :func:`resolve_task`: the opt-in task key of a call (an explicit
  value, else the run's name, a tag or a metadata value the caller chose);
* :func:`is_fallback_error`: which errors fall back to the next candidate (provider and transport
  failures) and which are re-raised at once (programming and caller errors);
* :class:`Attempts`: the fallback loop over ``Decision.ranking`` (one-shot calls and streams,
  sync and async), the failure list and the routing metadata layout (:func:`routing_metadata`);
* :func:`estimate_usage`: token counts for members that report none (marked as estimates);
* :class:`FeedbackRecorder`: record -> rate -> learn exactly once per rated decision, with bounded
  id maps (:class:`BoundedMap`), and :func:`warn_member_retries` (the router owns retries).

Examples:
    >>> from shared import Decision, Preference
    >>> from shared.serving import Attempts
    >>> d = Decision(model="a", models=("a", "b"), scores=(0.9, 0.1), propensity=1.0,
    ...              preference=Preference(), ranking=("a", "b"), decision_id="d1")
    >>> def call(name):
    ...     if name == "a":
    ...         raise TimeoutError("a is down")
    ...     return f"{name} answers"
    >>> attempts = Attempts(d)
    >>> attempts.run(call)
    'b answers'
    >>> attempts.routing()["model"], attempts.routing()["fallbacks"]
    ('b', [{'model': 'a', 'error': 'TimeoutError: a is down'}])
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._redact import error_text
from ._validation import check_task
from .decision import Decision
from .engine import RoutingEngine, estimate_tokens
from .exceptions import (
    AllCandidatesFailedError,
    EmptyStreamError,
    InvalidParameterError,
    RouterError,
    UnknownModelError,
)
from .pool import ModelCard, ModelPool
from .preference import PRESETS, Preference

if TYPE_CHECKING:
    from .feedback import DecisionRecord, FeedbackStore

__all__ = [
    "PRESETS",
    "TASK_CONFIG_KEY",
    "TASK_SOURCES",
    "Attempts",
    "BoundedMap",
    "FeedbackRecorder",
    "Outcome",
    "PoolLike",
    "RecorderViews",
    "Route",
    "build_engine",
    "call_preference",
    "coerce_pool",
    "estimate_usage",
    "is_fallback_error",
    "parse_task_key",
    "resolve_task",
    "routing_metadata",
    "warn_member_retries",
]

logger = logging.getLogger("prefroute.serving")

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")
V = TypeVar("V")

#: What ``pool=`` accepts: a pool, cards in order, or ``{member key: card}``.
PoolLike = ModelPool | Sequence[ModelCard] | Mapping[str, ModelCard]


# ---------------------------------------------------------------------------------- engine
def coerce_pool(pool: PoolLike) -> ModelPool:
    """A :class:`~shared.ModelPool` from a pool, a sequence of cards or ``{key: card}``.

    Raises:
        InvalidParameterError: not cards, or a mapping key that differs from its card's name.

    Examples:
        >>> from shared import ModelCard
        >>> from shared.serving import coerce_pool
        >>> coerce_pool({"a": ModelCard("a"), "b": ModelCard("b")}).names
        ('a', 'b')
    """
    if isinstance(pool, ModelPool):
        return pool
    if isinstance(pool, Mapping):
        for key, card in pool.items():
            if not isinstance(card, ModelCard):
                raise InvalidParameterError(
                    f"pool[{key!r}] must be a ModelCard, got {type(card).__name__}."
                )
            if card.name != key:
                raise InvalidParameterError(f"pool[{key!r}] is a card named {card.name!r}.")
        return ModelPool(pool.values())
    if isinstance(pool, str | bytes) or not isinstance(pool, Sequence):
        raise InvalidParameterError(
            "pool= takes a ModelPool, a sequence of ModelCards or a mapping {key: ModelCard}, "
            f"got {type(pool).__name__}."
        )
    for card in pool:
        if not isinstance(card, ModelCard):
            raise InvalidParameterError(f"pool= holds a {type(card).__name__}, not a ModelCard.")
    return ModelPool(pool)


def build_engine(
    keys: Sequence[str],
    *,
    engine: RoutingEngine | None = None,
    pool: PoolLike | None = None,
    default_card: Callable[[str], ModelCard],
    fix_card: Callable[[ModelCard], ModelCard] | None = None,
    default_preference: Any = None,
    **parts: Any,
) -> RoutingEngine:
    """The engine of an adapter over members ``keys``: ``engine`` checked, or a new one.

    Args:
        keys: the member keys, in the adapter's order.
        engine: a ready engine; its pool must name exactly ``keys``.
        pool: cards for some or all members (missing members get ``default_card(key)``).
        default_card: the card of a member without one (read from the member by the adapter).
        fix_card: applied to each given card (e.g. drop a tool claim the member cannot honour).
        default_preference: the preference of calls that give none (for a new engine).
        **parts: ``router``, ``encoder``, ``prior_quality``, ``explore``... passed to a new
            :class:`~shared.RoutingEngine`; ``None`` values count as not given.

    Raises:
        InvalidParameterError: ``engine`` together with ``pool`` or any part (it would ignore
            them), a pool that names other members, or an engine over other members.
        UnknownModelError: a card names no member.
    """
    given = {name: value for name, value in parts.items() if value is not None}
    if engine is not None:
        ignored = sorted([*given, *(["pool"] if pool is not None else [])])
        if ignored:
            raise InvalidParameterError(
                f"engine= already holds its pool, router and encoder; do not also pass "
                f"{', '.join(f'{n}=' for n in ignored)} (they would be ignored)."
            )
        if set(engine.pool.names) != set(keys):
            raise InvalidParameterError(
                f"The engine's pool {list(engine.pool.names)} must name exactly the members "
                f"{list(keys)}."
            )
        return engine
    cards = {} if pool is None else {card.name: card for card in coerce_pool(pool)}
    for name in cards:
        if name not in keys:
            raise UnknownModelError(name, list(keys))
    fix = fix_card or (lambda card: card)
    ordered = [fix(cards[key]) if key in cards else default_card(key) for key in keys]
    return RoutingEngine(ModelPool(ordered), default_preference=default_preference, **given)


def call_preference(*candidates: Any) -> Preference | None:
    """The preference of a call: the first candidate that is not ``None``, coerced.

    Adapters pass, in order, the call's explicit preference, the scoped ones (config, context,
    tags) and the adapter's own default; ``None`` means the engine's ``default_preference``
    (so one engine routes the same way through every adapter).

    Raises:
        PreferenceError: the first value found is invalid (never silently skipped).

    Examples:
        >>> from shared.serving import call_preference
        >>> call_preference(None, "cost", "quality").cost
        1.0
        >>> call_preference(None, None) is None
        True
    """
    for value in candidates:
        if value is not None:
            return Preference.coerce(value)
    return None


# ---------------------------------------------------------------------------------- task key
#: The explicit task key of a call: ``config["configurable"]["router_task"]`` in LangChain, the
#: ``"router_task"`` instrument tag in LlamaIndex.
TASK_CONFIG_KEY = "router_task"
#: The kinds of run field a ``task_key=`` source may name (``"run_name"``, ``"tag:<prefix>"``,
#: ``"metadata:<key>"``).
TASK_SOURCES = ("run_name", "tag", "metadata")


def parse_task_key(
    spec: str | Sequence[str] | None, *, kinds: Sequence[str] = TASK_SOURCES
) -> tuple[str, ...]:
    """The sources of an adapter's ``task_key=`` option, checked (``()``: off, the default).

    A source is ``"run_name"`` (the run's name), ``"tag:<prefix>"`` (the first tag starting
    with ``<prefix>``, without it; with tags given as a mapping, as LlamaIndex's instrument
    tags are, the value under the key ``<prefix>``) or ``"metadata:<key>"`` (the run's
    metadata value under ``<key>``); several sources are tried in order.

    Raises:
        InvalidParameterError: not a string or a sequence of strings, an unknown kind (or one
            outside ``kinds``), or an empty prefix or key.

    Examples:
        >>> from shared.serving import parse_task_key
        >>> parse_task_key(["metadata:langgraph_node", "run_name"])
        ('metadata:langgraph_node', 'run_name')
        >>> parse_task_key(None)
        ()
    """
    if spec is None:
        return ()
    sources = [spec] if isinstance(spec, str) else spec
    if isinstance(sources, bytes) or not isinstance(sources, Sequence) or not sources:
        raise InvalidParameterError(
            "task_key= takes a source string or a non-empty list of them "
            f"('run_name', 'tag:<prefix>', 'metadata:<key>'), got {spec!r}."
        )
    out = []
    for source in sources:
        if not isinstance(source, str):
            raise InvalidParameterError(f"A task_key source must be a string, got {source!r}.")
        kind, sep, rest = source.partition(":")
        named = not sep if kind == "run_name" else bool(rest)
        if kind not in kinds or not named:
            forms = ", ".join(
                "'run_name'" if k == "run_name" else f"'{k}:<{'prefix' if k == 'tag' else 'key'}>'"
                for k in kinds
            )
            raise InvalidParameterError(
                f"Unknown task_key source {source!r}; the sources are {forms}."
            )
        out.append(source)
    return tuple(out)


def resolve_task(
    sources: Sequence[str],
    *explicit: Any,
    run_name: Any = None,
    tags: Iterable[Any] | Mapping[str, Any] = (),
    metadata: Mapping[str, Any] | None = None,
) -> str | None:
    """The task key of one call: the first ``explicit`` value that is not ``None``, else the
    first of ``sources`` (see :func:`parse_task_key`) found in the run's fields, else ``None``.

    Args:
        sources: the adapter's parsed ``task_key`` (``()``: only explicit values count).
        *explicit: values the caller set for this call, in order of precedence (a keyword
            argument, ``config["configurable"]["router_task"]``, an instrument tag...).
        run_name: the run's name.
        tags: the run's tags (strings), or a mapping of tags.
        metadata: the run's metadata.

    Raises:
        InvalidParameterError: the value found is not a valid task key (never silently
            skipped; see :func:`shared._validation.check_task`).

    Examples:
        >>> from shared.serving import resolve_task
        >>> resolve_task(("tag:task:",), tags=["seq:step:2", "task:summarize"])
        'summarize'
        >>> resolve_task(("run_name",), "explicit", run_name="my_chain")
        'explicit'
        >>> resolve_task((), run_name="my_chain") is None
        True
    """
    for value in explicit:
        if value is not None:
            return check_task(value, "the call's task")
    for source in sources:
        kind, _, rest = source.partition(":")
        found: Any = None
        if kind == "run_name":
            found = run_name
        elif kind == "metadata":
            found = (metadata or {}).get(rest)
        elif isinstance(tags, Mapping):
            found = tags.get(rest)
        else:
            found = next(
                (t[len(rest) :] for t in tags if isinstance(t, str) and t.startswith(rest)), None
            )
        if found is not None:
            return check_task(found, f"the task key from {source!r}")
    return None


# ---------------------------------------------------------------------------------- errors
#: Builtin errors that mean a bug or a wrong call, never a provider failure.
_CALLER_ERRORS: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,
    ImportError,
    NotImplementedError,
    AssertionError,
    SyntaxError,
    RecursionError,
)
#: Packages whose exceptions are provider or transport failures.
_PROVIDER_PACKAGES = frozenset(
    {
        "openai",
        "anthropic",
        "httpx",
        "httpcore",
        "requests",
        "urllib3",
        "aiohttp",
        "groq",
        "mistralai",
        "cohere",
        "botocore",
        "google",
        "litellm",
        "ollama",
    }
)


def _from_provider_package(err: BaseException) -> bool:
    return any(cls.__module__.split(".", 1)[0] in _PROVIDER_PACKAGES for cls in type(err).__mro__)


def is_fallback_error(err: BaseException) -> bool:
    """Whether ``err`` from a member should make the router try the next candidate.

    Provider and transport failures fall back: HTTP status errors, rate limits, timeouts,
    connection errors (``OSError``), malformed responses (``json.JSONDecodeError``), empty
    streams (:class:`~shared.EmptyStreamError`), and any exception of a provider SDK or HTTP
    client (``openai``, ``anthropic``, ``httpx``...) or carrying an HTTP ``status_code``.
    Programming and caller errors are re-raised at once: ``TypeError`` (a wrong keyword),
    ``AttributeError``, ``NameError``, ``ImportError``, ``NotImplementedError``,
    ``AssertionError``, and prefroute's own errors (a bad preference...). Other exceptions
    (``RuntimeError``, ``ValueError``, or the ``IndexError``/``KeyError`` an integration raises on
    a malformed response) fall back.

    Examples:
        >>> import json
        >>> from shared.serving import is_fallback_error
        >>> is_fallback_error(TimeoutError()), is_fallback_error(json.JSONDecodeError("x", "", 0))
        (True, True)
        >>> is_fallback_error(TypeError("unexpected keyword 'temprature'"))
        False
    """
    if not isinstance(err, Exception):
        return False  # KeyboardInterrupt, SystemExit, GeneratorExit, CancelledError
    if isinstance(err, EmptyStreamError | OSError | json.JSONDecodeError):
        return True
    if _from_provider_package(err):
        return True
    if isinstance(getattr(err, "status_code", None), int):
        return True
    return not isinstance(err, (*_CALLER_ERRORS, RouterError))


# ---------------------------------------------------------------------------------- fallback
def routing_metadata(
    decision: Decision, *, sticky: bool = False, failures: Sequence[tuple[str, BaseException]] = ()
) -> dict[str, Any]:
    """What answers carry as their routing metadata (the same layout in every adapter).

    ``Decision.to_dict()`` of the decision that answered (a fallback's decision after a
    failure), plus ``"sticky"`` (pinned to the member of the previous turn) and ``"fallbacks"``
    (the members that failed first, ``[{"model", "error"}]``).
    """
    return {
        **decision.to_dict(),
        "sticky": bool(sticky),
        "fallbacks": [{"model": name, "error": error_text(e)} for name, e in failures],
    }


class Attempts:
    """Serve one decision: call candidates of ``decision.ranking`` in order until one answers.

    A member that raises a fallback error (:func:`is_fallback_error`) before producing output
    (for a stream: before its first chunk with output; a stream with none is an
    :class:`~shared.EmptyStreamError`) is replaced by the next candidate; any other error, or
    any error with ``fallback=False``, propagates at once. When every candidate failed,
    :class:`~shared.AllCandidatesFailedError` is raised (from the last error).

    Args:
        decision: the routing decision.
        sticky: whether the decision pins the member of the previous turn (for the metadata).
        fallback: try the next candidates; ``False`` calls only the chosen member.
        scope: context entered around each member call (e.g. instrument tags naming it).
        on_failure: called with ``(index, name, error)`` after a member failed.

    Attributes:
        failures: ``(member, error)`` of the members that failed, in order.
        served: the decision that answered (``decision.with_model(fallback)`` after a failure).
    """

    def __init__(
        self,
        decision: Decision,
        *,
        sticky: bool = False,
        fallback: bool = True,
        scope: Callable[[str], AbstractContextManager[Any]] | None = None,
        on_failure: Callable[[int, str, BaseException], None] | None = None,
    ) -> None:
        self.decision = decision
        self.sticky = sticky
        self.fallback = fallback
        self._scope = scope or (lambda _name: nullcontext())
        self._on_failure = on_failure
        self.failures: list[tuple[str, BaseException]] = []
        self.served: Decision | None = None

    @property
    def candidates(self) -> tuple[str, ...]:
        """The members that may be called, in order."""
        ranking = self.decision.ranking
        return ranking if self.fallback else ranking[:1]

    def scope(self, name: str) -> AbstractContextManager[Any]:
        """The context a call of member ``name`` runs in."""
        return self._scope(name)

    def routing(self) -> dict[str, Any]:
        """The routing metadata of the answer (see :func:`routing_metadata`)."""
        return routing_metadata(
            self.served or self.decision, sticky=self.sticky, failures=self.failures
        )

    def _failed(self, index: int, name: str, err: Exception) -> None:
        if not self.fallback or not is_fallback_error(err):
            raise err
        self.failures.append((name, err))
        logger.warning("member %r failed (%s); trying the next candidate", name, error_text(err))
        if self._on_failure is not None:
            self._on_failure(index, name, err)

    def _succeeded(self, name: str) -> None:
        d = self.decision
        self.served = d if name == d.model else d.with_model(name)

    def _all_failed(self) -> AllCandidatesFailedError:
        error = AllCandidatesFailedError(dict(self.failures))
        error.__cause__ = self.failures[-1][1] if self.failures else None
        return error

    def run(self, call: Callable[[str], R]) -> R:
        """``call(member)`` for each candidate in order until one returns."""
        for index, name in enumerate(self.candidates):
            try:
                with self.scope(name):
                    result = call(name)
            except Exception as err:
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return result
        raise self._all_failed()

    async def arun(self, call: Callable[[str], Awaitable[R]]) -> R:
        """Async :meth:`run`."""
        for index, name in enumerate(self.candidates):
            try:
                with self.scope(name):
                    result = await call(name)
            except Exception as err:
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return result
        raise self._all_failed()

    def stream(
        self, call: Callable[[str], Iterable[T]], *, has_output: Callable[[T], bool] | None = None
    ) -> tuple[str, list[T], Iterator[T]]:
        """Start ``call(member)`` and pull chunks until one carries output, falling back until a
        member streams some.

        Providers often open a stream with chunks that carry no output (OpenAI's role chunk);
        with ``has_output``, those are held back with the first chunk that does, so a member
        that fails after them still falls back. A stream that ends before any output is an
        :class:`~shared.EmptyStreamError`.

        Returns:
            ``(member, head, rest)``: the chunks pulled so far (ending with the first output
            chunk) and the iterator over the others.
        """
        for index, name in enumerate(self.candidates):
            head: list[T] = []
            try:
                with self.scope(name):
                    iterator = iter(call(name))
                    for chunk in iterator:
                        head.append(chunk)
                        if has_output is None or has_output(chunk):
                            break
                    else:
                        raise EmptyStreamError(f"{name!r} streamed no output")
            except Exception as err:
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return name, head, iterator
        raise self._all_failed()

    async def astream(
        self,
        call: Callable[[str], Awaitable[AsyncIterator[T]] | AsyncIterator[T]],
        *,
        has_output: Callable[[T], bool] | None = None,
    ) -> tuple[str, list[T], AsyncIterator[T]]:
        """Async :meth:`stream`; ``call`` returns an async iterator or an awaitable of one."""
        for index, name in enumerate(self.candidates):
            head: list[T] = []
            try:
                with self.scope(name):
                    started = call(name)
                    iterator: AsyncIterator[T] = (
                        started if isinstance(started, AsyncIterator) else await started
                    )
                    async for chunk in iterator:
                        head.append(chunk)
                        if has_output is None or has_output(chunk):
                            break
                    else:
                        raise EmptyStreamError(f"{name!r} streamed no output")
            except Exception as err:
                self._failed(index, name, err)
                continue
            self._succeeded(name)
            return name, head, iterator
        raise self._all_failed()


# ---------------------------------------------------------------------------------- usage
def estimate_usage(prompt: str, answer: str) -> tuple[int, int]:
    """Estimated ``(input_tokens, output_tokens)`` of a call whose member reported none.

    Adapters mark the numbers as estimates (``usage_estimated`` in the routing metadata and in
    the feedback record's metadata).

    Examples:
        >>> from shared.serving import estimate_usage
        >>> estimate_usage("What is 2 + 2?", "4")
        (4, 1)
    """
    return estimate_tokens(prompt), estimate_tokens(answer)


def warn_member_retries(members: Mapping[str, Any]) -> list[str]:
    """Warn about members that retry by themselves before the router can fall back.

    The router owns retries: a member such as ``ChatOpenAI`` (``max_retries=2`` by default)
    sends three requests to a failing provider before the router tries the next candidate.
    Build members with ``max_retries=0``; the router's fallback is the retry.

    Returns:
        The keys of the members with ``max_retries > 0``.
    """
    retrying = []
    for key, member in members.items():
        retries = getattr(member, "max_retries", None)
        if isinstance(retries, int) and not isinstance(retries, bool) and retries > 0:
            retrying.append(key)
    if retrying:
        logger.warning(
            "members %s retry failed requests themselves (max_retries > 0) before the router "
            "can fall back; build them with max_retries=0 and let the router own retries",
            retrying,
        )
    return retrying


# ---------------------------------------------------------------------------------- feedback
class BoundedMap(Generic[K, V]):
    """A thread-safe mapping that keeps the ``maxsize`` most recently used keys.

    Examples:
        >>> from shared.serving import BoundedMap
        >>> m = BoundedMap(maxsize=2)
        >>> m["a"], m["b"], m["c"] = 1, 2, 3
        >>> len(m), m.get("a"), m.get("c")
        (2, None, 3)
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise InvalidParameterError(f"maxsize must be a positive integer, got {maxsize!r}.")
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def setdefault(self, key: K, default: V) -> V:
        """The value of ``key`` (refreshed as recent), inserting ``default`` if missing."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            self._data[key] = default
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
            return default

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value of ``key``, else ``default``."""
        with self._lock:
            return self._data.get(key, default)

    def pop(self, key: K, default: V | None = None) -> V | None:
        """Remove ``key`` and return its value, else ``default``."""
        with self._lock:
            return self._data.pop(key, default)

    def add_new(self, key: K, value: V) -> bool:
        """Insert ``key`` only if missing; ``True`` when it was inserted (an atomic claim)."""
        with self._lock:
            if key in self._data:
                return False
            self._data[key] = value
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
            return True

    def keys(self) -> list[K]:
        """The keys, oldest first."""
        with self._lock:
            return list(self._data)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class RecordLearner(Protocol):
    """Anything that learns from one rated record (e.g. ``shared.OnlineLearner``)."""

    def learn(self, record: DecisionRecord) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    """What a routed call produced, as the feedback store keeps it.

    Attributes:
        model: the member that answered (``None`` when every member failed).
        input_tokens: prompt tokens (reported by the member, or estimated).
        output_tokens: completion tokens (reported, or estimated).
        usage_estimated: whether the token counts are prefroute's estimates.
        latency_s: wall time of the call in seconds.
        error: the error text when every member failed.
        fallbacks: the members that failed first, ``[{"model", "error"}]``.
    """

    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_estimated: bool = False
    latency_s: float | None = None
    error: str | None = None
    fallbacks: Sequence[Mapping[str, str]] = field(default_factory=tuple)


class FeedbackRecorder:
    """Record routed calls, take ratings, learn exactly once per rated decision.

    The one record path of every adapter's feedback handler (:meth:`record`), the ids ratings
    may use besides run and decision ids (:meth:`alias`, bounded), and :meth:`rate`, which
    stores a rating and then lets the engine (or ``learner``) learn from each decision once,
    however often the rating is re-sent.

    Args:
        store: where decisions, outcomes and ratings go; default: an in-memory SQLite store.
        engine: prices calls from its cards and learns from ratings; may be bound later
            (:meth:`bind`), e.g. by the first routed call a handler sees.
        learn: learn online from ratings.
        learner: learns from rated records instead of the engine (``shared.OnlineLearner``).
        max_tracked: how many aliases and learned decision ids are kept in memory.

    Examples:
        >>> from shared import Decision, Preference
        >>> from shared.serving import FeedbackRecorder, Outcome
        >>> recorder = FeedbackRecorder()
        >>> d = Decision(model="a", models=("a",), scores=(1.0,), propensity=1.0,
        ...              preference=Preference(), ranking=("a",), decision_id="d1")
        >>> _ = recorder.record(d, prompt="hi", outcome=Outcome(model="a", input_tokens=1),
        ...                     aliases=["req-1"])
        >>> [r.decision_id for r in recorder.rate("req-1", 0.5)]
        ['d1']
    """

    def __init__(
        self,
        store: FeedbackStore | None = None,
        *,
        engine: RoutingEngine | None = None,
        learn: bool = True,
        learner: RecordLearner | None = None,
        max_tracked: int = 100_000,
    ) -> None:
        if store is None:
            from .feedback import FeedbackStore

            store = FeedbackStore("sqlite://")
        self.store = store
        self.engine = engine
        self.learn = learn
        self.learner = learner
        self.max_tracked = max_tracked
        self._aliases: BoundedMap[str, list[str]] = BoundedMap(max_tracked)
        self._learned: BoundedMap[str, None] = BoundedMap(max_tracked)
        self._cannot_learn = False
        self._bind_lock = threading.Lock()

    def bind(self, engine: RoutingEngine) -> bool:
        """Use ``engine`` if none is bound yet; ``True`` when it is (now) the bound engine."""
        with self._bind_lock:
            if self.engine is None:
                self.engine = engine
            return self.engine is engine

    # ------------------------------------------------------------------ recording
    def record(
        self,
        decision: Decision,
        *,
        run_id: object = None,
        prompt: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        outcome: Outcome | None = None,
        aliases: Iterable[object] = (),
    ) -> DecisionRecord:
        """Store one routed call: its decision (the router's choice) and its outcome.

        ``decision`` may be the one that answered after a fallback: the stored decision is the
        router's choice (the first failed member), the outcome names the member that answered.
        The cost is priced from the bound engine's cards. ``aliases`` (request ids, root run ids)
        become keys :meth:`rate` accepts. Recording the same decision again only adds what is
        missing (the store is idempotent on the decision id).
        """
        chosen = decision
        meta = dict(metadata or {})
        if outcome is not None:
            if outcome.fallbacks:
                chosen = decision.with_model(str(outcome.fallbacks[0]["model"]))
                meta["fallbacks"] = [dict(f) for f in outcome.fallbacks]
            if outcome.usage_estimated:
                meta["usage_estimated"] = True
        record = self.store.record_decision(
            chosen, run_id=run_id, prompt=prompt, metadata=meta or None
        )
        key = record.decision_id
        if outcome is not None:
            cost = None
            answered = outcome.model
            if (
                self.engine is not None
                and answered is not None
                and answered in self.engine.pool
                and (outcome.input_tokens is not None or outcome.output_tokens is not None)
            ):
                cost = self.engine.estimate_cost(
                    answered, outcome.input_tokens or 0, outcome.output_tokens or 0
                )
            record = self.store.record_outcome(  # only the fields given (not None) are written
                key,
                model=answered,
                input_tokens=outcome.input_tokens,
                output_tokens=outcome.output_tokens,
                cost_usd=cost,
                latency_s=outcome.latency_s,
                error=outcome.error,
            )
        for alias in aliases:
            self.alias(alias, key)
        return record

    def alias(self, alias: object, key: str) -> None:
        """Let ratings of ``alias`` (a request id, a root run id...) reach decision ``key``."""
        keys = self._aliases.setdefault(str(alias), [])
        if key not in keys:
            keys.append(key)

    def keys(self, key: object) -> list[str]:
        """The decision keys ``key`` refers to: its aliased decisions, else ``[str(key)]``."""
        known = self._aliases.get(str(key))
        return list(known) if known else [str(key)]

    # ------------------------------------------------------------------ ratings
    def rate(
        self,
        keys: object | Sequence[object],
        score: float,
        *,
        source: str = "user",
        comment: str | None = None,
        learn: bool | None = None,
    ) -> list[DecisionRecord]:
        """Rate the decisions ``keys`` refers to, then learn from each once.

        Args:
            keys: a key or a list of keys (run ids, decision ids, aliases).
            score: quality of the answer in [0, 1].
            source: who rated (one rating per decision and source; the later value wins).
            comment: free text kept with the rating.
            learn: override the recorder's ``learn`` for this rating.

        Raises:
            UnknownDecisionError: a key names no recorded decision.
            FeedbackError: invalid score, source or comment (nothing is written).
        """
        targets: list[str] = []
        for key in keys if isinstance(keys, list | tuple) else [keys]:
            targets.extend(k for k in self.keys(key) if k not in targets)
        records = [self.store.rate(key, score, source=source, comment=comment) for key in targets]
        if self.learn if learn is None else learn:
            for record in records:
                self.learn_once(record)
        return records

    def learn_once(self, record: DecisionRecord) -> bool:
        """Learn from a rated record unless its decision was learned from already.

        Returns:
            Whether the record was learned from now.
        """
        if record.prompt is None or record.score is None:
            return False
        if self.learner is None and (self.engine is None or self._cannot_learn):
            return False
        if not self._learned.add_new(record.decision_id, None):  # claimed: concurrent ratings
            return False
        try:
            if self.learner is not None:
                self.learner.learn(record)
            elif self.engine is not None:
                self.engine.learn_record(record)
        except InvalidParameterError as err:
            self._learned.pop(record.decision_id)
            self._cannot_learn = self.learner is None
            logger.warning("ratings are stored but not learned online: %s", err)
            return False
        except BaseException:
            self._learned.pop(record.decision_id)
            raise
        return True

    def learned(self) -> list[str]:
        """Decision ids learned from so far (each decision is learned from once)."""
        return sorted(self._learned.keys())


class RecorderViews:
    """The read-only views a feedback handler exposes over its :class:`FeedbackRecorder`
    (``self.recorder``): the store, the bound engine and the ``learn`` switch."""

    recorder: FeedbackRecorder

    @property
    def store(self) -> FeedbackStore:
        """The feedback store."""
        return self.recorder.store

    @property
    def engine(self) -> RoutingEngine | None:
        """The engine that prices calls and learns from ratings (``None`` until bound)."""
        return self.recorder.engine

    @property
    def learn(self) -> bool:
        """Whether ratings are learned from online."""
        return self.recorder.learn


class Route:
    """One routed call as it travels from an adapter's entry point to its member and handlers.

    Carries the :class:`~shared.Decision` as an object (never rebuilt from a dict), whether it is
    sticky, the engine that decided (so a feedback handler given without one binds to it on first
    use) and the text the decision was made on.
    """

    __slots__ = ("decision", "engine", "prompt", "sticky")

    def __init__(
        self,
        decision: Decision,
        *,
        sticky: bool = False,
        engine: RoutingEngine | None = None,
        prompt: str | None = None,
    ) -> None:
        self.decision = decision
        self.sticky = sticky
        self.engine = engine
        self.prompt = prompt

    def attempts(self, **options: Any) -> Attempts:
        """An :class:`Attempts` loop serving this route."""
        return Attempts(self.decision, sticky=self.sticky, **options)

    def to_dict(self) -> dict[str, Any]:
        """The routing metadata of the chosen member (tracing serializes a route with this)."""
        return routing_metadata(self.decision, sticky=self.sticky)

    def __repr__(self) -> str:
        return f"Route({self.decision.model!r}, decision_id={self.decision.decision_id!r})"
