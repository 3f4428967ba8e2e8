"""Every ``prefroute`` error is one line with the right exit status, and arrives before the work.

Usage errors (bad values, unwritable outputs, a store given as a path...) exit with status 2 while
the line is parsed; failures exit with 1; no traceback unless ``--debug``. Where a check must come
before an expensive step, the step is replaced by a function that fails the test if called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared import RoutingTable, write_table
from shared.cli import tables as cli_tables
from shared.cli.main import main
from shared.feedback import training

MODELS = ("big", "small")


def _table(
    n: int = 40, *, splits: tuple[str, ...] | None = None, ids: tuple[str, ...] | None = None
) -> RoutingTable:
    is_math = np.arange(n) % 2 == 0
    prompts = tuple(
        f"integral of x^{i}" if m else f"hello friend {i}" for i, m in enumerate(is_math)
    )
    return RoutingTable(
        ids=ids or tuple(f"p{i}" for i in range(n)),
        prompts=prompts,
        tasks=("",) * n,
        splits=splits or tuple("test" if i % 4 == 3 else "train" for i in range(n)),
        models=MODELS,
        quality=np.column_stack([np.ones(n), np.where(is_math, 0.0, 1.0)]),
        cost=np.tile([0.01, 0.001], (n, 1)),
        name="tiny",
    )


@pytest.fixture
def table_dir(tmp_path: Path) -> Path:
    write_table(_table(), tmp_path / "tiny")
    return tmp_path / "tiny"


@pytest.fixture
def no_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any command starts encoding prompts."""

    def boom(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the prompts were encoded before the error was found")

    monkeypatch.setattr(cli_tables, "embed_rows", boom)
    monkeypatch.setattr(training, "embed_chunk", boom)  # prefroute train's reads encode here


def _one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    """The error: one line, the last on stderr (progress lines may come before it)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    assert lines[-1].startswith(f"prefroute {command}: error: "), err
    return lines[-1]


# ---------------------------------------------------------------------------- prefroute train
def test_train_store_given_as_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """A path instead of a URL: exit 2 with the URL to type, before opening anything."""
    path = tmp_path / "feedback.sqlite3"
    argv = ["train", "--store", str(path), "--router", "ridge", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    line = _one_line_error(capsys, "train")
    assert "expected a database URL" in line and f"sqlite:///{path}" in line
    assert not path.exists()


@pytest.mark.parametrize("where", ["missing-folder", "missing-file"])
def test_train_store_that_does_not_exist_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None, where: str
) -> None:
    """A SQLite store whose folder or file is missing: exit 2, and no empty store appears."""
    db = tmp_path / "nope" / "fb.sqlite3" if where == "missing-folder" else tmp_path / "fb.sqlite3"
    argv = ["train", "--store", f"sqlite:///{db}", "--router", "ridge"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    line = _one_line_error(capsys, "train")
    assert str(db.parent if where == "missing-folder" else db) in line
    assert not db.exists() and not db.parent.joinpath("fb.sqlite3").exists()


def test_train_out_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """--out under a file, or naming a file: exit 2 before the store is read."""
    store = tmp_path / "fb.sqlite3"
    store.touch()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    base = ["train", "--store", f"sqlite:///{store}", "--router", "ridge", "--out"]
    assert main([*base, str(blocker / "router")]) == 2
    assert "is not a folder" in _one_line_error(capsys, "train")
    assert main([*base, str(blocker)]) == 2
    assert "exists and is not a folder" in _one_line_error(capsys, "train")


# ------------------------------------------------------------------------- prefroute evaluate
def test_evaluate_plot_in_an_unwritable_place(
    table_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """--plot / --json that cannot be written: exit 2 before the table is encoded."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    base = ["evaluate", "--data", str(table_dir), "--encoder", "hashing"]
    assert main([*base, "--plot", str(blocker / "dir" / "x.png")]) == 2
    assert "argument --plot: cannot write file" in _one_line_error(capsys, "evaluate")
    assert main([*base, "--json", str(tmp_path)]) == 2
    assert "is a folder" in _one_line_error(capsys, "evaluate")


def test_evaluate_bootstrap_out_of_range(
    table_dir: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """--bootstrap 10: exit 2 in command-line terms, before anything is fitted."""
    assert main(["evaluate", "--data", str(table_dir), "--bootstrap", "10"]) == 2
    line = _one_line_error(capsys, "evaluate")
    assert "argument --bootstrap: must be 0 (off) or at least 100; got 10" in line


def test_evaluate_unknown_router_lists_the_names(
    table_dir: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """An unknown --routers name: exit 2 with the available names, before encoding."""
    assert main(["evaluate", "--data", str(table_dir), "--routers", "ridge,nope"]) == 2
    line = _one_line_error(capsys, "evaluate")
    assert "'nope'" in line and "ridge" in line and "knn" in line


def test_table_without_test_split_is_refused_before_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """A table with no test prompts: exit 1 naming the splits it has, before any encoding."""
    write_table(_table(splits=("train",) * 40), tmp_path / "t")
    assert main(["evaluate", "--data", str(tmp_path / "t"), "--encoder", "hashing"]) == 1
    line = _one_line_error(capsys, "evaluate")
    assert "no 'test' prompts" in line and "train: 40" in line


def test_missing_data_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--data", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in _one_line_error(capsys, "evaluate")


# --------------------------------------------------------------------------- prefroute assign
def test_assign_unknown_method_lists_the_valid_ones(
    table_dir: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    assert main(["assign", "--data", str(table_dir), "--methods", "exact,foo"]) == 2
    line = _one_line_error(capsys, "assign")
    assert "unknown name 'foo'; valid names: exact, exact_thin, nsga2, optllm" in line


def test_assign_budget_without_the_exact_front(
    table_dir: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    argv = ["assign", "--data", str(table_dir), "--methods", "optllm", "--budget", "1"]
    assert main(argv) == 2
    assert "add exact to --methods" in _one_line_error(capsys, "assign")


# ---------------------------------------------------------------------------- prefroute demo
def test_demo_store_given_as_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    assert main(["demo", "--store", str(tmp_path / "fb.sqlite3")]) == 2
    assert "expected a database URL" in _one_line_error(capsys, "demo")


# ------------------------------------------------------------------------ duplicates, policy
def test_duplicate_ids_are_reported_in_command_line_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_encoding: None
) -> None:
    """An id listed with two different prompts: exit 1; the message names --on-duplicate."""
    ids = (*(f"p{i}" for i in range(39)), "p0")
    write_table(_table(ids=ids), tmp_path / "t")
    for command in ("evaluate", "assign"):
        assert main([command, "--data", str(tmp_path / "t"), "--encoder", "hashing"]) == 1
        line = _one_line_error(capsys, command)
        assert "--on-duplicate keep" in line and "on_duplicate=" not in line


def _wide_csv(folder: Path, n: int = 40) -> Path:
    """RouterBench's wide layout: x_train.csv and x_test.csv, one row a prompt."""
    folder.mkdir()
    t = _table(n)
    for split in ("train", "test"):
        rows = ["sample_id,prompt,eval_name,big,big|total_cost,small,small|total_cost"]
        for i in range(n):
            if t.splits[i] == split:
                q, c = t.quality[i], t.cost[i]
                rows.append(f"{t.ids[i]},\"['{t.prompts[i]}']\",toy,{q[0]},{c[0]},{q[1]},{c[1]}")
        # an identical repeated row, as RouterBench has: merged by the default policy
        rows.append(rows[1])
        (folder / f"x_{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_every_command_reads_the_wide_csv_and_merges_identical_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """evaluate, assign and demo read the RouterBench wide CSV under the same default policy:
    an identical repeated row is merged with a warning; --on-duplicate error refuses it."""
    data = str(_wide_csv(tmp_path / "rb"))
    out = tmp_path / "o.json"
    runs = {
        "evaluate": ["--routers", "knn-ref", "--encoder", "hashing"],
        "assign": ["--encoder", "hashing", "--estimator", "logistic", "--n-bootstrap", "2",
                   "--methods", "exact", "--train-share", "0.2"],
        "demo": ["--encoder", "hashing"],
    }  # fmt: skip
    for command, extra in runs.items():
        caplog.clear()
        assert main([command, "--data", data, *extra, "--json", str(out)]) == 0, command
        assert out.stat().st_size > 0
        assert any("merged 2 repeated row(s)" in r.getMessage() for r in caplog.records)
        assert "--on-duplicate keep" in caplog.text
        out.unlink()
    capsys.readouterr()
    assert main(["evaluate", "--data", data, "--on-duplicate", "error"]) == 1
    assert "--on-duplicate merge" in _one_line_error(capsys, "evaluate")


# --------------------------------------------------------------------------- cache, one layout
def test_cache_dir_is_the_cache_root_and_policies_share_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--cache-dir D keeps embeddings in D/embeddings (as PREFROUTE_CACHE_DIR=D does); every
    duplicate policy embeds the file's rows, so they share one cache file (second run: a hit)."""
    from shared import HashingEncoder

    data = _wide_csv(tmp_path / "rb")
    enc = HashingEncoder(n_features=16)
    merged = cli_tables.load_table(str(data), "merge")
    kept = cli_tables.load_table(str(data), "keep")
    assert merged.table.n_prompts == kept.table.n_prompts - 2
    X_merged = cli_tables.embed_rows(merged, enc, str(tmp_path / "c"))
    assert "cache miss" in capsys.readouterr().err
    X_kept = cli_tables.embed_rows(kept, enc, str(tmp_path / "c"))
    assert "cache hit" in capsys.readouterr().err
    assert len(list((tmp_path / "c" / "embeddings").glob("*.npy"))) == 1
    np.testing.assert_array_equal(X_merged, enc.encode(list(merged.table.prompts)))
    assert X_kept.shape[0] == kept.table.n_prompts


# --------------------------------------------------------------------------- the error policy
def test_unexpected_errors_are_one_line_unless_debug(
    table_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug or an OSError while working: exit 1, one line; --debug shows the traceback."""

    def broken(*_a: Any, **_k: Any) -> Any:
        raise TypeError("something\nbroke")

    monkeypatch.setattr(cli_tables, "embed_rows", broken)
    argv = ["evaluate", "--data", str(table_dir), "--encoder", "hashing"]
    assert main(argv) == 1
    line = _one_line_error(capsys, "evaluate")
    assert "TypeError: something" in line and "--debug" in line
    with pytest.raises(TypeError):
        main([*argv, "--debug"])
    with pytest.raises(TypeError):
        main(["--debug", *argv])

    def disk_full(*_a: Any, **_k: Any) -> Any:
        raise OSError(28, "No space left on device", "/tmp/x.npy")

    monkeypatch.setattr(cli_tables, "embed_rows", disk_full)
    assert main(argv) == 1
    assert _one_line_error(capsys, "evaluate").endswith("/tmp/x.npy: No space left on device")


def test_help_lists_every_command_without_loading_them(capsys: pytest.CaptureFixture[str]) -> None:
    """prefroute --help exits 0 and lists core and plug-in commands; help texts have no
    reStructuredText double backquotes."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("evaluate", "assign", "train", "route", "demo"):
        assert name in out
    for command in ("evaluate", "assign", "train", "route", "demo"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "``" not in text, command
        assert "--seed" not in text or "seed of" in text, command


def test_lazy_stub_help_matches_each_command() -> None:
    """The one-line help prefroute --help shows without importing a command is the command's."""
    from shared.cli.main import CORE_COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub._choices_actions}  # type: ignore[attr-defined]
    for name, (_module, summary) in CORE_COMMANDS.items():
        assert helps[name] == summary


def test_route_errors_and_explain_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """prefroute explain is route; a folder without a saved router fails with exit 1."""
    assert main(["explain", "--router", str(tmp_path), "--prompt", "hi"]) == 1
    assert "error" in _one_line_error(capsys, "explain")
    assert main(["route", "--router", str(tmp_path), "--prompt", "hi", "--preference", "x=1"]) == 2
    assert "argument --preference" in _one_line_error(capsys, "route")
