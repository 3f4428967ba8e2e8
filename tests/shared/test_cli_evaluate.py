"""``prefroute evaluate`` end to end on a tiny synthetic table with the hashing encoder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import (
    ColdStarts,
    DataError,
    FitsTable,
    InvalidParameterError,
    LearnsOnline,
    Preference,
    write_table,
)
from shared._base import BaseRouter, RouteScores
from shared.cli import evaluate as cli
from shared.tables import RoutingTable

MODELS = ("big", "small")


class _MeanRouter(FitsTable, ColdStarts, LearnsOnline, BaseRouter):
    """Per-model mean quality/cost (full fit, or online from initialize); uniform exploration."""

    def __init__(self, *, random_state: int | None = 0) -> None:
        self.random_state = random_state

    def initialize(self, models: list[str], n_features: int) -> _MeanRouter:
        self.models_, self.n_features_in_, self.cost_scale_ = list(models), n_features, 1.0
        self.sums_, self.counts_ = np.zeros((len(models), 2)), np.zeros(len(models))
        return self

    def fit(self, X: Any, quality: Any, cost: Any, *, models: list[str]) -> _MeanRouter:
        self.initialize(models, np.asarray(X).shape[1])
        obs = ~np.isnan(quality)
        self.sums_[:, 0] = np.where(obs, quality, 0).sum(axis=0)
        self.sums_[:, 1] = np.where(obs, cost, 0).sum(axis=0)
        self.counts_ = obs.sum(axis=0).astype(float)
        return self

    def update(self, x: Any, model: str, quality: float, cost: float | None = None, *,
               propensity: float = 1.0, preference: Any = None) -> _MeanRouter:  # fmt: skip
        j = self.models_.index(model)
        self.sums_[j] += (quality, cost or 0.0)
        self.counts_[j] += 1
        return self

    def _route_scores(self, X: Any, preference: Preference, explore: bool) -> RouteScores:
        n = np.maximum(self.counts_, 1)
        q = np.tile(self.sums_[:, 0] / n, (len(X), 1))
        c = np.tile(self.sums_[:, 1] / n, (len(X), 1))
        probs = np.full(q.shape, 0.5)
        return RouteScores(q - preference.cost * c, probabilities=probs, quality=q, cost=c)


@pytest.fixture
def table_dir(tmp_path: Path) -> Path:
    """60 prompts: math ones need the big model, chat ones are solved by the small one."""
    rng = np.random.default_rng(0)
    n = 60
    is_math = np.arange(n) % 2 == 0
    prompts = tuple(
        f"compute the integral of x^{i} dx" if m else f"say hello to friend number {i}"
        for i, m in enumerate(is_math)
    )
    Q = np.column_stack([np.ones(n), np.where(is_math, 0.0, 1.0)])
    Q[rng.random(n) < 0.1, 0] = 0.0
    C = np.column_stack([np.full(n, 0.01), np.full(n, 0.0005)])
    splits = tuple("test" if i % 5 == 4 else "train" for i in range(n))
    table = RoutingTable(
        ids=tuple(f"p{i}" for i in range(n)), prompts=prompts, tasks=("",) * n, splits=splits,
        models=MODELS, quality=Q, cost=C, name="tiny",
    )  # fmt: skip
    write_table(table, tmp_path / "tiny")
    return tmp_path / "tiny"


@pytest.fixture(autouse=True)
def _mean_router(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        cli.ROUTER_FACTORIES, "mean", lambda seed, _fb: _MeanRouter(random_state=seed)
    )


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="prefroute")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", *argv])
    args.validate(args)
    code: int = args.func(args)
    return code


def test_full_information_run_prints_table_and_writes_json_and_plot(
    table_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full-information run prints the table, writes the JSON report and the Pareto PNG."""
    out, png, cache = tmp_path / "r.json", tmp_path / "p.png", tmp_path / "cache"
    code = _run("--data", str(table_dir), "--routers", "knn-ref,mean", "--encoder", "hashing",
                "--json", str(out), "--plot", str(png), "--cache-dir", str(cache))  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "knn-ref" in captured.out and "single models' hull" in captured.out
    assert "fitting knn-ref" in captured.err
    report = json.loads(out.read_text())
    assert report["dataset"] == "tiny" and report["n_test"] == 12
    assert report["best_single"]["model"] == "big"
    assert set(report["routers"]) == {"knn-ref", "mean"}
    # math vs chat is learnable from the words: kNN beats the single models' hull
    assert report["routers"]["knn-ref"]["aiq"] > report["hull"]["aiq"] + 0.05
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert list(cache.rglob("*.npy"))  # embeddings were cached on disk


