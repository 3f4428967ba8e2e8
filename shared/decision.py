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
    >>> sorted(d.to_dict())[:4]
    ['cost', 'decision_id', 'encoder', 'latency']
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .embedding import PromptEmbedding  # at run time: pydantic models hold Decisions
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
        latency: predicted seconds per call per model, if the router predicts latency.
        probabilities: the routing distribution over ``models`` (0 for non-candidates), if stochastic.
        decision_id: unique id, the key ratings refer to.
        router: class name of the router that decided.
        uncertainty: standard deviation of each predicted quality, if the router computed it.
        encoder: name of the prompt encoder the embedding came from (set by
            :class:`~shared.RoutingEngine`; the feedback store keeps it, so ``prefroute train`` can
            check it retrains with the same encoder); ``""`` when unknown.
        task: the call's task key (chain or node name, template id, tag value) when the caller
            gave one; the feedback store keeps it, so the rating teaches that task's level.
        embedding: the prompt's embedding and its encoder, attached by
            :class:`~shared.RoutingEngine` so that the feedback store can keep it (not part of
            :meth:`to_dict` or equality).
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
    uncertainty: tuple[float, ...] | None = None
    latency: tuple[float, ...] | None = None
    encoder: str = ""
    task: str | None = None
    embedding: PromptEmbedding | None = field(default=None, compare=False, repr=False)

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
            uncertainty=self.uncertainty,
            latency=self.latency,
            encoder=self.encoder,
            task=self.task,
            embedding=self.embedding,
        )

    def candidates(self) -> list[dict[str, Any]]:
        """One row per candidate, best-ranked first: ``model``, predicted ``quality``, its
        ``uncertainty`` (standard deviation), predicted ``cost`` (USD per call) and ``latency``
        (seconds), ``utility`` (the
        router's score under the preference), routing ``probability`` and ``chosen``. Values the
        router does not compute are ``None``.

        Examples:
            >>> d = Decision(model="small", models=("big", "small"), scores=(0.5, 0.7),
            ...              propensity=1.0, preference=Preference(quality=0.5, cost=0.5),
            ...              ranking=("small", "big"), quality=(0.9, 0.8), cost=(0.01, 0.001))
            >>> [(r["model"], r["chosen"]) for r in d.candidates()]
            [('small', True), ('big', False)]
        """
        rows = []
        for name in self.ranking:
            j = self.models.index(name)

            def at(values: tuple[float, ...] | None, k: int = j) -> float | None:
                return None if values is None else float(values[k])

            rows.append(
                {
                    "model": name,
                    "quality": at(self.quality),
                    "uncertainty": at(self.uncertainty),
                    "cost": at(self.cost),
                    "latency": at(self.latency),
                    "utility": float(self.scores[j]),
                    "probability": at(self.probabilities),
                    "chosen": name == self.model,
                }
            )
        return rows

    def reason(self) -> str:
        """Why the chosen model won, in one sentence, against the runner-up.

        Examples:
            >>> d = Decision(model="small", models=("big", "small"), scores=(0.5, 0.7),
            ...              propensity=1.0, preference=Preference(quality=0.5, cost=0.5),
            ...              ranking=("small", "big"), quality=(0.9, 0.8), cost=(0.01, 0.001))
            >>> print(d.reason())
            small has the highest utility (0.7000 vs 0.5000 for big): big is predicted 0.100 better in quality but costs 10x as much, and the preference puts 50% of its weight on cost.
        """
        rows = self.candidates()
        win = rows[0]
        if len(rows) == 1:
            return f"{self.model} was the only candidate."
        best = max(rows, key=lambda r: r["utility"])
        sampled = self.probabilities is not None and self.propensity < 1.0 - 1e-9
        if sampled and best["model"] != self.model:
            return (
                f"{self.model} was drawn with probability {self.propensity:.2f} by the router's "
                f"exploration; the best-scored candidate was {best['model']} "
                f"(utility {best['utility']:.4f} vs {win['utility']:.4f})."
            )
        other = next(r for r in rows if r["model"] != self.model)
        head = (
            f"{self.model} has the highest utility ({win['utility']:.4f} vs "
            f"{other['utility']:.4f} for {other['model']})"
        )
        pref = self.preference
        if win["quality"] is None or win["cost"] is None:
            return head + "."
        dq = other["quality"] - win["quality"]
        if other["cost"] > 0 and win["cost"] > 0:
            ratio = f"{other['cost'] / win['cost']:.3g}x as much"
        else:
            ratio = f"${other['cost']:.3g} instead of ${win['cost']:.3g}"
        if dq > 0 and other["cost"] > win["cost"]:
            return (
                f"{head}: {other['model']} is predicted {dq:.3f} better in quality but costs "
                f"{ratio}, and the preference puts {pref.cost:.0%} of its weight on cost."
            )
        if dq <= 0 and other["cost"] >= win["cost"]:
            return f"{head}: it is predicted at least as good and no more expensive."
        if dq <= 0:
            return (
                f"{head}: it is predicted {-dq:.3f} better in quality, which is worth the "
                f"higher cost at {pref.quality:.0%} of the weight on quality."
            )
        return f"{head}."

    def explain(self) -> str:
        """A table of every candidate (predicted quality +- its standard deviation, cost,
        utility, probability) and :meth:`reason`: what the router saw for this prompt and
        preference.

        Examples:
            >>> d = Decision(model="small", models=("big", "small"), scores=(0.5, 0.7),
            ...              propensity=1.0, preference=Preference(quality=0.5, cost=0.5),
            ...              ranking=("small", "big"), quality=(0.9, 0.8), cost=(0.01, 0.001))
            >>> print(d.explain())  # doctest: +NORMALIZE_WHITESPACE
            routed to small (preference quality 0.50, cost 0.50, latency 0.00; deterministic)
              model  quality  +- std  cost $    utility  probability
            * small   0.8000       -  1.000e-03  0.7000            -
              big     0.9000       -  1.000e-02  0.5000            -
            small has the highest utility (0.7000 vs 0.5000 for big): big is predicted 0.100 better in quality but costs 10x as much, and the preference puts 50% of its weight on cost.
        """
        rows = self.candidates()
        width = max(5, *(len(r["model"]) for r in rows))
        pref = self.preference
        how = (
            f"sampled with probability {self.propensity:.3f}"
            if self.probabilities is not None
            else "deterministic"
        )
        by = f"{self.router}, " if self.router else ""
        lines = [
            f"routed to {self.model} (preference quality {pref.quality:.2f}, cost {pref.cost:.2f}, "
            f"latency {pref.latency:.2f}; {by}{how})",
            f"  {'model':<{width}}  {'quality':>7}  {'+- std':>6}  {'cost $':<9}  {'utility':>7}"
            f"  {'probability':>11}",
        ]

        def num(value: float | None, spec: str, size: int) -> str:
            return f"{'-':>{size}}" if value is None else f"{value:>{size}{spec}}"

        for r in rows:
            cost = "-" if r["cost"] is None else f"{r['cost']:.3e}"
            lines.append(
                f"{'*' if r['chosen'] else ' '} {r['model']:<{width}}  {num(r['quality'], '.4f', 7)}"
                f"  {num(r['uncertainty'], '.3f', 6)}  {cost:<9}  {num(r['utility'], '.4f', 7)}"
                f"  {num(r['probability'], '.3f', 11)}"
            )
        lines.append(self.reason())
        return "\n".join(lines)

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
            "latency": per_model(self.latency),
            "probabilities": per_model(self.probabilities),
            "ranking": list(self.ranking),
            "router": self.router,
            "uncertainty": per_model(self.uncertainty),
            "encoder": self.encoder,
            "task": self.task,
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
            uncertainty=values("uncertainty"),
            latency=values("latency"),
            encoder=str(data.get("encoder", "")),
            task=None if data.get("task") is None else str(data["task"]),
        )
