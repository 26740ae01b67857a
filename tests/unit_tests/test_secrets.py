"""The API key is a secret: never shown, logged, serialized, traced or sent elsewhere."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from langchain_core.load import dumpd, dumps
from langchain_core.tracers.base import BaseTracer

from langchain_vllm import ChatVLLM, VLLMCompletions, VLLMEmbeddings, VLLMRerank
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, recorded_model

if TYPE_CHECKING:
    from langchain_core.tracers.schemas import Run

KEY = "sk-vllm-secret-4242"


class Collector(BaseTracer):
    """Keeps every run, as LangSmith would receive it."""

    runs: list[Run]

    def __init__(self) -> None:
        super().__init__()
        self.runs = []

    def _persist_run(self, run: Run) -> None:
        self.runs.append(run)


def everything_about(run: Run) -> str:
    return json.dumps(run.model_dump(mode="json"), default=str)


@pytest.mark.parametrize("cls", [ChatVLLM, VLLMCompletions, VLLMEmbeddings, VLLMRerank])
def test_key_is_not_in_repr_str_or_serialization(cls: Any) -> None:
    model = cls(base_url=BASE_URL, api_key=KEY)
    assert KEY not in repr(model)
    assert KEY not in str(model)
    assert KEY not in json.dumps(model.model_dump(mode="json"), default=str)
    if hasattr(model, "to_json") and model.is_lc_serializable():
        assert KEY not in dumps(model)
        assert "VLLM_API_KEY" in json.dumps(dumpd(model))


def test_key_is_not_in_logs(fake: FakeVLLM, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    llm = ChatVLLM(base_url=BASE_URL, api_key=KEY, model=recorded_model(), **fake.clients())
    llm.invoke("hi")
    list(llm.stream("hi"))
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"  # sent to vLLM...
    assert caplog.records  # the SDK and httpx did log at DEBUG
    assert KEY not in caplog.text  # ...and never logged


def test_key_is_not_in_traces(fake: FakeVLLM) -> None:
    tracer = Collector()
    llm = ChatVLLM(base_url=BASE_URL, api_key=KEY, model=recorded_model(), **fake.clients())
    llm.invoke("hi", config={"callbacks": [tracer], "metadata": {"user": "u1"}})
    llm.batch(["a", "b"], config={"callbacks": [tracer]})
    assert tracer.runs
    for run in tracer.runs:
        assert KEY not in everything_about(run)
        assert run.extra is not None
        assert run.extra["metadata"]["ls_provider"] == "vllm"


def test_key_is_not_in_errors(fake: FakeVLLM) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/version":
            return fake.handler(request)
        return httpx.Response(401, json={"error": "Unauthorized"})

    transport = httpx.MockTransport(refuse)
    llm = ChatVLLM(
        base_url=BASE_URL,
        api_key=KEY,
        model="m",
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the text is the point
        llm.invoke("hi")
    error = caught.value
    text = f"{error!s} {error!r} {error.args} {getattr(error, 'body', '')}"
    assert "VLLM_API_KEY" in text
    assert KEY not in text


def test_openai_key_in_the_environment_is_never_sent(
    fake: FakeVLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leave")
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    llm.invoke("hi")
    sent = " ".join(f"{r.headers} {r.content!r}" for r in fake.requests)
    assert "sk-openai-must-not-leave" not in sent
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer EMPTY"}


def test_run_ids_are_uuids(fake: FakeVLLM) -> None:
    tracer = Collector()
    ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients()).invoke(
        "hi", config={"callbacks": [tracer]}
    )
    assert all(isinstance(run.id, UUID) for run in tracer.runs)
