"""Credential-looking tokens are hidden wherever member error texts go."""

from __future__ import annotations

import pytest

from shared import AllCandidatesFailedError, Decision, Preference
from shared._redact import redact_secrets
from shared.serving import routing_metadata

SECRET = "sk-proj-Zx81kLmN02qRsT"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (f"401 Incorrect API key provided: {SECRET}.", "Zx81kLmN02qRsT"),
        ("Authorization: Bearer abcDEF123456.x.y", "abcDEF123456"),
        ("request failed: api_key=AbC123xyz789 rejected", "AbC123xyz789"),
        ('{"password": "hunter2!x"}', "hunter2"),
        ("postgresql://app:Pa55word@db:5432/x", "Pa55word"),
        ("hf_abcdefghijklmnopqrstu is invalid", "abcdefghijklmnop"),
        ("AKIAABCDEFGHIJKLMNOP denied", "ABCDEFGHIJKLMNOP"),
    ],
)
def test_secrets_are_masked(text: str, hidden: str) -> None:
    """Each kind of token is replaced by *** and the rest of the text is kept."""
    out = redact_secrets(text)
    assert hidden not in out and "***" in out


def test_plain_texts_are_unchanged() -> None:
    """Texts without secrets are returned as given."""
    text = "TimeoutError: member 'small' timed out after 30 s (task: sketch a skeleton)"
    assert redact_secrets(text) == text


def test_routing_metadata_and_all_failed_hide_member_secrets() -> None:
    """Fallback errors in routing metadata and AllCandidatesFailedError carry no key."""
    d = Decision(
        model="b",
        models=("a", "b"),
        scores=(0.0, 1.0),
        propensity=1.0,
        preference=Preference(),
        ranking=("b", "a"),
    )
    failure = PermissionError(f"401 invalid key {SECRET}")
    meta = routing_metadata(d, failures=[("a", failure)])
    assert meta["fallbacks"] == [{"model": "a", "error": "PermissionError: 401 invalid key sk-***"}]
    assert SECRET not in str(AllCandidatesFailedError({"a": failure}))
