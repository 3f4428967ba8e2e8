"""save_router is one atomic step: killed at any moment, the directory loads the old or new router."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shared import KNNRouter, PersistenceError, RidgeRouter, load_router, persistence, save_router
from shared._base import BaseRouter

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX fork and signals")

#: the steps save_router reports to its crash hook, in order
STEPS = [
    "cleaned",
    "wrote router.json",
    "wrote arrays.npz",
    "renamed version",
    "wrote manifest.json under a temporary name",
    "switched manifest",
    "done",
]


def _old() -> BaseRouter:
    """A router with many bytes (so a kill often lands mid-write): kNN on 400 x 3 features."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    Q = rng.uniform(size=(400, 2))
    return KNNRouter(k=3).fit(X, Q, np.full((400, 2), 0.01), models=["a", "b"])


def _new() -> BaseRouter:
    """A different class, width and pool: any mix of the two saves fails to load."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5))
    return RidgeRouter().fit(
        X, rng.uniform(size=(30, 3)), np.full((30, 3), 0.01), models=list("xyz")
    )


def _which(router: BaseRouter, old: BaseRouter, new: BaseRouter) -> str:
    """'old' or 'new', by class, pool and scores; fails on anything else."""
    for label, ref in (("old", old), ("new", new)):
        if type(router) is type(ref) and router.models_ == ref.models_:
            probe = np.linspace(-1, 1, ref.n_features_in_)[None, :]
            np.testing.assert_allclose(
                router.decision_function(probe), ref.decision_function(probe)
            )
            return label
    raise AssertionError(f"loaded neither the old nor the new router: {router!r}")


def _entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def _fork(body: Iterator[None] | None = None) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            if body is not None:
                for _ in body:
                    pass
        finally:
            os._exit(0)
    return pid


def test_sigkill_at_random_moments_leaves_old_or_new(tmp_path: Path) -> None:
    """100 children saving in a loop are SIGKILLed at random times; every kill leaves a
    directory that loads one of the two routers, and the litter stays bounded."""
    old, new = _old(), _new()
    start = time.perf_counter()
    save_router(old, tmp_path)
    save_router(old, tmp_path)
    span = 1.5 * (time.perf_counter() - start)  # about three saves (fsync dominates)
    rng = random.Random(12)
    seen = {"old": 0, "new": 0}

    def saver(done: int) -> Iterator[None]:
        while True:
            save_router(new, tmp_path)
            os.write(done, b".")
            yield
            save_router(old, tmp_path)
            os.write(done, b".")
            yield

    for _trial in range(100):
        # Wait for 0, 1 or 2 completed saves before the random delay, so that both the old
        # and the new router are on disk at some kills however slow the child runs (a loaded
        # machine stretches every save; the delay alone would then only ever hit the first).
        read_end, write_end = os.pipe()
        pid = _fork(saver(write_end))
        os.close(write_end)
        for _ in range(rng.randrange(3)):
            if not os.read(read_end, 1):
                break
        time.sleep(rng.uniform(0.0, span))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        seen[_which(load_router(tmp_path), old, new)] += 1
        # at most: manifest, its temporary, current + previous + one unpublished version
        assert len(_entries(tmp_path)) <= 5, _entries(tmp_path)
    assert seen["old"] > 0 and seen["new"] > 0, seen
    save_router(new, tmp_path)  # the next save removes every leftover
    names = _entries(tmp_path)
    assert "manifest.json" in names and len(names) <= 3
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]


@pytest.mark.parametrize("step", STEPS)
def test_killed_exactly_between_steps(step: str, tmp_path: Path) -> None:
    """A writer that dies right after each step leaves the old router before the manifest
    switch and the new one after; the next save cleans up."""
    old, new = _old(), _new()
    save_router(old, tmp_path)

    def crash_at(name: str) -> None:
        if name == step:
            os._exit(17)

    def child() -> Iterator[None]:
        persistence._CRASH_HOOK = crash_at
        save_router(new, tmp_path)
        yield

    pid = _fork(child())
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 17
    expected = "new" if STEPS.index(step) >= STEPS.index("switched manifest") else "old"
    assert _which(load_router(tmp_path), old, new) == expected
    save_router(old, tmp_path)
    assert _which(load_router(tmp_path), old, new) == "old"
    assert not [n for n in _entries(tmp_path) if n.startswith(".")]


def test_a_failing_save_keeps_the_old_router_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception inside the save (disk full...) leaves the old router and removes its
    temporary directory."""
    old, new = _old(), _new()
    save_router(old, tmp_path)

    def fail(name: str) -> None:
        if name == "wrote arrays.npz":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence, "_CRASH_HOOK", fail)
    with pytest.raises(PersistenceError, match="No space left"):
        save_router(new, tmp_path)
    assert _which(load_router(tmp_path), old, new) == "old"
    assert not [n for n in _entries(tmp_path) if n.startswith(".")]


def test_format_one_directories_load_and_are_replaced(tmp_path: Path) -> None:
    """A directory saved before the manifest (router.json + arrays.npz) loads; the next save
    replaces its files with a version directory."""
    old, new = _old(), _new()
    save_router(old, tmp_path)
    version = json.loads((tmp_path / "manifest.json").read_text())["version"]
    for name in ("router.json", "arrays.npz"):
        os.replace(tmp_path / version / name, tmp_path / name)
    (tmp_path / "manifest.json").unlink()
    (tmp_path / version).rmdir()
    (tmp_path / "tmpabc.npz.tmp").write_bytes(b"left by an old save")
    assert _which(load_router(tmp_path), old, new) == "old"
    save_router(new, tmp_path)
    assert _which(load_router(tmp_path), old, new) == "new"
    assert len(_entries(tmp_path)) == 2  # manifest.json + one version


def test_file_modes_follow_mode_or_umask(tmp_path: Path) -> None:
    """mode=0o640 gives group-readable files and group-enterable directories; by default the
    umask decides (0o027 -> 0o640)."""
    save_router(_new(), tmp_path / "a", mode=0o640)
    version = json.loads((tmp_path / "a" / "manifest.json").read_text())["version"]
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in [tmp_path / "a" / "manifest.json", *(tmp_path / "a" / version).iterdir()]
    }
    assert set(modes.values()) == {0o640}
    assert stat.S_IMODE((tmp_path / "a" / version).stat().st_mode) == 0o750
    previous = os.umask(0o027)
    try:
        save_router(_new(), tmp_path / "b")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "b" / "manifest.json").stat().st_mode) == 0o640
    with pytest.raises(ValueError, match="mode"):
        save_router(_new(), tmp_path / "c", mode=0o1777)
