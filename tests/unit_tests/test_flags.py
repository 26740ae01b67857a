"""The one table of vLLM flags and parser names, and everything that tells users about them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from langchain_vllm import ChatVLLM, VLLMInvalidRequestError, _flags
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, recorded_model

ROOT = Path(__file__).resolve().parents[2]

# What vLLM 0.32 registers (ToolParserManager / ReasoningParserManager .list_registered()).
# tests/integration_tests/test_flags.py compares these with the installed server.
VLLM_TOOL_PARSERS = frozenset(
    [
        "apertus",
        "cohere_command3",
        "cohere_command4",
        "deepseek_v3",
        "deepseek_v31",
        "deepseek_v32",
        "deepseek_v4",
        "deepseek_v41",
        "dots",
        "ernie45",
        "functiongemma",
        "gemma4",
        "gigachat3",
        "glm45",
        "glm47",
        "granite",
        "granite-20b-fc",
        "granite4",
        "hermes",
        "hf",
        "hunyuan_a13b",
        "hy_v3",
        "hy_v4",
        "inkling",
        "internlm",
        "jamba",
        "k2_horizon",
        "kimi_k2",
        "kimi_k3",
        "lfm2",
        "ling3",
        "llama3_json",
        "llama4_json",
        "llama4_pythonic",
        "longcat",
        "mimo",
        "minicpm5",
        "minimax_m2",
        "minimax_m3",
        "mistral",
        "muse_glimmer",
        "olmo3",
        "openai",
        "phi4_mini_json",
        "plamo3",
        "poolside_v1",
        "pythonic",
        "qwen3_coder",
        "qwen3_json",
        "qwen3_xml",
        "seed_oss",
        "step3",
        "step3p5",
        "xlam",
    ]
)
VLLM_REASONING_PARSERS = frozenset(
    [
        "cohere_command3",
        "cohere_command4",
        "deepseek_r1",
        "deepseek_v3",
        "deepseek_v4",
        "deepseek_v41",
        "ernie45",
        "gemma4",
        "glm45",
        "glm47",
        "granite",
        "granite_thinking_parser",
        "hf",
        "holo2",
        "hunyuan_a13b",
        "hy_v3",
        "hy_v4",
        "inkling",
        "k2_horizon",
        "kimi_k2",
        "kimi_k3",
        "ling3",
        "mimo",
        "minicpmv",
        "minimax_m2",
        "minimax_m2_append_think",
        "minimax_m3",
        "mistral",
        "muse_glimmer",
        "nemotron_v3",
        "olmo3",
        "openai_gptoss",
        "plamo3",
        "poolside_v1",
        "qwen3",
        "seed_oss",
        "step3",
        "step3p5",
    ]
)
PLUGIN_PARSERS = frozenset(["family"])
"""Registered by this project's own parser plugins (scripts/server_venv/family_parsers.py)."""
REGISTERED = {
    "--tool-call-parser": VLLM_TOOL_PARSERS | PLUGIN_PARSERS,
    "--reasoning-parser": VLLM_REASONING_PARSERS | PLUGIN_PARSERS,
}

# Every text a user reads about starting the server.
TEXTS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "langchain_vllm").glob("*.py"),
        *(ROOT / "scripts").rglob("*.py"),
        *(ROOT / "scripts" / "templates").glob("*.jinja"),
    ]
)
ENGLISH = {"to", "and", "or", "also", "is", "for", "flag"}  # "--tool-call-parser to be set"


def named_parsers(text: str) -> list[tuple[str, str]]:
    """(flag, parser) for ``--flag name`` and ``--flag <parser>`` (`a`, `b`, ...) in a text."""
    found: list[tuple[str, str]] = []
    for flag in REGISTERED:
        direct = re.findall(rf"{flag}[= ]+([a-z][\w\-]*)", text)
        found.extend((flag, name) for name in direct if name not in ENGLISH)
        for listed in re.findall(rf"{flag}[` ]*<parser>`*\)?\s*\(([^)]*)\)", text):
            found.extend((flag, name) for name in re.findall(r"`{1,2}([\w\-]+)`{1,2}", listed))
    return found


def test_the_tables_parsers_are_ones_vllm_registers() -> None:
    assert set(_flags.TOOL_PARSERS) <= VLLM_TOOL_PARSERS
    assert set(_flags.REASONING_PARSERS) <= VLLM_REASONING_PARSERS
    assert "openai_gptoss" in _flags.REASONING_PARSERS  # not "gpt_oss": vLLM has no such parser
    assert "gpt_oss" not in VLLM_REASONING_PARSERS


@pytest.mark.parametrize("path", TEXTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_docs_and_docstrings_name_only_registered_parsers(path: Path) -> None:
    for flag, name in named_parsers(path.read_text(encoding="utf-8")):
        assert name in REGISTERED[flag], f"{path.name}: {flag} {name} is not a vLLM parser"


def test_the_scan_finds_parser_names() -> None:
    """The check above can fail: it sees names in both forms the texts use."""
    text = "`--reasoning-parser <parser>` (``qwen3``,\n ``gpt_oss``) or --tool-call-parser hermes"
    assert named_parsers(text) == [
        ("--tool-call-parser", "hermes"),
        ("--reasoning-parser", "qwen3"),
        ("--reasoning-parser", "gpt_oss"),
    ]


def test_the_hints_are_the_tables() -> None:
    assert _flags.TOOL_SETUP == "--enable-auto-tool-choice --tool-call-parser <parser>"
    assert _flags.REASONING_SETUP == "--reasoning-parser <parser>"
    assert _flags.examples(("a", "b")) == "a, b"


def refusing(message: str) -> ChatVLLM:
    """A ChatVLLM whose chat requests get vLLM's 400 with ``message``."""
    fake = FakeVLLM()
    body = {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(400, json=body)
        return fake.handler(request)

    transport = httpx.MockTransport(handler)
    return ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        max_retries=0,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )


def test_the_reasoning_parser_error_names_registered_parsers() -> None:
    # vLLM 0.32's answer to thinking_token_budget without a reasoning parser
    message = (
        "thinking_token_budget is set but reasoning_config is not configured. Please set "
        "--reasoning-parser and/or --reasoning-config to use thinking_token_budget."
    )
    with pytest.raises(VLLMInvalidRequestError) as caught:
        refusing(message).invoke("hi", thinking_token_budget=8)
    text = str(caught.value)
    assert "`--reasoning-parser <parser>`" in text
    assert "qwen3, deepseek_r1, deepseek_v3, mistral, openai_gptoss, granite" in text
    assert "gpt_oss," not in text


def test_the_tool_parser_error_names_the_tables_flags_and_parsers() -> None:
    message = (
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    )
    with pytest.raises(VLLMInvalidRequestError) as caught:
        refusing(message).invoke("hi", tools=[], tool_choice="auto")
    text = str(caught.value)
    assert f"`{_flags.TOOL_SETUP}`" in text
    assert _flags.examples(_flags.TOOL_PARSERS) in text
