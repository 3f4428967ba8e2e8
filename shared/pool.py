"""Model cards: what a pool member costs, how large its context is, what it can do.

Examples:
    >>> from shared import ModelCard, ModelPool
    >>> gpt = ModelCard("gpt-4o", input_usd_per_1m=2.5, output_usd_per_1m=10.0)
    >>> round(gpt.cost(input_tokens=1_000, output_tokens=500), 6)
    0.0075
    >>> pool = ModelPool([gpt, ModelCard("mini", input_usd_per_1m=0.15, output_usd_per_1m=0.6)])
    >>> pool.names
    ('gpt-4o', 'mini')
    >>> pool.cheapest().name
    'mini'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .exceptions import InvalidParameterError, UnknownModelError

__all__ = ["ModelCard", "ModelPool"]


def _check_non_negative(name: str, value: float | None, owner: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError(
            f"The {name!r} of model card {owner!r} must be a number, got {type(value).__name__}."
        )
    if not math.isfinite(value) or value < 0:
        raise InvalidParameterError(
            f"The {name!r} of model card {owner!r} must be finite and >= 0, got {value!r}."
        )


@dataclass(frozen=True, slots=True)
class ModelCard:
    """Prices and capabilities of one pool member.

    Args:
        name: the key of the member in the pool (unique).
        input_usd_per_1m: USD per one million prompt tokens.
        output_usd_per_1m: USD per one million completion tokens.
        usd_per_call: a fixed USD amount charged per call (added to the token prices).
        context_window: the largest prompt in tokens, if known.
        latency_s: typical latency of one call in seconds, if known.
        supports_tools: whether the member can call tools.
        supports_structured_output: whether the member can return structured output.
        expected_output_tokens: completion length assumed when predicting the cost of a call.
    """

    name: str
    input_usd_per_1m: float = 0.0
    output_usd_per_1m: float = 0.0
    usd_per_call: float = 0.0
    context_window: int | None = None
    latency_s: float | None = None
    supports_tools: bool = True
    supports_structured_output: bool = True
    expected_output_tokens: int = 256
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameterError("A model card needs a non-empty string name.")
        for key in ("input_usd_per_1m", "output_usd_per_1m", "usd_per_call", "latency_s"):
            _check_non_negative(key, getattr(self, key), self.name)
        if self.context_window is not None and (
            isinstance(self.context_window, bool)
            or not isinstance(self.context_window, int)
            or self.context_window <= 0
        ):
            raise InvalidParameterError(
                f"The context_window of model card {self.name!r} must be a positive int, "
                f"got {self.context_window!r}."
            )
        if not isinstance(self.expected_output_tokens, int) or self.expected_output_tokens < 0:
            raise InvalidParameterError(
                f"expected_output_tokens of {self.name!r} must be an int >= 0, "
                f"got {self.expected_output_tokens!r}."
            )

    def cost(self, input_tokens: int = 0, output_tokens: int = 0) -> float:
        """USD cost of one call with the given token counts.

        Raises:
            InvalidParameterError: a token count is negative.
        """
        if input_tokens < 0 or output_tokens < 0:
            raise InvalidParameterError("Token counts must be >= 0.")
        return (
            self.usd_per_call
            + input_tokens * self.input_usd_per_1m / 1e6
            + output_tokens * self.output_usd_per_1m / 1e6
        )

    def expected_cost(self, input_tokens: int) -> float:
        """Predicted USD cost of a call before it happens (``expected_output_tokens`` completion)."""
        return self.cost(input_tokens, self.expected_output_tokens)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``ModelCard.from_dict`` inverts it)."""
        out = asdict(self)
        out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ModelCard:
        """Build a card from a mapping such as an entry of a routing table's ``models.json``.

        Unknown keys (``note``...) are kept in ``extra``.
        """
        known = {f for f in cls.__dataclass_fields__ if f not in ("name", "extra")}
        kwargs = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known and k not in ("name", "extra")}
        extra.update(data.get("extra", {}) or {})
        return cls(name=name, extra=extra, **kwargs)


class ModelPool:
    """An ordered, name-unique collection of :class:`ModelCard`.

    Raises:
        InvalidParameterError: the pool is empty or two cards share a name.
    """

    def __init__(self, cards: Iterable[ModelCard | str]) -> None:
        items = [c if isinstance(c, ModelCard) else ModelCard(str(c)) for c in cards]
        if not items:
            raise InvalidParameterError("A model pool needs at least one model card.")
        names = [c.name for c in items]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidParameterError(f"Duplicate model names in the pool: {dupes}.")
        self._cards = {c.name: c for c in items}

    @property
    def names(self) -> tuple[str, ...]:
        """Model names in pool order."""
        return tuple(self._cards)

    def __getitem__(self, name: str) -> ModelCard:
        try:
            return self._cards[name]
        except KeyError:
            raise UnknownModelError(name, self.names) from None

    def __contains__(self, name: object) -> bool:
        return name in self._cards

    def __iter__(self) -> Iterator[ModelCard]:
        return iter(self._cards.values())

    def __len__(self) -> int:
        return len(self._cards)

    def __repr__(self) -> str:
        return f"ModelPool({list(self.names)!r})"

    def index(self, name: str) -> int:
        """Position of ``name`` in the pool."""
        if name not in self._cards:
            raise UnknownModelError(name, self.names)
        return self.names.index(name)

    def cheapest(self, input_tokens: int = 1_000) -> ModelCard:
        """The card with the lowest expected cost for a prompt of ``input_tokens`` tokens."""
        return min(self, key=lambda c: c.expected_cost(input_tokens))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: card fields}``, the layout of a routing table's ``models.json``."""
        return {c.name: {k: v for k, v in c.to_dict().items() if k != "name"} for c in self}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> ModelPool:
        """Inverse of :meth:`to_dict`."""
        return cls(ModelCard.from_dict(name, spec) for name, spec in data.items())
