"""Boundary checks of the feedback store: keys, scores, outcome fields (private)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from ..exceptions import FeedbackError

__all__ = [
    "canonical_run_id",
    "check_comment",
    "check_count",
    "check_metadata",
    "check_nonnegative",
    "check_score",
    "check_source",
    "key_candidates",
]

MAX_ID_LENGTH = 64
MAX_SOURCE_LENGTH = 128


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


def check_score(score: object) -> float:
    """A rating as a float in [0, 1]; bools and non-numbers are rejected."""
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise FeedbackError(f"A rating must be a number in [0, 1], got {type(score).__name__}.")
    value = float(score)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise FeedbackError(f"A rating must be a number in [0, 1], got {score!r}.")
    return value


def check_source(source: object) -> str:
    """A rating source: a non-empty string of at most 128 characters."""
    if not isinstance(source, str) or not source.strip():
        raise FeedbackError(f"A rating source must be a non-empty string, got {source!r}.")
    if len(source) > MAX_SOURCE_LENGTH:
        raise FeedbackError(f"A rating source has at most {MAX_SOURCE_LENGTH} characters.")
    return source.strip()


def check_comment(comment: object) -> str | None:
    """``None`` or a string."""
    if comment is not None and not isinstance(comment, str):
        raise FeedbackError(f"A comment must be a string, got {type(comment).__name__}.")
    return comment


def check_count(name: str, value: object) -> int | None:
    """``None`` or a non-negative int (token counts)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FeedbackError(f"{name} must be a non-negative int, got {value!r}.")
    return int(value)


def check_nonnegative(name: str, value: object) -> float | None:
    """``None`` or a finite float >= 0 (cost, latency)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FeedbackError(f"{name} must be a number >= 0, got {type(value).__name__}.")
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise FeedbackError(f"{name} must be a finite number >= 0, got {value!r}.")
    return out


def check_metadata(metadata: object) -> dict[str, Any]:
    """A JSON-serializable mapping with string keys (``None`` gives an empty dict)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise FeedbackError(f"metadata must be a mapping, got {type(metadata).__name__}.")
    out = {str(k): v for k, v in metadata.items()}
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise FeedbackError(f"metadata must be JSON-serializable: {err}") from None
    return out
