"""ChatVLLM inside LangChain v1 agents and middleware, against the real servers.

The 135M test model cannot decide by itself to call a tool (offered a weather tool and an
answer schema, it answers at once, making the weather up). Where a test needs the tool to
run, a middleware forces the steps the way users force a step, through ``tool_choice``:
naming the tool on the first model call, and naming the response format (``"Weather"``:
answer now) once the tool's result is in. What the scripted, capable model does with a free
choice is covered by ``tests/unit_tests/test_agents.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import (
    ClearToolUsesEdit,
    ContextEditingMiddleware,
    ModelCallLimitMiddleware,
    ModelFallbackMiddleware,
    ModelRetryMiddleware,
    SummarizationMiddleware,
    ToolCallLimitMiddleware,
    before_model,
    wrap_model_call,
)
from langchain_core.exceptions import ModelNotFoundError
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel

from langchain_vllm import ChatVLLM
from langchain_vllm.errors import VLLMInvalidRequestError
from tests.integration_tests.conftest import chat_base_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain.agents.middleware import ModelRequest, ModelResponse

QUESTION: Any = {"messages": [HumanMessage("What is the weather in Paris?")]}
WEATHER = "Paris: 21 degrees C, sunny"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    temperature_c: int
    conditions: str


def llm(**kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=chat_base_url(), temperature=0, max_tokens=64, **kwargs)


def weather_tool(ran: list[str]) -> BaseTool:
    @tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        ran.append(city)
        return WEATHER

    return get_weather


def _forced(request: ModelRequest[Any]) -> ModelRequest[Any]:
    """``get_weather`` on the first model call; the answer (``Weather``) once it has run.

    The tools stay bound: the request carries tools, the response format and a named
    ``tool_choice`` each time.
    """
    ran = any(isinstance(m, ToolMessage) for m in request.messages)
    choice = "Weather" if ran else "get_weather"
    return request.override(model_settings={**request.model_settings, "tool_choice": choice})


@wrap_model_call
def weather_first(
    request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
) -> ModelResponse[Any]:
    """Force the weather tool first, then the answer (see :func:`_forced`)."""
    return handler(_forced(request))


@wrap_model_call
async def aweather_first(
    request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Any]
) -> ModelResponse[Any]:
    """Async twin of :func:`weather_first`."""
    return await handler(_forced(request))  # type: ignore[no-any-return]


def test_middleware_removing_every_tool_sends_no_tools() -> None:
    @wrap_model_call
    def no_tools(
        request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        return handler(request.override(tools=[]))  # vLLM refuses `tools: []`

    agent = create_agent(
        llm(), tools=[weather_tool([])], response_format=Weather, middleware=[no_tools]
    )
    assert isinstance(agent.invoke(QUESTION)["structured_response"], Weather)


# ---------------------------------------------------------------- tools + response format


def test_agent_with_a_tool_and_a_response_format_completes() -> None:
    ran: list[str] = []
    agent = create_agent(
        llm(), tools=[weather_tool(ran)], response_format=Weather, middleware=[weather_first]
    )
    state = agent.invoke(QUESTION)
    assert ran == ["Paris"]
    assert isinstance(state["structured_response"], Weather)
    tool_results = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_results] == [WEATHER]


def test_tools_and_an_answer_schema_with_a_free_choice_give_one_or_the_other() -> None:
    # vLLM accepts the rewritten request (tools + the answer tool, tool_choice=required)
    # and whatever the model picks is usable: a schema-valid weather call or a Weather.
    bound = llm().bind_tools([weather_tool([])], response_format=Weather)
    message = bound.invoke("What is the weather in Paris? Call get_weather or answer.")
    if message.tool_calls:
        assert [c["name"] for c in message.tool_calls] == ["get_weather"]
        assert set(message.tool_calls[0]["args"]) == {"city"}
    else:
        Weather.model_validate_json(message.text)
        assert message.response_metadata["finish_reason"] == "stop"


def test_streamed_free_choice_gives_a_tool_call_or_the_schema() -> None:
    bound = llm().bind_tools([weather_tool([])], response_format=Weather)
    full: Any = None
    for chunk in bound.stream("What is the weather in Paris? Call get_weather or answer."):
        full = chunk if full is None else full + chunk
    assert full is not None
    if full.tool_calls:
        assert [c["name"] for c in full.tool_calls] == ["get_weather"]
    else:
        assert full.tool_call_chunks == []  # the answer tool's call became content
        Weather.model_validate_json(full.text)
        assert full.response_metadata["finish_reason"] == "stop"
    assert full.usage_metadata["output_tokens"] > 0


async def test_async_agent_streams_events_with_usage_and_tool_call_chunks() -> None:
    ran: list[str] = []
    agent = create_agent(
        llm(), tools=[weather_tool(ran)], response_format=Weather, middleware=[aweather_first]
    )
    streamed: list[AIMessageChunk] = [
        event["data"]["chunk"]
        async for event in agent.astream_events(QUESTION, version="v2")
        if event["event"] == "on_chat_model_stream"
    ]
    assert ran == ["Paris"]
    names = [c["name"] for chunk in streamed for c in chunk.tool_call_chunks if c["name"]]
    assert names == ["get_weather"]
    usage = [chunk.usage_metadata for chunk in streamed if chunk.usage_metadata]
    assert len(usage) == 2  # one per model call
    assert all(u["input_tokens"] > 0 and u["output_tokens"] > 0 for u in usage)


@pytest.mark.parametrize("output_version", ["v0", "v1"])
def test_agent_streams_messages(output_version: str) -> None:
    ran: list[str] = []
    agent = create_agent(
        llm(output_version=output_version),
        tools=[weather_tool(ran)],
        response_format=Weather,
        middleware=[weather_first],
    )
    chunks: list[AIMessageChunk] = []
    final: Any = {}
    for mode, item in agent.stream(QUESTION, stream_mode=["messages", "values"]):
        if mode == "messages" and isinstance(item[0], AIMessageChunk):
            chunks.append(item[0])
        elif mode == "values":
            final = item
    assert ran == ["Paris"]
    assert isinstance(final["structured_response"], Weather)
    assert any(c.tool_call_chunks for c in chunks)
    assert sum(1 for c in chunks if c.usage_metadata) == 2
    if output_version == "v1":
        blocks = [b for c in chunks if isinstance(c.content, list) for b in c.content]
        kinds = {b.get("type") for b in blocks if isinstance(b, dict)}
        assert "tool_call_chunk" in kinds


@pytest.mark.parametrize("output_version", ["v0", "v1"])
def test_agent_streams_reasoning(reasoning_url: str, output_version: str) -> None:
    model = ChatVLLM(
        base_url=reasoning_url,
        enable_thinking=True,
        thinking_token_budget=16,
        max_tokens=48,
        temperature=0,
        output_version=output_version,
    )
    agent = create_agent(model, tools=[])
    chunks = [
        chunk
        for chunk, _ in agent.stream(
            {"messages": [HumanMessage("What is 2 + 2?")]}, stream_mode="messages"
        )
        if isinstance(chunk, AIMessageChunk)
    ]
    full: Any = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    reasoning = [b for b in full.content_blocks if b["type"] == "reasoning"]
    assert reasoning
    assert reasoning[0]["reasoning"]
    assert full.usage_metadata["output_token_details"]["reasoning"] > 0
    if output_version == "v1":
        assert any(b.get("type") == "reasoning" for b in full.content)


# ---------------------------------------------------------------- profile and middleware


def test_summarization_fraction_on_a_fresh_model() -> None:
    fresh = ChatVLLM(base_url=chat_base_url())  # no model named, nothing asked yet
    middleware = SummarizationMiddleware(model=fresh, trigger=("fraction", 0.8))
    window = fresh.served_models()[0].max_model_len
    assert middleware._get_profile_limits() == window
    assert fresh.profile is not None
    assert fresh.profile["max_input_tokens"] == window


def test_summarization_summarizes_with_chatvllm() -> None:
    summarizer = SummarizationMiddleware(model=llm(), trigger=("messages", 4), keep=("messages", 2))
    agent = create_agent(llm(), tools=[], middleware=[summarizer])
    history: list[Any] = []
    for turn in ("My name is Ada.", "I live in Paris.", "I like tea.", "What is my name?"):
        history.append(HumanMessage(turn))
        history.append(AIMessage("Noted."))
    state = agent.invoke({"messages": history[:-1]})
    texts = [m.text for m in state["messages"]]
    assert any("summary" in text.lower() for text in texts)
    assert len(state["messages"]) < len(history)


def test_context_editing_counts_with_the_servers_tokenizer() -> None:
    seen: list[list[Any]] = []

    @wrap_model_call
    def spy(
        request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        seen.append(list(request.messages))
        return handler(request)

    editing = ContextEditingMiddleware(
        edits=[ClearToolUsesEdit(trigger=60, keep=0)],
        token_count_method="model",  # noqa: S106 - not a secret
    )
    agent = create_agent(llm(), tools=[weather_tool([])], middleware=[editing, spy])
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call-1"}
    history: Any = [
        HumanMessage("What is the weather in Paris?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(WEATHER * 10, tool_call_id="call-1"),
        HumanMessage("Thanks. Say hi."),
    ]
    agent.invoke({"messages": history}, {"recursion_limit": 4})
    cleared = [m for m in seen[0] if isinstance(m, ToolMessage)]
    assert cleared
    assert WEATHER not in cleared[0].text  # over 60 tokens by the server's count


def test_model_fallback_from_an_unknown_model() -> None:
    agent = create_agent(
        llm(model="no-such-model"), tools=[], middleware=[ModelFallbackMiddleware(llm())]
    )
    state = agent.invoke({"messages": [HumanMessage("Say hello.")]})
    assert isinstance(state["messages"][-1], AIMessage)
    assert state["messages"][-1].text


def test_model_retry_retries_on_langchain_core_error_classes() -> None:
    attempts: list[int] = []

    @wrap_model_call
    def count(
        request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        attempts.append(1)
        return handler(request)

    retry = ModelRetryMiddleware(
        max_retries=1, retry_on=(ModelNotFoundError,), initial_delay=0, jitter=False
    )
    agent = create_agent(llm(model="no-such-model"), tools=[], middleware=[retry, count])
    state = agent.invoke({"messages": [HumanMessage("Say hello.")]})
    assert len(attempts) == 2
    assert "no-such-model" in state["messages"][-1].text


def test_call_limits_stop_a_tool_loop() -> None:
    ran: list[str] = []

    @wrap_model_call
    def always_weather(
        request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        return handler(request.override(tool_choice="get_weather"))

    limits: list[Any] = [
        ModelCallLimitMiddleware(run_limit=3, exit_behavior="end"),
        ToolCallLimitMiddleware(tool_name="get_weather", run_limit=1),
        always_weather,
    ]
    agent = create_agent(llm(), tools=[weather_tool(ran)], middleware=limits)
    state = agent.invoke(QUESTION, {"recursion_limit": 20})
    assert ran == ["Paris"]  # the second call was blocked by the tool-call limit
    blocked = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert blocked
    calls = sum(1 for m in state["messages"] if isinstance(m, AIMessage) and m.tool_calls)
    assert calls <= 3  # the model-call limit ended the run


# ---------------------------------------------------------------- strict chat templates

STRICT_CONVERSATION = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("Hi"),
    AIMessage("Hello! How can I help?"),
    SystemMessage("Answer in one short sentence."),
    HumanMessage("What is the capital of France?"),
]


def strict(reasoning_url: str, **kwargs: Any) -> ChatVLLM:
    # the reasoning server's template refuses a system message anywhere but first
    return ChatVLLM(
        base_url=reasoning_url, enable_thinking=False, temperature=0, max_tokens=16, **kwargs
    )


def test_strict_template_refusal_names_the_setting(reasoning_url: str) -> None:
    with pytest.raises(VLLMInvalidRequestError, match="system_messages="):
        strict(reasoning_url, system_messages="as_given").invoke(STRICT_CONVERSATION)


def test_strict_template_conversation_succeeds(reasoning_url: str) -> None:
    model = strict(reasoning_url)
    assert model.profile is not None
    assert model.profile["mid_conversation_system_messages"] is False
    assert "Paris" in model.invoke(STRICT_CONVERSATION).text


def test_agent_with_a_mid_conversation_system_message(reasoning_url: str) -> None:
    @before_model
    def remind(state: Any, runtime: Any) -> dict[str, Any] | None:
        del runtime
        if any(isinstance(m, SystemMessage) for m in state["messages"]):
            return None
        return {"messages": [SystemMessage("Answer in one short sentence.")]}

    agent = create_agent(
        strict(reasoning_url), tools=[], system_prompt="You are helpful.", middleware=[remind]
    )
    state = agent.invoke({"messages": [HumanMessage("What is the capital of France?")]})
    assert "Paris" in state["messages"][-1].text


def test_strict_template_streaming(reasoning_url: str) -> None:
    text = "".join(chunk.text for chunk in strict(reasoning_url).stream(STRICT_CONVERSATION))
    assert "Paris" in text
