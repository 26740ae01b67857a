"""Run the docs: every ``python`` block of a page, in order, against the real local servers.

A page's python blocks share one namespace (top-level ``await`` works). The block right after
a python block, fenced as ````output``, holds what that block printed in the last run:
``python -m tests.doc_pages --write`` (``make docs``) rewrites those blocks from a fresh run;
the integration test runs the pages and fails when a block raises or prints something else
than its page shows. Shell blocks (``bash``) are setup commands and are not run.

Values that change from run to run (response ids, run ids, UUIDs, fingerprints, timestamps)
are masked before comparing, in both the page and the run; printed decimals (scores, vector
components) may differ by 2e-4, the last-bit float noise of a CPU server.

Text a model *chose* is not compared letter by letter: another CPU, another thread layout, a
prefix-cache hit or another batch changes the floats, and a greedy model flips on a near-tie.
A block whose output holds such text carries its *shape* in an HTML comment between the code
and the output (invisible on the rendered page)::

    <!-- shape:
    <<text>>
    {'input_tokens': 29, 'output_tokens': <<int>>, 'total_tokens': <<int>>}
    SmolLM2-135M-Instruct <<stop|length>>
    -->

The shape is the output with holes: ``<<text>>`` (one line's worth of text, not empty),
``<<lines>>`` (one or more lines), ``<<int>>``, ``<<number>>``, ``<<a|b|c>>`` (one of these
literally) and ``<<re:PATTERN>>`` (a regular expression). Everything else is literal. Both
the run's output and the page's must match the shape (so the page keeps showing a real run);
a block without a shape is compared exactly.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import io
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_vllm import _server

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)
_VOLATILE = (
    (re.compile(r"chatcmpl-(tool-)?[0-9a-f]{8,}"), "chatcmpl-<id>"),
    (re.compile(r"cmpl-[0-9a-f]{8,}"), "cmpl-<id>"),
    (re.compile(r"lc_run--[0-9a-f-]+(-\d+)?"), "lc_run--<id>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"vllm-\d+\.\d+\.\d+[-\w.]*"), "vllm-<version>"),
    (re.compile(r"'created': \d+"), "'created': <time>"),
)

LOCAL_URLS = {
    "VLLM_BASE_URL": "http://localhost:8000/v1",
    "VLLM_EMBEDDINGS_BASE_URL": "http://localhost:8001/v1",
    "VLLM_REASONING_BASE_URL": "http://localhost:8002/v1",
    "VLLM_ROUTER_BASE_URL": "http://localhost:8010/v1",
}
"""The servers the pages talk to (scripts/vllm_local.py), unless the environment says."""


@dataclass
class Block:
    """One python block of a page, with the output the page shows for it."""

    code: str
    shown: str | None
    start: int  # where the output block (or the place for one) begins in the page
    end: int
    shape: str | None = None  # the output's shape, when it holds text a model chose


_SHAPE_COMMENT = re.compile(r"\A\s*<!-- shape:\n(?P<shape>.*?)\n-->\s*\Z", re.DOTALL)


def blocks(page: str) -> list[Block]:
    """The python blocks of ``page``, their ``output`` blocks and shapes."""
    found: list[Block] = []
    fences = list(_FENCE.finditer(page))
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        after = fences[index + 1] if index + 1 < len(fences) else None
        between = page[fence.end() : after.start()] if after else ""
        comment = _SHAPE_COMMENT.match(between)
        shape = comment.group("shape") if comment else None
        if after is not None and after.group(1) == "output" and (comment or not between.strip()):
            found.append(Block(fence.group(2), after.group(2), fence.end(), after.end(), shape))
        elif comment:
            # a shape and no output yet (a new block before its first `make docs`)
            found.append(
                Block(fence.group(2), None, fence.end(), fence.end() + len(between), shape)
            )
        else:
            found.append(Block(fence.group(2), None, fence.end(), fence.end()))
    return found


def masked(text: str) -> str:
    """``text`` with run-specific values replaced by placeholders."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return text.rstrip()


_DECIMAL = re.compile(r"-?\d+\.\d+")
_DECIMAL_TOLERANCE = 2e-4
"""Scores and vector components are printed rounded to 4 places; a CPU server's float
arithmetic varies in the last bit between runs, which flips a value sitting on a rounding
boundary (0.41175 printed as 0.4118 or 0.4117). Decimals this close count as equal."""


def same_output(shown: str, printed: str) -> bool:
    """Whether a run printed what the page shows: equal once masked, decimals within
    :data:`_DECIMAL_TOLERANCE` (words, integers and everything else exactly)."""
    shown, printed = masked(shown), masked(printed)
    if _DECIMAL.sub("#", shown) != _DECIMAL.sub("#", printed):
        return False
    pairs = zip(_DECIMAL.findall(shown), _DECIMAL.findall(printed), strict=True)
    return all(abs(float(a) - float(b)) <= _DECIMAL_TOLERANCE * 1.0001 for a, b in pairs)


_HOLE = re.compile(r"<<(.+?)>>(?!>)")
_HOLE_KINDS = {
    "text": r"[^\n]*\S[^\n]*",
    "lines": r"\s*\S[\s\S]*?",
    "int": r"-?\d+",
    "number": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
}


