"""Run the docs: every ``python`` block of a page, in order, against the real local servers.

A page's python blocks share one namespace (top-level ``await`` works). The block right after
a python block, fenced as ````output``, holds what that block printed in the last run:
``python -m tests.doc_pages --write`` (``make docs``) rewrites those blocks from a fresh run;
the integration test runs the pages and fails when a block raises or prints something else
than its page shows. Shell blocks (``bash``) are setup commands and are not run.

Values that change from run to run (response ids, run ids, UUIDs, fingerprints, timestamps)
are masked before comparing, in both the page and the run; printed decimals (scores, vector
components) may differ by 2e-4, the last-bit float noise of a CPU server.
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


def blocks(page: str) -> list[Block]:
    """The python blocks of ``page`` and their ``output`` blocks."""
    found: list[Block] = []
    fences = list(_FENCE.finditer(page))
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        after = fences[index + 1] if index + 1 < len(fences) else None
        between = page[fence.end() : after.start()] if after else None
        if (
            after is not None
            and after.group(1) == "output"
            and between is not None
            and not between.strip()
        ):
            found.append(Block(fence.group(2), after.group(2), fence.end(), after.end()))
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
        if args.write:
            path.write_text(rewritten(path, outputs))
            sys.stdout.write(f"{path}: {len(outputs)} blocks run, outputs written\n")
            continue
        for _number, (block, output) in enumerate(
            zip(blocks(path.read_text()), outputs, strict=True), 1
        ):
            if not same_output(block.shown or "", output):
                failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
