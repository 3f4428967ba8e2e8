"""Run the python blocks of a docs page in order and check they print what the page shows.

The expected output of a block is the inline comment of each ``print(...)`` line plus the comment
lines right after it.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

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


def run_doc_examples(page: str, *, min_blocks: int) -> None:
    """Execute every python block of ``docs/<page>`` in one namespace, asserting its output."""
    doc = DOCS / page
    blocks = BLOCK.findall(doc.read_text(encoding="utf-8"))
    assert len(blocks) >= min_blocks
    namespace: dict[str, object] = {}
    for block in blocks:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(block, str(doc), "exec"), namespace)
        assert buffer.getvalue().splitlines() == expected_output(block), block
