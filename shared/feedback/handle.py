"""Swap in a retrained router without restarting the application.

A background job (``prefroute train --out DIR`` from cron, a sidecar, a worker thread) writes the
router directory with :func:`~shared.save_router`; each application process holds a
:class:`RouterHandle` and calls :meth:`RouterHandle.reload_if_changed` now and then (every N
requests, or from a timer). The check is one ``stat`` of ``DIR/manifest.json``, which every save
replaces in one atomic rename; a changed directory is loaded, verified and swapped in under a
lock, so in-flight requests finish with the router they started with.

The handle never raises on the request path: a directory that cannot be loaded (damaged,
tampered, removed, unreadable) keeps the last good router, is logged once per distinct problem
at WARNING, and is tried again once the directory changes; :attr:`RouterHandle.last_error` tells what
went wrong.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from .._base import BaseRouter
from ..persistence import load_router, router_signature

__all__ = ["RouterHandle"]

logger = logging.getLogger("prefroute.feedback.handle")

Version = tuple[int, ...]


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
        self.failures_ = 0
        self.last_error: str | None = None
        self._failed: Version | None = None
        if router is None:
            self._version = router_signature(self.path)
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
        """Load the directory again if a save completed since the last load; never raises.

        Returns:
            Whether a new router was swapped in. A missing or unloadable directory keeps the
            current router; the problem is logged once (at WARNING, again only when it
            changes), counted in ``failures_`` and kept in :attr:`last_error`.
        """
        before = router_signature(self.path)
        if before is None or before == self._version or before == self._failed:
            return False
        with self._lock:
            if before == self._version:  # another thread reloaded meanwhile
                return False
            try:
                router = load_router(self.path)
            except Exception as err:  # the request path must keep serving
                self._failed = before
                self.failures_ += 1
                text = f"{type(err).__name__}: {err}"
                if text != self.last_error:
                    logger.warning(
                        "keeping the current router: cannot load %s: %s", self.path, text
                    )
                self.last_error = text
                return False
            if router_signature(self.path) != before:
                logger.debug("router directory changed during the load; retrying later")
                return False
            self._router = router
            self._version = before
            self.last_error = None
            self.reloads_ += 1
        logger.info("reloaded router from %s", self.path)
        return True
