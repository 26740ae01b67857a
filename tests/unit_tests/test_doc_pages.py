"""The docs harness compares what a page shows with what a run printed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.doc_pages import Block, blocks, fits, matches, rewritten, same_output

if TYPE_CHECKING:
    from pathlib import Path


def test_decimals_on_a_rounding_boundary_count_as_equal() -> None:
    assert same_output("0.7725 Paris\n0.4118 Eiffel", "0.7725 Paris\n0.4117 Eiffel")
    assert same_output("384 [0.082, 0.0361, -0.0039]", "384 [0.082, 0.036, -0.0039]")


def test_other_differences_still_count() -> None:
    assert not same_output("0.41 Eiffel", "0.43 Eiffel")
    assert not same_output("Paris 1.5", "Rome 1.5")
    assert not same_output("1.5 2.5", "1.5")
    assert not same_output("384 dims", "385 dims")
    assert same_output("id chatcmpl-0123456789ab", "id chatcmpl-ba9876543210")


PAGE = """
```python
print(llm.invoke("Hi").content)
```
<!-- shape:
<<text>>
tokens <<int>>, finish <<stop|length>>
-->
```output
Hello there!
tokens 4, finish stop
```

```python
print(29)
```
```output
29
```
"""


def test_a_shape_comment_belongs_to_its_block() -> None:
    first, second = blocks(PAGE)
    assert first.shape == "<<text>>\ntokens <<int>>, finish <<stop|length>>"
    assert first.shown == "Hello there!\ntokens 4, finish stop\n"
    assert second.shape is None


def test_model_text_is_compared_by_its_shape() -> None:
    block = blocks(PAGE)[0]
    assert matches(block, "Bonjour, comment ça va?\ntokens 11, finish length\n")
    assert not matches(block, "\ntokens 11, finish length\n")  # no text at all
    assert not matches(block, "Hi\ntokens many, finish stop\n")
    assert not matches(block, "Hi\ntokens 4, finish abort\n")
    assert not matches(block, "Hi\nthere\ntokens 4, finish stop\n")  # <<text>> is one line


def test_a_block_without_shape_is_compared_exactly() -> None:
    block = blocks(PAGE)[1]
    assert matches(block, "29\n")
    assert not matches(block, "30\n")


def test_the_page_must_have_the_shape_too() -> None:
    block = blocks(PAGE)[0]
    stale = Block(block.code, "tokens 4\n", block.start, block.end, block.shape)
    assert not matches(stale, "Hello\ntokens 4, finish stop\n")


def test_holes() -> None:
    assert fits("<<lines>>\nend", "one\n\ntwo\nend")
    assert not fits("<<lines>>\nend", "\nend")
    assert fits("score <<number>>", "score -0.0123")
    assert fits("word <<re:[A-Z]{5}>>", "word AFFIR")
    assert not fits("word <<re:[A-Z]{5}>>", "word AFFIRM")
    assert fits("id <<text>>", "id chatcmpl-0123456789ab")
    with pytest.raises(ValueError, match="unknown hole <<txt>>"):
        fits("<<txt>>", "x")


def test_a_shape_survives_rewriting(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    again = rewritten(page, ["Ciao!\ntokens 3, finish stop\n", "29\n"])
    first = blocks(again)[0]
    assert first.shape == blocks(PAGE)[0].shape
    assert first.shown == "Ciao!\ntokens 3, finish stop\n"
