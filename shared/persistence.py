"""Save and load fitted routers as a directory of versions behind one manifest. Never pickle.

A saved router directory looks like this::

    DIR/manifest.json          which version is current, with the checksums of its files
    DIR/v-<time>-<random>/     one complete save: router.json + arrays.npz (never changed again)

``router.json`` holds a format tag, a format version, the router class, its constructor
parameters (with the names of the tuple-valued ones, which load back as tuples: JSON has only
lists) and its JSON-able learned state; ``arrays.npz`` holds the arrays (plain numeric
``.npy`` members, read with ``allow_pickle=False``).

**A save is one atomic step.** :func:`save_router` writes a new version directory under a
temporary name, fsyncs its files and the directory, renames it into place, and then replaces
``manifest.json`` by an atomic rename (followed by an fsync of ``DIR``). A reader reads the
manifest once and then only the version it names, so it sees the old router or the new one,
never a mix, whenever the writer is killed. The previous version is kept for readers still
loading it; older versions and the leftovers of killed writers are removed by the next save.
Concurrent saves to one directory are serialized by an advisory lock on ``DIR``.

**A load verifies what it reads**: the manifest's format version, the size and SHA-256 of each
file, the ``.npy`` headers (numeric dtypes only, declared shapes that match the stored bytes, no
paths in member names), the router's parameters and state (model names, feature count, finite
arrays and cost scale), and finally that the router scores a probe embedding with finite
numbers. Anything else raises :class:`~shared.PersistenceError` with a short message.

**Permissions**: files are created with mode ``0o666`` minus the process umask (``0o644`` with
the usual umask ``022``), directories with ``0o777`` minus the umask; ``mode=0o640`` gives owner
read/write and group read whatever the umask. The group is the creating user's group, or the
directory's group when ``DIR`` has the set-group-ID bit (``chgrp routers DIR && chmod g+s DIR``),
so replicas running as another user of that group can read every save.

Directories written by prefroute 0.x before the manifest (``router.json`` + ``arrays.npz``
directly in ``DIR``) still load, with the same checks except the checksums.

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

import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import stat
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._registry import router_class, router_classes
from .capabilities import Persists
from .exceptions import InvalidParameterError, NotFittedError, PersistenceError, RouterError

if TYPE_CHECKING:  # only for annotations: _base imports this module (no import cycle)
    from ._base import BaseRouter

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "load_router",
    "router_signature",
    "save_router",
]

FORMAT_NAME = "prefroute-router"
#: 2: versioned directories behind ``manifest.json``; 1: ``router.json`` + ``arrays.npz`` only.
FORMAT_VERSION = 2
#: Largest ``router.json`` or ``arrays.npz`` a load accepts (bytes).
MAX_FILE_BYTES = 1 << 34
MAX_JSON_BYTES = 1 << 28

_MANIFEST = "manifest.json"
_META = "router.json"
#: ``router.json`` key naming the constructor parameters that were tuples (saved as lists).
_TUPLE_PARAMS = "tuple_params"
_ARRAYS = "arrays.npz"
_FILES = (_META, _ARRAYS)
_VERSION_RE = re.compile(r"^v-[0-9]{20}-[0-9a-f]{8}$")
_TMP_PREFIX = ".tmp-"
_MANIFEST_TMP = ".manifest-"
_LEGACY_TMP = (".npz.tmp", ".json.tmp")
_NUMERIC_KINDS = frozenset("biuf")

#: Test hook: called with the name of each step of :func:`save_router` (crash injection).
_CRASH_HOOK: Callable[[str], None] | None = None

_READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    UnicodeDecodeError,
    RecursionError,
    MemoryError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
)


def _step(name: str) -> None:
    if _CRASH_HOOK is not None:
        _CRASH_HOOK(name)


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot store {type(value).__name__} in router.json")


# --------------------------------------------------------------------------- writing
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, mode: int | None) -> None:
    """Create ``path`` (must not exist), write ``data``, fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _dir_mode(mode: int) -> int:
    """Directory bits matching file bits: whoever may read may also enter."""
    return mode | ((mode & 0o444) >> 2)


