"""Routing tables: long layout round trip, RouterBench wide CSV, and every DataError case."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from shared import DataError, ModelPool, RoutingTable, read_routerbench_csv, read_table, write_table
from shared.tables import parse_prompt_list, table_from_arrays


def _write_long(
    root: Path,
    prompts: list[dict[str, str]],
    outcomes: list[list[str]],
    models: dict[str, dict[str, object]] | None = None,
    header: tuple[str, ...] = ("id", "model", "quality", "cost"),
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))
    with (root / "outcomes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(outcomes)
    if models is not None:
        (root / "models.json").write_text(json.dumps(models))
    return root


PROMPTS = [
    {"id": "a", "prompt": "add 2 and 2", "task": "math", "split": "train"},
    {"id": "b", "prompt": "write a haiku", "task": "poem", "split": "test"},
    {"id": "c", "prompt": "say hi", "task": "chat", "split": "validation"},
]
OUTCOMES = [
    ["a", "big", "1.0", "0.01"],
    ["a", "small", "0.0", "0.001"],
    ["b", "big", "0.5", "0.02"],
    ["c", "small", "1.0", "0.001"],
]
CARDS = {"big": {"input_usd_per_1m": 2.5, "note": "list price"}, "small": {}}


@pytest.fixture
def table_dir(tmp_path: Path) -> Path:
    return _write_long(tmp_path / "t", PROMPTS, OUTCOMES, CARDS)


def test_read_table_fills_matrices_with_nan_for_unobserved(table_dir: Path) -> None:
    """Outcomes land in their (prompt, model) cell and missing pairs are NaN."""
    t = read_table(table_dir)
    assert t.ids == ("a", "b", "c")
    assert t.models == ("big", "small")
    assert t.splits == ("train", "test", "validation")
    assert t.quality[0].tolist() == [1.0, 0.0]
    assert t.cost[1, 0] == 0.02
    assert math.isnan(t.quality[1, 1]) and math.isnan(t.cost[2, 0])
    assert t.observed.tolist() == [[True, True], [True, False], [False, True]]
    assert t.name == "t"


def test_models_json_becomes_cards_with_unknown_keys_in_extra(table_dir: Path) -> None:
    """models.json entries become ModelCards; the 'note' key is kept in extra."""
    t = read_table(table_dir)
    assert isinstance(t.cards, ModelPool)
    assert t.cards["big"].input_usd_per_1m == 2.5
    assert t.cards["big"].extra == {"note": "list price"}


def test_selection_helpers(table_dir: Path) -> None:
    """split, complete and subset select the expected rows."""
    t = read_table(table_dir)
    assert t.split("train").ids == ("a",)
    assert t.complete().ids == ("a",)
    assert t.subset([2, 0]).ids == ("c", "a")
    assert t.subset(np.array([False, True, True])).n_prompts == 2
    with pytest.raises(DataError, match="Unknown split"):
        t.split("dev")


def test_write_then_read_round_trips(table_dir: Path, tmp_path: Path) -> None:
    """write_table then read_table gives back the same table, cards included."""
    t = read_table(table_dir)
    write_table(t, tmp_path / "copy")
    back = read_table(tmp_path / "copy")
    assert back.ids == t.ids and back.prompts == t.prompts and back.models == t.models
    np.testing.assert_array_equal(back.quality, t.quality)
    np.testing.assert_array_equal(back.cost, t.cost)
    assert back.cards is not None and back.cards["big"].extra == {"note": "list price"}


def test_models_json_is_optional_and_order_follows_first_appearance(tmp_path: Path) -> None:
    """Without models.json the models follow their first appearance in outcomes.csv."""
    t = read_table(_write_long(tmp_path / "t", PROMPTS, OUTCOMES[::-1]))
    assert t.models == ("small", "big")
    assert t.cards is None


def test_missing_split_and_task_default(tmp_path: Path) -> None:
    """A prompt line without split/task is in 'train' with task ''."""
    t = read_table(
        _write_long(tmp_path / "t", [{"id": "a", "prompt": "x"}], [["a", "m", "1", "0"]])
    )
    assert t.splits == ("train",) and t.tasks == ("",)


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        ([["a", "big", "nan", "0.01"]], "every listed outcome needs a finite value"),
        ([["a", "big", "", "0.01"]], "is not a number"),
        ([["a", "big", "1.0", "-0.01"]], "negative"),
        ([["a", "big", "1.5", "0.01"]], r"outside \[0, 1\]"),
        ([["a", "big", "1", "0.01"], ["a", "big", "0", "0.01"]], "duplicate outcome"),
        ([["zzz", "big", "1", "0.01"]], "unknown prompt id 'zzz'"),
    ],
)
def test_bad_outcomes_raise_data_error(
    tmp_path: Path, outcomes: list[list[str]], message: str
) -> None:
    """Each malformed outcome row raises a DataError that says what is wrong."""
    root = _write_long(tmp_path / "t", PROMPTS, outcomes, CARDS)
    with pytest.raises(DataError, match=message):
        read_table(root)


def test_missing_files_and_columns_raise(tmp_path: Path) -> None:
    """Missing prompts.jsonl, outcomes.csv or a required column is a DataError."""
    with pytest.raises(DataError, match=r"prompts\.jsonl"):
        read_table(tmp_path)
    root = _write_long(tmp_path / "t", PROMPTS, [], header=("id", "model", "quality"))
    with pytest.raises(DataError, match=r"missing column\(s\) \['cost'\]"):
        read_table(root)
    (root / "outcomes.csv").unlink()
    with pytest.raises(DataError, match=r"outcomes\.csv"):
        read_table(root)


def test_unknown_split_and_bad_json_raise(tmp_path: Path) -> None:
    """An unknown split value or a malformed prompt line is a DataError."""
    root = _write_long(tmp_path / "t", [{"id": "a", "prompt": "x", "split": "dev"}], [])
    with pytest.raises(DataError, match="unknown split 'dev'"):
        read_table(root)
    (root / "prompts.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(DataError, match="'id' and 'prompt'"):
        read_table(root)


def test_duplicate_prompt_ids_follow_the_policy(tmp_path: Path) -> None:
    """Duplicate ids raise by default; keep/first/drop behave as documented."""
    prompts = [*PROMPTS, {"id": "a", "prompt": "add 2 and 2", "task": "math", "split": "test"}]
    root = _write_long(tmp_path / "t", prompts, OUTCOMES, CARDS)
    with pytest.raises(DataError, match="duplicate prompt id"):
        read_table(root)
    kept = read_table(root, on_duplicate="keep")
    assert kept.ids == ("a", "b", "c", "a")
    assert kept.quality[3].tolist() == kept.quality[0].tolist() == [1.0, 0.0]
    assert read_table(root, on_duplicate="first").ids == ("a", "b", "c")
    assert read_table(root, on_duplicate="drop").ids == ("b", "c")


def test_routing_table_validates_its_arrays() -> None:
    """The constructor rejects bad shapes, ranges, splits and mismatched NaN patterns."""

    def make(q: list[list[float]], c: list[list[float]], split: str = "train") -> RoutingTable:
        return RoutingTable(
            ids=("a",), prompts=("x",), tasks=("",), splits=(split,), models=("m",),
            quality=np.array(q), cost=np.array(c),
        )  # fmt: skip

    with pytest.raises(DataError, match="shape"):
        make([[1.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        make([[2.0]], [[0.0]])
    with pytest.raises(DataError, match=">= 0"):
        make([[1.0]], [[-1.0]])
    with pytest.raises(DataError, match="same cells"):
        make([[np.nan]], [[0.0]])
    with pytest.raises(DataError, match="Unknown split"):
        make([[1.0]], [[0.0]], split="dev")


def test_table_is_immutable() -> None:
    """The outcome matrices of a table cannot be modified in place."""
    t = table_from_arrays([[1.0, 0.0]], [[0.1, 0.01]], ["a", "b"])
    with pytest.raises(ValueError, match="read-only"):
        t.quality[0, 0] = 0.5


# ---------------------------------------------------------------------- RouterBench wide CSV
def _write_wide(path: Path, rows: list[dict[str, str]]) -> Path:
    models = ["gpt-4", "mistral"]
    header = ["", "sample_id", "prompt", "eval_name", *models]
    header += [f"{m}|model_response" for m in models] + [f"{m}|total_cost" for m in models]
    header += ["oracle_model_to_route_to"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for i, r in enumerate(rows):
            w.writerow({"": str(i), "oracle_model_to_route_to": "mistral", **r})
    return path


def _wide_row(sid: str, prompt: str, q: tuple[str, str], c: tuple[str, str]) -> dict[str, str]:
    return {
        "sample_id": sid,
        "prompt": prompt,
        "eval_name": "arc",
        "gpt-4": q[0],
        "mistral": q[1],
        "gpt-4|total_cost": c[0],
        "mistral|total_cost": c[1],
        "gpt-4|model_response": "['A']",
        "mistral|model_response": "['B']",
    }


def test_read_routerbench_directory(tmp_path: Path) -> None:
    """Wide CSVs of a directory become one table; the split comes from the file name."""
    _write_wide(
        tmp_path / "arc_train.csv",
        [_wide_row("s1", "['Why is the sky blue?\\nA) air']", ("1.0", "0.0"), ("0.01", "0.001"))],
    )
    _write_wide(
        tmp_path / "arc_test.csv",
        [_wide_row("s2", '["It\'s 2+2", "It\'s 2+2"]', ("1.0", ""), ("0.02", "0.002"))],
    )
    t = read_routerbench_csv(tmp_path)
    assert t.ids == ("s2", "s1")  # files are read in sorted order: arc_test, arc_train
    assert t.splits == ("test", "train")
    assert t.prompts == ("It's 2+2", "Why is the sky blue?\nA) air")
    assert t.tasks == ("arc", "arc")
    assert t.models == ("gpt-4", "mistral")
    assert t.cost[1].tolist() == [0.01, 0.001]
    assert math.isnan(t.quality[0, 1]) and math.isnan(t.cost[0, 1])


def test_read_routerbench_errors(tmp_path: Path) -> None:
    """Unknown split, bad values, missing columns and duplicate ids raise DataError."""
    f = _write_wide(tmp_path / "arc.csv", [_wide_row("s1", "['x']", ("1", "0"), ("0.1", "0.1"))])
    with pytest.raises(DataError, match="Cannot infer the split"):
        read_routerbench_csv(f)
    assert read_routerbench_csv(f, split="test").splits == ("test",)
    bad = _write_wide(tmp_path / "b_test.csv", [_wide_row("s1", "['x']", ("2", "0"), ("0", "0"))])
    with pytest.raises(DataError, match="outside"):
        read_routerbench_csv(bad)
    dup = _write_wide(
        tmp_path / "d_test.csv",
        [_wide_row(s, "['x']", ("1", "0"), ("0.1", "0.1")) for s in ("s1", "s1")],
    )
    with pytest.raises(DataError, match="duplicate prompt id"):
        read_routerbench_csv(dup)
    assert read_routerbench_csv(dup, on_duplicate="first").n_prompts == 1
    (tmp_path / "e_test.csv").write_text("sample_id,prompt\ns1,x\n")
    with pytest.raises(DataError, match="missing column"):
        read_routerbench_csv(tmp_path / "e_test.csv")


def test_parse_prompt_list_never_evaluates_code() -> None:
    """Python list literals of strings parse (escapes, unicode); other text is rejected or kept."""
    assert parse_prompt_list("['a\\'b', \"c\\\"d\", 'é\\u00e9 😀']") == ["a'b", 'c"d', "éé 😀"]
    assert parse_prompt_list("plain text") == ["plain text"]
    with pytest.raises(DataError):
        parse_prompt_list("[__import__('os').system('echo hi')]")
