"""The python blocks of docs/llamaindex.md run in order and print what the page says."""

from __future__ import annotations

from llama_index_instrumentation import get_dispatcher

from tests.doc_examples import run_doc_examples


def test_doc_examples_run_and_print_what_they_claim() -> None:
    """Each documented example runs offline and its shown output is the real output."""
    root = get_dispatcher()
    before = list(root.event_handlers)
    try:
        run_doc_examples("llamaindex.md", min_blocks=7)
    finally:
        root.event_handlers = before
