"""The python blocks of docs/langchain.md run in order and print what the page says."""

from __future__ import annotations

from tests.doc_examples import run_doc_examples


def test_doc_examples_run_and_print_what_they_claim() -> None:
    """Each documented example runs offline and its shown output is the real output."""
    run_doc_examples("langchain.md", min_blocks=6)
