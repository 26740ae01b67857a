"""How an answer ends, said: cut mid tool call, cut structured answers, aborts, errors inside
a 200, stop reasons and logprobs.

The cut answers were recorded from the real chat server with the scripted model (a Hermes
tool call, a compact JSON answer) and low ``max_tokens``: exactly what vLLM 0.32 sends.
An abort and an error inside a 200 cannot be made on demand: they are the recorded answers
with vLLM's ``finish_reason="abort"``, and the body routers send.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.exceptions import ModelAPIError, OutputParserException
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from langchain_vllm import ChatVLLM
from langchain_vllm._http import AsyncRetryPolicyTransport, RetryPolicyTransport, httpx
from langchain_vllm.errors import (
    VLLMAbortedError,
    VLLMAnswerCutError,
    VLLMInvalidRequestError,
    VLLMServerError,
)
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, load, make, recorded_model

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

WEATHER_Q = "What is the weather in Paris?"


def get_weather(city: str) -> str:
    """Get the current weather in a given city."""
    return f"sunny in {city}"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    forecast: str


def _stream(llm: Any, text: str = WEATHER_Q) -> BaseMessage:
    full = None
    for chunk in llm.stream(text):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full  # type: ignore[no-any-return]


async def _astream(llm: Any, text: str = WEATHER_Q) -> BaseMessage:
    full = None
    async for chunk in llm.astream(text):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full  # type: ignore[no-any-return]


# ---------------------------------------------------------------- tool calls cut at max_tokens


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_forced_call_cut_in_its_markup_is_an_invalid_tool_call(
    fake: FakeVLLM, *, asynchronous: bool
) -> None:
    # recorded: tool_choice named get_weather, max_tokens=4 -> content "<tool_call"
    fake.chat_answer = "tool_call_cut"
    llm = make(fake, max_tokens=4).bind_tools([get_weather], tool_choice="get_weather")
    message = asyncio.run(llm.ainvoke(WEATHER_Q)) if asynchronous else llm.invoke(WEATHER_Q)
    assert isinstance(message, AIMessage)
    assert message.content == ""  # never the parser's markup
    assert message.tool_calls == []
    [cut] = message.invalid_tool_calls
    assert cut["name"] == "get_weather"  # the forced tool
    assert cut["args"] == ""
    assert cut["id"]  # agents answer invalid calls by id
    assert "max_tokens=4" in str(cut["error"])
    assert "finish_reason='length'" in str(cut["error"])
    assert message.response_metadata["finish_reason"] == "length"


def test_a_call_cut_in_its_arguments_keeps_its_name_and_partial_arguments(
    fake: FakeVLLM,
) -> None:
    # recorded: tool_choice auto, max_tokens=18 -> '<tool_call>\n{"name": "get_weather", ...{"'
    fake.chat_answer = "tool_call_cut_args"
    message = make(fake, max_tokens=18).bind_tools([get_weather]).invoke(WEATHER_Q)
    assert isinstance(message, AIMessage)
    assert message.content == ""
    [cut] = message.invalid_tool_calls
    assert (cut["name"], cut["args"]) == ("get_weather", '{"')
    assert "max_tokens=18" in str(cut["error"])


def test_a_call_stopped_by_repetition_detection_says_so() -> None:
    # vLLM's finish_reason "repetition" (the request's repetition_detection) cuts an answer too
    fake = FakeVLLM()

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):
            return fake.handler(request)
        answer = copy.deepcopy(load("tool_call_cut_args")["body"])
        answer["choices"][0]["finish_reason"] = "repetition"
        return httpx.Response(200, json=answer)

    mock = httpx.MockTransport(handler)
    llm = ChatVLLM(base_url=BASE_URL, http_client=httpx.Client(transport=mock))
    message = llm.bind_tools([get_weather]).invoke(WEATHER_Q)
    assert isinstance(message, AIMessage)
    [cut] = message.invalid_tool_calls
    assert "repetition_detection" in str(cut["error"])


def test_a_complete_call_is_left_alone(fake: FakeVLLM) -> None:
    message = make(fake).bind_tools([get_weather], tool_choice="any").invoke(WEATHER_Q)
    assert isinstance(message, AIMessage)
    assert [call["name"] for call in message.tool_calls] == ["get_weather"]
    assert message.invalid_tool_calls == []


def test_a_cut_text_answer_without_tools_stays_text(fake: FakeVLLM) -> None:
    fake.chat_answer = "tool_call_cut_args"  # the same cut text, but no tools were asked for
    message = make(fake, max_tokens=18).invoke(WEATHER_Q)
    assert message.text.startswith("<tool_call>")
    assert isinstance(message, AIMessage)
    assert message.invalid_tool_calls == []
    assert message.response_metadata["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("recorded", "arguments"),
    [
        ("tool_call_cut", ""),  # the server's parser held everything back: no chunk
        ("tool_call_cut_args", '{"'),  # a name chunk and '{"': LangChain would make {} of it
    ],
)
@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_stream_cut_mid_call_ends_with_the_error_and_the_partial_answer(
    fake: FakeVLLM, recorded: str, arguments: str, *, asynchronous: bool
) -> None:
    fake.chat_answer = recorded
    choice = "get_weather" if recorded == "tool_call_cut" else "auto"
    llm = make(fake, max_tokens=4).bind_tools([get_weather], tool_choice=choice)
    with pytest.raises(VLLMAnswerCutError) as caught:
        asyncio.run(_astream(llm)) if asynchronous else _stream(llm)
    error = caught.value
    assert isinstance(error, OutputParserException)
    assert "get_weather" in str(error)
    assert "max_tokens=4" in str(error)
    partial = error.partial
    assert isinstance(partial, AIMessage)
    assert partial.tool_calls == []
    [cut] = partial.invalid_tool_calls
    assert (cut["name"], cut["args"]) == ("get_weather", arguments)
    assert "max_tokens=4" in str(cut["error"])
    assert partial.usage_metadata is not None  # the usage chunk after the cut is kept


def test_a_complete_streamed_call_is_left_alone(fake: FakeVLLM) -> None:
    message = _stream(make(fake).bind_tools([get_weather], tool_choice="any"))
    assert isinstance(message, AIMessage)
    assert [call["name"] for call in message.tool_calls] == ["get_weather"]


# ---------------------------------------------------------------- structured answers cut


def test_a_cut_structured_answer_raises_a_parser_error_naming_max_tokens(fake: FakeVLLM) -> None:
    # recorded: json_schema Weather, max_tokens=5 -> '{"city":"Paris","'
    fake.chat_answer = "structured_cut"
    structured = make(fake, max_tokens=5).with_structured_output(Weather)
    with pytest.raises(VLLMAnswerCutError) as caught:
        structured.invoke(WEATHER_Q)
    error = caught.value
    assert isinstance(error, OutputParserException)
    assert "max_tokens=5" in str(error)
    assert error.llm_output == '{"city":"Paris","'
    assert error.partial.text == '{"city":"Paris","'
    assert error.max_tokens == 5


def test_with_include_raw_the_cut_is_the_parsing_error_and_raw_is_kept(fake: FakeVLLM) -> None:
    fake.chat_answer = "structured_cut"
    result = make(fake, max_tokens=5).with_structured_output(Weather, include_raw=True).invoke("?")
    assert isinstance(result["parsing_error"], VLLMAnswerCutError)
    assert result["parsed"] is None
    assert result["raw"].text == '{"city":"Paris","'


def test_a_cut_streamed_structured_answer_raises(fake: FakeVLLM) -> None:
    fake.chat_answer = "structured_cut"
    structured = make(fake, max_tokens=5).with_structured_output(Weather)
    with pytest.raises(VLLMAnswerCutError, match="max_tokens=5"):
        list(structured.stream(WEATHER_Q))


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_a_cut_structured_answer_falls_back_to_a_model_with_more_room(
    fake: FakeVLLM, method: str
) -> None:
    fake.chat_answer = "tool_call_cut" if method == "function_calling" else "structured_cut"
    cut = make(fake, max_tokens=4).with_structured_output(Weather, method=method)  # type: ignore[arg-type]
    roomy = FakeVLLM()
    roomy.chat_answer = None  # its recorded tool call is a complete call
    complete = make(roomy).with_structured_output(
        {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
        method="function_calling",
    )
    assert cut.with_fallbacks([complete]).invoke(WEATHER_Q) == {"city": "Paris"}


def test_a_pydantic_response_format_cut_raises_instead_of_a_json_error(fake: FakeVLLM) -> None:
    fake.chat_answer = "structured_cut"
    with pytest.raises(VLLMAnswerCutError, match="max_tokens=5"):
        make(fake, max_tokens=5).bind(response_format=Weather).invoke(WEATHER_Q)


# ---------------------------------------------------------------- aborted answers


def _aborting() -> ChatVLLM:
    """A ChatVLLM answered with the recorded chat, ended as vLLM ends an aborted request."""
    fake = FakeVLLM()

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):
            return fake.handler(request)
        stream = json.loads(request.content).get("stream")
        fixture = load("chat_stream" if stream else "chat")
        if stream:
            body = fixture["body"].replace('"finish_reason":"length"', '"finish_reason":"abort"')
            body = body.replace('"finish_reason":"stop"', '"finish_reason":"abort"')
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        answer = copy.deepcopy(fixture["body"])
        answer["choices"][0]["finish_reason"] = "abort"
        return httpx.Response(200, json=answer)

    mock = httpx.MockTransport(handler)
    return ChatVLLM(
        base_url=BASE_URL,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )


@pytest.mark.parametrize("streamed", [False, True])
def test_an_aborted_answer_raises_with_the_partial_text(*, streamed: bool) -> None:
    recorded = load("chat")["body"]["choices"][0]["message"]["content"]
    llm = _aborting()
    with pytest.raises(VLLMAbortedError) as caught:
        _stream(llm, "hi") if streamed else llm.invoke("hi")
    error = caught.value
    assert isinstance(error, ModelAPIError)  # retryable, as langchain-core's errors say
    assert error.partial.text == recorded
    assert BASE_URL in str(error)
    assert "finish_reason='abort'" in str(error)


# ---------------------------------------------------------------- an error inside a 200


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "openai._base_client.BaseClient._calculate_retry_timeout", lambda *_a, **_k: 0.0
    )


def _answering(bodies: list[dict[str, Any]]) -> tuple[ChatVLLM, list[int]]:
    """A ChatVLLM (through the package's retry transport) whose chat calls get ``bodies``
    in turn, each with a 200; a body of ``{}`` is the recorded answer."""
    fake = FakeVLLM()
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):
            return fake.handler(request)
        attempts.append(1)
        body = bodies[min(len(attempts), len(bodies)) - 1]
        return fake.handler(request) if not body else httpx.Response(200, json=body)

    mock = httpx.MockTransport(handler)
    llm = ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        max_retries=2,
        http_client=httpx.Client(transport=RetryPolicyTransport(mock)),
        http_async_client=httpx.AsyncClient(transport=AsyncRetryPolicyTransport(mock)),
    )
    return llm, attempts


UNAVAILABLE = {"choices": None, "error": {"message": "upstream replica unavailable", "code": 503}}


@pytest.mark.parametrize("asynchronous", [False, True])
def test_an_error_in_a_200_is_the_error_of_its_status_naming_url_and_message(
    *, asynchronous: bool
) -> None:
    llm, attempts = _answering([UNAVAILABLE])
    with pytest.raises(VLLMServerError) as caught:
        asyncio.run(llm.ainvoke("hi")) if asynchronous else llm.invoke("hi")
    assert isinstance(caught.value, ModelAPIError)
    assert caught.value.status_code == 503
    assert BASE_URL in str(caught.value)
    assert "upstream replica unavailable" in str(caught.value)
    assert len(attempts) == 3  # retried like a 503 status: the first try and max_retries=2


def test_a_503_in_a_200_is_retried_until_an_answer_comes() -> None:
    llm, attempts = _answering([UNAVAILABLE, {}])
    assert llm.invoke("hi").text
    assert len(attempts) == 2


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "bad field", "code": 400}, VLLMInvalidRequestError),
        ({"message": "replica crashed", "code": "upstream_error"}, VLLMServerError),
    ],
)
def test_other_errors_in_a_200_are_not_retried(error: dict[str, Any], expected: type) -> None:
    llm, attempts = _answering([{"choices": [], "error": error}])
    with pytest.raises(expected, match=error["message"]):
        llm.invoke("hi")
    assert len(attempts) == 1


def test_a_200_without_choices_or_error_says_so() -> None:
    llm, _ = _answering([{"id": "x", "object": "chat.completion", "choices": []}])
    with pytest.raises(VLLMServerError, match="no choices and no error"):
        llm.invoke("hi")


# ---------------------------------------------------------------- stop reasons and logprobs


def test_stop_reason_and_logprobs_are_in_response_metadata(fake: FakeVLLM) -> None:
    # recorded: script "Hello there, friend", stop=["friend"], logprobs with top_logprobs=2
    fake.chat_answer = "chat_logprobs"
    recorded = load("chat_logprobs")["body"]["choices"][0]
    llm = make(fake, logprobs=True, top_logprobs=2)
    invoked = llm.invoke("Say hello.", stop=["friend"])
    streamed = _stream(llm, "Say hello.")
    for message in (invoked, streamed):
        assert message.response_metadata["stop_reason"] == "friend"
        tokens = [entry["token"] for entry in message.response_metadata["logprobs"]["content"]]
        assert tokens == [entry["token"] for entry in recorded["logprobs"]["content"]]
        top = message.response_metadata["logprobs"]["content"][0]["top_logprobs"]
        assert len(top) == 2
    assert fake.chat_bodies()[0]["top_logprobs"] == 2
