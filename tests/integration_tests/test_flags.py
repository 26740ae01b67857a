"""The parser names of the flag table against the installed vLLM's own registry."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from langchain_vllm import _flags
from tests.unit_tests.test_flags import VLLM_REASONING_PARSERS, VLLM_TOOL_PARSERS

HOME = Path(os.environ.get("LANGCHAIN_VLLM_HOME") or "~/.cache/langchain-vllm").expanduser()
SERVER_PYTHON = HOME / "venv" / "bin" / "python"

LIST_PARSERS = """
import json
from vllm.reasoning import ReasoningParserManager
from vllm.tool_parsers import ToolParserManager
print(json.dumps({
    "tool": ToolParserManager.list_registered(),
    "reasoning": ReasoningParserManager.list_registered(),
}))
"""


@pytest.fixture(scope="module")
def registered() -> dict[str, set[str]]:
    if not SERVER_PYTHON.exists():
        pytest.skip(
            f"needs the local server venv ({SERVER_PYTHON}, `scripts/vllm_local.py setup`) "
            "to read the installed vLLM's parser registry"
        )
    result = subprocess.run(  # noqa: S603 - our own program, in the server's own python
        [str(SERVER_PYTHON), "-c", LIST_PARSERS],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"},
    )
    names = json.loads(result.stdout.strip().splitlines()[-1])
    return {kind: set(found) for kind, found in names.items()}


def test_the_tables_parser_names_are_registered(registered: dict[str, set[str]]) -> None:
    assert set(_flags.TOOL_PARSERS) <= registered["tool"]
    assert set(_flags.REASONING_PARSERS) <= registered["reasoning"]


def test_the_pinned_registry_is_the_installed_one(registered: dict[str, set[str]]) -> None:
    """The unit tests' copy of vLLM's parser names is what the installed vLLM registers."""
    assert registered["tool"] == VLLM_TOOL_PARSERS
    assert registered["reasoning"] == VLLM_REASONING_PARSERS
