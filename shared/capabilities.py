"""What a router can learn from, declared as mixins and checked with ``isinstance``.

A router class lists its capabilities among its bases, before :class:`~shared.BaseRouter`::

    class RidgeRouter(FitsTable, FitsBandit, ColdStartsFromPriors, LearnsOnline, Persists,
                      BaseRouter): ...

Each mixin makes its method abstract, so a class that declares a capability without implementing
it cannot be instantiated, and code that needs a capability asks ``isinstance(router, FitsBandit)``
instead of probing for methods:

* :class:`FitsTable`: ``fit(X, quality, cost, *, models)`` on a full-information table.
* :class:`FitsLabels`: ``fit(X, labels, *, experts)`` on prompts labelled with their best model.
* :class:`FitsBandit`: ``fit_bandit(X, chosen, quality, cost, propensity, *, models, ...)`` on a
  bandit log (validated as a :class:`~shared.BanditLog`).
* :class:`ColdStarts`: ``initialize(models, n_features)``: a usable router before any data.
* :class:`ColdStartsFromPriors`: the same, starting from per-model prior quality and cost.
* :class:`LearnsOnline`: ``update(x, model, quality, cost, *, propensity, preference)``.
* :class:`Persists`: ``save`` / :func:`~shared.load_router` round trips.
* :class:`LearnsLatency`: its ``fit`` / ``fit_bandit`` / ``update`` take ``latency=`` (seconds)
  and its ``initialize`` ``prior_latency=``; once it has latencies it scores a preference's
  latency weight (:attr:`~shared.BaseRouter.predicts_latency`). Any other router refuses a
  latency weight with :class:`~shared.ObjectiveError`.
* :class:`LearnsTasks`: its ``fit`` / ``fit_bandit`` take ``tasks=`` and its ``update``
  ``task=`` (a task key per outcome), and its decisions add the learned level of the task given
  to ``decide(..., task=)``. Other routers record a decision's task but do not use it.

:func:`ensure_ready` is the one place that turns "a router" into "a router that can decide now"
(cold-starting it when it can, with the pool's priors when it takes them); the engine, the
online learner, the bandit simulation and the CLI all call it.

Examples:
    >>> from shared import BaRPRouter, RidgeRouter, RandomRouter
    >>> from shared.capabilities import ColdStartsFromPriors, FitsBandit, ensure_ready
    >>> isinstance(RidgeRouter(), ColdStartsFromPriors), isinstance(RandomRouter(), FitsBandit)
    (True, False)
    >>> ensure_ready(RidgeRouter(), ["a", "b"], 3, prior_quality={"a": 0.9}).models_
    ['a', 'b']
    >>> ensure_ready(BaRPRouter(), ["a", "b"], 3, online=True).is_fitted
    True
    >>> ensure_ready(RandomRouter(), ["a", "b"], 3)
    Traceback (most recent call last):
    ...
    shared.exceptions.NotFittedError: RandomRouter is not fitted and has no cold start (it is not ColdStarts); fit it first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeVar

from numpy.typing import ArrayLike, NDArray

from .exceptions import CapabilityError, NotFittedError
from .preference import PreferenceLike

if TYPE_CHECKING:
    from ._base import BaseRouter

__all__ = [
    "CAPABILITIES",
    "ColdStarts",
    "ColdStartsFromPriors",
    "FitsBandit",
    "FitsLabels",
    "FitsTable",
    "LearnsLatency",
    "LearnsOnline",
    "LearnsTasks",
    "Persists",
    "capabilities_of",
    "ensure_ready",
    "latency_kwargs",
    "require",
    "task_kwargs",
]

PerModel = float | Sequence[float] | Mapping[str, float] | None
R = TypeVar("R", bound="BaseRouter")


class FitsTable(ABC):
    """Learns from a full-information table: every model's outcome on each prompt."""

    @abstractmethod
    def fit(
        self, X: ArrayLike, quality: ArrayLike, cost: ArrayLike | None, *, models: Sequence[str]
    ) -> Self:
        """Fit on ``(n, K)`` quality and cost (NaN = not observed) for the prompts ``X``."""


