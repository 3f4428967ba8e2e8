"""Swap in a retrained router without restarting the application.

A background job (``prefroute train --out DIR`` from cron, a sidecar, a worker thread) writes the
router directory with :func:`~shared.save_router`; each application process holds a
:class:`RouterHandle` and calls :meth:`RouterHandle.reload_if_changed` now and then (every N
requests, or from a timer). The check is one ``stat`` per file; a changed directory is loaded
and swapped in under a lock, so in-flight requests finish with the router they started with.

``save_router`` replaces ``arrays.npz`` first and ``router.json`` last, each by an atomic rename.
A directory whose ``arrays.npz`` is newer than its ``router.json`` is therefore mid-save and is
left alone until the next check; a save that lands during a load is caught by re-checking the
files afterwards.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from .._base import BaseRouter
from ..exceptions import PersistenceError
from ..persistence import load_router

__all__ = ["RouterHandle"]

logger = logging.getLogger(__name__)

_META = "router.json"
_ARRAYS = "arrays.npz"

Version = tuple[int, int, int, int]


def _version(path: Path) -> Version | None:
    """(mtime_ns, size) of router.json and arrays.npz; ``None`` if missing or mid-save."""
    try:
        meta = os.stat(path / _META)
        arrays = os.stat(path / _ARRAYS)
    except FileNotFoundError:
        return None
    if arrays.st_mtime_ns > meta.st_mtime_ns:
        return None  # arrays replaced, router.json not yet: a save is in progress
    return (meta.st_mtime_ns, meta.st_size, arrays.st_mtime_ns, arrays.st_size)


class RouterHandle:
    """The current router of a process, reloaded from its directory when a new one is saved.

    Examples:
        >>> import tempfile
        >>> from shared import BaRPRouter, save_router
        >>> from shared.feedback import RouterHandle
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_router(BaRPRouter(random_state=0).initialize(["a", "b"], 4), d)
        ...     handle = RouterHandle(d)
        ...     handle.router.models_, handle.reload_if_changed()
        (['a', 'b'], False)

    Args:
        path: the saved router directory to follow.
        router: the router to start with; default: loaded from ``path`` now.

    Raises:
        PersistenceError: ``router`` is not given and ``path`` holds no saved router.
    """

    def __init__(self, path: str | os.PathLike[str], *, router: BaseRouter | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._version: Version | None = None
        self.reloads_ = 0
        if router is None:
            self._version = _version(self.path)
            router = load_router(self.path)
        self._router = router

    @property
    def router(self) -> BaseRouter:
        """The current router (take a local reference per request)."""
        return self._router

    @property
    def version(self) -> Version | None:
        """File signature of the loaded directory (``None`` before the first load from disk)."""
        return self._version

    def swap(self, router: BaseRouter) -> None:
        """Replace the current router (e.g. with :meth:`OnlineLearner.retrain`'s result)."""
        with self._lock:
            self._router = router

    def reload_if_changed(self) -> bool:
        """Load the directory again if a save completed since the last load.

        Returns:
            Whether a new router was swapped in. A missing, half-written or unreadable
            directory keeps the current router (and is logged).
        """
        before = _version(self.path)
        if before is None or before == self._version:
            return False
        with self._lock:
            if before == self._version:  # another thread reloaded meanwhile
                return False
            try:
                router = load_router(self.path)
            except PersistenceError as err:
                logger.warning("keeping the current router: cannot load %s: %s", self.path, err)
                return False
            if _version(self.path) != before:
                logger.debug("router directory changed during the load; retrying later")
                return False
            self._router = router
            self._version = before
            self.reloads_ += 1
        logger.info("reloaded router from %s", self.path)
        return True