def write_file_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` by ``data`` in one atomic rename (written and fsynced first)."""
    tmp = path.with_name(f"{_MANIFEST_TMP}{secrets.token_hex(6)}.tmp")
    try:
        _write_file(tmp, data, mode)
        _step(f"wrote {path.name} under a temporary name")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on the directory ``path`` (released if the process dies)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _current_version(target: Path) -> str | None:
    try:
        doc = json.loads((target / _MANIFEST).read_text(encoding="utf-8"))
        version = doc["version"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return version if isinstance(version, str) and _VERSION_RE.match(version) else None


def _clean(target: Path, keep: set[str], *, legacy: bool) -> None:
    """Remove versions not in ``keep``, temporaries of killed writers, and (``legacy``) the
    files of a format-1 save."""
    for entry in target.iterdir():
        name = entry.name
        stale = (
            (_VERSION_RE.match(name) is not None and name not in keep)
            or name.startswith((_TMP_PREFIX, _MANIFEST_TMP))
            or name.endswith(_LEGACY_TMP)
            or (legacy and name in _FILES)
        )
        if not stale:
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def save_router(
    router: BaseRouter, path: str | os.PathLike[str], *, mode: int | None = None
) -> Path:
    """Write ``router`` to directory ``path`` (created if needed) in one atomic step.

    See the module docstring for the layout and the guarantees: a reader of ``path`` sees the
    previous router or this one, whenever the process is killed.

    Args:
        router: a fitted router.
        path: the router directory.
        mode: permission bits of the files written (e.g. ``0o640``); directories get the
            matching execute bits. Default: ``0o666`` minus the umask.

    Returns:
        The directory.

    Raises:
        NotFittedError: the router has not been fitted.
        PersistenceError: the router is not :class:`~shared.Persists`, or the directory cannot
            be written.
        InvalidParameterError: ``mode`` is not an int in ``[0, 0o777]``.
    """
    if not isinstance(router, Persists):
        raise PersistenceError(f"{type(router).__name__} does not support saving (not Persists).")
    if not router.is_fitted:
        raise NotFittedError(f"Cannot save an unfitted {type(router).__name__}.")
    if mode is not None and (
        isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777
    ):
        raise InvalidParameterError(f"mode must be an int in [0, 0o777], got {mode!r}.")
    meta, arrays = router._get_state()
    params = router.get_params()
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class": type(router).__name__,
        "params": params,
        # JSON has lists only: the names of the tuple-valued parameters, restored as tuples
        _TUPLE_PARAMS: sorted(k for k, v in params.items() if isinstance(v, tuple)),
        "state": meta,
    }
    meta_bytes = json.dumps(doc, indent=2, sort_keys=True, default=_json_default).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
    files = {_META: meta_bytes, _ARRAYS: buffer.getvalue()}
    target = Path(path)
    version = f"v-{time.time_ns():020d}-{secrets.token_hex(4)}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        with _locked(target):
            previous = _current_version(target)
            _clean(target, {v for v in (previous,) if v is not None}, legacy=False)
            _step("cleaned")
            tmp = target / f"{_TMP_PREFIX}{version}"
            tmp.mkdir()
            try:
                if mode is not None:
                    os.chmod(tmp, _dir_mode(mode))
                for name, data in files.items():
                    _write_file(tmp / name, data, mode)
                    _step(f"wrote {name}")
                _fsync_dir(tmp)
                os.rename(tmp, target / version)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _fsync_dir(target)
            _step("renamed version")
            manifest = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "class": type(router).__name__,
                "version": version,
                "files": {
                    name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                    for name, data in files.items()
                },
            }
            text = json.dumps(manifest, indent=2, sort_keys=True).encode()
            write_file_atomic(target / _MANIFEST, text, mode=mode)
            _step("switched manifest")
            _clean(target, {version} | ({previous} if previous else set()), legacy=True)
            _step("done")
    except OSError as err:
        raise PersistenceError(f"Cannot save router to {target}: {_short(err)}") from err
    return target


# --------------------------------------------------------------------------- reading
def _restore_tuples(params: Mapping[str, Any], names: Any) -> dict[str, Any]:
    """``params`` with the parameters ``names`` lists turned back from lists into tuples."""
    if not isinstance(names, list) or not all(
        isinstance(n, str) and isinstance(params.get(n), list) for n in names
    ):
        raise PersistenceError(
            f"Corrupt {_META}: {_TUPLE_PARAMS!r} must list parameters whose values are lists."
        )
    return {k: tuple(v) if k in names else v for k, v in params.items()}


def _regular_file(path: Path, limit: int) -> int:
    """Size of ``path``, which must be a regular file (not a symlink) of at most ``limit``."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise PersistenceError(f"Cannot read {path}: {_short(err)}") from err
    if stat.S_ISLNK(info.st_mode):
        raise PersistenceError(f"{path} is a symbolic link; a saved router holds regular files.")
    if not stat.S_ISREG(info.st_mode):
        raise PersistenceError(f"{path} is not a regular file.")
    if info.st_size > limit:
        raise PersistenceError(f"{path} is {info.st_size} bytes; the limit is {limit}.")
    return info.st_size


def _read_bytes(path: Path, limit: int) -> bytes:
    _regular_file(path, limit)
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise PersistenceError(f"{path} is larger than {limit} bytes.")
    return data


def _parse_json(data: bytes, where: Path) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise PersistenceError(f"Cannot read {where}: {_short(err)}") from None
    if not isinstance(doc, dict):
        raise PersistenceError(f"{where} is not a JSON object.")
    return doc


def _check_format(doc: Mapping[str, Any], where: Path) -> int:
    if doc.get("format") != FORMAT_NAME:
        raise PersistenceError(f"{where} is not a {FORMAT_NAME} file.")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PersistenceError(f"{where} has an invalid format version {version!r}.")
    if version > FORMAT_VERSION:
        raise PersistenceError(
            f"{where} has format version {version}; this prefroute reads up to "
            f"{FORMAT_VERSION}. Upgrade prefroute to load it."
        )
    return version


def _read_npz(data: bytes, where: Path) -> dict[str, NDArray[Any]]:
    """The arrays of an ``.npz`` image, checking every header before reading any data."""
    arrays: dict[str, NDArray[Any]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                name = info.filename
                key = name[:-4] if name.endswith(".npy") else ""
                if not key or "/" in name or "\\" in name or ".." in name or key in arrays:
                    raise PersistenceError(f"{where}: unexpected member {name[:80]!r}.")
                if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(data):
                    raise PersistenceError(f"{where}: member {key!r} is compressed or too large.")
                with zf.open(info) as fh:
                    major, minor = np.lib.format.read_magic(fh)
                    if (major, minor) == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif (major, minor) == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise PersistenceError(
                            f"{where}: {key!r} has .npy version {major}.{minor}."
                        )
                    if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS or dtype.fields:
                        raise PersistenceError(f"{where}: {key!r} is not a numeric array.")
                    count = math.prod(int(s) for s in shape)
                    if count * dtype.itemsize != info.file_size - fh.tell():
                        raise PersistenceError(
                            f"{where}: {key!r} declares shape {tuple(shape)} but holds "
                            f"{info.file_size - fh.tell()} bytes."
                        )
                    raw = fh.read()
                array = np.frombuffer(raw, dtype=dtype, count=count)
                arrays[key] = array.reshape(shape, order="F" if fortran else "C").copy()
    except PersistenceError:
        raise
    except _READ_ERRORS as err:
        raise PersistenceError(
            f"Cannot read {where}: {type(err).__name__}: {_short(err)}"
        ) from None
    return arrays


def _read_version(target: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The router document and arrays the manifest of ``target`` names, verified."""
    manifest_path = target / _MANIFEST
    manifest = _parse_json(_read_bytes(manifest_path, MAX_JSON_BYTES), manifest_path)
    _check_format(manifest, manifest_path)
    version = manifest.get("version")
    files = manifest.get("files")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise PersistenceError(f"{manifest_path} names an invalid version {str(version)[:80]!r}.")
    if not isinstance(files, Mapping) or set(files) != set(_FILES):
        raise PersistenceError(f"{manifest_path} must list exactly {list(_FILES)}.")
    folder = target / version
    if os.path.islink(folder) or not folder.is_dir():
        # removed by a newer save (the caller retries), or never there
        raise FileNotFoundError(2, "No such directory", str(folder))
    contents: dict[str, bytes] = {}
    for name in _FILES:
        entry = files[name]
        size = entry.get("size") if isinstance(entry, Mapping) else None
        digest = entry.get("sha256") if isinstance(entry, Mapping) else None
        if isinstance(size, bool) or not isinstance(size, int) or not isinstance(digest, str):
            raise PersistenceError(f"{manifest_path}: invalid entry for {name}.")
        if size > (MAX_JSON_BYTES if name == _META else MAX_FILE_BYTES):
            raise PersistenceError(f"{manifest_path}: {name} is too large ({size} bytes).")
        data = _read_bytes(folder / name, size)
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise PersistenceError(f"{folder / name} does not match its checksum in the manifest.")
        contents[name] = data
    doc = _parse_json(contents[_META], folder / _META)
    _check_format(doc, folder / _META)
    return doc, _read_npz(contents[_ARRAYS], folder / _ARRAYS)


def _read_legacy(target: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    meta_path, arrays_path = target / _META, target / _ARRAYS
    doc = _parse_json(_read_bytes(meta_path, MAX_JSON_BYTES), meta_path)
    _check_format(doc, meta_path)
    return doc, _read_npz(_read_bytes(arrays_path, MAX_FILE_BYTES), arrays_path)


def _read(target: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    missing: FileNotFoundError | None = None
    for _attempt in range(5):
        try:
            if os.path.lexists(target / _MANIFEST):
                return _read_version(target)
            if os.path.lexists(target / _META):
                return _read_legacy(target)
        except FileNotFoundError as err:
            missing = err  # a concurrent save replaced the version we were reading: again
            continue
        break
    if missing is not None:
        raise PersistenceError(f"{target}: {missing.filename} is missing.")
    raise PersistenceError(
        f"{target} is not a saved router: expected {_MANIFEST} and a version directory inside it."
    )


def router_signature(path: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """A cheap signature of the save in ``path`` (one ``stat``); changes with every save.

    ``None`` when ``path`` holds no saved router.
    """
    target = Path(path)
    try:
        info = os.stat(target / _MANIFEST)
    except OSError:
        try:  # format 1: router.json is replaced last
            info = os.stat(target / _META)
        except OSError:
            return None
    return (info.st_ino, info.st_mtime_ns, info.st_size, info.st_dev)


# --------------------------------------------------------------------------- validation
def _number(state: Mapping[str, Any], key: str) -> None:
    """``state[key]``, when present and not null, must be a finite number."""
    value = state.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PersistenceError(f"Corrupt saved router: {key} must be a finite number.")


def _check_state(router: BaseRouter, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Learned state a router can route with: names, width, scale, finite arrays, probe."""
    name = type(router).__name__
    models = getattr(router, "models_", None)
    if (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m for m in models)
        or len(set(models)) != len(models)
    ):
        raise PersistenceError(f"Corrupt saved {name}: models must be distinct non-empty names.")
    n_features = getattr(router, "n_features_in_", None)
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise PersistenceError(f"Corrupt saved {name}: invalid n_features_in {n_features!r}.")
    scale = getattr(router, "cost_scale_", 1.0)
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise PersistenceError(f"Corrupt saved {name}: cost scale must be finite and > 0.")
    for key, array in arrays.items():
        if array.dtype.kind != "f":
            continue
        # NaN marks an unobserved cell in the arrays a router declares (a kNN training table)
        allowed_nan = key in router._nan_arrays
        if np.isinf(array).any() or (not allowed_nan and np.isnan(array).any()):
            raise PersistenceError(f"Corrupt saved {name}: array {key!r} has NaN or inf values.")
    rng = getattr(router, "rng_", None)
    rng_state = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
    probe = np.vstack([np.zeros(n_features), np.linspace(-1.0, 1.0, n_features)])
    try:
        with np.errstate(all="ignore"):
            scores = router.decision_function(probe)
    except (
        RouterError,
        ArithmeticError,
        ValueError,
        IndexError,
        KeyError,
        np.linalg.LinAlgError,
    ) as err:
        raise PersistenceError(f"Corrupt saved {name}: cannot route: {_short(err)}") from None
    finally:
        if rng_state is not None and isinstance(rng, np.random.Generator):
            rng.bit_generator.state = rng_state
    if np.shape(scores) != (2, len(models)) or not np.isfinite(scores).all():
        raise PersistenceError(f"Corrupt saved {name}: its scores are not finite.")


def load_router(path: str | os.PathLike[str]) -> BaseRouter:
    """Load and verify a router saved by :meth:`BaseRouter.save` / :func:`save_router`.

    Raises:
        PersistenceError: missing or unreadable files, wrong format, newer version, unknown
            router class, a checksum mismatch, or parameters/state the router cannot route
            with (the message says which).
    """
    target = Path(path)
    doc, arrays = _read(target)
    cls_name = doc.get("class")
    try:
        cls = router_class(str(cls_name))
    except InvalidParameterError:
        raise PersistenceError(
            f"Unknown router class {str(cls_name)[:80]!r}; known: {sorted(router_classes())}."
        ) from None
    if not issubclass(cls, Persists):
        raise PersistenceError(f"{cls_name} does not support loading (not Persists).")
    params = doc.get("params", {})
    state = doc.get("state", {})
    if not isinstance(params, Mapping) or not isinstance(state, Mapping):
        raise PersistenceError(f"Corrupt {_META}: 'params' and 'state' must be objects.")
    params = _restore_tuples(params, doc.get(_TUPLE_PARAMS, []))
    try:
        router = cls(**params)
        router._validate_params()
        for key in ("cost_scale", "alpha", "baseline"):
            _number(state, key)
        assert isinstance(router, Persists)
        router._set_state(state, arrays)
    except PersistenceError:
        raise
    except (RouterError, *_READ_ERRORS, ArithmeticError, np.linalg.LinAlgError) as err:
        raise PersistenceError(
            f"Corrupt saved {cls_name}: {type(err).__name__}: {_short(err)}"
        ) from None
    _check_state(router, arrays)
    return router