def shape_pattern(shape: str) -> re.Pattern[str]:
    """The regular expression of a shape (see the module docstring for its holes).

    Raises:
        ValueError: For a hole that is none of the kinds.
    """
    parts = []
    position = 0
    for hole in _HOLE.finditer(shape):
        parts.append(re.escape(masked_literal(shape[position : hole.start()])))
        kind = hole.group(1)
        if kind in _HOLE_KINDS:
            parts.append(f"(?:{_HOLE_KINDS[kind]})")
        elif kind.startswith("re:"):
            parts.append(f"(?:{kind.removeprefix('re:')})")
        elif "|" in kind:
            parts.append("(?:" + "|".join(re.escape(word) for word in kind.split("|")) + ")")
        else:
            msg = f"unknown hole <<{kind}>>: use text, lines, int, number, a|b or re:PATTERN"
            raise ValueError(msg)
        position = hole.end()
    parts.append(re.escape(masked_literal(shape[position:])))
    return re.compile("".join(parts))


def masked_literal(text: str) -> str:
    """``text`` with run-specific values replaced, whitespace at its ends kept."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def fits(shape: str, text: str) -> bool:
    """Whether ``text`` (a page's output or a run's) has the ``shape``."""
    return shape_pattern(shape.rstrip()).fullmatch(masked(text)) is not None


def matches(block: Block, printed: str) -> bool:
    """Whether a run printed what the page shows for ``block``: its shape when it has one
    (and the page's output has that shape too), else the same output."""
    if block.shape is not None:
        return fits(block.shape, printed) and fits(block.shape, block.shown or "")
    return same_output(block.shown or "", printed)


def run_blocks(codes: list[str], name: str) -> list[str]:
    """Execute ``codes`` in order in one namespace; return what each printed.

    The ``LOCAL_URLS`` variables not already set are set for the run only. Each run starts
    like a fresh script: nothing learned about the servers before (nor warned) is kept.
    """
    _server.forget()
    added = [variable for variable in LOCAL_URLS if variable not in os.environ]
    os.environ.update({variable: LOCAL_URLS[variable] for variable in added})
    try:
        return _run_blocks(codes, name)
    finally:
        for variable in added:
            os.environ.pop(variable, None)


def _run_blocks(codes: list[str], name: str) -> list[str]:
    namespace: dict[str, Any] = {"__name__": f"docs_{name}"}
    loop = asyncio.new_event_loop()
    outputs = []
    try:
        for number, source in enumerate(codes, start=1):
            printed = io.StringIO()
            code = compile(
                source, f"{name}[block {number}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            )
            with contextlib.redirect_stdout(printed):
                result = eval(code, namespace)  # noqa: S307 - our own docs
                if asyncio.iscoroutine(result):
                    loop.run_until_complete(result)
            outputs.append(printed.getvalue())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return outputs


def run_page(path: Path) -> list[str]:
    """Execute the page's python blocks in order; return what each printed."""
    return run_blocks([block.code for block in blocks(path.read_text())], path.stem)


_DOCSTRING_BLOCK = re.compile(
    r"^(?P<indent>[ ]*)\.\. code-block:: python\n\n(?P<body>(?:(?P=indent)[ ]{4}.*\n|[ ]*\n)+)",
    re.MULTILINE,
)
NEEDS = "# needs:"
"""A docstring example starting with this comment needs a capability the local servers lack
(the rest of the line says which); the docstring test skips it, naming the capability."""


def docstring_examples(cls: type) -> list[str]:
    """The ``.. code-block:: python`` examples of ``cls``'s docstring, dedented."""
    return [
        textwrap.dedent(match.group("body")).strip() + "\n"
        for match in _DOCSTRING_BLOCK.finditer(cls.__doc__ or "")
    ]


def rewritten(path: Path, outputs: list[str]) -> str:
    """The page with every block's output block replaced by ``outputs``."""
    page = path.read_text()
    pieces = []
    position = 0
    for block, output in zip(blocks(page), outputs, strict=True):
        pieces.append(page[position : block.start])
        if block.shape is not None:
            pieces.append(f"<!-- shape:\n{block.shape}\n-->\n")
        if output.strip():
            pieces.append(f"```output\n{output.rstrip()}\n```\n")
        position = block.end
    pieces.append(page[position:])
    return "".join(pieces)


def pages() -> list[Path]:
    """Every docs page."""
    return sorted(DOCS.glob("*.md"))


def main() -> None:
    """Run the pages; with ``--write``, store their outputs in them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the output blocks")
    parser.add_argument("pages", nargs="*", type=Path)
    args = parser.parse_args()
    failed = False
    for path in args.pages or pages():
        outputs = run_page(path)
        page_blocks = blocks(path.read_text())
        if args.write:
            path.write_text(rewritten(path, outputs))
            sys.stdout.write(f"{path}: {len(outputs)} blocks run, outputs written\n")
        for number, (block, output) in enumerate(zip(page_blocks, outputs, strict=True), 1):
            if block.shape is not None and not fits(block.shape, output):
                sys.stdout.write(f"{path} block {number}: the output has not the block's shape\n")
                failed = True
            elif not args.write and not matches(block, output):
                sys.stdout.write(f"{path} block {number}: printed something else\n")
                failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
