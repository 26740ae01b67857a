"""The docs run: every python block of every page executes against the real servers and
prints what its page shows (``make docs`` regenerates the outputs from a fresh run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.doc_pages import blocks, masked, pages, run_page

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("page", pages(), ids=lambda path: path.name)
def test_page_runs_and_prints_what_it_shows(
    page: Path, embeddings_url: str, reasoning_url: str
) -> None:
    del embeddings_url, reasoning_url  # both servers started (or named) for the pages
    shown = blocks(page.read_text())
    printed = run_page(page)
    assert len(printed) == len(shown)
    for number, (block, output) in enumerate(zip(shown, printed, strict=True), start=1):
        assert masked(block.shown or "") == masked(output), f"{page.name} block {number}"
