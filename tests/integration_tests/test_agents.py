"""ChatVLLM inside LangChain v1 agents and middleware, against the real servers.

The 135M test model cannot decide by itself to call a tool. Agent tests that need a capable
model's choices use ``CapableChatVLLM`` (``tests/capable_model.py``): each request carries
what a capable model answers as the scripted model's script — the tool call when the
question needs the tool, the answer once the tool's result is in — while the chat template,
vLLM's hermes parser, the grammars of strict tools and of the answer schema, streaming and
usage are the real server's. A forced path (``tool_choice`` naming the steps, as users force
a step) is tested too, with the unscripted model.
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
from tests.capable_model import CapableChatVLLM
from tests.integration_tests.conftest import chat_base_url, scripted

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


def capable(**kwargs: Any) -> CapableChatVLLM:
    """The chat server playing a capable Hermes-format model (see the module docstring)."""
    return CapableChatVLLM(base_url=chat_base_url(), temperature=0, max_tokens=96, **kwargs)


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


def test_agent_chooses_its_tool_then_answers_in_the_schema() -> None:
    ran: list[str] = []
    agent = create_agent(capable(), tools=[weather_tool(ran)], response_format=Weather)
    state = agent.invoke(QUESTION)
    assert ran == ["Paris"]  # the parsed call ran the tool with its argument
    tool_results = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_results] == [WEATHER]
    answer = state["structured_response"]
    assert isinstance(answer, Weather)
    # the answer tool's arguments came back as the structured response
    assert (answer.temperature_c, answer.conditions) == (21, "sunny")
    calls = [m for m in state["messages"] if isinstance(m, AIMessage) and m.tool_calls]
    assert calls[0].response_metadata["finish_reason"] == "tool_calls"


def test_agent_with_forced_steps_completes() -> None:
    # the unscripted model, each step forced through a named tool_choice
    ran: list[str] = []
    agent = create_agent(
        llm(), tools=[weather_tool(ran)], response_format=Weather, middleware=[weather_first]
    )
    state = agent.invoke(QUESTION)
    assert len(ran) == 1
    assert isinstance(state["structured_response"], Weather)
    tool_results = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_results] == [WEATHER]


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_tools_and_an_answer_schema_a_call_first_then_the_answer(mode: str) -> None:
    # vLLM accepts the rewritten request (tools + the answer tool, tool_choice=required);
    # a call of the weather tool comes back as a tool call, the answer tool's as content.
    bound = capable().bind_tools([weather_tool([])], response_format=Weather)
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call-1"}
    after = [*QUESTION["messages"], AIMessage("", tool_calls=[call])]
    after.append(ToolMessage(WEATHER, tool_call_id="call-1"))
    messages: list[Any] = []
    for conversation in (QUESTION["messages"], after):
        if mode == "invoke":
            messages.append(bound.invoke(conversation))
            continue
        full: Any = None
        for chunk in bound.stream(conversation):
            full = chunk if full is None else full + chunk
        messages.append(full)
    first, second = messages
    assert [c["name"] for c in first.tool_calls] == ["get_weather"]
    assert first.tool_calls[0]["args"] == {"city": "Paris"}
    assert first.response_metadata["finish_reason"] == "tool_calls"
    assert second.tool_calls == []
    assert Weather.model_validate_json(second.text).conditions == "sunny"
    assert second.response_metadata["finish_reason"] == "stop"  # not "tool_calls"
    if mode == "stream":
        assert second.tool_call_chunks == []  # the answer tool's call became content
        assert second.usage_metadata["output_tokens"] > 0


async def test_async_agent_streams_events_with_usage_and_tool_call_chunks() -> None:
    ran: list[str] = []
    agent = create_agent(capable(), tools=[weather_tool(ran)], response_format=Weather)
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
        capable(output_version=output_version), tools=[weather_tool(ran)], response_format=Weather
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
    assert len(ran) == 1  # the second call was blocked by the tool-call limit
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


PARIS = scripted("The capital of France is Paris.")


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
    answer = model.invoke(STRICT_CONVERSATION, **PARIS)  # merged: the template took it
    assert answer.text.strip()
    assert answer.response_metadata["finish_reason"] == "stop"


def test_agent_with_a_mid_conversation_system_message(reasoning_url: str) -> None:
    @before_model
    def remind(state: Any, runtime: Any) -> dict[str, Any] | None:
        del runtime
        if any(isinstance(m, SystemMessage) for m in state["messages"]):
            return None
        return {"messages": [SystemMessage("Answer in one short sentence.")]}

    agent = create_agent(
        strict(reasoning_url, extra_body=PARIS),
        tools=[],
        system_prompt="You are helpful.",
        middleware=[remind],
    )
    state = agent.invoke({"messages": [HumanMessage("What is the capital of France?")]})
    assert isinstance(state["messages"][-1], AIMessage)
    assert state["messages"][-1].text.strip()


def test_strict_template_streaming(reasoning_url: str) -> None:
    model = strict(reasoning_url)
    chunks = list(model.stream(STRICT_CONVERSATION, **PARIS))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == model.invoke(STRICT_CONVERSATION, **PARIS).text