class FitsLabels(ABC):
    """Learns from prompts labelled with the model (expert) that should answer them."""

    @abstractmethod
    def fit(
        self, X: Any, experts_labels: Sequence[str], *, experts: Sequence[str] | None = None
    ) -> Self:
        """Fit on the expert label of each prompt."""


class FitsBandit(ABC):
    """Learns from a bandit log: one chosen model per prompt, with its outcome and propensity."""

    @abstractmethod
    def fit_bandit(
        self,
        X: ArrayLike,
        chosen: Sequence[str],
        quality: ArrayLike,
        cost: ArrayLike | None,
        propensity: ArrayLike,
        *,
        models: Sequence[str],
        preferences: ArrayLike | None = None,
    ) -> Self:
        """Fit on the log ``(X[i], chosen[i], quality[i], cost[i], propensity[i])``."""


class ColdStarts(ABC):
    """Can start with no data: ``initialize(models, n_features)`` gives a router that decides."""

    @abstractmethod
    def initialize(self, models: Sequence[str], n_features: int) -> Self:
        """Start from nothing for ``models`` and embeddings of width ``n_features``."""


class ColdStartsFromPriors(ColdStarts):
    """Cold start that begins from per-model prior quality and cost (e.g. the pool's cards)."""

    @abstractmethod
    def initialize(
        self,
        models: Sequence[str],
        n_features: int,
        *,
        prior_quality: PerModel = None,
        prior_cost: PerModel = None,
    ) -> Self:
        """Start from the priors: predictions equal them until data arrives."""


class LearnsOnline(ABC):
    """Learns one rated outcome at a time."""

    @abstractmethod
    def update(
        self,
        x: ArrayLike,
        model: str,
        quality: float,
        cost: float | None = None,
        *,
        propensity: float = 1.0,
        preference: PreferenceLike | None = None,
    ) -> Self:
        """Learn from one rated outcome of ``model`` on the prompt embedding ``x``."""


class LearnsLatency(ABC):
    """Learns latency as a third objective (seconds per call), beside quality and cost.

    Its ``fit`` / ``fit_bandit`` / ``update`` accept ``latency=`` and its ``initialize``
    ``prior_latency=``; :attr:`predicts_latency` is true once it has seen latencies or a prior,
    and only then does it score a preference's latency weight (else
    :class:`~shared.ObjectiveError`).
    """

    @property
    @abstractmethod
    def predicts_latency(self) -> bool:
        """Whether latencies (observed or prior) were learned."""


class LearnsTasks(ABC):
    """Learns a level per (model, task key) between the member level and the prompt level.

    Its ``update`` accepts ``task=``, its ``fit`` / ``fit_bandit`` ``tasks=`` (one key or
    ``None`` per row); :attr:`tasks_` lists the keys learned. A decision for a task never learned
    (or for no task) is made at the member level.
    """

    @property
    @abstractmethod
    def tasks_(self) -> list[str]:
        """The task keys learned so far."""


class Persists(ABC):
    """Saves its learned state as JSON + arrays (see :mod:`shared.persistence`)."""

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """Learned state as (JSON-able metadata, named arrays)."""

    @abstractmethod
    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        """Restore what :meth:`_get_state` returned."""


#: Every capability mixin, in the order they are listed in docs and reports.
CAPABILITIES: tuple[type, ...] = (
    FitsTable,
    FitsLabels,
    FitsBandit,
    ColdStarts,
    ColdStartsFromPriors,
    LearnsOnline,
    LearnsLatency,
    LearnsTasks,
    Persists,
)


