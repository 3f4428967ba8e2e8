"""The one router registry: every concrete public router class, by class name.

A class registers itself when it is defined (``BaseRouter.__init_subclass__`` calls
:func:`register_router`), so persistence, the CLI and the tests need no list of routers: drop a
module into ``shared/routers/`` and :func:`router_classes` finds it (it imports every public module of
the packages in ``DISCOVERED`` on first use). Persistence (:func:`shared.load_router`), the CLI
tables and the common estimator checks of the test suite read this registry.

This module imports nothing of the package at import time, so that it sits below
:mod:`shared._base` and :mod:`shared.persistence` in the import graph.

Examples:
    >>> from shared._registry import router_class, router_classes
    >>> router_class("RidgeRouter").__name__
    'RidgeRouter'
    >>> "BaRPRouter" in router_classes(builtin=True)
    True
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    from ._base import BaseRouter

__all__ = [
    "DISCOVERED",
    "is_builtin",
    "register_router",
    "router_class",
    "router_classes",
    "router_short_names",
    "short_name",
]

#: Modules and packages whose public modules define the built-in routers.
DISCOVERED = ("shared.routers", "shared.evaluation.yardsticks")

_ROUTERS: dict[str, type[BaseRouter]] = {}
_discovered = False


def register_router(cls: type[BaseRouter]) -> type[BaseRouter]:
    """Add ``cls`` to the registry under its class name (a later class of that name replaces it)."""
    _ROUTERS[cls.__name__] = cls
    return cls


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for name in DISCOVERED:
        module = importlib.import_module(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if not info.name.startswith("_"):
                importlib.import_module(f"{name}.{info.name}")
    _discovered = True


def is_builtin(cls: type) -> bool:
    """Whether ``cls`` ships with prefroute (defined in a module of :data:`DISCOVERED`)."""
    return any(cls.__module__ == d or cls.__module__.startswith(d + ".") for d in DISCOVERED)


def router_classes(*, builtin: bool = False) -> dict[str, type[BaseRouter]]:
    """Every registered router class by name, sorted (``builtin``: only prefroute's own)."""
    _discover()
    return {name: cls for name, cls in sorted(_ROUTERS.items()) if not builtin or is_builtin(cls)}


def router_class(name: str) -> type[BaseRouter]:
    """The registered router class called ``name``.

    Raises:
        InvalidParameterError: no router class has that name.
    """
    if name not in _ROUTERS:
        _discover()
    cls = _ROUTERS.get(name)
    if cls is None:
        raise InvalidParameterError(
            f"Unknown router class {name!r}; known: {', '.join(sorted(_ROUTERS))}."
        )
    return cls


def short_name(cls: type) -> str:
    """The CLI name of a router class: its name without ``Router``, lower-cased.

    Examples:
        >>> from shared import LinUCBRouter
        >>> short_name(LinUCBRouter)
        'linucb'
    """
    return cls.__name__.removesuffix("Router").lower()


def router_short_names() -> dict[str, type[BaseRouter]]:
    """Every built-in registered router by :func:`short_name` (the CLI's ``--router`` names)."""
    return {short_name(cls): cls for cls in router_classes(builtin=True).values()}
