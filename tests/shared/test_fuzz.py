"""Property-based fuzzing (hypothesis): hostile preferences, ratings, texts, metadata and
tables either work or raise the project's typed errors, never a raw one."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import (
    DataError,
    Decision,
    FeedbackError,
    FeedbackStore,
    Preference,
    PreferenceError,
    read_table,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

#: every code point, lone surrogates and NUL included
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))
NUMBERS = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**400, -(10**400), 1e308, 5e-324, 2**70, 0, 1]),
)
JUNK = st.one_of(NUMBERS, ANY_TEXT, st.none(), st.booleans(), st.binary(max_size=8))
JSON_LEAF = st.one_of(st.none(), st.booleans(), NUMBERS, ANY_TEXT)
KEYS = st.one_of(ANY_TEXT, st.integers(-5, 5), st.sampled_from([None, True, 1.5, "1", "null"]))
METADATA = st.recursive(
    JSON_LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=20,
)


def _attempt(call: Callable[[], Any], error: type[Exception], limit: int = 300) -> Any:
    """``call()``, or ``None`` when it raised ``error`` with a message shorter than ``limit``
    (any other exception propagates and fails the test)."""
    caught: Exception | None = None
    try:
        return call()
    except error as err:
        caught = err
    assert 0 < len(str(caught)) < limit
    return None


def _decision(name: str) -> Decision:
    return Decision(
        model="a",
        models=("a", "b"),
        scores=(0.0, 1.0),
        propensity=1.0,
        preference=Preference(),
        ranking=("a", "b"),
        decision_id=name,
    )


@SETTINGS
@given(
    st.one_of(
        st.dictionaries(st.sampled_from(["quality", "cost", "latency"]), JUNK, max_size=3),
        st.dictionaries(KEYS, JUNK, max_size=6),
        JUNK,
        st.tuples(NUMBERS, NUMBERS, NUMBERS),
    )
)
def test_preferences(value: Any) -> None:
    """A preference is a normalized finite one, or a short PreferenceError."""
    pref = _attempt(
        lambda: Preference(*value) if isinstance(value, tuple) else Preference.coerce(value),
        PreferenceError,
    )
    if pref is None:
        return
    weights = pref.as_dict().values()
    assert all(math.isfinite(w) and w >= 0 for w in weights)
    assert abs(sum(weights) - 1.0) < 1e-9


STORE = FeedbackStore("sqlite://")
STORE.record_decision(_decision("fuzz"))


@SETTINGS
@given(score=JUNK, source=JUNK, comment=st.one_of(st.none(), ANY_TEXT, NUMBERS))
def test_ratings(score: Any, source: Any, comment: Any) -> None:
    """A rating is stored as given (a score in [0, 1]) or refused with a FeedbackError."""
    rec = _attempt(lambda: STORE.rate("fuzz", score, source=source, comment=comment), FeedbackError)
    if rec is None:
        return
    assert 0.0 <= float(score) <= 1.0 and rec.score == float(score)


@SETTINGS
@given(st.data())
def test_texts_and_metadata(data: st.DataObject) -> None:
    """Any prompt text is stored and the decision found again by its metadata; any metadata is
    stored or refused with a FeedbackError; outcome numbers likewise."""
    n = len(STORE.records())
    name = f"t{n}"
    text = data.draw(ANY_TEXT, label="text")
    STORE.record_decision(_decision(name), prompt=text, metadata={"request_id": text, "n": n})
    assert [r.decision_id for r in STORE.find("request_id", text)][-1] == name
    meta = data.draw(METADATA, label="metadata")
    _attempt(lambda: STORE.record_decision(_decision(f"{name}m"), metadata=meta), FeedbackError)
    tokens, cost = data.draw(JUNK, label="tokens"), data.draw(JUNK, label="cost")
    _attempt(
        lambda: STORE.record_outcome(name, input_tokens=tokens, cost_usd=cost, error=text),
        FeedbackError,
    )
    assert STORE.get(name).decision_id == name


def _table_files(data: st.DataObject) -> dict[str, bytes]:
    """A small valid table, then mutated: bytes replaced, lines cut, fields nulled or nested."""
    prompts = [{"id": f"p{i}", "prompt": f"q {i}", "split": "train"} for i in range(3)]
    rows = ["id,model,quality,cost"] + [f"p{i},m{j},0.5,0.01" for i in range(3) for j in (0, 1)]
    choice = data.draw(st.integers(0, 5), label="mutation")
    if choice == 0:
        key = data.draw(st.sampled_from(["id", "prompt", "split", "task"]))
        prompts[0][key] = data.draw(METADATA)  # type: ignore[assignment]
    elif choice == 1:
        depth = data.draw(st.integers(1, 5000))
        prompts[1]["prompt"] = "[" * depth  # the JSON line stays valid text
        return {
            "prompts.jsonl": ("[" * depth + "\n").encode(),
            "outcomes.csv": "\n".join(rows).encode(),
        }
    elif choice == 2:
        cut = data.draw(st.integers(1, 3))
        rows[2] = ",".join(rows[2].split(",")[:cut])
    elif choice == 3:
        rows[1] = data.draw(ANY_TEXT.filter(lambda t: "\n" not in t and "\r" not in t))
    files = {
        "prompts.jsonl": "".join(json.dumps(p) + "\n" for p in prompts).encode(),
        "outcomes.csv": "\n".join(rows).encode("utf-8", "surrogatepass"),
    }
    if choice == 4:
        name = data.draw(st.sampled_from(sorted(files)))
        blob = bytearray(files[name])
        for _ in range(data.draw(st.integers(1, 6))):
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
        files[name] = bytes(blob)
    if choice == 5:
        files["models.json"] = json.dumps(data.draw(METADATA)).encode("utf-8", "surrogatepass")
    return files


@SETTINGS
@given(st.data())
def test_tables(data: st.DataObject) -> None:
    """A fuzzed table directory reads, or raises a short DataError."""
    files = _table_files(data)
    with tempfile.TemporaryDirectory() as d:
        for name, blob in files.items():
            (Path(d) / name).write_bytes(blob)
        table = _attempt(lambda: read_table(d), DataError, limit=600)
    if table is None:
        return
    assert all(isinstance(p, str) for p in table.prompts)
    assert table.quality.shape == (len(table.prompts), len(table.models))
