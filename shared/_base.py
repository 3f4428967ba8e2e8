"""Estimator conventions shared by every router (scikit-learn style, no sklearn dependency).

* ``__init__`` takes keyword-only parameters and only stores them; validation happens in ``fit``.
* Learned state ends in ``_``; ``fit``/``partial_fit``/``update`` return ``self``.
* ``get_params``/``set_params``/``clone`` introspect ``__init__``.
* A router scores every model for a prompt embedding and a :class:`~shared.Preference`;
  :meth:`BaseRouter.decide` turns the scores into a :class:`~shared.Decision`.
* What a router learns from is declared with the mixins of :mod:`shared.capabilities`; every
  concrete public subclass is registered once, in :mod:`shared._registry`.
"""

from __future__ import annotations

import inspect
import logging
from abc import abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import persistence
from ._registry import register_router
from ._validation import Constraint, check_embeddings, check_tasks, validate_params
from .capabilities import LearnsLatency
from .decision import Decision
from .exceptions import (
    DataError,
    InvalidParameterError,
    NotFittedError,
    ObjectiveError,
    UnknownModelError,
)
from .preference import Preference, PreferenceLike

__all__ = [
    "BaseEstimator",
    "BaseRouter",
    "RouteScores",
    "calibrate_scale",
    "scalarize",
]

logger = logging.getLogger("prefroute.routing")

FloatArray = NDArray[np.float64]


class BaseEstimator:
    """Parameter introspection, cloning and a readable repr."""

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters as a dict."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set constructor parameters; takes effect at the next ``fit``.

        Raises:
            InvalidParameterError: a name is not a parameter of this estimator.
        """
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise InvalidParameterError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid parameters are {sorted(valid)}."
                )
            setattr(self, name, value)
        return self

    def clone(self) -> Self:
        """A fresh, unfitted estimator with the same parameters."""
        return type(self)(**self.get_params())

    def _validate_params(self) -> None:
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        shown = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = bool(value == default)
            except (ValueError, TypeError):
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def calibrate_scale(values: ArrayLike, quantile: float = 0.95) -> float:
    """The BaRP cost unit ``tau``: a quantile of observed per-call values, positive.

    Falls back to the largest positive value, then to 1.0 when nothing positive was observed.

    Examples:
        >>> calibrate_scale([0.0, 1.0, 2.0, 3.0], quantile=0.5)
        2.0
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0:
        return 1.0
    tau = float(np.quantile(arr, quantile))
    return tau if tau > 0 else float(arr.max())


def scalarize(
    preference: Preference,
    quality: FloatArray,
    cost: FloatArray | None,
    cost_scale: float,
    latency: FloatArray | None = None,
    latency_scale: float = 1.0,
) -> FloatArray:
    """Utility ``w_q * q - w_c * c / cost_scale - w_l * l / latency_scale`` (elementwise)."""
    utility = preference.quality * quality
    if cost is not None and preference.cost:
        utility = utility - preference.cost * (cost / cost_scale)
    if latency is not None and preference.latency:
        utility = utility - preference.latency * (latency / latency_scale)
    return np.asarray(utility, dtype=np.float64)


@dataclass(frozen=True)
class RouteScores:
    """What a router computes for a batch of prompts under one preference.

    Attributes:
        utility: ``(n, K)`` scores, higher preferred; greedy routing takes the argmax.
        probabilities: ``(n, K)`` routing distribution when the router explores stochastically;
            ``None`` for a deterministic (greedy) router.
        quality: ``(n, K)`` predicted quality, if the router predicts it.
        cost: ``(n, K)`` predicted USD per call, if the router predicts it.
        uncertainty: ``(n, K)`` standard deviation of the predicted quality, if the router
            computed it.
        latency: ``(n, K)`` predicted seconds per call, if the router predicts latency.
    """

    utility: FloatArray
    probabilities: FloatArray | None = None
    quality: FloatArray | None = None
    cost: FloatArray | None = None
    uncertainty: FloatArray | None = None
    latency: FloatArray | None = None


