"""Damaged, tampered and hostile router directories give a short PersistenceError, never a raw one."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import BaRPRouter, LinUCBRouter, PersistenceError, RidgeRouter, load_router, save_router
from shared.feedback import RouterHandle

MODELS = ["a", "b", "c"]


def _ridge() -> RidgeRouter:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    return RidgeRouter().fit(X, rng.uniform(size=(30, 3)), np.full((30, 3), 0.01), models=MODELS)


def _version(path: Path) -> Path:
    return path / json.loads((path / "manifest.json").read_text())["version"]


def _rewrite(path: Path, name: str, data: bytes) -> None:
    """Replace one file of the current version AND fix its manifest entry (a tamperer who
    knows the format), so the checks behind the checksum are exercised."""
    (_version(path) / name).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_doc(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads((_version(path) / "router.json").read_text())
    edit(doc)
    _rewrite(path, "router.json", json.dumps(doc).encode())


def _arrays(path: Path) -> dict[str, Any]:
    with np.load(_version(path) / "arrays.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _edit_arrays(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    arrays = _arrays(path)
    edit(arrays)
    _rewrite(path, "arrays.npz", _npz(**arrays))


def _set_state(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["state"].__setitem__(key, value)


def _set_param(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["params"].__setitem__(key, value)


def _raw_npy_member(header: str, payload: bytes = b"") -> bytes:
    """An .npz whose one member has a hand-written .npy header."""
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("q_A.npy", npy)
    return buf.getvalue()


def _zip_with(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def _object_npz() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    return _zip_with("q_A.npy", buf.getvalue())


TAMPERS: dict[str, Callable[[Path], None]] = {
    # damaged without fixing the manifest: the checksum catches it
    "truncated arrays": lambda p: (_version(p) / "arrays.npz").write_bytes(
        (_version(p) / "arrays.npz").read_bytes()[:100]
    ),
    "flipped byte in router.json": lambda p: (_version(p) / "router.json").write_text(
        (_version(p) / "router.json").read_text().replace('"a"', '"A"', 1)
    ),
    "missing version": lambda p: os.rename(_version(p), p / "elsewhere"),
    "manifest not json": lambda p: (p / "manifest.json").write_text("{not json"),
    "manifest deeply nested": lambda p: (p / "manifest.json").write_text("[" * 100_000),
    "manifest newer format": lambda p: (p / "manifest.json").write_text(
        json.dumps({"format": "prefroute-router", "format_version": 99})
    ),
    "manifest extra file": lambda p: (p / "manifest.json").write_text(
        json.dumps(
            {
                **json.loads((p / "manifest.json").read_text()),
                "files": {"../../etc/passwd": {"size": 1, "sha256": "0"}},
            }
        )
    ),
    "path traversal in version": lambda p: (p / "manifest.json").write_text(
        json.dumps({**json.loads((p / "manifest.json").read_text()), "version": "../../tmp"})
    ),
    # damaged and the manifest fixed: the checks behind the checksum catch it
    "truncated zip": lambda p: _rewrite(
        p, "arrays.npz", (_version(p) / "arrays.npz").read_bytes()[:-30]
    ),
    "empty arrays file": lambda p: _rewrite(p, "arrays.npz", b""),
    "pickle instead of npz": lambda p: _rewrite(p, "arrays.npz", pickle.dumps({"q_A": [1]})),
    "object array": lambda p: _rewrite(p, "arrays.npz", _object_npz()),
    "pickle member": lambda p: _rewrite(p, "arrays.npz", _zip_with("q_A.npy", pickle.dumps(1))),
    "member path traversal": lambda p: _rewrite(
        p, "arrays.npz", _zip_with("../evil.npy", b"\x93NUMPY")
    ),
    "huge declared shape": lambda p: _rewrite(
        p,
        "arrays.npz",
        _raw_npy_member(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 4096), }",
            b"\0" * 64,
        ),
    ),
    "string array": lambda p: _edit_arrays(p, lambda a: a.__setitem__("q_A", np.array(["x"]))),
    "router.json not utf-8": lambda p: _rewrite(p, "router.json", b"\xff\xfe{}"),
    "router.json deeply nested": lambda p: _rewrite(p, "router.json", b"[" * 100_000),
    "router.json a list": lambda p: _rewrite(p, "router.json", b"[]"),
    "unknown class": lambda p: _edit_doc(p, lambda d: d.__setitem__("class", "os.system")),
    "params a list": lambda p: _edit_doc(p, lambda d: d.__setitem__("params", [1])),
    "state a string": lambda p: _edit_doc(p, lambda d: d.__setitem__("state", "x")),
    "unknown parameter": lambda p: _edit_doc(p, _set_param("bogus", 1)),
    "tuple_params a string": lambda p: _edit_doc(p, lambda d: d.__setitem__("tuple_params", "a")),
    "tuple_params names a float": lambda p: _edit_doc(
        p, lambda d: d.__setitem__("tuple_params", ["alpha"])
    ),
    "invalid parameter": lambda p: _edit_doc(p, _set_param("exploration", "always")),
    "negative alpha parameter": lambda p: _edit_doc(p, _set_param("alpha", -1.0)),
    "negative cost scale": lambda p: _edit_doc(p, _set_state("cost_scale", -1.0)),
    "zero cost scale": lambda p: _edit_doc(p, _set_state("cost_scale", 0.0)),
    "NaN cost scale": lambda p: _edit_doc(p, _set_state("cost_scale", float("nan"))),
    "inf cost scale": lambda p: _edit_doc(p, _set_state("cost_scale", float("inf"))),
    "cost scale a string": lambda p: _edit_doc(p, _set_state("cost_scale", "1")),
    "wrong n_features_in": lambda p: _edit_doc(p, _set_state("n_features_in", 7)),
    "n_features_in a string": lambda p: _edit_doc(p, _set_state("n_features_in", "four")),
    "models not a list": lambda p: _edit_doc(p, _set_state("models", 3)),
    "duplicate models": lambda p: _edit_doc(p, _set_state("models", ["a", "a", "c"])),
    "fewer models than arrays": lambda p: _edit_doc(p, _set_state("models", ["a", "b"])),
    "missing array": lambda p: _edit_arrays(p, lambda a: a.pop("q_A")),
    "NaN array": lambda p: _edit_arrays(p, lambda a: a["q_b"].__setitem__((0, 0), np.nan)),
    "inf array": lambda p: _edit_arrays(p, lambda a: a["c_A"].__setitem__((0, 0, 0), np.inf)),
    "zero penalty": lambda p: _edit_arrays(
        p, lambda a: a.update(q_A=np.zeros_like(a["q_A"]), q_alpha=np.zeros_like(a["q_alpha"]))
    ),
    "negative counts": lambda p: _edit_arrays(p, lambda a: a.update(q_n=-a["q_n"])),
    "wrong array shape": lambda p: _edit_arrays(p, lambda a: a.__setitem__("q_A", np.ones(3))),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampered_router_gives_a_short_persistence_error(case: str, tmp_path: Path) -> None:
    """Every tampering gives PersistenceError with a message of at most a few hundred chars."""
    save_router(_ridge(), tmp_path)
    TAMPERS[case](tmp_path)
    with pytest.raises(PersistenceError) as info:
        load_router(tmp_path)
    assert 0 < len(str(info.value)) < 400, str(info.value)


@pytest.mark.parametrize("target", ["manifest.json", "router.json", "version"])
def test_symlinks_are_refused(target: str, tmp_path: Path) -> None:
    """A symbolic link inside a router directory is refused, even to a valid file."""
    save_router(_ridge(), tmp_path / "r")
    version = _version(tmp_path / "r")
    victim = {
        "manifest.json": tmp_path / "r" / "manifest.json",
        "router.json": version / "router.json",
        "version": version,
    }[target]
    os.rename(victim, tmp_path / "real")
    os.symlink(tmp_path / "real", victim)
    with pytest.raises(PersistenceError):
        load_router(tmp_path / "r")


def test_legacy_directory_is_verified_too(tmp_path: Path) -> None:
    """A format-1 directory (no manifest) gets the same state checks."""
    save_router(_ridge(), tmp_path)
    version = _version(tmp_path)
    arrays = _arrays(tmp_path)
    arrays["q_b"][0, 0] = np.nan
    (tmp_path / "arrays.npz").write_bytes(_npz(**arrays))
    os.replace(version / "router.json", tmp_path / "router.json")
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(PersistenceError, match=r"NaN|not finite"):
        load_router(tmp_path)


def test_bandit_router_state_is_checked(tmp_path: Path) -> None:
    """A BaRP policy with a NaN parameter is refused as well."""
    save_router(BaRPRouter(random_state=0).initialize(MODELS, 4), tmp_path)
    key = next(k for k in _arrays(tmp_path) if k.startswith("param."))
    _edit_arrays(tmp_path, lambda a: a[key].reshape(-1).__setitem__(0, np.nan))
    with pytest.raises(PersistenceError):
        load_router(tmp_path)


def test_zero_bandit_inverse_is_refused(tmp_path: Path) -> None:
    """A LinUCB router whose inverse Gram matrices were zeroed is refused."""
    save_router(LinUCBRouter().initialize(MODELS, 4), tmp_path)
    _edit_arrays(tmp_path, lambda a: a.update(A_inv=np.zeros_like(a["A_inv"])))
    with pytest.raises(PersistenceError, match="positive definite"):
        load_router(tmp_path)


def test_router_handle_keeps_serving_and_reports_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After a damaged save the handle keeps the last good router, logs one WARNING for the
    problem however often it is polled, and picks up the next good save."""
    save_router(_ridge(), tmp_path)
    handle = RouterHandle(tmp_path)
    good = handle.router
    save_router(_ridge(), tmp_path)
    TAMPERS["truncated zip"](tmp_path)
    with caplog.at_level(logging.WARNING, logger="prefroute.feedback.handle"):
        for _ in range(5):
            assert handle.reload_if_changed() is False
            assert handle.router is good
    assert len(caplog.records) == 1 and handle.failures_ == 1
    assert handle.last_error is not None and "PersistenceError" in handle.last_error
    save_router(_ridge(), tmp_path)
    assert handle.reload_if_changed() is True and handle.last_error is None


def test_router_handle_survives_any_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even an unexpected error class from the load (e.g. MemoryError) does not escape."""
    save_router(_ridge(), tmp_path)
    handle = RouterHandle(tmp_path)
    save_router(_ridge(), tmp_path)

    def boom(_path: object) -> None:
        raise MemoryError("no memory")

    monkeypatch.setattr("shared.feedback.handle.load_router", boom)
    assert handle.reload_if_changed() is False
    assert handle.last_error == "MemoryError: no memory"
