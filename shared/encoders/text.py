"""Text preparation before encoding: long prompts and multi-turn conversations.

Both rules are pure, deterministic functions so that they can be tested (and reasoned about)
without loading a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..exceptions import InvalidParameterError

__all__ = ["LONG_PROMPT_MODES", "messages_to_text", "truncate_prompt"]

LongPromptMode = Literal["head", "tail", "head_tail"]

#: The accepted values of ``long_prompts``.
LONG_PROMPT_MODES: tuple[str, ...] = ("head", "tail", "head_tail")

#: Placed between the kept head and tail in ``"head_tail"`` mode.
ELLIPSIS = " … "

# A cut inside a word moves to the nearest whitespace if one lies this close.
_SNAP = 32

# Framework role names -> the canonical roles (OpenAI names), so that every adapter renders the
# same conversation to the same text: LangChain ("human", "ai", "function"), LlamaIndex
# ("chatbot", "model", "developer", "function").
_ROLE_ALIASES = {
    "human": "user",
    "ai": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
    "developer": "system",
    "function": "tool",
}


def _snap_start(text: str, start: int) -> int:
    """Move a cut that starts a kept suffix forward to the next word start, if close."""
    if start <= 0 or text[start - 1].isspace():
        return start
    limit = min(len(text), start + _SNAP)
    for i in range(start, limit):
        if text[i].isspace():
            return i + 1
    return start


def _snap_end(text: str, end: int) -> int:
    """Move a cut that ends a kept prefix back to the previous word end, if close."""
    if end >= len(text) or text[end].isspace():
        return end
    limit = max(0, end - _SNAP)
    for i in range(end - 1, limit - 1, -1):
        if text[i].isspace():
            return i
    return end


def truncate_prompt(text: str, mode: str = "head", max_chars: int = 1000) -> str:
    """Shorten a long prompt to the part an encoder with a small context should see.

    The rule, by ``mode``:

    * ``"head"``: the text is returned unchanged; the encoder truncates it itself (MiniLM reads
      the first 256 word pieces and ignores the rest).
    * ``"tail"``: keep the last ``max_chars`` characters. Use it when the request sits at the
      end, after documents or few-shot examples.
    * ``"head_tail"``: keep the first third of the budget and the last two thirds, joined by
      ``" … "``: the task framing at the top and the actual question at the bottom.

    Texts of at most ``max_chars`` characters are never changed. Cuts that fall inside a word
    move to the nearest whitespace within 32 characters, so no half-words are encoded.

    Args:
        text: the prompt.
        mode: ``"head"``, ``"tail"`` or ``"head_tail"``.
        max_chars: character budget for ``"tail"`` and ``"head_tail"`` (at least 16).

    Raises:
        InvalidParameterError: unknown ``mode`` or a ``max_chars`` below 16.

    Examples:
        >>> long = "Instructions. " + "example " * 200 + "What is the capital of France?"
        >>> truncate_prompt(long, "tail", max_chars=40)
        'example What is the capital of France?'
        >>> truncate_prompt(long, "head_tail", max_chars=60)
        'Instructions. … What is the capital of France?'
        >>> truncate_prompt("short", "tail", max_chars=40)
        'short'
    """
    if mode not in LONG_PROMPT_MODES:
        raise InvalidParameterError(
            f"long_prompts must be one of {', '.join(map(repr, LONG_PROMPT_MODES))}; got {mode!r}."
        )
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 16:
        raise InvalidParameterError(f"max_chars must be an int >= 16; got {max_chars!r}.")
    if mode == "head" or len(text) <= max_chars:
        return text
    if mode == "tail":
        return text[_snap_start(text, len(text) - max_chars) :]
    head_budget = max_chars // 3
    tail_budget = max_chars - head_budget - len(ELLIPSIS)
    head = text[: _snap_end(text, head_budget)].rstrip()
    tail = text[_snap_start(text, len(text) - tail_budget) :].lstrip()
    return head + ELLIPSIS + tail


def _role_of(message: Any, index: int) -> str:
    if isinstance(message, tuple | list):
        role = message[0] if message else None
    elif isinstance(message, Mapping):
        role = message.get("role", message.get("type"))
    else:  # message objects of chat frameworks: .role (LlamaIndex) or .type (LangChain)
        role = getattr(message, "role", None) or getattr(message, "type", None)
    role = getattr(role, "value", role)  # enums such as LlamaIndex's MessageRole
    if not isinstance(role, str) or not role:
        raise InvalidParameterError(f"Message {index} has no role (got {role!r}).")
    role = role.strip().lower()
    return _ROLE_ALIASES.get(role, role)


def _content_of(message: Any, index: int) -> str:
    if isinstance(message, tuple | list):
        if len(message) != 2:
            raise InvalidParameterError(
                f"Message {index} must be a (role, content) pair; got a tuple of {len(message)}."
            )
        content = message[1]
    elif isinstance(message, Mapping):
        if "content" not in message:
            raise InvalidParameterError(f"Message {index} has no 'content' key.")
        content = message["content"]
    elif hasattr(message, "content"):
        content = message.content
    else:
        raise InvalidParameterError(
            f"Message {index} must be a (role, content) tuple, a mapping with 'role' and "
            f"'content', or a message object; got {type(message).__name__}."
        )
    return _text_of(content, index)


def _text_of(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, Sequence):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part.strip())
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text.strip())
            # images, audio, tool calls and other non-text parts carry no routing text
        return "\n".join(t for t in texts if t)
    raise InvalidParameterError(
        f"The content of message {index} must be a str or a list of content parts; "
        f"got {type(content).__name__}."
    )


def messages_to_text(
    messages: Sequence[Any] | str, *, max_turns: int = 4, include_system: bool = True
) -> str:
    """Flatten a multi-turn conversation into the one string a prompt encoder reads.

    The rule (deterministic):

    1. The **last user message** comes first, unlabeled: it is the request being routed, and
       an encoder that truncates long inputs (MiniLM keeps the head) must never lose it.
    2. Then, after a blank line, the context in chronological order, one ``"role: text"`` line
       block per message: the system prompt(s) (when ``include_system``) followed by the last
       ``max_turns`` other messages, including any that came after the last user message
       (e.g. a tool result).
    3. Without any user message, only the context of step 2 is rendered.

    Messages may be ``(role, content)`` tuples (or two-item lists), mappings with ``"role"``
    and ``"content"``, or message objects with ``role`` (LlamaIndex) or ``type`` (LangChain)
    and ``content`` attributes. Role names are lower-cased and aliases read as the canonical
    roles: ``human`` as ``user``; ``ai``, ``chatbot`` and ``model`` as ``assistant``;
    ``developer`` as ``system``; ``function`` as ``tool``. Content
    is a string or a list of content parts: strings and ``{"type": "text", "text": ...}``
    parts are kept, images and other non-text parts are ignored. A plain string is returned
    unchanged (stripped).

    Args:
        messages: the conversation, oldest first.
        max_turns: how many non-system messages besides the last user message to keep.
        include_system: keep the system prompt(s) as context.

    Returns:
        The text to encode.

    Raises:
        InvalidParameterError: an empty conversation, a negative ``max_turns``, or a message
            that is not in one of the accepted shapes.

    Examples:
        >>> print(messages_to_text([
        ...     ("system", "You are a math tutor."),
        ...     ("user", "Hi!"),
        ...     ("assistant", "Hello, how can I help?"),
        ...     {"role": "user", "content": [{"type": "text", "text": "Integrate x^2."},
        ...                                  {"type": "image_url", "image_url": "..."}]},
        ... ]))
        Integrate x^2.
        <BLANKLINE>
        system: You are a math tutor.
        user: Hi!
        assistant: Hello, how can I help?
    """
    if isinstance(messages, str):
        return messages.strip()
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 0:
        raise InvalidParameterError(f"max_turns must be an int >= 0; got {max_turns!r}.")
    items = list(messages)
    if not items:
        raise InvalidParameterError("messages_to_text needs at least one message; got none.")
    turns = [(_role_of(m, i), _content_of(m, i)) for i, m in enumerate(items)]
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    system = [i for i, (role, _) in enumerate(turns) if role == "system"] if include_system else []
    others = [i for i, (role, _) in enumerate(turns) if role != "system" and i != last_user]
    kept = sorted(system + (others[-max_turns:] if max_turns else []))
    context = "\n".join(f"{turns[i][0]}: {turns[i][1]}" for i in kept if turns[i][1])
    if last_user is None:
        return context
    request = turns[last_user][1]
    if not request:  # e.g. an image-only message: the context is all there is
        return context
    return f"{request}\n\n{context}" if context else request
