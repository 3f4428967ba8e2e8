"""``prefroute evaluate`` / ``assign`` with ``--engine dask``: the table is encoded on a real
Dask cluster, the results equal the local run's, and the disk cache is shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.cli.main import main
from shared.feedback import distributed as dd
from shared.tables import table_from_arrays, write_table

pytestmark = pytest.mark.enable_socket  # the cluster listens on 127.0.0.1

TOPICS = ["math", "poem", "code", "history", "chemistry", "travel"]


@pytest.fixture
def table_dir(tmp_path: Path) -> Path:
    """90 prompts, 3 models: the cheap one solves 'poem' and 'travel', the mid one every other
    topic too; 1 in 3 prompts is a test prompt."""
    rng = np.random.default_rng(1)
    topics = rng.integers(0, len(TOPICS), 90)
    prompts = [f"{TOPICS[t]} question number {i} about {TOPICS[t]}" for i, t in enumerate(topics)]
    easy = np.isin(topics, [1, 5])
    Q = np.column_stack([easy, easy | (topics % 2 == 0), np.ones(90)]).astype(float)
    C = np.tile([0.001, 0.004, 0.02], (90, 1)) * (1 + rng.random((90, 1)))
    splits = ["test" if i % 3 == 2 else "train" for i in range(90)]
    table = table_from_arrays(Q, C, ["cheap", "mid", "big"], prompts=prompts, splits=splits)
    write_table(table, tmp_path / "table")
    return tmp_path / "table"


def _timeless(doc: Any) -> Any:
    """The report without its wall-clock fields."""
    if isinstance(doc, dict):
        return {k: _timeless(v) for k, v in doc.items() if "seconds" not in k}
    if isinstance(doc, list):
        return [_timeless(v) for v in doc]
    return doc


def _cache_files(folder: Path) -> dict[str, Any]:
    return {f.name: np.load(f) for f in sorted(folder.rglob("*.npy"))}


COMMANDS = {
    "evaluate": ["--routers", "knn-ref,ridge-ref", "--encoder", "minilm+hashing"],
    "assign": [
        "--train-share", "0.2", "--encoder", "hashing", "--estimator", "logistic",
        "--n-bootstrap", "3", "--gn", "5", "--methods", "exact,optllm",
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dask_engine_equals_the_local_run_and_shares_the_cache(
    command: str,
    table_dir: Path,
    tmp_path: Path,
    dask_scheduler: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Same report as the local run; the cache file is the local run's (same key, same rows);
    a warm cache contacts no scheduler, a cold one with an unreachable scheduler fails in one
    line."""
    if command == "evaluate":  # MiniLM would be loaded; its block is tested elsewhere
        monkeypatch.setitem(COMMANDS, command, [*COMMANDS[command][:-1], "hashing"])
    argv = [command, "--data", str(table_dir), *COMMANDS[command]]

    def run(name: str, *extra: str) -> tuple[int, str]:
        out = tmp_path / f"{name}.json"
        code = main([*argv, "--cache-dir", str(tmp_path / name), "--json", str(out), *extra])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, err

    assert run("local")[0] == 0
    code, err = run("dask", "--engine", "dask", "--scheduler", dask_scheduler, "--partitions", "4")
    assert code == 0, err
    assert "cache miss" in err
    local = json.loads((tmp_path / "local.json").read_text())
    assert _timeless(json.loads((tmp_path / "dask.json").read_text())) == _timeless(local)
    local_files, dask_files = _cache_files(tmp_path / "local"), _cache_files(tmp_path / "dask")
    assert list(local_files) == list(dask_files) and local_files
    for name, X in local_files.items():
        np.testing.assert_array_equal(dask_files[name], X)

    monkeypatch.setattr(dd, "CONNECT_TIMEOUT", 0.5)
    code, err = run("dask", "--scheduler", "tcp://127.0.0.1:1")  # --engine auto: dask
    assert code == 0 and "cache hit" in err
    code, err = run("cold", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"prefroute {command}: error: Cannot reach the Dask scheduler at tcp://127.0.0.1:1 "
        "within 0.5 s (Timed out trying to connect to tcp://127.0.0.1:1 after 0.5 s); check the "
        "address and that the scheduler is running."
    )


def test_dask_engine_without_scheduler_starts_a_local_cluster(
    table_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The default cluster (worker threads here, worker processes in real use)."""
    monkeypatch.setitem(dd.LOCAL_CLUSTER, "processes", False)
    argv = ["assign", "--data", str(table_dir), *COMMANDS["assign"], "--engine", "dask"]
    assert main([*argv, "--cache-dir", str(tmp_path / "c")]) == 0
    assert "encoding on 2 Dask workers" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_engine_usage_errors_are_one_line_before_any_work(
    command: str, table_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    argv = [command, "--data", str(table_dir), *COMMANDS[command]]
    assert main([*argv, "--engine", "local", "--scheduler", "tcp://10.0.0.1:8786"]) == 2
    assert capsys.readouterr().err == (
        f"prefroute {command}: error: --scheduler needs --engine dask (or auto).\n"
    )
    assert main([*argv, "--scheduler", "nowhere"]) == 1
    assert "Invalid Dask scheduler address 'nowhere'" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # not installed
    assert main([*argv, "--engine", "dask"]) == 2
    assert capsys.readouterr().err == (
        f"prefroute {command}: error: The Dask engine needs dask[distributed]: "
        "pip install 'prefroute[dask]'.\n"
    )
