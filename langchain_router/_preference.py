"""Where a call's preference comes from, and the forms it may take.

Resolution order (first present wins):

1. the ``preference=`` keyword of ``invoke``/``stream``/``batch``/their async forms, or of
   ``.bind(preference=...)``;
2. ``config["configurable"]["router_preference"]``, else ``config["configurable"]["preference"]``;
3. the model's ``default_preference`` field;
4. the engine's ``default_preference`` (``None`` is returned; the core's rule,
   :func:`shared.serving.call_preference`, the same in the LlamaIndex adapter).

Accepted values: a :class:`~shared.Preference`; a cost weight in [0, 1] (``0.8`` = mostly cost);
a mapping with keys among ``quality``, ``cost``, ``latency``; or a preset name among
:data:`PRESETS` (``"quality"``, ``"balanced"``, ``"cost"``).

Examples:
    >>> from langchain_router._preference import coerce_preference, resolve_preference
    >>> coerce_preference("balanced")
    Preference(quality=0.5, cost=0.5, latency=0)
    >>> resolve_preference(None, {"configurable": {"router_preference": 0.25}}, "quality").cost
    0.25
    >>> resolve_preference(None, {}, None) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import Preference
from shared.serving import PRESETS as CORE_PRESETS
from shared.serving import call_preference

__all__ = ["CONFIG_KEYS", "PRESETS", "coerce_preference", "resolve_preference"]

#: ``config["configurable"]`` keys read for the preference, in order of precedence.
CONFIG_KEYS = ("router_preference", "preference")

#: Named preferences accepted wherever a preference is (defined by the core).
PRESETS: Mapping[str, Preference] = CORE_PRESETS


def coerce_preference(value: Any) -> Preference:
    """A :class:`~shared.Preference` from any accepted form.

    Raises:
        PreferenceError: unknown preset name, unknown mapping key, wrong type or invalid weight.
    """
    return Preference.coerce(value)


def resolve_preference(
    explicit: Any, config: Mapping[str, Any] | None, default: Any
) -> Preference | None:
    """The preference of one call: ``explicit``, else the config keys, else ``default``, else
    ``None`` (the engine's ``default_preference``).

    Raises:
        PreferenceError: the value found is invalid (a wrong value is never silently skipped).
    """
    configurable = (config or {}).get("configurable") or {}
    return call_preference(explicit, *(configurable.get(key) for key in CONFIG_KEYS), default)