def capabilities_of(router: object | type) -> tuple[str, ...]:
    """Names of the capabilities a router (instance or class) declares.

    Examples:
        >>> from shared import KNNRouter
        >>> capabilities_of(KNNRouter)
        ('FitsTable', 'LearnsLatency', 'Persists')
    """
    cls = router if isinstance(router, type) else type(router)
    return tuple(c.__name__ for c in CAPABILITIES if issubclass(cls, c))


def require(router: object, capability: type, doing: str) -> None:
    """Raise :class:`~shared.CapabilityError` unless ``router`` declares ``capability``.

    Args:
        router: the router.
        capability: one of :data:`CAPABILITIES`.
        doing: what the caller wanted, for the message (e.g. ``"learn online"``).
    """
    if not isinstance(router, capability):
        raise CapabilityError(
            f"{type(router).__name__} cannot {doing}: it is not {capability.__name__} "
            f"(it declares {', '.join(capabilities_of(router)) or 'no capability'})."
        )


def latency_kwargs(router: object, latency: Any, name: str = "latency") -> dict[str, Any]:
    """``{name: latency}`` for a :class:`LearnsLatency` router and a latency that is not
    ``None``, else ``{}``: the keyword to add to ``fit`` / ``fit_bandit`` / ``update``.

    Examples:
        >>> from shared import BaRPRouter, RidgeRouter
        >>> latency_kwargs(RidgeRouter(), 0.4), latency_kwargs(BaRPRouter(), 0.4)
        ({'latency': 0.4}, {})
    """
    return {name: latency} if latency is not None and isinstance(router, LearnsLatency) else {}


def task_kwargs(router: object, task: str | None, name: str = "task") -> dict[str, Any]:
    """``{name: task}`` for a :class:`LearnsTasks` router and a task that is not ``None``, else
    ``{}``: the keyword to add to ``update`` (``name="tasks"`` for ``fit`` / ``fit_bandit``).

    Examples:
        >>> from shared import BaRPRouter, RidgeRouter
        >>> task_kwargs(RidgeRouter(), "summarize"), task_kwargs(BaRPRouter(), "summarize")
        ({'task': 'summarize'}, {})
    """
    return {name: task} if task is not None and isinstance(router, LearnsTasks) else {}


def ensure_ready(
    router: R,
    models: Sequence[str],
    n_features: int,
    *,
    prior_quality: PerModel = None,
    prior_cost: PerModel = None,
    prior_latency: PerModel = None,
    online: bool = False,
) -> R:
    """Return ``router`` ready to decide: as it is when fitted, else cold-started.

    A :class:`ColdStartsFromPriors` router starts from the priors; a :class:`ColdStarts` one
    from nothing (the priors are not used).

    Args:
        router: the router (changed in place when it is cold-started).
        models: the pool's model names (used only for a cold start).
        n_features: the embedding width (used only for a cold start).
        prior_quality: per-model prior quality for a cold start from priors.
        prior_cost: per-model prior cost for a cold start from priors.
        prior_latency: per-model prior latency (seconds), used by a :class:`LearnsLatency`
            router's cold start from priors.
        online: also require :class:`LearnsOnline` (the caller will ``update`` it).

    Raises:
        CapabilityError: ``online`` and the router cannot learn online.
        NotFittedError: the router is not fitted and cannot cold-start.
    """
    if online:
        require(router, LearnsOnline, "learn online (update); retrain it in batch instead")
    if router.is_fitted:
        return router
    if isinstance(router, ColdStartsFromPriors):
        extra = latency_kwargs(router, prior_latency, "prior_latency")
        router.initialize(
            list(models), n_features, prior_quality=prior_quality, prior_cost=prior_cost, **extra
        )
    elif isinstance(router, ColdStarts):
        router.initialize(list(models), n_features)
    else:
        raise NotFittedError(
            f"{type(router).__name__} is not fitted and has no cold start (it is not "
            "ColdStarts); fit it first."
        )
    return router
