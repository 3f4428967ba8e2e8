"""End-to-end ``prefroute assign`` on a tiny synthetic table with the hashing encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared.cli.main import main
from shared.tables import table_from_arrays, write_table

TOPICS = ["math", "poem", "code", "history", "chemistry", "travel"]


@pytest.fixture
def table_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 120-prompt, 3-model table where the cheap model only solves 'poem' and 'travel'."""
    monkeypatch.setenv("PREFROUTE_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    topics = rng.integers(0, len(TOPICS), 120)
    prompts = [f"{TOPICS[t]} question number {i} about {TOPICS[t]}" for i, t in enumerate(topics)]
    easy = np.isin(topics, [1, 5])
    Q = np.column_stack([easy, easy | (topics % 2 == 0), np.ones(120)]).astype(float)
    C = np.tile([0.001, 0.004, 0.02], (120, 1)) * (1 + rng.random((120, 1)))
    out = tmp_path / "table"
    write_table(table_from_arrays(Q, C, ["cheap", "mid", "big"], prompts=prompts), out)
    return out


def _args(table_dir: Path, *extra: str) -> list[str]:
    return [
        "assign",
        "--data",
        str(table_dir),
        "--train-share",
        "0.2",
        "--encoder",
        "hashing",
        "--estimator",
        "logistic",
        "--n-bootstrap",
        "3",
        "--gn",
        "5",
        "--methods",
        "exact,optllm",
        *extra,
    ]


def test_assign_writes_table_json_and_plot(
    table_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prints the comparison, writes the JSON report and the PNG, and exits 0."""
    out_json, out_png = tmp_path / "r.json", tmp_path / "f.png"
    code = main(_args(table_dir, "--json", str(out_json), "--plot", str(out_png)))
    assert code == 0
    printed = capsys.readouterr().out
    assert "exact" in printed and "optllm" in printed and "best single model: big" in printed
    report = json.loads(out_json.read_text())
    assert set(report["fronts"]) == {"true", "exact", "optllm"}
    for name in ("exact", "optllm"):
        front = report["fronts"][name]
        assert {
            "igd",
            "igd_raw",
            "hypervolume",
            "spread",
            "seconds",
            "n_solutions",
            "points",
        } <= set(front)
        assert all(len(p) == 2 for p in front["points"])
    assert report["best_single"]["model"] == "big" and report["best_single"]["accuracy"] == 1.0
    assert set(report["saving_at_best_accuracy"]) == {"exact", "optllm"}
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_assign_budget_prints_choice(
    table_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--budget prints the chosen assignment with its real accuracy and cost within the budget."""
    out_json = tmp_path / "r.json"
    assert main(_args(table_dir, "--budget", "0.5", "--json", str(out_json))) == 0
    assert "chosen assignment" in capsys.readouterr().out
    choice = json.loads(out_json.read_text())["choice"]
    assert choice["cost"] <= 0.5 + 1e-9 and 0 <= choice["accuracy"] <= 1
    assert sum(choice["models"].values()) == 120 - 2 * 24
    assert main(_args(table_dir, "--target", "0.5", "--json", str(out_json))) == 0
    assert json.loads(out_json.read_text())["choice"]["expected_accuracy"] >= 0.5


def test_assign_infeasible_target_and_budget(
    table_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An impossible budget exits 1 with the feasible range; a target above 1 is a usage error."""
    assert main(_args(table_dir, "--budget", "0.00001")) == 1
    err = capsys.readouterr().err
    assert "error" in err and "feasible budgets" in err
    assert main(_args(table_dir, "--target", "1.5")) == 2
    assert "--target: must be in [0, 1]" in capsys.readouterr().err


def test_assign_missing_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder that is not a table exits 1 with a data error; a missing path is a usage error."""
    assert main(["assign", "--data", str(tmp_path), "--encoder", "hashing"]) == 1
    assert "neither a routing table folder" in capsys.readouterr().err
    assert main(["assign", "--data", str(tmp_path / "nope"), "--encoder", "hashing"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
