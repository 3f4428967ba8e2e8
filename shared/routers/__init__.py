"""Routers: one module per method, scikit-learn style estimators over prompt embeddings.

* ``auto``: :class:`AutoRouter` (the default: a choice among the routers below on validation
  splits of the training data, with a constant-choice guard).
* ``ridge``: :class:`RidgeRouter` (IR3DE-style closed-form ridge heads, add/remove models).
* ``task``: :class:`TaskRouter` (predicted task, then each model's task-mean outcome).
* ``experts``: :class:`DomainExpertRouter` (the IR3DE paper's one-hot expert classification).
* ``policy``: :class:`BaRPRouter` (preference-conditioned policy trained from bandit feedback).
* ``bandits``: :class:`LinUCBRouter`, :class:`LinearThompsonRouter`, :class:`EpsilonGreedyRouter`.
* ``baselines``: :class:`KNNRouter`, :class:`MLPRouter`, :class:`RandomRouter`,
  :class:`FixedRouter`.

Every public module of this package is discovered by the router registry
(:mod:`shared._registry`), which persistence, the CLI and the common checks read. For type
checkers and IDEs, the ``if TYPE_CHECKING:`` block below lists each router class once (the
same imports give ``__all__`` and import each class on first access); a test fails, naming
the line to add, when a router module defines a class the block does not list. A new router is
a new module, its line here, its tests and docs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .. import _public_api

_EXPORTS = _public_api(__file__)
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shared.routers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# The router classes, listed once: each ``from M import N as N`` makes ``shared.routers.N``
# resolve to M.N (and types it for mypy --strict users).
if TYPE_CHECKING:
    from .auto import AutoRouter as AutoRouter
    from .bandits import EpsilonGreedyRouter as EpsilonGreedyRouter
    from .bandits import LinearThompsonRouter as LinearThompsonRouter
    from .bandits import LinUCBRouter as LinUCBRouter
    from .baselines import FixedRouter as FixedRouter
    from .baselines import KNNRouter as KNNRouter
    from .baselines import MLPRouter as MLPRouter
    from .baselines import RandomRouter as RandomRouter
    from .experts import DomainExpertRouter as DomainExpertRouter
    from .policy import BaRPRouter as BaRPRouter
    from .ridge import RidgeRouter as RidgeRouter
    from .task import TaskRouter as TaskRouter
