"""``ChatVLLM(use_responses_api=True)`` against the real servers' ``/v1/responses``.

Scripted answers (``vllm_xargs={"script": ...}``) fix the model's tokens; what is asserted is
what vLLM and ChatVLLM make of them: parsed tool calls, the reasoning split, usage, how a cut
answer is said, stored responses. ``previous_response_id`` and ``background=True`` need a
server started with ``VLLM_ENABLE_RESPONSES_API_STORE=1`` (the launcher's chat server is).
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_vllm import ChatVLLM, errors
from langchain_vllm._http import httpx
from tests.integration_tests.conftest import chat_base_url

HELLO: dict[str, Any] = {"vllm_xargs": {"script": "Hello there"}}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
CALL_SCRIPT: dict[str, Any] = {"vllm_xargs": {"script": CALL}}
QUESTION = "What is the weather in Paris?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"{city}: sunny"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    forecast: str


def responses(url: str | None = None, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(
        base_url=url or chat_base_url(), use_responses_api=True, temperature=0, **kwargs
    )


def _merged(chunks: list[Any]) -> BaseMessage:
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    return merged  # type: ignore[no-any-return]


def answer(llm: Any, how: str, text: Any = "Say hello.", **kwargs: Any) -> BaseMessage:
    """``llm``'s answer, got by ``invoke``, ``ainvoke``, ``stream`` or ``astream``."""
    if how == "invoke":
        return llm.invoke(text, **kwargs)  # type: ignore[no-any-return]
    if how == "ainvoke":
        return asyncio.run(llm.ainvoke(text, **kwargs))  # type: ignore[no-any-return]
    if how == "stream":
        return _merged(list(llm.stream(text, **kwargs)))

    async def collect() -> list[Any]:
        return [chunk async for chunk in llm.astream(text, **kwargs)]

    return _merged(asyncio.run(collect()))


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
def test_an_answer_with_its_usage(how: str) -> None:
    message = answer(responses(max_tokens=8), how, **HELLO)
    assert isinstance(message, AIMessage)
    assert message.text == "Hello there"
    assert message.response_metadata["status"] == "completed"
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] > 0
    assert message.usage_metadata["output_tokens"] >= 2


@pytest.mark.parametrize("tool_choice", ["auto", "required", "get_weather"])
def test_tool_calls_with_each_tool_choice(tool_choice: str) -> None:
    bound = responses(max_tokens=40).bind_tools([get_weather], tool_choice=tool_choice)
    message = bound.invoke(QUESTION, **CALL_SCRIPT)
    assert isinstance(message, AIMessage)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def test_structured_output() -> None:
    script: dict[str, Any] = {"vllm_xargs": {"script": '{"city":"Paris","forecast":"sunny"}'}}
    structured = responses(max_tokens=40).with_structured_output(Weather)
    assert structured.invoke(QUESTION, **script) == Weather(city="Paris", forecast="sunny")


@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_reasoning_text_in_content_blocks(reasoning_url: str, how: str) -> None:
    thinker = responses(reasoning_url, max_tokens=30, enable_thinking=True)
    script = {"vllm_xargs": {"script": "<think>two and two</think>Four."}}
    message = answer(thinker, how, "What is 2 + 2?", **script)
    reasoning = [b for b in message.content_blocks if b["type"] == "reasoning"]
    assert [block.get("reasoning") for block in reasoning] == ["two and two"]  # on main: none
    assert message.text == "Four."


def test_output_version_v1() -> None:
    message = responses(max_tokens=8, output_version="v1").invoke("Say hello.", **HELLO)
    assert [block["type"] for block in message.content_blocks] == ["text"]
    assert message.text == "Hello there"


def test_errors_are_explained_as_in_chat() -> None:
    with pytest.raises(errors.VLLMModelNotFoundError, match="serves"):
        responses(model="no-such-model").invoke("hi")
    with pytest.raises(errors.VLLMContextOverflowError) as caught:
        responses(max_tokens=8).invoke("word " * 5000)
    assert caught.value.max_context_tokens is not None
    with pytest.raises(ValueError, match="Responses API"):
        responses(min_tokens=2).invoke("hi")  # vLLM's Responses API would ignore it


def test_a_call_cut_at_max_tokens_is_said() -> None:
    bound = responses(max_tokens=20).bind_tools([get_weather], tool_choice="get_weather")
    message = bound.invoke(QUESTION, **CALL_SCRIPT)
    assert isinstance(message, AIMessage)
    assert "<tool_call" not in message.text  # on main: the markup, and no invalid call
    [cut] = message.invalid_tool_calls
    assert cut["name"] == "get_weather"
    assert "max_tokens=20" in str(cut["error"])
    with pytest.raises(OutputParserException, match="max_tokens=20") as caught:
        for _ in bound.stream(QUESTION, **CALL_SCRIPT):
            pass
    assert isinstance(caught.value, errors.VLLMAnswerCutError)
    assert caught.value.partial.tool_calls == []


@cache
def _stores_responses(url: str) -> bool:
    """Whether the server keeps Responses API answers (``VLLM_ENABLE_RESPONSES_API_STORE``)."""
    first = responses(url, max_tokens=2).invoke("Hi", **HELLO)
    root = httpx.get(f"{url.rstrip('/')}/responses/{first.response_metadata['id']}", timeout=30)
    return root.status_code == 200


@pytest.fixture
def stored_url() -> str:
    url = chat_base_url()
    if not _stores_responses(url):
        pytest.skip(
            f"the server at {url} keeps no Responses API answers: it needs the environment "
            "variable VLLM_ENABLE_RESPONSES_API_STORE=1 (restart the launcher's chat server)"
        )
    return url


def _watched(url: str, **kwargs: Any) -> tuple[ChatVLLM, list[httpx.Request]]:
    """A Responses ChatVLLM whose requests are kept (read after they are sent)."""
    sent: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [sent.append]}, timeout=120)
    return responses(url, http_client=client, **kwargs), sent


def test_previous_response_id_sends_only_the_new_message(stored_url: str) -> None:
    llm, sent = _watched(stored_url, max_tokens=4, use_previous_response_id=True)
    history: list[BaseMessage] = [HumanMessage("My name is Ada. Remember it.")]
    history.append(llm.invoke(history, **HELLO))
    history.append(HumanMessage("What is my name?"))
    continued = llm.invoke(history, **HELLO)
    body = json.loads([r for r in sent if r.method == "POST"][-1].content)
    assert body["previous_response_id"] == history[1].response_metadata["id"]
    assert [item["content"] for item in body["input"]] == ["What is my name?"]
    # the server put the first turn back in: the prompt is longer than the new message alone
    alone = responses(stored_url, max_tokens=4).invoke("What is my name?", **HELLO)
    assert continued.usage_metadata is not None
    assert alone.usage_metadata is not None
    assert continued.usage_metadata["input_tokens"] > alone.usage_metadata["input_tokens"] + 8


def test_background_responses_are_waited_for(stored_url: str) -> None:
    llm, sent = _watched(stored_url, max_tokens=8)
    message = llm.invoke("Say hello.", background=True, **HELLO)
    assert message.text == "Hello there"
    assert message.response_metadata["status"] == "completed"
    polls = [r for r in sent if r.method == "GET" and r.url.path.startswith("/v1/responses/")]
    assert polls  # answered "queued" at once, then asked until done
    assert json.loads(next(r for r in sent if r.method == "POST").content)["background"] is True
