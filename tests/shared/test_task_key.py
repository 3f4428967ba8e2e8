"""The opt-in task key of a call (shared.serving): which run fields are read, in which order."""

from __future__ import annotations

import pytest

from shared import InvalidParameterError
from shared.serving import parse_task_key, resolve_task


def test_nothing_is_read_by_default() -> None:
    """With no task_key only explicit values count: run fields are never read."""
    assert parse_task_key(None) == ()
    fields = {"run_name": "chain", "tags": ["task:a"], "metadata": {"task": "b"}}
    assert resolve_task((), **fields) is None  # type: ignore[arg-type]
    assert resolve_task((), None, "explicit", **fields) == "explicit"  # type: ignore[arg-type]


def test_each_source_reads_its_field() -> None:
    """run_name, tag:<prefix> (list or mapping of tags) and metadata:<key>."""
    assert resolve_task(("run_name",), run_name="summarize") == "summarize"
    tags = ["seq:step:2", "task:classify", "task:other"]
    assert resolve_task(("tag:task:",), tags=tags) == "classify"  # the first match
    assert resolve_task(("tag:router_task",), tags={"router_task": "rag"}) == "rag"
    meta = {"langgraph_node": "agent"}
    assert resolve_task(("metadata:langgraph_node",), metadata=meta) == "agent"
    assert resolve_task(("metadata:missing", "run_name"), metadata=meta, run_name="x") == "x"
    assert resolve_task(("tag:task:",), tags=["seq:step:1"]) is None


def test_explicit_values_win_over_run_fields() -> None:
    """The first explicit value (keyword, configurable, instrument tag) beats the sources."""
    assert resolve_task(("run_name",), None, "configured", run_name="chain") == "configured"
    assert resolve_task(("run_name",), "kwarg", "configured", run_name="chain") == "kwarg"


@pytest.mark.parametrize(
    "spec", ["", "run_name:x", "tag:", "metadata:", "name", 3, [], ["run_name", 2], b"run_name"]
)
def test_bad_task_key_specs_raise(spec: object) -> None:
    """An unknown source kind, an empty prefix or key, or a wrong type is refused."""
    with pytest.raises(InvalidParameterError):
        parse_task_key(spec)  # type: ignore[arg-type]


def test_kinds_restrict_the_sources() -> None:
    """An adapter may allow only some kinds (LlamaIndex has tags but no run name)."""
    assert parse_task_key("tag:task", kinds=("tag",)) == ("tag:task",)
    with pytest.raises(InvalidParameterError, match="'tag:<prefix>'"):
        parse_task_key("run_name", kinds=("tag",))


@pytest.mark.parametrize("bad", [3, "", "x" * 201, "a\tb"])
def test_a_bad_value_found_is_an_error_not_skipped(bad: object) -> None:
    """A value found in a run field or given explicitly must be a valid task key."""
    with pytest.raises(InvalidParameterError):
        resolve_task(("metadata:task",), metadata={"task": bad})
    with pytest.raises(InvalidParameterError):
        resolve_task((), bad)
