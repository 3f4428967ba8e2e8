"""Hide credential-looking tokens in texts that are logged, stored or returned (private).

Member errors quote what the provider saw ("401 invalid key sk-..."), URLs carry passwords; a
text passed through :func:`redact_secrets` keeps its meaning but not the secret.

Examples:
    >>> redact_secrets("Error 401: Incorrect API key provided: sk-proj-abc123def456ghi789")
    'Error 401: Incorrect API key provided: sk-***'
    >>> redact_secrets("Authorization: Bearer eyJhbGciOi.abc.def failed")
    'Authorization: Bearer *** failed'
    >>> redact_secrets("postgresql://app:hunter2@db/prod?api_key=XYZ123")
    'postgresql://app:***@db/prod?api_key=***'
"""

from __future__ import annotations

import re

__all__ = ["error_text", "redact_secrets"]

MASK = "***"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # provider keys: OpenAI/Anthropic sk-..., GitHub, Hugging Face, Slack, Google, AWS
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{6,}"), r"\1-" + MASK),
    (re.compile(r"\b(ghp|gho|ghs|ghu|github_pat|hf|xox[abpr])_[A-Za-z0-9_\-]{8,}"), r"\1_" + MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"), MASK),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    # HTTP authorization schemes
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/\-]{6,}=*"), r"\1\2" + MASK),
    # key=value / "key": "value" with a secret-sounding key
    (
        re.compile(
            r"(?i)\b([\w\-]{0,24}(?:api[_\-]?key|apikey|secret|password|passwd|pwd|token|"
            r"authorization|auth[_\-]?key|credential)s?)"
            r"(\"?\s*[=:]\s*\"?)(?!(?:bearer|basic|token)\s)([^\s\"',;&}]+)"
        ),
        r"\1\2" + MASK,
    ),
    # credentials in URLs: scheme://user:password@host
    (
        re.compile(r"\b([a-zA-Z][\w+.\-]{0,30}://[^/\s:@]{0,256}:)[^@\s/]{1,256}@"),
        r"\1" + MASK + "@",
    ),
)


def redact_secrets(text: str) -> str:
    """``text`` with API keys, bearer tokens, passwords and URL credentials replaced by ``***``."""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def error_text(err: BaseException, limit: int = 500) -> str:
    """``"Type: message"`` of ``err`` with secrets redacted, cut to ``limit`` characters.

    Examples:
        >>> error_text(PermissionError("401 invalid key sk-abcdef123456"))
        'PermissionError: 401 invalid key sk-***'
    """
    text = f"{type(err).__name__}: {err}"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return redact_secrets(text)
