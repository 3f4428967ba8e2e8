"""Run the python blocks of a docs page in order and check they print what the page shows.

The expected output of a block is the inline comment of each ``print(...)`` line plus the comment
lines right after it. The blocks run under :func:`no_network`: a page whose example tries the
network fails its test, even where a library swallows the error.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def expected_output(block: str) -> list[str]:
    """Inline comments of print lines and the comment lines right after a print."""
    out: list[str] = []
    after_print = False
    for line in block.splitlines():
        stripped = line.strip()
        if stripped.startswith("print(") and "  # " in stripped:
            out.append(stripped.split("  # ", 1)[1])
            after_print = True
        elif stripped.startswith("print("):
            after_print = True
        elif after_print and stripped.startswith("# "):
            out.append(stripped[2:])
        else:
            after_print = False
    return out


class NetworkAttemptError(OSError):
    """Raised by :func:`no_network` instead of resolving a name or connecting."""


@contextlib.contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse and record every network operation; fail at exit if there was one.

    Name resolution (``getaddrinfo``, ``gethostbyname``) and connecting a non-Unix socket raise
    :class:`NetworkAttemptError`, and so does nothing else: creating a socket is not network use
    (``ChatOpenAI``'s constructor probes which TCP keepalive options the kernel accepts on a
    throwaway socket it never connects). Each attempt is recorded, as is each socket creation
    that pytest-socket blocked (its warning), so the ``AssertionError`` at exit names it even
    when the code under test caught the error.
    """
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(what: str) -> NetworkAttemptError:
        attempts.append(what)
        return NetworkAttemptError(f"docs examples run offline: {what}")

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise refuse(f"resolving {host!r}")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise refuse(f"connecting to {address!r}")

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family == socket.AF_UNIX:
            return real_connect_ex(self, address)
        raise refuse(f"connecting to {address!r}")

    patches: dict[tuple[Any, str], Any] = {
        (socket, "getaddrinfo"): resolve,
        (socket, "gethostbyname"): resolve,
        (socket.socket, "connect"): connect,
        (socket.socket, "connect_ex"): connect_ex,
    }
    saved = {key: vars(key[0]).get(key[1]) for key in patches}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for (owner, name), value in patches.items():
            setattr(owner, name, value)
        try:
            yield attempts
        finally:
            for (owner, name), value in saved.items():
                if value is None:  # inherited (socket.socket's methods come from _socket)
                    delattr(owner, name)
                else:
                    setattr(owner, name, value)
    blocked = []
    for w in caught:
        if "tried to use socket" in str(w.message):
            blocked.append(f"creating a socket ({w.message})")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    assert not attempts and not blocked, f"network use in an offline example: {attempts + blocked}"


def run_doc_examples(page: str, *, min_blocks: int) -> None:
    """Execute every python block of ``docs/<page>`` in one namespace, asserting its output
    (and, by :func:`no_network`, that no block tries the network)."""
    doc = DOCS / page
    blocks = BLOCK.findall(doc.read_text(encoding="utf-8"))
    assert len(blocks) >= min_blocks
    namespace: dict[str, object] = {}
    for block in blocks:
        buffer = io.StringIO()
        with no_network(), contextlib.redirect_stdout(buffer):
            exec(compile(block, str(doc), "exec"), namespace)
        assert buffer.getvalue().splitlines() == expected_output(block), block
