"""The record of one routing decision.

Every router returns a :class:`Decision`. It carries what the adapters stamp on responses and what
the feedback store keeps: the chosen model, per-model predictions, the probability with which the
choice was made (the *propensity*, needed for unbiased off-policy learning), and a unique id.

Examples:
    >>> from shared import Decision, Preference
    >>> d = Decision(model="a", models=("a", "b"), scores=(0.9, 0.1), propensity=1.0,
    ...              preference=Preference(), ranking=("a", "b"))
    >>> d.fallbacks
    ('b',)
    >>> sorted(d.to_dict())[:3]
    ['cost', 'decision_id', 'model']
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import InvalidParameterError
from .preference import Preference

__all__ = ["Decision", "new_decision_id"]


def new_decision_id() -> str:
    """A fresh random decision id (UUID4 hex)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Decision:
    """One routing decision.

    Attributes:
        model: the chosen model name.
        models: every model the router knows, in its order.
        scores: the router's utility per model (higher is preferred), aligned with ``models``.
        propensity: probability with which ``model`` was chosen given the prompt and preference
            (1.0 for a deterministic choice).
        preference: the preference the decision was made for.
        ranking: candidate models in order of preference, chosen model first; the rest are the
            fallbacks, tried in order if the chosen model fails.
        quality: predicted quality per model, if the router predicts it.
        cost: predicted USD cost per call per model, if the router predicts it.
        probabilities: the routing distribution over ``models`` (0 for non-candidates), if stochastic.
        decision_id: unique id, the key ratings refer to.
        router: class name of the router that decided.
    """

    model: str
    models: tuple[str, ...]
    scores: tuple[float, ...]
    propensity: float
    preference: Preference
    ranking: tuple[str, ...]
    quality: tuple[float, ...] | None = None
    cost: tuple[float, ...] | None = None
    probabilities: tuple[float, ...] | None = None
    decision_id: str = field(default_factory=new_decision_id)
    router: str = ""

    def __post_init__(self) -> None:
        if self.model not in self.models:
            raise InvalidParameterError(f"Chosen model {self.model!r} is not among {self.models}.")
        if not (0.0 < self.propensity <= 1.0 + 1e-9) or math.isnan(self.propensity):
            raise InvalidParameterError(f"A propensity must be in (0, 1], got {self.propensity}.")
        if not self.ranking or self.ranking[0] != self.model:
            raise InvalidParameterError("The ranking must start with the chosen model.")

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """Candidates to try, in order, if the chosen model fails."""
        return self.ranking[1:]

    def score_of(self, model: str) -> float:
        """The utility the router gave ``model``."""
        return self.scores[self.models.index(model)]

    def with_model(self, model: str) -> Decision:
        """A copy recording that ``model`` (a fallback) answered instead of the chosen one.

        The propensity is kept: it is the probability of the *routing* choice.
        """
        if model not in self.ranking:
            raise InvalidParameterError(f"{model!r} is not a candidate of this decision.")
        rest = tuple(m for m in self.ranking if m != model)
        return Decision(
            model=model,
            models=self.models,
            scores=self.scores,
            propensity=self.propensity,
            preference=self.preference,
            ranking=(model, *rest),
            quality=self.quality,
            cost=self.cost,
            probabilities=self.probabilities,
            decision_id=self.decision_id,
            router=self.router,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, as stamped in ``response_metadata["routing"]``."""

        def per_model(values: tuple[float, ...] | None) -> dict[str, float] | None:
            return None if values is None else dict(zip(self.models, map(float, values)))

        return {
            "model": self.model,
            "decision_id": self.decision_id,
            "propensity": float(self.propensity),
            "preference": self.preference.as_dict(),
            "scores": per_model(self.scores),
            "quality": per_model(self.quality),
            "cost": per_model(self.cost),
            "probabilities": per_model(self.probabilities),
            "ranking": list(self.ranking),
            "router": self.router,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Inverse of :meth:`to_dict`."""
        scores = data["scores"]
        models = tuple(scores)

        def values(key: str) -> tuple[float, ...] | None:
            got = data.get(key)
            return None if got is None else tuple(float(got[m]) for m in models)

        return cls(
            model=data["model"],
            models=models,
            scores=tuple(float(scores[m]) for m in models),
            propensity=float(data["propensity"]),
            preference=Preference(**data["preference"]),
            ranking=tuple(data["ranking"]),
            quality=values("quality"),
            cost=values("cost"),
            probabilities=values("probabilities"),
            decision_id=str(data["decision_id"]),
            router=str(data.get("router", "")),
        )
