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

from shared import Preference
from shared.preference import PRESETS as CORE_PRESETS

__all__ = ["PRESETS", "PreferenceInput", "coerce_preference"]

#: Named preferences accepted wherever a preference is (defined by the core).
PRESETS: Mapping[str, Preference] = CORE_PRESETS

#: What callers may pass as a preference.
PreferenceInput = Preference | float | Mapping[str, Any] | str


def coerce_preference(value: PreferenceInput) -> Preference:
    """A :class:`~shared.Preference` from any accepted form.

    Raises:
        PreferenceError: unknown preset name, unknown mapping key, wrong type or invalid weight.
    """
    return Preference.coerce(value)
