"""Streams that end early: the chunks received travel with the error; a total deadline."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
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


# ---------------------------------------------------------------- garbage in, documented out

import json as _json  # noqa: E402

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEMPLATE = _json.loads(events()[1].decode().removeprefix("data: "))
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _chunk_with(delta: dict[str, Any]) -> str:
    chunk = _json.loads(_json.dumps(_TEMPLATE))
    chunk["choices"][0]["delta"] = delta
    return "data: " + _json.dumps(chunk)


_event = st.one_of(
    st.text(max_size=12).map(lambda text: _chunk_with({"content": text})),
    st.text(max_size=12).map(lambda text: _chunk_with({"reasoning": text})),
    st.text(max_size=20).map(  # tool-call argument pieces that may never form JSON
        lambda text: _chunk_with(
            {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": text}}]}
        )
    ),
    _json_values.map(lambda value: "data: " + _json.dumps(value)),  # any JSON at all
    st.text(max_size=30).map(lambda text: "data: " + text),  # not JSON
    st.text(max_size=30),  # not even SSE
    st.just("data: [DONE]"),
    st.just('data: {"error": {"message": "engine died", "code": 500}}'),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event, max_size=12), st.integers(min_value=1, max_value=40))
@example(stream_events=[], piece=1)  # the server closed the stream at once
@example(stream_events=["data:00"], piece=1)  # not JSON
def test_any_stream_gives_a_message_or_a_documented_error(
    stream_events: list[str], piece: int
) -> None:
    body = ("\n\n".join(stream_events) + "\n\n").encode()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), piece):  # arbitrary network chunking
            yield body[start : start + piece]

    try:
        chunks = list(streaming(pieces).stream("hi"))
    except VLLMStreamInterruptedError as error:
        partial = error.partial
        chunks = []
    else:
        partial = None
    assert partial is None or partial.type == "AIMessageChunk"
    if chunks:
        message = chunks[0]
        for chunk in chunks[1:]:
            message += chunk
        # bad tool-call JSON lands in invalid_tool_calls, never in an exception
        for call in message.tool_calls:
            assert isinstance(call["args"], dict)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.text(max_size=10))
@example(arguments="1", name="f")  # JSON, but not an object: LangChain's parser lets it through
@example(arguments='{"city": "Par', name="get_weather")  # cut off
def test_any_tool_call_arguments_give_a_message(arguments: str, name: str) -> None:
    fake = FakeVLLM()
    body = _json.loads(_json.dumps(load("tool_call")["body"]))
    body["choices"][0]["message"]["tool_calls"][0]["function"].update(
        arguments=arguments, name=name
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, json=body)
        return fake.handler(request)

    transport = httpx.MockTransport(handler)
    message = ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    ).invoke("hi")
    calls = [*message.tool_calls, *message.invalid_tool_calls]
    assert len(calls) == 1
    if message.tool_calls:
        assert isinstance(message.tool_calls[0]["args"], dict)
    else:
        assert message.invalid_tool_calls[0]["args"] == arguments


# ---------------------------------------------------------------- callbacks told of each chunk


class _Tokens(BaseCallbackHandler):
    """Records each streamed token; with ``fail_at``, raises at that token."""

    raise_error = True

    def __init__(self, fail_at: int | None = None) -> None:
        self.tokens: list[str] = []
        self.fail_at = fail_at

    def on_llm_new_token(self, token: str | list[Any], **kwargs: Any) -> None:
        del kwargs
        if len(self.tokens) == self.fail_at:
            msg = "the handler's own error"
            raise KeyError(msg)
        self.tokens.append(str(token))


def _quick() -> Iterator[bytes]:
    yield from events()


async def _aquick() -> AsyncIterator[bytes]:
    for event in events():
        yield event


def test_callbacks_hear_each_chunk_and_their_errors_pass_through() -> None:
    heard = _Tokens()
    chunks = list(streaming(_quick).stream("hi", config={"callbacks": [heard]}))
    assert heard.tokens == [chunk.text for chunk in chunks]
    assert "".join(heard.tokens) == recorded_text()
    failing = _Tokens(fail_at=2)  # a handler's KeyError is not a malformed event
    with pytest.raises(KeyError, match="the handler's own error"):
        list(streaming(_quick).stream("hi", config={"callbacks": [failing]}))


async def test_async_callbacks_hear_each_chunk_and_their_errors_pass_through() -> None:
    heard = _Tokens()
    llm = streaming(async_body=_aquick)
    chunks = [chunk async for chunk in llm.astream("hi", config={"callbacks": [heard]})]
    assert heard.tokens == [chunk.text for chunk in chunks]
    assert "".join(heard.tokens) == recorded_text()
    failing = _Tokens(fail_at=2)
    with pytest.raises(KeyError, match="the handler's own error"):
        _ = [
            c
            async for c in streaming(async_body=_aquick).astream(
                "hi", config={"callbacks": [failing]}
            )
        ]
