"""ChatVLLM against a real vLLM server: what users rely on beyond the standard suite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from pydantic import BaseModel, Field

from langchain_vllm import ChatVLLM, VLLMConnectionError, VLLMModelNotFoundError
from tests.integration_tests.conftest import chat_base_url, chat_model, tool_call_script

ROOT = Path(__file__).resolve().parents[2]


class Multiply(BaseModel):
    """Multiply two integers."""

    a: int = Field(description="first factor")
    b: int = Field(description="second factor")


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this interpreter in a fresh process against the server under test."""
    return subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env={**os.environ, "VLLM_BASE_URL": chat_base_url()},
    )


def test_no_arguments_with_openai_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", chat_base_url())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-vllm")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    llm = ChatVLLM()
    answer = llm.invoke("What is the capital of France?", max_tokens=20)
    assert answer.text
    assert llm.model_id == chat_model()
    assert answer.response_metadata["model_provider"] == "vllm"
    assert answer.response_metadata["model_name"] == chat_model()


def test_stream_reports_usage_on_its_final_chunk() -> None:
    llm = ChatVLLM(base_url=chat_base_url(), max_tokens=16, temperature=0)
    chunks = list(llm.stream("Count to five."))
    usage_at = [i for i, c in enumerate(chunks) if c.usage_metadata]
    assert len(usage_at) == 1
    assert usage_at[0] >= max(i for i, c in enumerate(chunks) if c.text)
    full = AIMessageChunk(content="")
    for chunk in chunks:
        full += chunk
    invoked = llm.invoke("Count to five.")
    assert full.usage_metadata is not None
    assert invoked.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == invoked.usage_metadata["input_tokens"]
    assert full.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("tool_choice", ["required", "Multiply"])
def test_strict_tools_get_arguments_that_follow_the_schema(tool_choice: str) -> None:
    llm = ChatVLLM(base_url=chat_base_url(), temperature=0)
    bound = llm.bind_tools([Multiply], tool_choice=tool_choice)
    answer = bound.invoke("What is 3 times 12?")
    assert answer.tool_calls, answer
    call = answer.tool_calls[0]
    assert call["name"] == "Multiply"
    parsed = Multiply.model_validate(call["args"])  # raises if the schema was ignored
    assert set(call["args"]) == {"a", "b"}
    assert isinstance(parsed.a, int)


class GetWeather(BaseModel):
    """Get the current weather in a given city."""

    city: str = Field(description="The city name")


@pytest.mark.parametrize("tool_choice", ["auto", "required", "GetWeather"])
def test_a_scripted_tool_call_is_read_alike_on_every_version(tool_choice: str) -> None:
    # The script fixes the model's tokens, in the form this server version writes the call;
    # the tool parser, the grammar and ChatVLLM's reading are the server's and the package's.
    script = tool_call_script(chat_base_url(), "GetWeather", {"city": "Paris"}, tool_choice)
    llm = ChatVLLM(base_url=chat_base_url(), temperature=0, max_tokens=60)
    bound = llm.bind_tools([GetWeather], tool_choice=tool_choice)
    question = "What is the weather in Paris?"
    invoked = bound.invoke(question, vllm_xargs={"script": script})
    chunks = list(bound.stream(question, vllm_xargs={"script": script}))
    streamed: Any = chunks[0]
    for chunk in chunks[1:]:
        streamed += chunk
    assert isinstance(streamed, AIMessageChunk)
    for answer in (invoked, streamed):
        assert [(c["name"], c["args"]) for c in answer.tool_calls] == [
            ("GetWeather", {"city": "Paris"})
        ]
        assert answer.tool_calls[0]["id"]
        assert not answer.invalid_tool_calls
        assert not answer.text


@pytest.mark.version_independent
def test_two_asyncio_runs_in_one_process() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from langchain_vllm import ChatVLLM

        llm = ChatVLLM(base_url={chat_base_url()!r}, max_tokens=4)
        first = asyncio.run(llm.ainvoke("Hi"))
        second = asyncio.run(llm.ainvoke("Hello"))

        async def stream():
            return [c async for c in llm.astream("Hey")]

        third = asyncio.run(stream())
        assert first.text and second.text and third
        print("ok")
        """
    )
    result = _python("-X", "dev", "-W", "always", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "Event loop is closed" not in result.stderr
    assert "unclosed" not in result.stderr, result.stderr


@pytest.mark.version_independent
def test_sync_calls_leave_no_unclosed_socket_at_exit() -> None:
    # The pooled sync connection outlives the call; it must be closed by the time the
    # interpreter exits, or Python reports "ResourceWarning: unclosed <socket...>".
    script = textwrap.dedent(
        f"""
        from langchain_vllm import ChatVLLM, VLLMCompletions

        llm = ChatVLLM(base_url={chat_base_url()!r}, max_tokens=4)
        assert llm.invoke("Hi").text and list(llm.stream("Hey"))
        assert VLLMCompletions(base_url={chat_base_url()!r}, max_tokens=4).invoke("Hi")
        print("ok")
        """
    )
    result = _python("-X", "dev", "-W", "always", "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "unclosed" not in result.stderr, result.stderr


def test_unknown_model_lists_what_is_served() -> None:
    llm = ChatVLLM(base_url=chat_base_url(), model="no-such-model")
    with pytest.raises(VLLMModelNotFoundError) as info:
        llm.invoke("Hi")
    assert chat_model() in info.value.served
    assert chat_model() in str(info.value)


@pytest.mark.version_independent
def test_unreachable_server_fails_fast_naming_the_url() -> None:
    llm = ChatVLLM(base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(VLLMConnectionError, match=r"127\.0\.0\.1:9/v1") as info:
        llm.invoke("Hi")
    assert info.value.base_url == "http://127.0.0.1:9/v1"


@pytest.mark.version_independent
def test_demo_runs_the_seed_example() -> None:
    result = _python(str(ROOT / "scripts" / "demo.py"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    italian = re.search(rf"^\[{re.escape(chat_model())}\] Italian: \S", out, re.MULTILINE)
    german = re.search(rf"^\[{re.escape(chat_model())}\] German: \S", out, re.MULTILINE)
    assert italian, out
    assert german, out
    assert italian.start() < german.start()
