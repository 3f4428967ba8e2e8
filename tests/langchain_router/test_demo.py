"""The offline demo runs end to end on a small synthetic table and reports in the documented form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from langchain_router.demo import PrecomputedEncoder
from shared import HashingEncoder
from shared.cli.main import main


def test_precomputed_encoder_looks_up_and_falls_back() -> None:
    """Known texts come from the matrix; unknown ones are encoded by the wrapped encoder."""
    enc = HashingEncoder(n_features=16)
    vectors = np.eye(2, 16, dtype=np.float32)
    pre = PrecomputedEncoder(enc, ["a", "b"], vectors)
    out = pre.encode(["b", "new text", "a"])
    assert np.array_equal(out[0], vectors[1])
    assert np.array_equal(out[2], vectors[0])
    assert np.allclose(out[1], enc.encode(["new text"])[0])
    assert pre.name == enc.name
    assert pre.dimension == 16


def test_demo_command_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prefroute demo` prints the learning curve and writes the frontier JSON and the plots."""
    out_json, out_png = tmp_path / "demo.json", tmp_path / "demo.png"
    code = main(
        [
            "demo",
            "--n-prompts",
            "120",
            "--seed",
            "1",
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "learning curve" in printed
    assert "best single" in printed
    doc = json.loads(out_json.read_text())
    assert doc["dataset"] == "synthetic"
    assert set(doc["router"]) >= {"aiq", "q_at_cbest", "c_at_qbest", "gap_closed", "points"}
    assert set(doc["best_single"]) == {"model", "quality", "cost"}
    assert [row["share"] for row in doc["learning_curve"]] == [0.1, 0.25, 0.5, 1.0]
    assert all(len(p) == 2 for p in doc["router"]["points"])
    # the final frontier is compared with the single models' hull by a paired bootstrap
    vs = doc["router"]["vs_hull"]
    assert vs["n_resamples"] == 1000
    assert vs["q_at_cbest_diff"] == pytest.approx(
        doc["router"]["q_at_cbest"] - doc["best_single"]["quality"]
    )
    assert "95% interval" in printed
    assert out_png.stat().st_size > 0
    assert out_png.with_name(f"{out_png.stem}.learning.png").stat().st_size > 0


def test_demo_repeats_report_each_stream_order_with_mean_and_worst(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--repeats 2` streams the table twice (seeds 3 and 4) and reports both runs, and the mean
    and worst of AIQ - hull and Q@Cbest - best over them, per share of the stream."""
    out_json = tmp_path / "demo.json"
    code = main(
        ["demo", "--n-prompts", "40", "--seed", "3", "--repeats", "2", "--json", str(out_json)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "over 2 stream orders (seeds 3, 4)" in printed
    doc = json.loads(out_json.read_text())
    assert [run["seed"] for run in doc["runs"]] == [3, 4]
    assert doc["router"] == doc["runs"][0]["router"]
    over = doc["over_runs"]
    for key, value, ref in (
        ("aiq_minus_hull", "aiq", "hull_aiq"),
        ("q_at_cbest_minus_best", "q_at_cbest", "q_best"),
    ):
        for k, cell in enumerate(over[key]):
            diffs = [
                run["learning_curve"][k][value] - run["learning_curve"][k][ref]
                for run in doc["runs"]
            ]
            assert cell["mean"] == pytest.approx(np.mean(diffs))
            assert cell["worst"] == pytest.approx(min(diffs))
    for run in doc["runs"]:  # the final frontier is the router after 100% of the stream
        assert run["router"]["aiq"] == pytest.approx(run["learning_curve"][-1]["aiq"])
    final = over["final_aiq_minus_hull"]
    assert final["worst"] == pytest.approx(over["aiq_minus_hull"][-1]["worst"])
