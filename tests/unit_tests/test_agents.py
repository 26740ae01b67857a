"""ChatVLLM inside LangChain v1 agents (``create_agent``), on a scripted vLLM (see
``scripted_vllm.py``): tools and a response format together, streaming through LangGraph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel

from langchain_vllm import ChatVLLM
from tests.unit_tests.scripted_vllm import (
    BASE_URL,
    FROM_TOOL,
    MADE_UP,
    WEATHER_RESULT,
    ScriptedVLLM,
)

QUESTION: Any = {"messages": [HumanMessage("What is the weather in Paris?")]}


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    temperature_c: int
    conditions: str


@pytest.fixture
def server() -> ScriptedVLLM:
    return ScriptedVLLM()


def make(server: ScriptedVLLM, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=BASE_URL, **server.clients(), **kwargs)


def weather_tool(ran: list[str]) -> BaseTool:
    @tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        ran.append(city)
        return WEATHER_RESULT

    return get_weather


def no_request_has_tools_and_a_schema(server: ScriptedVLLM) -> bool:
    return not any(b.get("tools") and b.get("response_format") for b in server.chat_bodies())


# ---------------------------------------------------------------- tools + response format


def test_agent_calls_its_tool_then_returns_the_response_format(server: ScriptedVLLM) -> None:
    ran: list[str] = []
    agent = create_agent(make(server), tools=[weather_tool(ran)], response_format=Weather)
    state = agent.invoke(QUESTION)
    assert ran == ["Paris"]
    assert state["structured_response"] == Weather(**FROM_TOOL)
    assert no_request_has_tools_and_a_schema(server)
    # the answer came back as content, the way the agent's provider strategy reads it
    final = state["messages"][-1]
    assert isinstance(final, AIMessage)
    assert json.loads(final.text) == FROM_TOOL
    assert final.tool_calls == []


async def test_async_agent_calls_its_tool_then_answers(server: ScriptedVLLM) -> None:
    ran: list[str] = []
    agent = create_agent(make(server), tools=[weather_tool(ran)], response_format=Weather)
    state = await agent.ainvoke(QUESTION)
    assert ran == ["Paris"]
    assert state["structured_response"] == Weather(**FROM_TOOL)


def test_the_schema_is_sent_as_an_answer_tool_with_required_choice(server: ScriptedVLLM) -> None:
    llm = make(server).bind_tools([weather_tool([])], response_format=Weather, strict=True)
    message = llm.invoke("What is the weather in Paris?")
    assert [c["name"] for c in message.tool_calls] == ["get_weather"]
    body = server.chat_bodies()[-1]
    assert "response_format" not in body
    assert body["tool_choice"] == "required"
    answer_tool = body["tools"][-1]["function"]
    assert answer_tool["name"] == "Weather"
    assert answer_tool["strict"] is True
    assert set(answer_tool["parameters"]["properties"]) == set(Weather.model_fields)


def test_bind_tools_with_response_format_answers_after_the_tool(server: ScriptedVLLM) -> None:
    llm = make(server).bind_tools([weather_tool([])], response_format=Weather)
    first = llm.invoke("What is the weather in Paris?")
    call = first.tool_calls[0]
    second = llm.invoke(
        [
            HumanMessage("What is the weather in Paris?"),
            first,
            ToolMessage(WEATHER_RESULT, tool_call_id=str(call["id"])),
        ]
    )
    assert second.tool_calls == []
    assert json.loads(second.text) == FROM_TOOL
    assert second.response_metadata["finish_reason"] == "stop"


def test_with_structured_output_and_tools_leaves_the_tool_callable(server: ScriptedVLLM) -> None:
    structured = make(server).with_structured_output(
        Weather, tools=[weather_tool([])], include_raw=True
    )
    first = structured.invoke("What is the weather in Paris?")
    assert first["parsed"] is None
    assert [c["name"] for c in first["raw"].tool_calls] == ["get_weather"]
    call = first["raw"].tool_calls[0]
    second = structured.invoke(
        [
            HumanMessage("What is the weather in Paris?"),
            first["raw"],
            ToolMessage(WEATHER_RESULT, tool_call_id=str(call["id"])),
        ]
    )
    assert second["parsed"] == Weather(**FROM_TOOL)
    assert second["parsing_error"] is None


def test_streamed_answer_tool_arrives_as_content(server: ScriptedVLLM) -> None:
    llm = make(server).bind_tools([weather_tool([])], response_format=Weather)
    history = [
        HumanMessage("What is the weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "1"}]),
        ToolMessage(WEATHER_RESULT, tool_call_id="1"),
    ]
    chunks = list(llm.stream(history))
    full: Any = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert isinstance(full, AIMessageChunk)
    assert full.tool_call_chunks == []
    assert json.loads(full.text) == FROM_TOOL
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.usage_metadata is not None


def test_named_tool_choice_forces_the_tool_without_the_schema(server: ScriptedVLLM) -> None:
    llm = make(server).bind_tools(
        [weather_tool([])], response_format=Weather, tool_choice="get_weather"
    )
    message = llm.invoke("Weather?")
    assert [c["name"] for c in message.tool_calls] == ["get_weather"]
    body = server.chat_bodies()[-1]
    assert "response_format" not in body
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]


def test_tool_choice_naming_the_schema_answers_now(server: ScriptedVLLM) -> None:
    llm = make(server).bind_tools(
        [weather_tool([])], response_format=Weather, tool_choice="Weather"
    )
    message = llm.invoke("Weather?")
    assert json.loads(message.text) == MADE_UP
    body = server.chat_bodies()[-1]
    assert body["response_format"]["json_schema"]["name"] == "Weather"
    assert "tools" not in body
    assert "tool_choice" not in body


def test_tool_choice_none_keeps_the_schema_alone(server: ScriptedVLLM) -> None:
    llm = make(server).bind_tools([weather_tool([])], response_format=Weather, tool_choice="none")
    message = llm.invoke("Weather?")
    assert json.loads(message.text) == MADE_UP
    body = server.chat_bodies()[-1]
    assert body["response_format"]["type"] == "json_schema"


def test_a_tool_named_like_the_schema_is_refused(server: ScriptedVLLM) -> None:
    @tool
    def Weather(city: str) -> str:  # noqa: N802 - the clash is the point
        """Get the weather."""
        return city

    llm = make(server).bind_tools([Weather], response_format=globals()["Weather"])
    with pytest.raises(ValueError, match="both named 'Weather'"):
        llm.invoke("Weather?")
    assert server.chat_bodies() == []


def test_an_empty_tool_list_is_not_sent(server: ScriptedVLLM) -> None:
    # what an agent binds when middleware removed every tool; vLLM refuses `tools: []`
    message = make(server).bind_tools([], response_format=Weather).invoke("Weather?")
    assert json.loads(message.text) == MADE_UP
    body = server.chat_bodies()[-1]
    assert "tools" not in body
    assert "tool_choice" not in body


# ---------------------------------------------------------------- streaming agents


def test_agent_streams_messages_with_tool_call_chunks_and_usage(server: ScriptedVLLM) -> None:
    ran: list[str] = []
    agent = create_agent(make(server), tools=[weather_tool(ran)], response_format=Weather)
    chunks: list[AIMessageChunk] = []
    final: Any = {}
    for mode, item in agent.stream(QUESTION, stream_mode=["messages", "values"]):
        if mode == "messages" and isinstance(item[0], AIMessageChunk):
            chunks.append(item[0])
        elif mode == "values":
            final = item
    assert ran == ["Paris"]
    assert final["structured_response"] == Weather(**FROM_TOOL)
    tool_chunks = [c for c in chunks if c.tool_call_chunks]
    assert tool_chunks[0].tool_call_chunks[0]["name"] == "get_weather"
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 2  # one per model call, on its last chunk
    assert all(c.response_metadata.get("model_provider") == "vllm" for c in with_usage)
    answer = "".join(c.text for c in chunks if not c.tool_call_chunks)
    assert json.loads(answer) == FROM_TOOL


async def test_agent_astream_events_yields_vllm_chunks(server: ScriptedVLLM) -> None:
    agent = create_agent(make(server), tools=[weather_tool([])], response_format=Weather)
    streamed: list[AIMessageChunk] = [
        event["data"]["chunk"]
        async for event in agent.astream_events(QUESTION, version="v2")
        if event["event"] == "on_chat_model_stream"
    ]
    assert any(c.tool_call_chunks for c in streamed)
    assert sum(1 for c in streamed if c.usage_metadata) == 2


def test_agent_streams_v1_content_blocks(server: ScriptedVLLM) -> None:
    agent = create_agent(
        make(server, output_version="v1"), tools=[weather_tool([])], response_format=Weather
    )
    blocks: list[dict[str, Any]] = []
    for chunk, _ in agent.stream(QUESTION, stream_mode="messages"):
        if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, list):
            blocks.extend(b for b in chunk.content if isinstance(b, dict))
    kinds = {b.get("type") for b in blocks}
    assert "tool_call_chunk" in kinds
    assert "text" in kinds
