"""The docs run: every python block of every page executes against the real servers and
prints what its page shows (``make docs`` regenerates the outputs from a fresh run)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from langchain_vllm import ChatVLLM, VLLMCompletions, VLLMEmbeddings, VLLMRerank
from tests.doc_pages import (
    NEEDS,
    blocks,
    docstring_examples,
    fits,
    masked,
    pages,
    run_blocks,
    run_page,
    same_output,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("page", pages(), ids=lambda path: path.name)
def test_page_runs_and_prints_what_it_shows(
    page: Path, embeddings_url: str, reasoning_url: str, router_url: str
) -> None:
    del embeddings_url, reasoning_url, router_url  # the servers the pages use are up
    shown = blocks(page.read_text())
    printed = run_page(page)
    assert len(printed) == len(shown)
    for number, (block, output) in enumerate(zip(shown, printed, strict=True), start=1):
        if block.shape is not None:
            # text the model chose: the run and the page both have the block's shape
            assert fits(block.shape, output), f"{page.name} block {number}: {output!r}"
            assert fits(block.shape, block.shown or ""), f"{page.name} block {number}: page"
        elif not same_output(block.shown or "", output):
            assert masked(block.shown or "") == masked(output), f"{page.name} block {number}"


@pytest.mark.parametrize(
    "cls", [ChatVLLM, VLLMEmbeddings, VLLMRerank, VLLMCompletions], ids=lambda c: c.__name__
)
def test_docstring_examples_run(
    cls: type, embeddings_url: str, reasoning_url: str, record_property: Any
) -> None:
    """Each class docstring's python examples run, in order, against the local servers.

    An example starting with ``# needs: <capability>`` is left out: the local servers lack
    that capability (it is listed in the test report).
    """
    del embeddings_url, reasoning_url
    examples = docstring_examples(cls)
    assert examples
    runnable = [code for code in examples if not code.startswith(NEEDS)]
    left_out = [
        code.splitlines()[0].removeprefix(NEEDS).strip()
        for code in examples
        if code.startswith(NEEDS)
    ]
    record_property("left_out", left_out)
    run_blocks(runnable, f"{cls.__name__}.__doc__")
