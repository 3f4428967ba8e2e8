"""The forms a call's preference may take (the same as in the LangChain plugin).

Accepted: a :class:`~shared.Preference`; a cost weight in [0, 1] (``0.8`` = mostly cost); a
mapping with keys among ``quality``, ``cost``, ``latency``; or a preset name among
:data:`PRESETS` (``"quality"``, ``"balanced"``, ``"cost"``).

Examples:
    >>> from llamaindex_router._preference import coerce_preference
    >>> coerce_preference("balanced")
    Preference(quality=0.5, cost=0.5, latency=0)
    >>> coerce_preference({"cost": 0.25}).quality
    0.75
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import Preference, PreferenceError

__all__ = ["PRESETS", "PreferenceInput", "coerce_preference"]

#: Named preferences accepted wherever a preference is.
PRESETS: Mapping[str, Preference] = {
    "quality": Preference(quality=1.0),
    "balanced": Preference.balanced(),
    "cost": Preference(quality=0.0, cost=1.0),
}

#: What callers may pass as a preference.
PreferenceInput = Preference | float | Mapping[str, Any] | str


def coerce_preference(value: PreferenceInput) -> Preference:
    """A :class:`~shared.Preference` from any accepted form.

    Raises:
        PreferenceError: unknown preset name, unknown mapping key, wrong type or invalid weight.
    """
    if isinstance(value, str):
        try:
            return PRESETS[value]
        except KeyError:
            raise PreferenceError(
                f"Unknown preference {value!r}; use one of {sorted(PRESETS)}, a cost weight in "
                "[0, 1] or a mapping with keys 'quality', 'cost', 'latency'."
            ) from None
    return Preference.coerce(value)
