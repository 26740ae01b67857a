"""``ChatVLLM(use_responses_api=True)`` (``_responses.py``) against answers recorded from the
real servers' ``/v1/responses``: text, usage, logprobs, reasoning text, cut tool calls,
background responses, error events, and the fields that belong to one API only."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from langchain_vllm import ChatVLLM
from langchain_vllm._http import httpx
from langchain_vllm.errors import (
    VLLMAnswerCutError,
    VLLMNotFoundError,
    VLLMStreamInterruptedError,
)
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, load, make

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage


def get_weather(city: str) -> str:
    """Get the current weather in a given city."""
    return f"sunny in {city}"


def responses(fake: FakeVLLM, **kwargs: Any) -> ChatVLLM:
    return make(fake, use_responses_api=True, **kwargs)


def _stream(llm: Any, text: str = "Say hello.") -> BaseMessage:
    full = None
    for chunk in llm.stream(text):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full  # type: ignore[no-any-return]


async def _astream(llm: Any, text: str = "Say hello.") -> BaseMessage:
    full = None
    async for chunk in llm.astream(text):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full  # type: ignore[no-any-return]


RECORDED = load("responses")["body"]
RECORDED_TOKENS = [entry["token"] for entry in RECORDED["output"][0]["content"][0]["logprobs"]]


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
def test_text_usage_and_logprobs(fake: FakeVLLM, how: str) -> None:
    llm = responses(fake, max_tokens=20, logprobs=True, top_logprobs=2)
    message: BaseMessage
    if how == "invoke":
        message = llm.invoke("Say hello.")
    elif how == "ainvoke":
        message = asyncio.run(llm.ainvoke("Say hello."))
    else:
        message = _stream(llm) if how == "stream" else asyncio.run(_astream(llm))
    assert message.text == RECORDED["output"][0]["content"][0]["text"]
    assert isinstance(message, AIMessage)
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == RECORDED["usage"]["input_tokens"]
    tokens = [entry["token"] for entry in message.response_metadata["logprobs"]["content"]]
    assert tokens == RECORDED_TOKENS[: len(tokens)]
    assert tokens  # a stream's completed response carries them too
    body = fake.bodies("/v1/responses")[0]
    assert body["max_output_tokens"] == 20
    assert "logprobs" not in body  # the Responses API asks with include
    assert body["include"] == ["message.output_text.logprobs"]
    assert body["top_logprobs"] == 2


@pytest.mark.parametrize("streamed", [False, True])
def test_reasoning_text_is_in_content_blocks(fake: FakeVLLM, *, streamed: bool) -> None:
    # recorded on the reasoning server: "<think>two and two</think>Four."
    fake.responses_answer = "responses_reasoning"
    llm = responses(fake)
    message = _stream(llm, "What is 2 + 2?") if streamed else llm.invoke("What is 2 + 2?")
    blocks = message.content_blocks
    reasoning = [block for block in blocks if block["type"] == "reasoning"]
    assert [block.get("reasoning") for block in reasoning] == ["two and two"]
    assert message.text == "Four."


def test_reasoning_is_sent_back_as_vllm_reads_it(fake: FakeVLLM) -> None:
    fake.responses_answer = "responses_reasoning"
    llm = responses(fake)
    first = llm.invoke("What is 2 + 2?")
    llm.invoke(["What is 2 + 2?", first, "And 3 + 3?"])
    sent = fake.bodies("/v1/responses")[1]["input"]
    [item] = [item for item in sent if item.get("type") == "reasoning"]
    assert item["content"] == [{"type": "reasoning_text", "text": "two and two"}]


def test_output_version_v1(fake: FakeVLLM) -> None:
    message = responses(fake, output_version="v1").invoke("Say hello.")
    assert message.content_blocks[0]["type"] == "text"
    assert message.content_blocks[0].get("text") == "Hello there"


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_call_cut_at_max_output_tokens_is_an_invalid_tool_call(
    fake: FakeVLLM, *, asynchronous: bool
) -> None:
    # recorded: auto, max_output_tokens=20 -> text '<tool_call>\n{"name": ..., {"city":'
    fake.responses_answer = "responses_tool_cut"
    llm = responses(fake, max_tokens=20).bind_tools([get_weather])
    message = asyncio.run(llm.ainvoke("Weather?")) if asynchronous else llm.invoke("Weather?")
    assert isinstance(message, AIMessage)
    assert message.text == ""
    assert message.tool_calls == []
    [cut] = message.invalid_tool_calls
    assert (cut["name"], cut["args"]) == ("get_weather", '{"city":')
    assert "max_tokens=20" in str(cut["error"])
    assert "max_output_tokens" in str(cut["error"])


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_stream_cut_mid_call_raises_with_the_partial_answer(
    fake: FakeVLLM, *, asynchronous: bool
) -> None:
    # recorded stream: a function_call item whose arguments stop at '{"city":'
    fake.responses_answer = "responses_tool_cut"
    llm = responses(fake, max_tokens=20).bind_tools([get_weather])
    with pytest.raises(VLLMAnswerCutError, match="max_tokens=20") as caught:
        asyncio.run(_astream(llm, "Weather?")) if asynchronous else _stream(llm, "Weather?")
    partial = caught.value.partial
    assert partial.tool_calls == []
    [cut] = partial.invalid_tool_calls
    assert cut["name"] == "get_weather"


def _background() -> tuple[ChatVLLM, list[str]]:
    """A server that answers a background request with a queued response, then the answer."""
    fake = FakeVLLM()
    polls: list[str] = []
    queued = {**copy.deepcopy(RECORDED), "status": "queued", "output": [], "usage": None}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/responses":
            assert json.loads(request.content)["background"] is True
            return httpx.Response(200, json=queued)
        if request.url.path == f"/v1/responses/{RECORDED['id']}":
            polls.append(request.method)
            return httpx.Response(200, json=queued if len(polls) < 2 else RECORDED)
        return fake.handler(request)

    mock = httpx.MockTransport(handler)
    llm = ChatVLLM(
        base_url=BASE_URL,
        use_responses_api=True,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )
    return llm, polls


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_background_response_is_waited_for(*, asynchronous: bool) -> None:
    llm, polls = _background()
    message = (
        asyncio.run(llm.ainvoke("Say hello.", background=True))
        if asynchronous
        else llm.invoke("Say hello.", background=True)
    )
    assert message.text == "Hello there"
    assert polls == ["GET", "GET"]


def test_an_error_event_ends_the_stream_naming_the_servers_message(fake: FakeVLLM) -> None:
    recorded = load("responses_stream")["body"]
    events = recorded.split("\n\n")
    error = {"type": "error", "code": "500", "message": "engine died", "sequence_number": 9}
    broken = "\n\n".join([*events[:6], f"event: error\ndata: {json.dumps(error)}", ""])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/responses":
            return httpx.Response(200, text=broken, headers={"content-type": "text/event-stream"})
        return fake.handler(request)

    mock = httpx.MockTransport(handler)
    llm = ChatVLLM(
        base_url=BASE_URL,
        use_responses_api=True,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )
    with pytest.raises(VLLMStreamInterruptedError, match="engine died"):
        _stream(llm)


def test_previous_response_id_without_the_store_names_the_setting() -> None:
    fake = FakeVLLM()
    body = {"error": {"message": "Response with id 'resp_1' not found.", "type": "NotFoundError"}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/responses":
            return httpx.Response(404, json=body)  # what vLLM answers without its store
        return fake.handler(request)

    mock = httpx.MockTransport(handler)
    llm = ChatVLLM(
        base_url=BASE_URL,
        use_responses_api=True,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )
    with pytest.raises(VLLMNotFoundError, match="VLLM_ENABLE_RESPONSES_API_STORE=1"):
        llm.invoke("And then?", previous_response_id="resp_1")


def test_use_previous_response_id_sends_only_the_new_messages(fake: FakeVLLM) -> None:
    llm = make(fake, use_previous_response_id=True)
    first = llm.invoke("Say hello.")
    llm.invoke(["Say hello.", first, "Again."])
    second = fake.bodies("/v1/responses")[1]
    assert second["previous_response_id"] == RECORDED["id"]
    assert [item.get("content") for item in second["input"]] == ["Again."]


@pytest.mark.parametrize("field", ["previous_response_id", "background"])
def test_responses_only_fields_are_refused_on_chat_completions(fake: FakeVLLM, field: str) -> None:
    value: Any = "resp_1" if field == "previous_response_id" else True
    with pytest.raises(ValueError, match="use_responses_api=True"):
        make(fake).invoke("hi", **{field: value})
    assert fake.chat_bodies() == []


@pytest.mark.parametrize(
    "kwargs", [{"min_tokens": 2}, {"thinking_token_budget": 8}, {"extra_body": {"n": 2}}]
)
def test_fields_the_responses_api_ignores_are_refused(
    fake: FakeVLLM, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="Responses API"):
        responses(fake).invoke("hi", **kwargs)
    assert fake.bodies("/v1/responses") == []


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    forecast: str


def test_a_pydantic_answer_class_is_parsed(fake: FakeVLLM) -> None:
    fake.responses_answer = "responses_structured"
    message = responses(fake).bind(response_format=Weather).invoke("Weather?")
    assert message.additional_kwargs["parsed"] == Weather(city="Paris", forecast="sunny")
    sent = fake.bodies("/v1/responses")[0]["text"]["format"]
    assert (sent["type"], sent["name"], sent["strict"]) == ("json_schema", "Weather", True)


@pytest.mark.parametrize("method", ["bind", "with_structured_output"])
def test_a_cut_structured_answer_raises_naming_max_tokens(fake: FakeVLLM, method: str) -> None:
    # recorded: max_output_tokens=5 -> status incomplete, text '{"city":"Paris","'
    fake.responses_answer = "responses_structured_cut"
    llm = responses(fake, max_tokens=5)
    runnable = (
        llm.bind(response_format=Weather)
        if method == "bind"
        else llm.with_structured_output(Weather)
    )
    with pytest.raises(VLLMAnswerCutError, match="max_tokens=5") as caught:
        runnable.invoke("Weather?")
    assert caught.value.llm_output == '{"city":"Paris","'
