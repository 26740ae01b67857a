"""VLLMCompletions at the wire level, against the fake server (recorded bodies)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import socketserver
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.exceptions import (
    ModelConnectionError,
    ModelNotFoundError,
    ModelTimeoutError,
)
from langchain_core.load import dumpd
from langchain_core.outputs import GenerationChunk

from langchain_vllm import VLLMCompletions, VLLMDeadlineError, VLLMStreamInterruptedError
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, load, recorded_model

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

PROMPT = "The capital of France is"


def make(fake: FakeVLLM, **kwargs: Any) -> VLLMCompletions:
    return VLLMCompletions(base_url=BASE_URL, **fake.clients(), **kwargs)


def completion_bodies(fake: FakeVLLM) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in fake.requests if r.url.path == "/v1/completions"]


def test_invoke_returns_the_recorded_text(recorded: FakeVLLM) -> None:
    text = make(recorded, max_tokens=8, temperature=0).invoke(PROMPT)
    assert text == load("completion", recorded.version)["body"]["choices"][0]["text"]
    body = completion_bodies(recorded)[-1]
    assert body["prompt"] == PROMPT
    assert body["model"] == recorded_model()  # discovered
    assert (body["max_tokens"], body["temperature"]) == (8, 0)


def test_generate_reports_usage_and_model(recorded: FakeVLLM) -> None:
    result = make(recorded).generate([PROMPT])
    answer = load("completion", recorded.version)["body"]
    usage = answer["usage"]
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["prompt_tokens"] == usage["prompt_tokens"]
    assert result.llm_output["token_usage"]["completion_tokens"] == usage["completion_tokens"]
    assert result.llm_output["model_name"] == recorded_model()
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["finish_reason"] == answer["choices"][0]["finish_reason"]


def test_batch_is_one_request_with_a_prompt_list(fake: FakeVLLM) -> None:
    texts = make(fake).batch([PROMPT, "1 + 1 ="])
    assert texts == [load("completion")["body"]["choices"][0]["text"]] * 2
    bodies = completion_bodies(fake)
    assert len(bodies) == 1
    assert bodies[0]["prompt"] == [PROMPT, "1 + 1 ="]


def test_stream_yields_the_recorded_text_and_usage(recorded: FakeVLLM) -> None:
    llm = make(recorded)
    chunks = list(llm.stream(PROMPT))
    assert "".join(chunks) == load("completion", recorded.version)["body"]["choices"][0]["text"]
    body = completion_bodies(recorded)[-1]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    result = make(recorded, streaming=True).generate([PROMPT])
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["usage"]["completion_tokens"] > 0


async def test_async_invoke_and_stream(recorded: FakeVLLM) -> None:
    llm = make(recorded)
    expected = load("completion", recorded.version)["body"]["choices"][0]["text"]
    assert await llm.ainvoke(PROMPT) == expected
    assert "".join([c async for c in llm.astream(PROMPT)]) == expected


def test_sampling_fields_and_constraints_are_sent(fake: FakeVLLM) -> None:
    llm = make(fake, top_k=5, min_p=0.1, structured_outputs={"choice": ["a", "b"]})
    llm.invoke(PROMPT, repetition_penalty=1.2, extra_body={"top_k": 9})
    body = completion_bodies(fake)[-1]
    assert (body["top_k"], body["min_p"], body["repetition_penalty"]) == (9, 0.1, 1.2)
    assert body["structured_outputs"] == {"choice": ["a", "b"]}
    llm.invoke(PROMPT, stop=["\n"])
    assert completion_bodies(fake)[-1]["stop"] == ["\n"]


def test_old_servers_get_guided_fields() -> None:
    fake = FakeVLLM(version="0.8.5")
    make(fake, structured_outputs={"regex": "[a-z]+"}).invoke(PROMPT)
    body = completion_bodies(fake)[-1]
    assert body["guided_regex"] == "[a-z]+"
    assert "structured_outputs" not in body
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize(("field", "value"), [("min_p", 2), ("top_k", -5), ("temperature", 3)])
def test_out_of_range_values_fail_before_any_request(
    fake: FakeVLLM, field: str, value: Any
) -> None:
    with pytest.raises(ValueError, match=f"{field}={value}"):
        make(fake, **{field: value})
    with pytest.raises(ValueError, match=f"{field}={value}"):
        make(fake).invoke(PROMPT, **{field: value})
    assert completion_bodies(fake) == []


def test_unknown_model_lists_the_served_ones(fake: FakeVLLM) -> None:
    with pytest.raises(ModelNotFoundError, match=recorded_model()):
        make(fake, model="no-such-model").invoke(PROMPT)


def test_identity_and_serialization() -> None:
    llm = VLLMCompletions(model="m", api_key="sk-vllm-123", temperature=0.5)
    assert llm._llm_type == "vllm-completions"
    params = llm._get_ls_params()
    assert (params["ls_provider"], params["ls_model_name"]) == ("vllm", "m")
    dumped = json.dumps(dumpd(llm))
    assert "sk-vllm-123" not in dumped
    assert "VLLM_API_KEY" in dumped
    assert "sk-vllm-123" not in repr(llm)


# ---------------------------------------------------------------- streams that end early


def completion_events() -> list[bytes]:
    """The recorded completion stream's SSE events (the last ones: usage, [DONE])."""
    body = str(load("completion_stream")["body"])
    return [f"{event}\n\n".encode() for event in body.split("\n\n") if event.strip()]


