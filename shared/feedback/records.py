"""What the feedback store hands back: one record per routing decision, and the bandit log.

A :class:`DecisionRecord` joins a stored :class:`~shared.Decision` with its outcome (the model
that answered, tokens, cost, latency, error) and its rating. The rated part of the store is
exported as the one :class:`~shared.BanditLog` (defined in :mod:`shared.outcomes`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from ..embedding import PromptEmbedding
from ..preference import Preference

__all__ = ["DecisionRecord"]


@dataclass(frozen=True)
class DecisionRecord:
    """One routing decision as stored, with its outcome and its rating (read-only snapshot).

    Examples:
        >>> from datetime import datetime, timezone
        >>> from shared.feedback import DecisionRecord
        >>> rec = DecisionRecord(decision_id="d1", run_id=None, model="small", chosen_model="small",
        ...                      models=("big", "small"), propensity=0.8,
        ...                      preference={"quality": 0.5, "cost": 0.5, "latency": 0.0},
        ...                      router="RidgeRouter", prompt="say hi", scores={"big": 0.1, "small": 0.2},
        ...                      fallbacks=("big",), created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        ...                      score=1.0)
        >>> rec.is_rated, rec.to_dict()["created_at"]
        (True, '2026-01-01T00:00:00+00:00')

    Attributes:
        decision_id: the decision's unique id (``Decision.decision_id``).
        run_id: the framework run id the decision was made in (a LangChain/LangSmith run UUID),
            if recorded; ratings may use it instead of the decision id.
        model: the model that answered (the chosen one, or a fallback, see
            :meth:`FeedbackStore.record_outcome`).
        chosen_model: the model the router chose.
        models: every model the router knew when deciding, in its order.
        propensity: probability with which the router made its choice.
        preference: the preference weights the call was made with.
        router: class name of the router that decided.
        prompt: the prompt text, if recorded (needed to learn from the rating).
        scores: the router's utility per model.
        fallbacks: the candidates after the chosen one, in order.
        input_tokens: prompt tokens of the answering call, if reported.
        output_tokens: completion tokens of the answering call, if reported.
        cost_usd: cost of the call in USD, if known.
        latency_s: wall time of the call in seconds, if measured.
        error: the error text when the call failed.
        score: the effective rating in [0, 1]: the most recent one over all sources; ``None``
            while unrated.
        rating_source: the source of ``score`` (``"user"``, ``"langsmith:correctness"``...).
        comment: the comment given with ``score``.
        ratings: every source's current score.
        created_at: when the decision was recorded (UTC).
        rated_at: when ``score`` was given (UTC).
        metadata: free-form JSON metadata given with the decision.
        embedding: the prompt's embedding stored with the decision (with its encoder), if any.
    """

    decision_id: str
    run_id: str | None
    model: str
    chosen_model: str
    models: tuple[str, ...]
    propensity: float
    preference: dict[str, float]
    router: str
    prompt: str | None
    scores: dict[str, float]
    fallbacks: tuple[str, ...]
    created_at: datetime
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    error: str | None = None
    score: float | None = None
    rating_source: str | None = None
    comment: str | None = None
    ratings: dict[str, float] = field(default_factory=dict)
    rated_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    embedding: PromptEmbedding | None = field(default=None, repr=False, compare=False)

    @property
    def is_rated(self) -> bool:
        """Whether at least one rating was given."""
        return self.score is not None

    @property
    def task(self) -> str | None:
        """The call's task key (``Decision.task``, kept in ``metadata["task"]``), if any."""
        task = self.metadata.get("task")
        return task if isinstance(task, str) and task else None

    @property
    def answered_by_fallback(self) -> bool:
        """Whether a fallback answered instead of the chosen model (``model != chosen_model``).

        Such an outcome was not drawn with the logged ``propensity``: it is left out of
        importance-weighted (off-policy) learning, see :attr:`learning_propensity`.
        """
        return self.model != self.chosen_model

    @property
    def learning_propensity(self) -> float:
        """The propensity to learn this outcome with: ``propensity``, or 1.0 for a fallback answer.

        A fallback's outcome is still true information about the model that answered, so it is
        learned as a plain regression update (weight 1), never importance-weighted by the
        probability of a choice that did not produce it.

        Examples:
            >>> from datetime import datetime, timezone
            >>> from shared.feedback import DecisionRecord
            >>> rec = DecisionRecord(decision_id="d1", run_id=None, model="b", chosen_model="a",
            ...                      models=("a", "b"), propensity=0.25, preference={},
            ...                      router="R", prompt="hi", scores={}, fallbacks=("b",),
            ...                      created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
            >>> rec.answered_by_fallback, rec.learning_propensity
            (True, 1.0)
        """
        return 1.0 if self.answered_by_fallback else float(self.propensity)

    def preference_weights(self) -> Preference:
        """The stored preference as a :class:`~shared.Preference`."""
        return Preference(**self.preference)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (timestamps as ISO 8601 strings, tuples as lists; of the embedding
        only its encoder and dimension)."""
        out = asdict(replace(self, embedding=None))
        emb = self.embedding
        out["embedding"] = (
            None if emb is None else {"encoder": emb.encoder, "dimension": emb.dimension}
        )
        out["models"] = list(self.models)
        out["fallbacks"] = list(self.fallbacks)
        out["created_at"] = self.created_at.isoformat()
        out["rated_at"] = None if self.rated_at is None else self.rated_at.isoformat()
        return out
