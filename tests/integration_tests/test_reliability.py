"""Faults and load on the real server: unreachable servers, cancelled and overdue streams,
1,000 concurrent requests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx as plain_httpx
import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelConnectionError
from langchain_core.messages import HumanMessage, SystemMessage

from langchain_vllm import ChatVLLM, VLLMDeadlineError, VLLMStreamInterruptedError
from tests.integration_tests.conftest import chat_base_url, chat_model, uses_local_server

if TYPE_CHECKING:
    from collections.abc import Iterator

LONG = {"max_tokens": 2000, "ignore_eos": True, "temperature": 0}
"""A generation that runs for minutes on CPU unless it is aborted."""


def running_requests() -> float:
    """vLLM's ``vllm:num_requests_running`` gauge (requests being generated right now)."""
    root = chat_base_url().removesuffix("/v1")
    metrics = plain_httpx.get(f"{root}/metrics", timeout=10).text
    values = re.findall(r"^vllm:num_requests_running\{[^}]*\} ([0-9.]+)$", metrics, re.MULTILINE)
    return sum(float(v) for v in values)


def drained_within(seconds: float) -> float | None:
    """Seconds until no request runs any more (``None`` if that took longer)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if running_requests() == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def test_unreachable_server_fails_fast_naming_the_url() -> None:
    url = "http://127.0.0.1:9/v1"
    started = time.monotonic()
    with pytest.raises(ModelConnectionError, match=re.escape(url)):
        ChatVLLM(base_url=url, model="m").invoke("hi")
    assert time.monotonic() - started < 2.0  # connection refused, retried with backoff


def test_breaking_out_of_a_stream_aborts_the_generation() -> None:
    model = ChatVLLM(base_url=chat_base_url(), **LONG)
    for number, _ in enumerate(model.stream("Tell me a long story.")):
        if number == 3:
            break  # as users do: the stream is dropped, nothing else
    assert drained_within(2.0) is not None


async def test_cancelling_a_stream_task_aborts_the_generation() -> None:
    model = ChatVLLM(base_url=chat_base_url(), **LONG)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in model.astream("Tell me a long story."):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(drained_within, 2.0) is not None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stream_deadline_is_honoured_and_aborts(mode: str) -> None:
    model = ChatVLLM(base_url=chat_base_url(), stream_deadline=1.5, **LONG)
    model.invoke("hi", max_tokens=1, ignore_eos=False)  # discovery outside the clock

    def consume_sync() -> None:
        for _ in model.stream("Tell me a long story."):
            pass

    async def consume_async() -> None:
        async for _ in model.astream("Tell me a long story."):
            pass

    consume = consume_sync if mode == "sync" else lambda: asyncio.run(consume_async())
    started = time.monotonic()
    with pytest.raises(VLLMDeadlineError) as caught:
        consume()
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 0.5
    assert caught.value.partial is not None
    assert caught.value.partial.text  # what arrived before the deadline is kept
    assert drained_within(2.0) is not None


def open_descriptors() -> int:
    """How many file descriptors this process has open."""
    return len(list(Path("/proc/self/fd").iterdir()))


async def prompt_tokens(prompts: list[str]) -> list[list[int]]:
    """The token ids of each prompt as the test sends it, after a one-character system
    message (the chat form of ``/tokenize``: the server's own template and tokenizer)."""
    root = chat_base_url().removesuffix("/v1")
    limits = plain_httpx.Limits(max_connections=32)
    async with plain_httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def tokenize(prompt: str) -> list[int]:
            messages = [{"role": "system", "content": "."}, {"role": "user", "content": prompt}]
            body = {"model": chat_model(), "messages": messages, "add_generation_prompt": True}
            answer = await client.post(f"{root}/tokenize", json=body)
            tokens: list[int] = answer.raise_for_status().json()["tokens"]
            return tokens

        return list(await asyncio.gather(*(tokenize(p) for p in prompts)))


@pytest.mark.timeout(1200)  # about 11 minutes: prefill of 1,000 prompts on one CPU core
async def test_a_thousand_concurrent_requests() -> None:
    """Every answer belongs to its own request: it carries the prompt tokens of its own
    prompt (``return_token_ids``), so an answer handed to the wrong caller shows.

    Half the requests stream. Prompts and answers are as short as they go (a one-character
    system message instead of the template's default one, one output token): the server's
    prefill on one CPU core is what this test waits for. (It used to tell the answers apart
    with a per-request ``choice`` constraint: vLLM compiles each distinct grammar, about a
    second apiece here, which made it take 20 minutes.)
    """
    model = ChatVLLM(base_url=chat_base_url(), model=chat_model(), max_tokens=1, temperature=0)
    await model.ainvoke("hi")
    prompts = [str(number) for number in range(1000)]
    expected = await prompt_tokens(prompts)
    assert len({tuple(tokens) for tokens in expected}) == len(prompts)  # all told apart
    before = open_descriptors()

    async def one(number: int, prompt: str) -> tuple[int, Any]:
        messages = [SystemMessage("."), HumanMessage(prompt)]
        if number % 2:
            message: Any = await model.ainvoke(messages, return_token_ids=True)
        else:
            message = None
            async for chunk in model.astream(messages, return_token_ids=True):
                message = chunk if message is None else message + chunk
        metadata = message.response_metadata
        return len(metadata.get("token_ids") or ()), metadata.get("prompt_token_ids")

    answers = await asyncio.gather(
        *(one(number, prompt) for number, prompt in enumerate(prompts)),
        return_exceptions=True,
    )
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert errors == []
    assert answers == [(1, tokens) for tokens in expected]  # one token each, own prompt
    # connections go back to the pool (at most its keep-alive size stays open)
    assert open_descriptors() - before <= 100


# ---------------------------------------------------------------- a server of our own to break

DOOMED_PORT = "8006"  # free: the launcher's servers use 8000-8005, 8010 and 8016-8018
DOOMED_KEY = "sk-vllm-doomed-test-key"
LAUNCHER = Path(__file__).resolve().parents[2] / "scripts" / "vllm_local.py"


@pytest.fixture(scope="module")
def doomed_server() -> Iterator[str]:
    """A second local chat server, started with an API key, that the tests may kill."""
    if not uses_local_server():
        pytest.skip("needs the local launcher to start a server it may kill (VLLM_BASE_URL set)")
    env = {**os.environ, "VLLM_CHAT_PORT": DOOMED_PORT, "VLLM_API_KEY": DOOMED_KEY}
    subprocess.run([sys.executable, str(LAUNCHER), "start", "chat"], env=env, check=True)  # noqa: S603
    try:
        yield f"http://127.0.0.1:{DOOMED_PORT}/v1"
    finally:
        subprocess.run([sys.executable, str(LAUNCHER), "stop", "chat"], env=env, check=False)  # noqa: S603


def test_a_server_with_an_api_key_rejects_a_wrong_one_plainly(doomed_server: str) -> None:
    with pytest.raises(ModelAuthenticationError, match="rejected the API key") as caught:
        ChatVLLM(base_url=doomed_server, api_key="sk-wrong").invoke("hi")
    assert "VLLM_API_KEY" in str(caught.value)
    assert "sk-wrong" not in str(caught.value)
    assert ChatVLLM(base_url=doomed_server, api_key=DOOMED_KEY, max_tokens=4).invoke("hi").text


def test_a_server_killed_mid_stream_keeps_what_arrived(doomed_server: str) -> None:
    model = ChatVLLM(base_url=doomed_server, api_key=DOOMED_KEY, **LONG)
    home = Path(os.environ.get("LANGCHAIN_VLLM_HOME") or "~/.cache/langchain-vllm").expanduser()
    pid = int((home / "run" / f"chat-{DOOMED_PORT}.pid").read_text().split()[0])
    received: list[str] = []

    def read_until_killed() -> None:
        for chunk in model.stream("Tell me a long story."):
            received.append(chunk.text)
            if len(received) == 5:
                os.killpg(pid, signal.SIGKILL)  # the whole server, mid-answer

    with pytest.raises(VLLMStreamInterruptedError) as caught:
        read_until_killed()
    assert len(received) >= 5
    partial = caught.value.partial
    assert partial is not None
    assert partial.text == "".join(received)  # nothing received is lost
