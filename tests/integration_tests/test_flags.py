"""The parser names of the flag table against the installed vLLM's own registry, and the
tool-call markup table (``_tools.MARKUPS``) against vLLM's parser code."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from langchain_vllm import _flags, _tools
from tests.unit_tests.test_flags import VLLM_REASONING_PARSERS, VLLM_TOOL_PARSERS

HOME = Path(os.environ.get("LANGCHAIN_VLLM_HOME") or "~/.cache/langchain-vllm").expanduser()
SERVER_PYTHON = HOME / "venv" / "bin" / "python"

LIST_PARSERS = """
import json, pathlib, sys
import vllm
from vllm.reasoning import ReasoningParserManager
from vllm.tool_parsers import ToolParserManager
root = pathlib.Path(vllm.__file__).parent
engines = "".join(p.read_text() for p in sorted((root / "parser").rglob("*.py")))
sources = {}
for name in json.loads(sys.argv[1]):  # a parser's module, and the engines parsers delegate to
    module = ToolParserManager.lazy_parsers[name][0]
    sources[name] = (root.parent / (module.replace(".", "/") + ".py")).read_text() + engines
print(json.dumps({
    "tool": ToolParserManager.list_registered(),
    "reasoning": ReasoningParserManager.list_registered(),
    "sources": sources,
}))
"""

MARKED = sorted({parser for m in _tools.MARKUPS if m.literal for parser in m.parsers})
"""The tool parsers whose opening token ``_tools.MARKUPS`` names."""


@pytest.fixture(scope="module")
def registered() -> dict[str, Any]:
    if not SERVER_PYTHON.exists():
        pytest.skip(
            f"needs the local server venv ({SERVER_PYTHON}, `scripts/vllm_local.py setup`) "
            "to read the installed vLLM's parser registry"
        )
    result = subprocess.run(  # noqa: S603 - our own program, in the server's own python
        [str(SERVER_PYTHON), "-c", LIST_PARSERS, json.dumps(MARKED)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"},
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "tool": set(found["tool"]),
        "reasoning": set(found["reasoning"]),
        "sources": found["sources"],
    }


def test_the_tables_parser_names_are_registered(registered: dict[str, Any]) -> None:
    assert set(_flags.TOOL_PARSERS) <= registered["tool"]
    assert set(_flags.REASONING_PARSERS) <= registered["reasoning"]


def test_the_pinned_registry_is_the_installed_one(registered: dict[str, Any]) -> None:
    """The unit tests' copy of vLLM's parser names is what the installed vLLM registers."""
    assert registered["tool"] == VLLM_TOOL_PARSERS
    assert registered["reasoning"] == VLLM_REASONING_PARSERS


def test_each_markup_opening_is_its_parsers_own(registered: dict[str, Any]) -> None:
    """The opening token of each family in ``_tools.MARKUPS`` is text vLLM's own parser code
    (or the parser engine it delegates to) looks for."""
    for markup in _tools.MARKUPS:
        for parser in markup.parsers:
            if markup.literal is not None:
                assert markup.literal in registered["sources"][parser], (parser, markup.literal)
