"""The caller's quality/cost(/latency) trade-off, chosen at call time.

A :class:`Preference` holds non-negative weights that are normalized to sum to one. Routers turn it
into a utility per model::

    utility_m = w_quality * quality_m - w_cost * cost_m / cost_scale - w_latency * latency_m / latency_scale

``quality`` is in [0, 1]. ``cost_scale`` is the router's calibrated cost unit ``tau``: by default the
95th percentile of the per-call costs seen in training (the BaRP rule, see ``docs/concepts.md``).
So ``w_cost == w_quality`` means "one unit of quality is worth one call at the 95th-percentile price
of this pool", which reads the same on any pool. ``Preference.balanced()`` is that point.

Examples:
    >>> from shared import Preference
    >>> Preference(quality=3, cost=1)
    Preference(quality=0.75, cost=0.25, latency=0)
    >>> Preference.from_cost_weight(0.2).cost
    0.2
    >>> Preference.coerce({"cost": 0.5}).quality
    0.5
    >>> Preference.coerce("balanced") == Preference.balanced()
    True
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import PreferenceError

__all__ = ["PREFERENCE_KEYS", "PRESETS", "Preference", "PreferenceLike"]

#: Keys accepted in a preference mapping (for example ``config["configurable"]["router_preference"]``).
PREFERENCE_KEYS = ("quality", "cost", "latency")


@dataclass(frozen=True, slots=True, init=False)
class Preference:
    """Normalized weights on quality, cost and latency (each >= 0, summing to 1).

    Args:
        quality: weight on expected quality (higher is better).
        cost: weight on expected cost in units of the router's ``cost_scale``.
        latency: weight on expected latency in units of the router's ``latency_scale``.

    Raises:
        PreferenceError: a weight is negative or not finite, or all weights are zero.
    """

    quality: float
    cost: float
    latency: float

    def __init__(self, quality: float = 1.0, cost: float = 0.0, latency: float = 0.0) -> None:
        raw = {"quality": quality, "cost": cost, "latency": latency}
        values = {key: _weight(key, value) for key, value in raw.items()}
        top = max(values.values())
        if top <= 0:
            raise PreferenceError("At least one preference weight must be positive.")
        total = sum(values.values())
        if not math.isfinite(total):  # Preference(1e308, 1e308): scale down first
            values = {k: v / top for k, v in values.items()}
            total = sum(values.values())
        for key, value in values.items():
            object.__setattr__(self, key, value / total)

    @classmethod
    def from_cost_weight(cls, cost: float) -> Preference:
        """Two-objective preference with ``cost`` in [0, 1] and ``quality = 1 - cost``."""
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 <= cost <= 1:
            raise PreferenceError(f"A cost weight must be a number in [0, 1], got {_short(cost)}.")
        return cls(quality=1.0 - float(cost), cost=float(cost))

    @classmethod
    def from_price(cls, lam: float) -> Preference:
        """Preference with price-of-quality ``lam >= 0``: utility ``q - lam * c / cost_scale``.

        ``lam = inf`` gives a pure cost minimizer.

        Examples:
            >>> Preference.from_price(1.0) == Preference.balanced()
            True
        """
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise PreferenceError(f"A price of quality must be >= 0, got {_short(lam)}.")
        if lam > sys.float_info.max:  # inf, or an int beyond float
            return cls(quality=0.0, cost=1.0)
        return cls(quality=1.0, cost=float(lam))

    @classmethod
    def balanced(cls) -> Preference:
        """Equal weight on quality and cost."""
        return cls(quality=1.0, cost=1.0)

    @classmethod
    def coerce(cls, value: PreferenceLike) -> Preference:
        """Build a preference from the forms users pass.

        Accepted: a :class:`Preference`; a float in [0, 1] (the cost weight); a mapping with keys among
        ``quality``, ``cost``, ``latency`` (missing ``quality`` defaults to ``1 - cost - latency``);
        or a preset name among :data:`PRESETS` (``"quality"``, ``"balanced"``, ``"cost"``).

        Raises:
            PreferenceError: unknown key or preset, wrong type or invalid weight.
        """
        if isinstance(value, Preference):
            return value
        if isinstance(value, str):
            preset = PRESETS.get(value)
            if preset is None:
                raise PreferenceError(
                    f"Unknown preference {value!r}; use one of {sorted(PRESETS)}, a cost weight "
                    "in [0, 1] or a mapping with keys 'quality', 'cost', 'latency'."
                )
            return preset
        if isinstance(value, bool):
            raise PreferenceError("A preference cannot be a bool.")
        if isinstance(value, (int, float)):
            return cls.from_cost_weight(value)
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in PREFERENCE_KEYS]
            if unknown:
                shown = ", ".join(_short(k) for k in unknown[:3])
                more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
                raise PreferenceError(
                    f"Unknown preference key(s) {shown}{more}; valid keys are "
                    f"{list(PREFERENCE_KEYS)}."
                )
            cost = value.get("cost", 0.0)
            latency = value.get("latency", 0.0)
            if "quality" in value:
                quality = value["quality"]
            else:
                cost, latency = _weight("cost", cost), _weight("latency", latency)
                quality = 1.0 - cost - latency
                if quality < -1e-12:
                    raise PreferenceError(
                        "Without 'quality', 'cost' + 'latency' must be at most 1, "
                        f"got {cost + latency:.6g}."
                    )
                quality = max(quality, 0.0)
            return cls(quality=quality, cost=cost, latency=latency)
        raise PreferenceError(
            "A preference must be a Preference, a cost weight in [0, 1] or a mapping with keys "
            f"{list(PREFERENCE_KEYS)}; got {type(value).__name__}."
        )

    def as_dict(self) -> dict[str, float]:
        """The weights as a plain dict (JSON friendly)."""
        return {"quality": self.quality, "cost": self.cost, "latency": self.latency}

    def __repr__(self) -> str:
        return (
            f"Preference(quality={self.quality:.4g}, cost={self.cost:.4g}, "
            f"latency={self.latency:.4g})"
        )


PreferenceLike = Preference | float | Mapping[str, Any] | str


def _short(value: object) -> str:
    """``repr(value)``, at most 40 characters (huge numbers and keys keep messages short)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond the str conversion limit
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _weight(key: str, value: object) -> float:
    """One weight as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PreferenceError(
            f"Preference weight {key!r} must be a number, got {type(value).__name__}."
        )
    try:
        out = float(value)
    except OverflowError:
        raise PreferenceError(f"Preference weight {key!r} is too large.") from None
    if not math.isfinite(out) or out < 0:
        raise PreferenceError(f"Preference weight {key!r} must be finite and >= 0, got {out!r}.")
    return out


#: Named preferences accepted wherever a preference is: pure quality, equal weights, pure cost.
PRESETS: dict[str, Preference] = {
    "quality": Preference(quality=1.0),
    "balanced": Preference(quality=1.0, cost=1.0),
    "cost": Preference(quality=0.0, cost=1.0),
}
