"""Which failures ChatVLLM sends again: connection failures, 429 and 503 only.

The openai SDK does the retrying; ``RetryPolicyTransport`` (the transport of every pooled
client) tells it what not to repeat. A read timeout or a 5xx means the server may already be
generating: sending the request again could run a long generation twice.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from langchain_vllm import ChatVLLM
from langchain_vllm._http import (
    AsyncRetryPolicyTransport,
    LoopBoundAsyncTransport,
    ProcessBoundTransport,
    RetryPolicyTransport,
    httpx,
)
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, recorded_model


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SDK's retry sleeps out of the test run (the count of attempts is the point)."""
    monkeypatch.setattr(
        "openai._base_client.BaseClient._calculate_retry_timeout", lambda *_a, **_k: 0.0
    )


def chat_with(answers: list[Any]) -> tuple[ChatVLLM, list[str]]:
    """A ChatVLLM whose chat calls get ``answers`` in turn (a status code or an exception)."""
    fake = FakeVLLM()
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):
            return fake.handler(request)
        attempts.append(request.headers.get("x-stainless-retry-count", "0"))
        answer = answers[min(len(attempts), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if answer == 200:
            return fake.handler(request)
        body = {"error": {"message": f"status {answer}", "type": "Error", "code": answer}}
        return httpx.Response(answer, json=body)

    mock = httpx.MockTransport(handler)
    llm = ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        max_retries=2,
        http_client=httpx.Client(transport=RetryPolicyTransport(mock)),
        http_async_client=httpx.AsyncClient(transport=AsyncRetryPolicyTransport(mock)),
    )
    return llm, attempts


@pytest.mark.parametrize("status", [429, 503])
def test_overload_answers_are_retried(status: int) -> None:
    llm, attempts = chat_with([status, status, 200])
    assert llm.invoke("hi").text
    assert attempts == ["0", "1", "2"]


def test_retries_are_bounded() -> None:
    llm, attempts = chat_with([429])
    with pytest.raises(ModelRateLimitError):
        llm.invoke("hi")
    assert len(attempts) == 3  # the first try and max_retries=2


@pytest.mark.parametrize("status", [500, 502, 504, 408, 409])
def test_answers_from_a_busy_engine_are_not_resent(status: int) -> None:
    llm, attempts = chat_with([status, 200])
    with pytest.raises(Exception, match=f"status {status}"):
        llm.invoke("hi")
    assert len(attempts) == 1


def test_read_timeout_is_not_resent() -> None:
    llm, attempts = chat_with([httpx.ReadTimeout("no answer in time"), 200])
    with pytest.raises(ModelTimeoutError):
        llm.invoke("hi")
    assert len(attempts) == 1


async def test_async_read_timeout_is_not_resent() -> None:
    llm, attempts = chat_with([httpx.ReadTimeout("no answer in time"), 200])
    with pytest.raises(ModelTimeoutError):
        await llm.ainvoke("hi")
    assert len(attempts) == 1


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("no route")]
)
def test_connection_failures_are_retried(failure: Exception) -> None:
    llm, attempts = chat_with([failure, failure, 200])
    assert llm.invoke("hi").text
    assert len(attempts) == 3
    llm, attempts = chat_with([failure])
    with pytest.raises(ModelConnectionError, match=BASE_URL):
        llm.invoke("hi")
    assert len(attempts) == 3


def test_server_errors_are_langchain_api_errors() -> None:
    llm, _ = chat_with([500])
    with pytest.raises(ModelAPIError):
        asyncio.run(llm.ainvoke("hi"))


class Pool(httpx.BaseTransport):
    """A stand-in connection pool that says which one answered and whether it was closed."""

    made: list[Pool] = []  # noqa: RUF012 - a log shared by the test's pools

    def __init__(self) -> None:
        self.number = len(Pool.made)
        self.closed = False
        Pool.made.append(self)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        del request
        return httpx.Response(200, text=str(self.number))

    def close(self) -> None:
        self.closed = True


def test_a_forked_process_gets_a_sync_pool_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    Pool.made = []
    transport = ProcessBoundTransport(Pool)
    client = httpx.Client(transport=transport)
    assert client.get("http://vllm.test/").text == "0"
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # now in a forked child
    assert client.get("http://vllm.test/").text == "1"
    assert client.get("http://vllm.test/").text == "1"
    transport.close()
    assert [pool.closed for pool in Pool.made] == [False, True]  # the parent's is left alone


async def test_a_forked_process_gets_an_async_pool_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[int] = []

    def factory() -> httpx.AsyncBaseTransport:
        number = len(made)
        made.append(number)
        return httpx.MockTransport(lambda _request: httpx.Response(200, text=str(number)))

    client = httpx.AsyncClient(transport=LoopBoundAsyncTransport(factory))
    assert (await client.get("http://vllm.test/")).text == "0"
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # a child forked inside this loop
    assert (await client.get("http://vllm.test/")).text == "1"
    assert (await client.get("http://vllm.test/")).text == "1"