def streamed_text() -> str:
    chunks = [json.loads(e.decode().removeprefix("data: ")) for e in completion_events()[:-1]]
    return "".join(c["choices"][0]["text"] for c in chunks if c["choices"])


def scripted(sync_body: Any = None, async_body: Any = None, **kwargs: Any) -> VLLMCompletions:
    """A VLLMCompletions whose stream requests get the given (sync / async) SSE bodies."""
    fake = FakeVLLM()

    def respond(request: httpx.Request, body: Any) -> httpx.Response | None:
        if request.url.path == "/v1/completions" and body is not None:
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, headers=headers, content=body())
        return None

    def handler(request: httpx.Request) -> httpx.Response:
        return respond(request, sync_body) or fake.handler(request)

    async def async_handler(request: httpx.Request) -> httpx.Response:
        return respond(request, async_body) or fake.handler(request)

    return VLLMCompletions(
        base_url=BASE_URL,
        model=recorded_model(),
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(async_handler)),
        **kwargs,
    )


def test_the_recorded_stream_is_whole() -> None:
    assert "".join(scripted(lambda: iter(completion_events())).stream(PROMPT)) == streamed_text()


def test_a_broken_stream_keeps_what_arrived() -> None:
    def cut_off() -> Iterator[bytes]:
        yield from completion_events()[:3]
        msg = "peer closed connection without sending complete message body"
        raise httpx.RemoteProtocolError(msg)

    seen: list[str] = []
    with pytest.raises(VLLMStreamInterruptedError) as caught:
        seen.extend(scripted(cut_off).stream(PROMPT))
    error = caught.value
    assert isinstance(error, ModelConnectionError)
    assert isinstance(error.partial, GenerationChunk)
    assert error.partial.text == "".join(seen)
    assert len(seen) == 3
    assert streamed_text().startswith(error.partial.text)
    assert "3 chunks" in str(error)


async def test_a_broken_async_stream_keeps_what_arrived() -> None:
    async def cut_off() -> AsyncIterator[bytes]:
        for event in completion_events()[:2]:
            yield event
        msg = "server gone"
        raise httpx.ReadError(msg)

    with pytest.raises(VLLMStreamInterruptedError) as caught:
        _ = [chunk async for chunk in scripted(async_body=cut_off).astream(PROMPT)]
    assert isinstance(caught.value.partial, GenerationChunk)
    assert caught.value.partial.text
    assert streamed_text().startswith(caught.value.partial.text)


