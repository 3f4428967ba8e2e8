"""Text preparation for encoders: long-prompt truncation and conversation flattening."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from shared import InvalidParameterError, messages_to_text
from shared.encoders import truncate_prompt

INTRO = "You are given examples. Answer the last question."
QUESTION = "What is the boiling point of water at sea level?"
LONG = INTRO + " " + " ".join(f"example{i} answer{i}." for i in range(300)) + " " + QUESTION


# ---------------------------------------------------------------------- truncate_prompt
def test_head_mode_and_short_texts_are_unchanged() -> None:
    """'head' leaves truncation to the model; texts within budget are never changed."""
    assert truncate_prompt(LONG, "head", max_chars=100) == LONG
    assert truncate_prompt(QUESTION, "tail", max_chars=len(QUESTION)) == QUESTION
    assert truncate_prompt(QUESTION, "head_tail", max_chars=len(QUESTION)) == QUESTION


def test_tail_keeps_the_end_within_budget() -> None:
    """'tail' keeps at most max_chars characters, ending with the question, whole words only."""
    out = truncate_prompt(LONG, "tail", max_chars=120)
    assert out.endswith(QUESTION)
    assert len(out) <= 120
    assert LONG.endswith(out)
    assert out.split()[0] in LONG.split()


def test_head_tail_keeps_both_ends_within_budget() -> None:
    """'head_tail' keeps the opening and the question, joined by an ellipsis, within budget."""
    out = truncate_prompt(LONG, "head_tail", max_chars=200)
    head, tail = out.split(" … ")
    assert len(out) <= 200
    assert LONG.startswith(head)
    assert head.startswith(INTRO)
    assert tail.endswith(QUESTION)
    assert LONG.endswith(tail)
    assert len(tail) > len(head)


def test_truncation_without_whitespace_is_exact() -> None:
    """A text without spaces is cut at exactly max_chars characters."""
    text = "x" * 500 + "y" * 500
    assert truncate_prompt(text, "tail", max_chars=100) == "y" * 100
    out = truncate_prompt(text, "head_tail", max_chars=100)
    assert out == "x" * 33 + " … " + "y" * 64
    assert len(out) == 100


@pytest.mark.parametrize(("mode", "max_chars"), [("middle", 100), ("tail", 5), ("tail", 10.5)])
def test_truncation_rejects_bad_arguments(mode: str, max_chars: int) -> None:
    """An unknown mode or a budget below 16 characters is an InvalidParameterError."""
    with pytest.raises(InvalidParameterError):
        truncate_prompt(LONG, mode, max_chars=max_chars)


# ---------------------------------------------------------------------- messages_to_text
def test_last_user_message_comes_first_then_context() -> None:
    """The routed request leads; system prompt and earlier turns follow chronologically."""
    text = messages_to_text(
        [
            ("system", "Be terse."),
            ("user", "Hi"),
            ("assistant", "Hello"),
            ("user", "Solve x^2 = 4."),
        ]
    )
    assert text == "Solve x^2 = 4.\n\nsystem: Be terse.\nuser: Hi\nassistant: Hello"


def test_max_turns_keeps_the_most_recent_context() -> None:
    """Only the last max_turns non-system messages are kept; the system prompt always stays."""
    msgs = [("system", "S")] + [("user", f"u{i}") if i % 2 == 0 else ("assistant", f"a{i}")
                                for i in range(8)] + [("user", "final")]  # fmt: skip
    assert messages_to_text(msgs, max_turns=2) == "final\n\nsystem: S\nuser: u6\nassistant: a7"
    assert messages_to_text(msgs, max_turns=0) == "final\n\nsystem: S"
    assert messages_to_text(msgs, max_turns=0, include_system=False) == "final"


def test_messages_after_the_last_user_turn_are_context() -> None:
    """A tool call and its result after the last user message stay in the context."""
    text = messages_to_text(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None},
            {"role": "tool", "content": "18C, sunny"},
        ]
    )
    assert text == "Weather in Paris?\n\ntool: 18C, sunny"


def test_content_parts_keep_only_text() -> None:
    """Text parts and plain strings are kept; images and other parts are ignored."""
    text = messages_to_text(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this image."},
                    {"type": "image_url", "image_url": {"url": "data:..."}},
                    "Be brief.",
                ],
            }
        ]
    )
    assert text == "Describe this image.\nBe brief."


class Role(enum.Enum):
    """An enum role like LlamaIndex's MessageRole."""

    USER = "user"
    SYSTEM = "system"


@dataclass
class RoleMessage:
    """A message object with a role attribute (LlamaIndex style)."""

    role: Role
    content: str


@dataclass
class TypeMessage:
    """A message object with a type attribute (LangChain style)."""

    type: str
    content: str | list[object]


def test_message_objects_and_role_aliases() -> None:
    """Objects with role or type attributes work; human/ai read as user/assistant."""
    assert messages_to_text([RoleMessage(Role.SYSTEM, "S"), RoleMessage(Role.USER, "Q")]) == (
        "Q\n\nsystem: S"
    )
    text = messages_to_text([TypeMessage("human", "Hi"), TypeMessage("ai", "Yo"),
                             TypeMessage("human", "Q")])  # fmt: skip
    assert text == "Q\n\nuser: Hi\nassistant: Yo"


def test_framework_role_aliases_render_canonical_roles() -> None:
    """model/chatbot/ai read as assistant, function as tool, developer as system, any case."""
    aliased = messages_to_text(
        [
            ("Developer", "Be brief."),
            ("user", "Weather?"),
            ("model", "Calling the tool."),
            ("function", "sunny"),
            ("chatbot", "It is sunny."),
            ("ai", "Anything else?"),
            ("user", "No."),
        ],
        max_turns=10,
    )
    assert aliased == (
        "No.\n\nsystem: Be brief.\nuser: Weather?\nassistant: Calling the tool.\n"
        "tool: sunny\nassistant: It is sunny.\nassistant: Anything else?"
    )


def test_no_user_message_renders_context_only() -> None:
    """Without a user message the context alone is returned."""
    assert messages_to_text([("system", "S"), ("assistant", "A")]) == "system: S\nassistant: A"


def test_plain_string_passes_through() -> None:
    """A plain string is returned stripped."""
    assert messages_to_text("  just a prompt \n") == "just a prompt"


def test_flattening_is_deterministic() -> None:
    """The same conversation always gives the same text."""
    msgs = [("system", "S"), ("user", "a"), ("assistant", "b"), ("user", "c")]
    assert len({messages_to_text(list(msgs)) for _ in range(5)}) == 1


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [("user",)],
        [("user", "a", "b")],
        [{"role": "user"}],
        [{"content": "no role"}],
        [42],
        [("user", 3.5)],
    ],
)
def test_malformed_conversations_raise(bad: list[object]) -> None:
    """An empty conversation or a malformed message is an InvalidParameterError."""
    with pytest.raises(InvalidParameterError):
        messages_to_text(bad)


def test_negative_max_turns_raises() -> None:
    """max_turns must be a non-negative int."""
    with pytest.raises(InvalidParameterError, match="max_turns"):
        messages_to_text([("user", "a")], max_turns=-1)


def test_list_pairs_and_image_only_requests() -> None:
    """Two-item lists work like tuples; an image-only last request leaves only the context."""
    assert messages_to_text([["system", "S"], ["user", "Q"]]) == "Q\n\nsystem: S"
    image_only = {"role": "user", "content": [{"type": "image_url", "image_url": "..."}]}
    assert messages_to_text([("system", "S"), image_only]) == "system: S"
    with pytest.raises(InvalidParameterError, match="no role"):
        messages_to_text([()])
