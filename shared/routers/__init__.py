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

There is no list to maintain here: every public module of this package is discovered by the
router registry (:mod:`shared._registry`), and ``shared.routers.<ClassName>`` resolves any
router class it defines. A new router is a new module (plus its tests and docs).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from .._registry import is_builtin, router_classes

    cls = router_classes().get(name)
    if cls is None or not is_builtin(cls) or not cls.__module__.startswith(__name__ + "."):
        raise AttributeError(f"module 'shared.routers' has no attribute {name!r}")
    globals()[name] = cls
    return cls


def __dir__() -> list[str]:
    from .._registry import router_classes

    names = [n for n, c in router_classes().items() if c.__module__.startswith(__name__ + ".")]
    return sorted({*globals(), *names})
