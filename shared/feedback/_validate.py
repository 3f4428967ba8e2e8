"""Boundary checks of the feedback store: keys, scores, outcome fields (private)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from .._redact import redact_secrets
from ..exceptions import FeedbackError

__all__ = [
    "canonical_run_id",
    "check_budget",
    "check_comment",
    "check_count",
    "check_error_text",
    "check_metadata",
    "check_nonnegative",
    "check_score",
    "check_source",
    "key_candidates",
]

MAX_ID_LENGTH = 64
MAX_SOURCE_LENGTH = 128
MAX_ERROR_LENGTH = 4000
MAX_COUNT = 2**31 - 1
MAX_METADATA_DEPTH = 64
MAX_METADATA_VALUES = 100_000


def _key_text(key: object, what: str) -> str:
    if isinstance(key, uuid.UUID):
        return str(key)
    if not isinstance(key, str):
        raise FeedbackError(f"A {what} must be a string or a UUID, got {type(key).__name__}.")
    text = key.strip()
    if not text:
        raise FeedbackError(f"A {what} must not be empty.")
    if len(text) > MAX_ID_LENGTH:
        raise FeedbackError(f"A {what} has at most {MAX_ID_LENGTH} characters, got {len(text)}.")
    return text


def key_candidates(key: object) -> list[str]:
    """The stored forms ``key`` may take: as given, and for a UUID its dashed and hex forms."""
    text = _key_text(key, "run id or decision id")
    out = [text]
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return out
    out += [str(parsed), parsed.hex]
    return list(dict.fromkeys(out))


def canonical_run_id(run_id: object) -> str | None:
    """``None``, or the run id as stored: a UUID in its dashed form, anything else as given."""
    if run_id is None:
        return None
    text = _key_text(run_id, "run id")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def check_budget(retries: object, retry_seconds: object, spool: object) -> None:
    """The retry and spool parameters of a store."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise FeedbackError(f"retries must be an int >= 0, got {retries!r}.")
    if (
        isinstance(retry_seconds, bool)
        or not isinstance(retry_seconds, (int, float))
        or not 0 <= retry_seconds <= 3600
    ):
        raise FeedbackError(f"retry_seconds must be a number in [0, 3600], got {retry_seconds!r}.")
    if isinstance(spool, bool) or not isinstance(spool, int) or not 0 <= spool <= 10**7:
        raise FeedbackError(f"spool must be an int in [0, 10**7], got {spool!r}.")


def _as_float(value: object, what: str) -> float:
    """``value`` (an int or float, not a bool) as a float; huge ints are refused, not raised."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FeedbackError(f"{what} must be a number, got {type(value).__name__}.")
    try:
        return float(value)
    except OverflowError:
        raise FeedbackError(f"{what} is too large.") from None


def check_score(score: object) -> float:
    """A rating as a float in [0, 1]; bools and non-numbers are rejected."""
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise FeedbackError(f"A rating must be a number in [0, 1], got {type(score).__name__}.")
    value = _as_float(score, "A rating")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise FeedbackError(f"A rating must be a number in [0, 1], got {_short(score)}.")
    return value


def check_source(source: object) -> str:
    """A rating source: a non-empty string of at most 128 characters."""
    if not isinstance(source, str) or not source.strip():
        raise FeedbackError(f"A rating source must be a non-empty string, got {_short(source)}.")
    if len(source) > MAX_SOURCE_LENGTH:
        raise FeedbackError(f"A rating source has at most {MAX_SOURCE_LENGTH} characters.")
    return source.strip()


def check_comment(comment: object) -> str | None:
    """``None`` or a string."""
    if comment is not None and not isinstance(comment, str):
        raise FeedbackError(f"A comment must be a string, got {type(comment).__name__}.")
    return comment


def check_error_text(error: object) -> str | None:
    """``None`` or an error text with credential-looking tokens hidden, at most 4,000 chars."""
    text = check_comment(error)
    if text is None:
        return None
    if len(text) > MAX_ERROR_LENGTH:
        text = text[: MAX_ERROR_LENGTH - 3] + "..."
    return redact_secrets(text)


def check_count(name: str, value: object) -> int | None:
    """``None`` or an int in [0, 2**31 - 1] (token counts; the column is a 32-bit integer)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise FeedbackError(f"{name} must be an int in [0, {MAX_COUNT}], got {_short(value)}.")
    return int(value)


def check_nonnegative(name: str, value: object) -> float | None:
    """``None`` or a finite float >= 0 (cost, latency)."""
    if value is None:
        return None
    out = _as_float(value, name)
    if not math.isfinite(out) or out < 0:
        raise FeedbackError(f"{name} must be a finite number >= 0, got {_short(value)}.")
    return out


def _short(value: object) -> str:
    """``repr(value)`` cut to 60 characters (messages stay short whatever the input)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # ints beyond the repr limit, deep structures
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def check_metadata(metadata: object) -> dict[str, Any]:
    """A JSON-serializable mapping (``None`` gives an empty dict), checked without recursion.

    Keys become strings (as JSON does), and two keys that would become the same string
    (``{1: "x", "1": "y"}``) are refused instead of one being lost; nesting is limited to
    64 levels and the document to 100,000 values; floats must be finite.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise FeedbackError(f"metadata must be a mapping, got {type(metadata).__name__}.")
    stack: list[tuple[object, int]] = [(metadata, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_METADATA_VALUES:
            raise FeedbackError(f"metadata has more than {MAX_METADATA_VALUES} values.")
        if isinstance(value, Mapping):
            if depth > MAX_METADATA_DEPTH:
                raise FeedbackError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels.")
            keys = set()
            for key, item in value.items():
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise FeedbackError(f"metadata keys must be strings, got {type(key).__name__}.")
                text = _json_key(key)
                if text in keys:
                    raise FeedbackError(f"metadata has two keys that both become {_short(text)}.")
                keys.add(text)
                stack.append((item, depth + 1))
        elif isinstance(value, (list, tuple)):
            if depth > MAX_METADATA_DEPTH:
                raise FeedbackError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels.")
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise FeedbackError("metadata values must be finite numbers.")
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            raise FeedbackError(
                f"metadata must be JSON-serializable, got a {type(value).__name__} value."
            )
    try:
        out: dict[str, Any] = json.loads(json.dumps(metadata, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as err:
        raise FeedbackError(f"metadata must be JSON-serializable: {_short(err)}") from None
    return out


def _json_key(key: str | float | None) -> str:
    """The string JSON makes of a mapping key."""
    if isinstance(key, str):
        return key
    try:
        return json.dumps(key)  # 1 -> "1", True -> "true", None -> "null", 1.5 -> "1.5"
    except ValueError:  # an int beyond the conversion limit, NaN
        raise FeedbackError("metadata keys must be strings or small numbers.") from None
