"""How answers end, on the real chat server: cut mid tool call, cut structured answers, an
agent whose call is cut, and logprobs.

The scripted model writes exactly the Hermes tool call (or JSON) given, so a low
``max_tokens`` cuts it at a known place; everything after that (the parser failing on the
cut text, ``finish_reason``, usage) is vLLM's own. Few tokens each: these are cheap.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_vllm import ChatVLLM, errors
from tests.integration_tests.conftest import chat_base_url

CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
"""The scripted model's tool call, in the chat server's (Hermes) format: 27 tokens."""

SCRIPT: dict[str, Any] = {"vllm_xargs": {"script": CALL}}
QUESTION = "What is the weather in Paris?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"{city}: sunny"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    forecast: str


def llm(**kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=chat_base_url(), temperature=0, **kwargs)


@pytest.mark.parametrize(
    ("tool_choice", "max_tokens", "name", "arguments", "asynchronous"),
    [
        # cut in "<tool_call": the name is the forced one
        ("get_weather", 4, "get_weather", "", False),
        # cut in the arguments: the name was written
        ("auto", 18, "get_weather", '{"', True),
    ],
)
def test_a_call_cut_at_max_tokens_is_an_invalid_tool_call_saying_so(
    tool_choice: str, max_tokens: int, name: str, arguments: str, *, asynchronous: bool
) -> None:
    bound = llm(max_tokens=max_tokens).bind_tools([get_weather], tool_choice=tool_choice)
    call = bound.ainvoke(QUESTION, **SCRIPT) if asynchronous else None
    message = asyncio.run(call) if call is not None else bound.invoke(QUESTION, **SCRIPT)
    assert isinstance(message, AIMessage)
    assert "<tool_call" not in message.text  # on main: content '<tool_call', no invalid call
    assert message.tool_calls == []
    [cut] = message.invalid_tool_calls
    assert (cut["name"], cut["args"]) == (name, arguments)
    assert f"max_tokens={max_tokens}" in str(cut["error"])
    assert "finish_reason='length'" in str(cut["error"])


def test_a_conversation_with_a_cut_call_goes_on() -> None:
    # cut before the tool's name: the invalid call has none, yet vLLM takes the history back
    bound = llm(max_tokens=4).bind_tools([get_weather])
    cut = bound.invoke(QUESTION, **SCRIPT)
    assert isinstance(cut, AIMessage)
    [invalid] = cut.invalid_tool_calls
    answered = ToolMessage("cut", tool_call_id=str(invalid["id"]), status="error")
    history = [HumanMessage(QUESTION), cut, answered, HumanMessage("Try again.")]
    again = llm(max_tokens=40).bind_tools([get_weather]).invoke(history, **SCRIPT)
    assert isinstance(again, AIMessage)
    assert [call["args"] for call in again.tool_calls] == [{"city": "Paris"}]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_stream_cut_mid_call_raises_with_the_call_in_the_partial_answer(
    *, asynchronous: bool
) -> None:
    # streamed, vLLM sends the name and '{"'; merged, LangChain would make get_weather({})
    bound = llm(max_tokens=18).bind_tools([get_weather])

    async def astream() -> None:
        async for _ in bound.astream(QUESTION, **SCRIPT):
            pass

    def stream() -> None:
        for _ in bound.stream(QUESTION, **SCRIPT):
            pass

    with pytest.raises(OutputParserException) as caught:  # on main: no error at all
        asyncio.run(astream()) if asynchronous else stream()
    error = caught.value
    assert isinstance(error, errors.VLLMAnswerCutError)
    assert "max_tokens=18" in str(error)
    assert error.partial.tool_calls == []
    [cut] = error.partial.invalid_tool_calls
    assert (cut["name"], cut["args"]) == ("get_weather", '{"')


def test_a_cut_structured_answer_is_a_parser_error_naming_max_tokens() -> None:
    answer = '{"city":"Paris","forecast":"sunny"}'
    script: dict[str, Any] = {"vllm_xargs": {"script": answer}}
    structured = llm(max_tokens=5).with_structured_output(Weather, include_raw=True)
    raw = structured.invoke(QUESTION, **script)
    error = raw["parsing_error"]  # on main: pydantic's "EOF while parsing" ValidationError
    assert isinstance(error, OutputParserException)
    assert isinstance(error, errors.VLLMAnswerCutError)
    assert "max_tokens=5" in str(error)
    assert raw["parsed"] is None
    assert raw["raw"].text == error.llm_output  # where the 5 tokens ended
    assert answer.startswith(str(error.llm_output))
    assert error.llm_output != answer


def test_an_agent_cut_mid_call_ends_saying_so_and_runs_no_tool() -> None:
    ran: list[str] = []

    @tool("get_weather")
    def weather(city: str) -> str:
        """Get the current weather in a city."""
        ran.append(city)
        return f"{city}: sunny"

    agent = create_agent(llm(max_tokens=18, extra_body=SCRIPT), tools=[weather])
    final = agent.invoke({"messages": [HumanMessage(QUESTION)]})["messages"][-1]
    assert isinstance(final, AIMessage)
    assert "<tool_call" not in final.text  # on main: the agent's answer is the cut markup
    [cut] = final.invalid_tool_calls
    assert "max_tokens=18" in str(cut["error"])
    assert ran == []
    # streamed (LangGraph's "messages" mode streams the model call), the run ends in the error
    with pytest.raises(errors.VLLMAnswerCutError, match="max_tokens=18"):
        for _ in agent.stream({"messages": [HumanMessage(QUESTION)]}, stream_mode="messages"):
            pass
    assert ran == []


def test_logprobs_and_stop_reason_in_response_metadata() -> None:
    # scripted "Hello there, friend", stopped at "friend": vLLM's stop_reason names it
    model = llm(max_tokens=8, logprobs=True, top_logprobs=2)
    script: dict[str, Any] = {"vllm_xargs": {"script": "Hello there, friend"}, "stop": ["friend"]}
    invoked = model.invoke("Say hello.", **script)
    streamed: AIMessageChunk | None = None
    for chunk in model.stream("Say hello.", **script):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None
    for message in (invoked, streamed):
        assert message.response_metadata["stop_reason"] == "friend"
        entries = message.response_metadata["logprobs"]["content"]
        assert "".join(entry["token"] for entry in entries).startswith("Hello there,")
        assert all(len(entry["top_logprobs"]) == 2 for entry in entries)
