"""The python blocks of docs/llamaindex.md run in order and print what the page says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from llama_index_instrumentation import get_dispatcher

DOC = Path(__file__).resolve().parents[2] / "docs" / "llamaindex.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _expected(block: str) -> list[str]:
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


def test_doc_examples_run_and_print_what_they_claim() -> None:
    """Each documented example runs offline and its shown output is the real output."""
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 7
    root = get_dispatcher()
    before = list(root.event_handlers)
    namespace: dict[str, object] = {}
    try:
        for block in blocks:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(block, str(DOC), "exec"), namespace)
            assert buffer.getvalue().splitlines() == _expected(block), block
    finally:
        root.event_handlers = before