class BaseRouter(BaseEstimator):
    """Base class of the routers: scores models from prompt embeddings under a preference.

    Subclasses implement :meth:`_route_scores`, declare their learning methods with the mixins
    of :mod:`shared.capabilities` (listed before ``BaseRouter`` among the bases), and set
    ``models_``, ``n_features_in_`` and ``cost_scale_`` when fitted. Everything else (candidate
    filtering, greedy or sampled choice, propensities, saving) lives here.

    A concrete class whose name does not start with ``_`` registers itself in
    :mod:`shared._registry` when defined. ``_unit_test_params`` declares the parameter sets the
    common estimator checks of the test suite run it with.
    """

    models_: list[str]
    n_features_in_: int
    cost_scale_: float

    #: Saved arrays in which NaN is legitimate (an unobserved cell); a load refuses NaN elsewhere.
    _nan_arrays: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls) and not cls.__name__.startswith("_"):
            register_router(cls)

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        """Constructor parameter sets for the common estimator checks (small and fast).

        Override to cover a router's distinct code paths (solvers, exploration modes...); the
        default is the default constructor.
        """
        return [{}]

    # ----------------------------------------------------------------- to implement
    @abstractmethod
    def _route_scores(self, X: FloatArray, preference: Preference, explore: bool) -> RouteScores:
        """Score every model of ``models_`` for each row of ``X`` (already validated)."""

    def _call_scores(
        self,
        X: FloatArray,
        preference: Preference,
        explore: bool,
        mask: NDArray[np.bool_],
        cost: FloatArray | None,
        tasks: Sequence[str | None] | None = None,
    ) -> RouteScores:
        """Scores of one routing call, given its candidates (``mask`` over ``models_``) and,
        when known, each model's cost of this call (``cost``, ``(n, K)``, replacing the
        router's predicted cost in the utility) and each row's task key (``tasks``; only a
        :class:`~shared.capabilities.LearnsTasks` router uses it, the others ignore it).

        The default uses :meth:`_route_scores` and, with known costs, shifts a deterministic
        utility by the difference of the cost terms; a sampling router without its own
        override keeps its predicted costs (its probabilities cannot be re-weighted).
        """
        rs = self._route_scores(X, preference, explore)
        if cost is None or rs.cost is None or rs.probabilities is not None:
            return rs
        shift = preference.cost * (rs.cost - cost) / self.cost_scale_
        return RouteScores(
            utility=rs.utility + shift,
            quality=rs.quality,
            cost=cost,
            uncertainty=rs.uncertainty,
            latency=rs.latency,
        )

    # ------------------------------------------------------------------ helpers
    def _is_fitted(self) -> bool:
        return hasattr(self, "models_") and hasattr(self, "n_features_in_")

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' (or "
                "'partial_fit'/'update') with training data before routing."
            )

    def _check_X(self, X: ArrayLike, *, allow_1d: bool = False) -> FloatArray:
        self._check_fitted()
        return check_embeddings(
            X, n_features=self.n_features_in_, owner=type(self).__name__, allow_1d=allow_1d
        )

    def _rng(self) -> np.random.Generator:
        rng = getattr(self, "rng_", None)
        if rng is None:
            seed = getattr(self, "random_state", None)
            rng = np.random.default_rng(seed)
            self.rng_ = rng
        return rng

    def _candidate_mask(self, candidates: Collection[str] | None) -> NDArray[np.bool_]:
        models = self.models_
        if candidates is None:
            return np.ones(len(models), dtype=bool)
        names = list(candidates)
        for name in names:
            if name not in models:
                raise UnknownModelError(name, models)
        mask = np.isin(np.asarray(models, dtype=object), np.asarray(names, dtype=object))
        if not mask.any():
            raise InvalidParameterError("At least one candidate model is required.")
        return mask

    # ----------------------------------------------------------------- public API
    @property
    def is_fitted(self) -> bool:
        """Whether the router has learned anything yet."""
        return self._is_fitted()

    @property
    def predicts_latency(self) -> bool:
        """Whether the router can score a latency weight (it learned latencies or a prior).

        ``False`` unless the router is :class:`~shared.capabilities.LearnsLatency` and was
        trained or started with latencies; a preference with a latency weight then raises
        :class:`~shared.ObjectiveError`.
        """
        return False

    def _check_objectives(self, preference: Preference) -> None:
        """Refuse a preference weighing an objective this router cannot predict."""
        if preference.latency > 0 and not self.predicts_latency:
            raise ObjectiveError(
                f"The preference puts weight {preference.latency:.3g} on latency, but "
                f"{type(self).__name__} "
                + (
                    "was trained without latencies (give latency= to fit or fit_bandit, or "
                    "prior_latency= to initialize)."
                    if isinstance(self, LearnsLatency)
                    else "does not model latency."
                )
                + " Use a preference without a latency weight, or a router that learns latency."
            )

    def scores(self, X: ArrayLike, preference: PreferenceLike | None = None) -> RouteScores:
        """All of the router's per-model scores for a batch, without exploration."""
        Xc = self._check_X(X, allow_1d=True)
        pref = Preference.coerce(preference or Preference())
        self._check_objectives(pref)
        return self._route_scores(Xc, pref, False)

    def decision_function(
        self, X: ArrayLike, preference: PreferenceLike | None = None
    ) -> FloatArray:
        """Utility of each model, shape ``(n_samples, n_models)``; columns follow ``models_``."""
        return self.scores(X, preference).utility

    def route_indices(
        self, X: ArrayLike, preference: PreferenceLike | None = None
    ) -> NDArray[np.intp]:
        """Greedy choice per row as indices into ``models_`` (no exploration)."""
        return np.asarray(np.argmax(self.decision_function(X, preference), axis=1))

    def predict(self, X: ArrayLike, preference: PreferenceLike | None = None) -> NDArray[Any]:
        """Greedy choice per row as model names (no exploration)."""
        idx = self.route_indices(X, preference)
        return np.asarray(self.models_, dtype=object)[idx]

    def decide(
        self,
        x: ArrayLike,
        preference: PreferenceLike | None = None,
        *,
        candidates: Collection[str] | None = None,
        explore: bool = True,
        decision_id: str | None = None,
        cost: ArrayLike | None = None,
        task: str | None = None,
    ) -> Decision:
        """Route one prompt embedding.

        Args:
            x: embedding of the prompt, shape ``(n_features,)`` or ``(1, n_features)``.
            preference: the trade-off for this call (default: quality only).
            candidates: restrict the choice to these model names (e.g. the tool-capable ones).
            explore: let a router configured to explore (Thompson sampling, a sampling policy,
                epsilon-greedy) do so; ``False`` always takes the best-scored candidate.
            decision_id: use this id instead of a fresh one.
            cost: the known USD cost of this call for each model of ``models_`` (for example
                card prices times the call's tokens), used instead of the router's predicted
                cost; ``None`` uses the predictions.
            task: the call's task key (a chain or node name, a template id; see
                :func:`shared._validation.check_task`), recorded in ``Decision.task``; a
                :class:`~shared.capabilities.LearnsTasks` router adds that task's learned level
                (an unknown task routes at the member level), other routers ignore it.

        Returns:
            The :class:`~shared.Decision`, with the propensity of the choice.

        Raises:
            InvalidParameterError: ``task`` is not ``None`` or a short string.
        """
        return self.decide_batch(
            x,
            preference,
            candidates=candidates,
            explore=explore,
            decision_ids=None if decision_id is None else [decision_id],
            cost=cost,
            tasks=None if task is None else [task],
        )[0]

    def decide_batch(
        self,
        X: ArrayLike,
        preference: PreferenceLike | None = None,
        *,
        candidates: Collection[str] | None = None,
        explore: bool = True,
        decision_ids: Sequence[str] | None = None,
        cost: ArrayLike | None = None,
        tasks: Sequence[str | None] | None = None,
    ) -> list[Decision]:
        """Route a batch of prompt embeddings under one preference (see :meth:`decide`;
        ``cost`` is ``(n_models,)`` for every row or ``(n_samples, n_models)``; ``tasks`` one
        task key or ``None`` per row).

        Raises:
            DataError: ``cost`` has the wrong shape or a negative or non-finite entry.
            InvalidParameterError: ``tasks`` is not one task key (or ``None``) per row.
        """
        Xc = self._check_X(X, allow_1d=True)
        pref = Preference.coerce(preference if preference is not None else Preference())
        self._check_objectives(pref)
        mask = self._candidate_mask(candidates)
        known = None if cost is None else self._check_call_cost(cost, Xc.shape[0])
        row_tasks = check_tasks(tasks, Xc.shape[0], type(self).__name__)
        if row_tasks is not None and all(t is None for t in row_tasks):
            row_tasks = None
        if row_tasks is None:
            rs = self._call_scores(Xc, pref, explore, mask, known)
        else:
            rs = self._call_scores(Xc, pref, explore, mask, known, row_tasks)
        models = tuple(self.models_)
        out: list[Decision] = []
        for i in range(Xc.shape[0]):
            util = rs.utility[i]
            masked_util = np.where(mask, util, -np.inf)
            probs: NDArray[np.float64] | None = None
            if rs.probabilities is not None and explore:
                p = np.where(mask, rs.probabilities[i], 0.0)
                total = p.sum()
                probs = p / total if total > 0 else mask / mask.sum()
                choice = int(self._rng().choice(len(models), p=probs))
                propensity = float(probs[choice])
            else:
                choice = int(np.argmax(masked_util))
                propensity = 1.0
            order = [j for j in np.argsort(-masked_util, kind="stable") if mask[j]]
            ranking = (models[choice], *(models[j] for j in order if j != choice))
            kwargs: dict[str, Any] = {}
            if decision_ids is not None:
                kwargs["decision_id"] = decision_ids[i]
            decision = Decision(
                model=models[choice],
                models=models,
                scores=tuple(float(v) for v in util),
                propensity=max(propensity, 1e-12),
                preference=pref,
                ranking=ranking,
                quality=None if rs.quality is None else tuple(map(float, rs.quality[i])),
                cost=None if rs.cost is None else tuple(map(float, rs.cost[i])),
                probabilities=None if probs is None else tuple(map(float, probs)),
                uncertainty=(
                    None if rs.uncertainty is None else tuple(map(float, rs.uncertainty[i]))
                ),
                router=type(self).__name__,
                latency=None if rs.latency is None else tuple(map(float, rs.latency[i])),
                task=None if row_tasks is None else row_tasks[i],
                **kwargs,
            )
            logger.debug(
                "routed to %s (score %.4g, propensity %.3g, decision %s)",
                decision.model,
                util[choice],
                decision.propensity,
                decision.decision_id,
            )
            out.append(decision)
        return out

    def _check_call_cost(self, cost: ArrayLike, n: int) -> FloatArray:
        K = len(self.models_)
        arr = np.asarray(cost, dtype=np.float64)
        if arr.shape == (K,):
            arr = np.broadcast_to(arr, (n, K))
        if arr.shape != (n, K) or not np.isfinite(arr).all() or (arr < 0).any():
            raise DataError(
                f"'cost' must hold one finite USD cost >= 0 per model ({K}) and prompt ({n}), "
                f"got shape {arr.shape}."
            )
        return np.asarray(arr, dtype=np.float64)

    def save(self, path: str) -> None:
        """Save the fitted router to the directory ``path`` (JSON + ``.npz``, no pickle).

        See :func:`shared.load_router`.

        Raises:
            PersistenceError: the router is not :class:`~shared.capabilities.Persists`, or the
                directory cannot be written.
        """
        persistence.save_router(self, path)