def test_bandit_run_reports_learning_curves_beside_full_information(
    table_dir: Path, tmp_path: Path
) -> None:
    """In bandit mode each router appears trained from partial feedback (with its learning
    curve) and on full information; the learning-curve PNG is written next to the plot."""
    out, png = tmp_path / "r.json", tmp_path / "p.png"
    code = _run("--data", str(table_dir), "--routers", "mean,knn-ref", "--encoder", "hashing",
                "--feedback", "bandit", "--json", str(out), "--plot", str(png),
                "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert code == 0
    routers = json.loads(out.read_text())["routers"]
    assert set(routers) == {"mean (bandit)", "mean (full)", "knn-ref (bandit)", "knn-ref (full)"}
    assert [p[0] for p in routers["mean (bandit)"]["learning_curve"]] == [0.1, 0.25, 0.5, 1.0]
    assert routers["mean (bandit)"]["info"]["feedback"] == "bandit (online)"
    assert routers["knn-ref (bandit)"]["info"]["feedback"] == "bandit (partial table)"
    assert "learning_curve" not in routers["mean (full)"]
    assert (tmp_path / "p.learning.png").is_file()


def test_bootstrap_compares_each_router_with_the_hull(
    table_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--bootstrap N prints a paired comparison with the hull and stores it in the JSON."""
    out = tmp_path / "r.json"
    code = _run("--data", str(table_dir), "--routers", "knn-ref", "--encoder", "hashing",
                "--bootstrap", "200", "--json", str(out),
                "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert code == 0
    assert "paired bootstrap, 200 resamples" in capsys.readouterr().out
    router = json.loads(out.read_text())["routers"]["knn-ref"]
    hull = json.loads(out.read_text())["hull"]
    vs = router["vs_hull"]
    assert vs["n_resamples"] == 200
    assert vs["aiq_diff"] == pytest.approx(router["aiq"] - hull["aiq"])
    assert vs["aiq_interval"][0] <= vs["aiq_diff"] <= vs["aiq_interval"][1]
    with pytest.raises(SystemExit):  # a usage error, reported by the parser before any work
        _run("--data", str(table_dir), "--routers", "knn-ref", "--encoder", "hashing",
             "--bootstrap", "5", "--cache-dir", str(tmp_path / "cache"))  # fmt: skip


def test_errors_are_typed(table_dir: Path, tmp_path: Path) -> None:
    """An unknown router name and a path that is not a table raise the library's errors."""
    with pytest.raises(InvalidParameterError, match="available routers"):
        _run("--data", str(table_dir), "--routers", "nope", "--encoder", "hashing")
    with pytest.raises(DataError, match="neither"):
        _run("--data", str(tmp_path), "--routers", "mean", "--encoder", "hashing")


def test_expert_labels_pick_each_tasks_best_model() -> None:
    """Per task the best mean quality wins (math: big 1.0 vs small .5); a tie goes to the cheaper
    model (chat: both 1.0 -> small); without tasks each prompt gets its best, cheapest model."""
    Q = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    C = np.array([[0.01, 0.001]] * 4)
    common = {"prompts": ("a", "b", "c", "d"), "splits": ("train",) * 4, "models": MODELS}
    t = RoutingTable(ids=("1", "2", "3", "4"), tasks=("math", "math", "chat", "chat"),
                     quality=Q, cost=C, **common)  # type: ignore[arg-type]  # fmt: skip
    assert cli.expert_labels(t) == ["big", "big", "small", "small"]
    t2 = RoutingTable(ids=("1", "2", "3", "4"), tasks=("",) * 4, quality=Q, cost=C, **common)  # type: ignore[arg-type]
    assert cli.expert_labels(t2) == ["big", "small", "small", "small"]
