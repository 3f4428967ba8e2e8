"""Save and load fitted routers as a directory: ``router.json`` + ``arrays.npz``. Never pickle.

The JSON holds a format tag, a format version, the router class, its constructor parameters and
its JSON-able learned state; the ``.npz`` holds the arrays and is read with ``allow_pickle=False``.

Examples:
    >>> import numpy as np, tempfile
    >>> from shared import RidgeRouter, load_router
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 4)); Q = rng.uniform(size=(20, 2)); C = np.full((20, 2), 0.01)
    >>> router = RidgeRouter().fit(X, Q, C, models=["a", "b"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     router.save(d)
    ...     again = load_router(d)
    >>> bool(np.allclose(again.decision_function(X), router.decision_function(X)))
    True
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._base import BaseRouter
from .exceptions import NotFittedError, PersistenceError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_router", "save_router"]

FORMAT_NAME = "prefroute-router"
FORMAT_VERSION = 1
_META = "router.json"
_ARRAYS = "arrays.npz"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"Cannot store {type(value).__name__} in router.json")


def save_router(router: BaseRouter, path: str | os.PathLike[str]) -> Path:
    """Write ``router`` to directory ``path`` (created if needed); returns the directory.

    The two files are written to temporary names and renamed, so an interrupted save never leaves
    a half-written router where a good one was.

    Raises:
        NotFittedError: the router has not been fitted.
        PersistenceError: the directory cannot be written.
    """
    if not router.is_fitted:
        raise NotFittedError(f"Cannot save an unfitted {type(router).__name__}.")
    meta, arrays = router._get_state()
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class": type(router).__name__,
        "params": router.get_params(),
        "state": meta,
    }
    target = Path(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=2, sort_keys=True, default=_json_default)
        with tempfile.NamedTemporaryFile("wb", dir=target, suffix=".npz.tmp", delete=False) as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
            tmp_arrays = fh.name
        with tempfile.NamedTemporaryFile(
            "w", dir=target, suffix=".json.tmp", delete=False, encoding="utf-8"
        ) as fh:
            fh.write(text)
            tmp_meta = fh.name
        os.replace(tmp_arrays, target / _ARRAYS)
        os.replace(tmp_meta, target / _META)
    except OSError as err:
        raise PersistenceError(f"Cannot save router to {target}: {err}") from err
    return target


def _read(path: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    meta_path, arrays_path = path / _META, path / _ARRAYS
    if not meta_path.is_file() or not arrays_path.is_file():
        raise PersistenceError(
            f"{path} is not a saved router: expected {_META} and {_ARRAYS} inside it."
        )
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise PersistenceError(f"Cannot read {meta_path}: {err}") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise PersistenceError(f"{meta_path} is not a {FORMAT_NAME} file.")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise PersistenceError(
            f"{meta_path} has format version {version!r}; this prefroute reads up to "
            f"{FORMAT_VERSION}. Upgrade prefroute to load it."
        )
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        raise PersistenceError(f"Cannot read {arrays_path}: {err}") from err
    return doc, arrays


def load_router(path: str | os.PathLike[str]) -> BaseRouter:
    """Load a router saved by :meth:`BaseRouter.save` / :func:`save_router`.

    Raises:
        PersistenceError: missing files, wrong format, newer version, or unknown router class.
    """
    doc, arrays = _read(Path(path))
    cls_name = doc.get("class")
    from .routers import router_class

    cls = router_class(str(cls_name)) or BaseRouter._registry.get(str(cls_name))
    if cls is None:
        raise PersistenceError(
            f"Unknown router class {cls_name!r}; known: {sorted(BaseRouter._registry)}."
        )
    params = doc.get("params", {})
    if not isinstance(params, Mapping):
        raise PersistenceError("Corrupt router.json: 'params' is not an object.")
    try:
        router = cls(**params)
        router._set_state(doc.get("state", {}), arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise PersistenceError(f"Corrupt saved {cls_name}: {err}") from err
    return router
