"""Routers: one module per method, scikit-learn style estimators over prompt embeddings.

* ``ridge``: :class:`RidgeRouter` (IR3DE-style closed-form ridge heads, add/remove models).
* ``experts``: :class:`DomainExpertRouter` (the IR3DE paper's one-hot expert classification).
* ``policy``: :class:`BaRPRouter` (preference-conditioned policy trained from bandit feedback).
* ``bandits``: :class:`LinUCBRouter`, :class:`LinearThompsonRouter`, :class:`EpsilonGreedyRouter`.
* ``baselines``: :class:`KNNRouter`, :class:`MLPRouter`, :class:`RandomRouter`,
  :class:`FixedRouter`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "RidgeRouter": ".ridge",
    "DomainExpertRouter": ".experts",
    "BaRPRouter": ".policy",
    "LinUCBRouter": ".bandits",
    "LinearThompsonRouter": ".bandits",
    "EpsilonGreedyRouter": ".bandits",
    "KNNRouter": ".baselines",
    "MLPRouter": ".baselines",
    "RandomRouter": ".baselines",
    "FixedRouter": ".baselines",
}

__all__ = [
    "BaRPRouter",
    "DomainExpertRouter",
    "EpsilonGreedyRouter",
    "FixedRouter",
    "KNNRouter",
    "LinUCBRouter",
    "LinearThompsonRouter",
    "MLPRouter",
    "RandomRouter",
    "RidgeRouter",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shared.routers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def router_class(name: str) -> type[Any] | None:
    """The router class called ``name``, importing its module; ``None`` if unknown."""
    if name not in _EXPORTS:
        return None
    cls: type[Any] = __getattr__(name)
    return cls


if TYPE_CHECKING:
    from .bandits import EpsilonGreedyRouter, LinearThompsonRouter, LinUCBRouter
    from .baselines import FixedRouter, KNNRouter, MLPRouter, RandomRouter
    from .experts import DomainExpertRouter
    from .policy import BaRPRouter
    from .ridge import RidgeRouter
