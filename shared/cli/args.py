"""Argument types of the ``prefroute`` commands: each value is checked when the line is parsed.

Every function here is an ``argparse`` ``type=``: it returns the converted value or raises
:class:`argparse.ArgumentTypeError` with a one-line reason, which the parser reports as
``prefroute COMMAND: error: argument --NAME: REASON`` with exit status 2, before any table is read,
any prompt encoded or any router fitted. Commands added by other modules use the same types.

Examples:
    >>> int_at_least(1)("3")
    3
    >>> zero_or_at_least(100)("0"), zero_or_at_least(100)("200")
    (0, 200)
    >>> try:
    ...     zero_or_at_least(100)("10")
    ... except argparse.ArgumentTypeError as err:
    ...     print(err)
    must be 0 (off) or at least 100; got 10
    >>> names_from(["exact", "optllm"])("exact, optllm")
    'exact,optllm'
    >>> try:
    ...     names_from(["exact", "optllm"])("exact,foo")
    ... except argparse.ArgumentTypeError as err:
    ...     print(err)
    unknown name 'foo'; valid names: exact, optllm
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "existing_path",
    "float_in",
    "int_at_least",
    "names_from",
    "output_dir",
    "output_file",
    "store_url",
    "zero_or_at_least",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def int_at_least(low: int) -> Callable[[str], int]:
    """An integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}; got {value}")
        return value

    return parse


def zero_or_at_least(low: int) -> Callable[[str], int]:
    """An integer that is 0 (the feature is off) or ``>= low``."""
    parse_int = int_at_least(0)

    def parse(text: str) -> int:
        value = parse_int(text)
        if 0 < value < low:
            raise argparse.ArgumentTypeError(f"must be 0 (off) or at least {low}; got {value}")
        return value

    return parse


def float_in(
    low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """A finite number in ``[low, high]`` (either end excluded with ``low_open`` / ``high_open``)."""
    lb, hb = "(" if low_open else "[", ")" if high_open else "]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if value != value or below or above:
            raise argparse.ArgumentTypeError(f"must be in {lb}{low:g}, {high:g}{hb}; got {text}")
        return value

    return parse


def names_from(valid: Iterable[str] | Callable[[], Iterable[str]]) -> Callable[[str], str]:
    """A comma-separated list of names among ``valid`` (a callable is asked at parse time, so
    names registered by plug-ins count); returns the list normalized as ``"a,b"``."""

    def parse(text: str) -> str:
        known = sorted(valid() if callable(valid) else valid)
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"needs at least one name among: {', '.join(known)}")
        for name in names:
            if name not in known:
                raise argparse.ArgumentTypeError(
                    f"unknown name {name!r}; valid names: {', '.join(known)}"
                )
        return ",".join(names)

    return parse


def existing_path(text: str) -> str:
    """A file or folder that exists."""
    if not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return text


def _writable_target(path: Path, text: str, *, kind: str) -> None:
    """Raise unless ``path`` can be created: its first existing ancestor is a writable folder."""
    parent = path.parent
    while not parent.exists():
        if parent.parent == parent:  # pragma: no cover - the root always exists
            break
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {kind} {text}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {kind} {text}: {parent} is not writable")


def output_file(text: str) -> str:
    """A file the command will write: not a folder, and its folder exists and is writable or can
    be created (missing folders are created when the file is written)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"cannot write {text}: the file is not writable")
        return text
    _writable_target(path, text, kind="file")
    return text


def output_dir(text: str) -> str:
    """A folder the command will write into: an existing writable folder, or one that can be
    created."""
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"cannot write into {text}: it is not writable")
        return text
    _writable_target(path, text, kind="folder")
    return text


def _sqlite_file(url: str) -> str | None:
    """The database file of a ``sqlite:///`` URL; ``None`` for an in-memory database."""
    rest = url.split("://", 1)[1].split("?", 1)[0]
    if rest in ("", "/", "/:memory:"):
        return None
    return rest[1:] if rest.startswith("/") else rest


def store_url(*, must_exist: bool) -> Callable[[str], str]:
    """A feedback store URL (SQLAlchemy form, e.g. ``sqlite:///feedback.sqlite3`` or
    ``postgresql+psycopg://user@host/db``). For SQLite the folder of the file must exist, and with
    ``must_exist`` (a command that reads the store) the file too, so a typo never creates an
    empty store."""

    def parse(text: str) -> str:
        if not _URL.match(text):
            hint = f"; for a SQLite file say sqlite:///{text}" if text else ""
            raise argparse.ArgumentTypeError(
                f"expected a database URL such as sqlite:///feedback.sqlite3 or "
                f"postgresql+psycopg://user@host/db; got {text!r}{hint}"
            )
        if not text.lower().startswith("sqlite"):
            return text
        file = _sqlite_file(text)
        if file is None:
            return text
        path = Path(file).expanduser()
        if must_exist and not path.is_file():
            raise argparse.ArgumentTypeError(
                f"no feedback store at {file} (the file does not exist)"
            )
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"cannot open {file}: the folder {path.parent} does not exist"
            )
        return text

    return parse
