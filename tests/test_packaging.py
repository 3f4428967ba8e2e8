"""The wheel holds exactly the three import packages, typed, and nothing else of the repository."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"shared", "langchain_router", "llamaindex_router"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    builders = pytest.importorskip("hatchling.builders.wheel")
    out = tmp_path_factory.mktemp("wheel")
    (path,) = list(
        builders.WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    )
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_top_level_packages_are_exactly_the_three(wheel: zipfile.ZipFile) -> None:
    tops = {n.split("/")[0] for n in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == PACKAGES


def test_each_package_is_typed_and_no_data_ships(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    for package in PACKAGES:
        assert f"{package}/py.typed" in names and f"{package}/__init__.py" in names
    assert not [n for n in names if n.endswith((".npy", ".npz", ".csv", ".jsonl", ".pkl"))]


def test_console_script_and_demo_entry_point(wheel: zipfile.ZipFile) -> None:
    (path,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(path).decode()
    assert "prefroute = shared.cli.main:main" in text
    assert "demo = langchain_router.demo:register" in text
