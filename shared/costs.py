"""The cost of a call before it happens: card prices times tokens, output length learned per member.

A call's cost is known up to its completion length: ``usd_per_call + input_tokens * input price +
output_tokens * output price``, where the prompt's tokens are known at routing time and only the
output length has to be predicted. :class:`CallCostModel` predicts it per member as a shrunk mean:
the card's nominal ``expected_output_tokens`` counts as ``prior_strength`` pseudo-calls, and every
observed call (its reported completion tokens, or the tokens implied by its cost) adds one. So one
short call of an expensive member changes its predicted cost by at most ``1 / (1 + prior_strength)``
of the gap to its nominal, and members are always compared on the same prompt with the same kind
of estimate (like with like), never an observed cost against a nominal one.

Examples:
    >>> from shared import CallCostModel, ModelCard, ModelPool
    >>> pool = ModelPool([ModelCard("big", input_usd_per_1m=2.5, output_usd_per_1m=10),
    ...                   ModelCard("mini", input_usd_per_1m=0.15, output_usd_per_1m=0.6)])
    >>> costs = CallCostModel(pool, prior_strength=4)
    >>> costs.output_tokens("big")
    256.0
    >>> costs.observe("big", output_tokens=6)           # one short answer
    >>> costs.output_tokens("big")                      # (4 * 256 + 6) / 5
    206.0
    >>> [round(float(c), 6) for c in costs.predict(["big", "mini"], input_tokens=100)]
    [0.00231, 0.000169]
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .exceptions import InvalidParameterError
from .pool import ModelPool

__all__ = ["CallCostModel"]


class CallCostModel:
    """Per-member predicted USD cost of a call from its card, its input tokens and the member's
    learned output length.

    Args:
        pool: the members and their cards.
        prior_strength: weight of each card's ``expected_output_tokens``, in observed calls.

    Raises:
        InvalidParameterError: ``prior_strength`` is negative or not a number.
    """

    def __init__(self, pool: ModelPool, *, prior_strength: float = 10.0) -> None:
        if (
            isinstance(prior_strength, bool)
            or not isinstance(prior_strength, (int, float))
            or not math.isfinite(prior_strength)
            or prior_strength < 0
        ):
            raise InvalidParameterError(
                f"'prior_strength' must be a finite number >= 0, got {prior_strength!r}."
            )
        self.pool = pool
        self.prior_strength = float(prior_strength)
        self._sum = dict.fromkeys(pool.names, 0.0)
        self._n = dict.fromkeys(pool.names, 0)
        self._lock = threading.Lock()

    def priced(self, models: Sequence[str]) -> bool:
        """Whether every card among ``models`` has a price (else costs say nothing)."""
        return all(
            c.input_usd_per_1m > 0 or c.output_usd_per_1m > 0 or c.usd_per_call > 0
            for c in (self.pool[m] for m in models)
        )

    def output_tokens(self, model: str) -> float:
        """Predicted completion tokens of ``model``: ``(s * nominal + sum) / (s + n)``."""
        nominal = float(self.pool[model].expected_output_tokens)
        with self._lock:
            total, n = self._sum[model], self._n[model]
        if n == 0:
            return nominal
        return (self.prior_strength * nominal + total) / (self.prior_strength + n)

    def predict(self, models: Sequence[str], input_tokens: int) -> NDArray[np.float64]:
        """Predicted USD cost of a call with ``input_tokens`` prompt tokens, one per model."""
        out = np.empty(len(models), dtype=np.float64)
        for i, name in enumerate(models):
            card = self.pool[name]
            out[i] = (
                card.usd_per_call
                + input_tokens * card.input_usd_per_1m / 1e6
                + self.output_tokens(name) * card.output_usd_per_1m / 1e6
            )
        return out

    def observe(
        self,
        model: str,
        *,
        output_tokens: int | None = None,
        cost: float | None = None,
        input_tokens: int | None = None,
    ) -> None:
        """Learn ``model``'s output length from one call: its reported completion tokens, or
        else the tokens its USD ``cost`` implies given ``input_tokens`` (nothing is learned when
        neither is known or the card has no output price).

        Raises:
            UnknownModelError: ``model`` is not in the pool.
            InvalidParameterError: a negative or non-finite count or cost.
        """
        card = self.pool[model]
        for name, value in (("output_tokens", output_tokens), ("cost", cost)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InvalidParameterError(f"'{name}' must be finite and >= 0, got {value!r}.")
        tokens: float | None = None if output_tokens is None else float(output_tokens)
        if tokens is None and cost is not None and card.output_usd_per_1m > 0:
            fixed = card.usd_per_call + (input_tokens or 0) * card.input_usd_per_1m / 1e6
            tokens = max(cost - fixed, 0.0) * 1e6 / card.output_usd_per_1m
        if tokens is None:
            return
        with self._lock:
            self._sum[model] += tokens
            self._n[model] += 1
