"""Streams that end early: the chunks received travel with the error; a total deadline."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.exceptions import ModelConnectionError, ModelTimeoutError

from langchain_vllm import ChatVLLM, VLLMDeadlineError, VLLMStreamInterruptedError
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, load, recorded_model

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


def events() -> list[bytes]:
    """The recorded stream's SSE events."""
    body = str(load("chat_stream")["body"])
    return [f"{event}\n\n".encode() for event in body.split("\n\n") if event.strip()]


def recorded_text() -> str:
    return str(load("chat")["body"]["choices"][0]["message"]["content"])


def streaming(sync_body: Any = None, async_body: Any = None) -> ChatVLLM:
    """A ChatVLLM whose stream requests get the given (sync / async) bodies."""
    fake = FakeVLLM()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions") and sync_body is not None:
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=sync_body()
            )
        return fake.handler(request)

    async def async_handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions") and async_body is not None:
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=async_body()
            )
        return fake.handler(request)

    return ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        stream_deadline=0.5,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(async_handler)),
    )


def test_a_broken_stream_keeps_what_arrived() -> None:
    def cut_off() -> Iterator[bytes]:
        yield from events()[:5]  # role chunk + four words
        msg = "peer closed connection without sending complete message body"
        raise httpx.RemoteProtocolError(msg)

    seen: list[str] = []
    with pytest.raises(VLLMStreamInterruptedError) as caught:
        seen.extend(chunk.text for chunk in streaming(cut_off).stream("hi"))
    error = caught.value
    assert isinstance(error, ModelConnectionError)
    assert seen  # the caller had the chunks as they came
    assert error.partial is not None
    assert error.partial.text == "".join(seen)
    assert recorded_text().startswith(error.partial.text)
    assert "4 chunks" in str(error) or "5 chunks" in str(error)


async def test_a_broken_async_stream_keeps_what_arrived() -> None:
    async def cut_off() -> AsyncIterator[bytes]:
        for event in events()[:4]:
            yield event
        msg = "server gone"
        raise httpx.ReadError(msg)

    with pytest.raises(VLLMStreamInterruptedError) as caught:
        _ = [chunk async for chunk in streaming(async_body=cut_off).astream("hi")]
    assert caught.value.partial is not None
    assert recorded_text().startswith(caught.value.partial.text)


async def test_the_deadline_bounds_the_whole_stream() -> None:
    async def slow() -> AsyncIterator[bytes]:
        for event in events():
            yield event
            await asyncio.sleep(0.2)  # each chunk in time; the whole answer is not

    started = time.monotonic()
    with pytest.raises(VLLMDeadlineError) as caught:
        _ = [chunk async for chunk in streaming(async_body=slow).astream("hi")]
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.0  # honoured within 0.5 s
    assert isinstance(caught.value, ModelTimeoutError)
    assert caught.value.partial is not None
    assert "stream_deadline of 0.5 s" in str(caught.value)


async def test_a_stream_within_its_deadline_is_untouched() -> None:
    async def quick() -> AsyncIterator[bytes]:
        for event in events():
            yield event

    chunks = [chunk async for chunk in streaming(async_body=quick).astream("hi")]
    assert "".join(c.text for c in chunks) == recorded_text()