def test_a_malformed_event_ends_the_stream_keeping_what_arrived() -> None:
    def garbled() -> Iterator[bytes]:
        yield from completion_events()[:2]
        yield b'data: {"choices": 3}\n\n'

    with pytest.raises(VLLMStreamInterruptedError, match="not a completion chunk") as caught:
        list(scripted(garbled).stream(PROMPT))
    assert isinstance(caught.value.partial, GenerationChunk)
    assert streamed_text().startswith(caught.value.partial.text)


def test_a_stream_closed_before_its_first_chunk_is_an_error() -> None:
    with pytest.raises(VLLMStreamInterruptedError) as caught:
        list(scripted(lambda: iter([b"data: [DONE]\n\n"])).stream(PROMPT))
    assert caught.value.partial is None


class _SlowSSE(http.server.BaseHTTPRequestHandler):
    """Answers ``/v1/completions`` with the recorded stream, one event every 0.2 s."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"version": "0.32.0"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        with contextlib.suppress(OSError):  # the client hangs up at its deadline
            for event in completion_events():
                self.wfile.write(event)
                self.wfile.flush()
                time.sleep(0.2)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[str]:
    """A real socket (a Unix one: unit tests have no network) that streams slowly."""
    path = str(tmp_path / "vllm.sock")
    server = socketserver.ThreadingUnixStreamServer(path, _SlowSSE)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def test_the_sync_deadline_bounds_the_whole_stream(slow_server: str) -> None:
    llm = VLLMCompletions(
        base_url=BASE_URL,
        model=recorded_model(),
        stream_deadline=0.5,
        http_client=httpx.Client(transport=httpx.HTTPTransport(uds=slow_server)),
    )
    started = time.monotonic()
    with pytest.raises(VLLMDeadlineError) as caught:
        list(llm.stream(PROMPT))
    assert 0.5 <= time.monotonic() - started < 1.0  # honoured within 0.5 s
    assert isinstance(caught.value, ModelTimeoutError)
    assert isinstance(caught.value.partial, GenerationChunk)
    assert caught.value.partial.text
    assert streamed_text().startswith(caught.value.partial.text)
    assert "stream_deadline of 0.5 s" in str(caught.value)


async def test_the_async_deadline_bounds_the_whole_stream() -> None:
    async def slow() -> AsyncIterator[bytes]:
        for event in completion_events():
            yield event
            await asyncio.sleep(0.2)

    started = time.monotonic()
    with pytest.raises(VLLMDeadlineError) as caught:
        _ = [c async for c in scripted(async_body=slow, stream_deadline=0.5).astream(PROMPT)]
    assert 0.5 <= time.monotonic() - started < 1.0
    assert isinstance(caught.value.partial, GenerationChunk)
    assert caught.value.partial.text
    assert "stream_deadline of 0.5 s" in str(caught.value)


async def test_the_deadline_counts_the_time_spent_between_chunks() -> None:
    """A caller slow to take chunks still gets the deadline (at the next read)."""

    async def quick() -> AsyncIterator[bytes]:
        for event in completion_events():
            yield event

    received: list[str] = []

    async def consume() -> None:
        async for text in scripted(async_body=quick, stream_deadline=0.3).astream(PROMPT):
            received.append(text)
            await asyncio.sleep(0.2)  # the caller's own work, never cancelled

    with pytest.raises(VLLMDeadlineError) as caught:
        await consume()
    assert len(received) == 2  # 0.4 s after the first two chunks
    assert caught.value.partial.text == "".join(received)


async def test_a_stream_within_its_deadline_is_untouched() -> None:
    async def quick() -> AsyncIterator[bytes]:
        for event in completion_events():
            yield event

    llm = scripted(async_body=quick, stream_deadline=5)
    assert "".join([c async for c in llm.astream(PROMPT)]) == streamed_text()
    streaming = scripted(async_body=quick, stream_deadline=5, streaming=True)
    assert await streaming.ainvoke(PROMPT) == streamed_text()
