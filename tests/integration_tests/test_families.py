"""Every model family's wire shapes, through vLLM's own parsers and templates, read by ChatVLLM.

The families server (``scripts/vllm_local.py start families``) answers each request in the
markup of the family it names (``tests/families.py``): the scripted model writes exactly what
a capable model of that family writes, and vLLM's tool-call and reasoning parsers, streaming,
grammars, ids and usage do the rest. gpt-oss runs on its own server (vLLM's Harmony path).

Each test asks the same question several ways at once (an invoke and a stream, one of them
sync and the other async; ``test_one_call`` all four) and checks that they give the same
message (the streamed chunks add up to the invoked message; tool-call ids differ between
requests, their shape does not), then what the message says.
"""

from __future__ import annotations

import asyncio
import json
import operator
import re
from functools import reduce
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from langchain_vllm import ChatVLLM
from tests.families import FAMILIES, Family

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

QUESTION = [HumanMessage("What is the weather in Paris?")]


class Filter(BaseModel):
    """Which places to look for."""

    city: str
    tags: list[str]


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city.
    """
    return f"Sunny in {city}"


def get_time() -> str:
    """Get the current time."""
    return "12:00"


def search(filter: Filter, limit: int) -> str:  # noqa: A002 - the argument's name on the wire
    """Search places.

    Args:
        filter: Which places.
        limit: How many at most.
    """
    return f"{limit} places in {filter.city}"


TOOLS: list[Callable[..., Any]] = [get_weather, get_time, search]


class Answer(BaseModel):
    """The answer to the user."""

    city: str = Field(description="The city")
    sunny: bool


def by_param(families: Sequence[Family]) -> list[Any]:
    return [pytest.param(family, id=family.name) for family in families]


ALL = by_param(FAMILIES)
REASONING = by_param([f for f in FAMILIES if f.reasons])
TEXT_BEFORE_CALLS = by_param([f for f in FAMILIES if f.text_before_calls])
PARALLEL_CALLS = by_param([f for f in FAMILIES if f.parallel_calls])
ONE_CALL_A_TURN = by_param([f for f in FAMILIES if not f.parallel_calls])
FORCED_CALLS = by_param([f for f in FAMILIES if f.forced_calls_parsed])
THINKING_TOGGLES = by_param([f for f in FAMILIES if f.thinking_prompts])


@pytest.fixture
def llm(request: pytest.FixtureRequest, family: Family) -> ChatVLLM:
    """ChatVLLM on the family's server (started if needed), speaking that family."""
    url = request.getfixturevalue(f"{family.server}_url")
    return ChatVLLM(
        base_url=url,
        temperature=0,
        max_retries=0,
        chat_template_kwargs=family.template_kwargs or None,
    )


def thinking(llm: ChatVLLM, family: Family) -> ChatVLLM:
    """The same model with the family's thinking turned on."""
    kwargs = {**family.template_kwargs, **(family.thinking or {})}
    return llm.model_copy(update={"chat_template_kwargs": kwargs})


# ---------------------------------------------------------------- asking several ways at once

Way = str
"""``invoke``, ``stream``, ``ainvoke`` or ``astream``."""

ALL_WAYS: tuple[Way, ...] = ("invoke", "stream", "ainvoke", "astream")
SYNC_CALL_ASYNC_STREAM: tuple[Way, ...] = ("invoke", "astream")
ASYNC_CALL_SYNC_STREAM: tuple[Way, ...] = ("ainvoke", "stream")


def _summed(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    return reduce(operator.add, chunks)


async def _asked(
    runnable: Runnable[Any, Any],
    messages: Sequence[BaseMessage],
    kwargs: dict[str, Any],
    ways: Sequence[Way],
) -> list[Any]:
    async def astream() -> AIMessageChunk:
        return _summed([chunk async for chunk in runnable.astream(messages, **kwargs)])

    def stream() -> AIMessageChunk:
        return _summed(list(runnable.stream(messages, **kwargs)))

    started = {
        "invoke": lambda: asyncio.to_thread(runnable.invoke, messages, **kwargs),
        "stream": lambda: asyncio.to_thread(stream),
        "ainvoke": lambda: runnable.ainvoke(messages, **kwargs),
        "astream": astream,
    }
    return list(await asyncio.gather(*(started[way]() for way in ways)))


def _view(message: AIMessage, family: Family, *, json_content: bool = False) -> dict[str, Any]:
    """What two answers to the same request must share (ids only by their shape)."""
    for call in message.tool_calls:
        assert call["id"] is not None
        assert re.fullmatch(family.id_pattern, call["id"]), call["id"]
    content = message.content
    if isinstance(
        content, list
    ):  # output_version="v1": ids differ per request, streamed blocks are numbered
        content = [{k: v for k, v in b.items() if k not in ("id", "index")} for b in content]  # type: ignore[union-attr]
    if json_content:
        content = json.loads(message.text)
    usage: dict[str, Any] = dict(message.usage_metadata or {})
    return {
        "content": content,
        "reasoning": message.additional_kwargs.get("reasoning_content"),
        "tool_calls": [(call["name"], call["args"]) for call in message.tool_calls],
        "invalid_tool_calls": message.invalid_tool_calls,
        "finish_reason": message.response_metadata.get("finish_reason"),
        "tokens": (usage.get("input_tokens"), usage.get("output_tokens")),
    }


def ask(
    runnable: Runnable[Any, Any],
    family: Family,
    messages: Sequence[BaseMessage] = QUESTION,
    *,
    ways: Sequence[Way] = SYNC_CALL_ASYNC_STREAM,
    json_content: bool = False,
    **kwargs: Any,
) -> AIMessage:
    """Ask ``ways`` at once (an invoke first); all agree; the invoked message.

    A CPU decodes each sequence on its own, so every way costs a full answer: tests ask two
    ways (one sync, one async; an invoke and a stream) and ``test_one_call`` all four.
    ``json_content``: the contents are JSON, compared as such.
    """
    invoked, *others = asyncio.run(_asked(runnable, messages, kwargs, ways))
    expected = _view(invoked, family, json_content=json_content)
    for other in others:
        assert _view(other, family, json_content=json_content) == expected
    assert isinstance(invoked, AIMessage)
    return invoked


def script(text: str) -> dict[str, Any]:
    """The per-call argument that makes the scripted model write ``text``."""
    return {"vllm_xargs": {"script": text}}


def assert_tokens(message: AIMessage, llm: ChatVLLM, family: Family, text: str) -> None:
    """Usage counts the prompt and every token the model wrote (the script, then EOS)."""
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] == family.output_tokens(llm.get_num_tokens(text), text)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


# ---------------------------------------------------------------- tool calls


@pytest.mark.parametrize("family", ALL)
def test_one_call(llm: ChatVLLM, family: Family) -> None:
    text = family.calls(("get_weather", {"city": "Paris"}))
    message = ask(llm.bind_tools(TOOLS), family, ways=ALL_WAYS, **script(text))
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert message.content == ""
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert_tokens(message, llm, family, text)


NESTED = {"filter": {"city": "Zürich", "tags": ["café", "東京"]}, "limit": 3}
"""Arguments with non-ASCII text, a nested object and a list."""


@pytest.mark.parametrize("family", PARALLEL_CALLS)
def test_two_parallel_calls(llm: ChatVLLM, family: Family) -> None:
    """Two calls at once: one with nested non-ASCII arguments, one without arguments."""
    text = family.calls(("search", NESTED), ("get_time", {}))
    message = ask(llm.bind_tools(TOOLS), family, ways=ASYNC_CALL_SYNC_STREAM, **script(text))
    calls = message.tool_calls
    assert [(c["name"], c["args"]) for c in calls] == [("search", NESTED), ("get_time", {})]
    assert calls[0]["id"] != calls[1]["id"]
    assert message.content == ""
    assert message.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("family", ONE_CALL_A_TURN)
def test_a_call_without_arguments(llm: ChatVLLM, family: Family) -> None:
    message = ask(llm.bind_tools(TOOLS), family, **script(family.calls(("get_time", {}))))
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_time", {})]


@pytest.mark.parametrize("family", ONE_CALL_A_TURN)
def test_non_ascii_and_nested_arguments(llm: ChatVLLM, family: Family) -> None:
    message = ask(llm.bind_tools(TOOLS), family, **script(family.calls(("search", NESTED))))
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("search", NESTED)]


@pytest.mark.parametrize("family", TEXT_BEFORE_CALLS)
def test_text_before_a_call(llm: ChatVLLM, family: Family) -> None:
    text = family.calls(("get_weather", {"city": "Paris"}), text="Let me check.")
    # Qwen3 reads text outside <think> as reasoning while thinking: thinking off here
    message = ask(
        llm.bind_tools(TOOLS),
        family,
        ways=ASYNC_CALL_SYNC_STREAM,
        enable_thinking=False,
        **script(text),
    )
    assert message.content == "Let me check."
    assert [c["name"] for c in message.tool_calls] == ["get_weather"]


# ---------------------------------------------------------------- reasoning


@pytest.mark.parametrize("family", REASONING)
def test_reasoning_then_answer(llm: ChatVLLM, family: Family) -> None:
    text = family.reason("Paris is in France.", family.answer("It is sunny in Paris."))
    message = ask(thinking(llm, family), family, **script(text))
    assert message.additional_kwargs["reasoning_content"] == "Paris is in France."
    assert message.content == "It is sunny in Paris."
    assert message.response_metadata["finish_reason"] == "stop"
    usage = message.usage_metadata
    assert usage is not None
    details: dict[str, Any] = dict(usage.get("output_token_details") or {})
    if family.reasoning_tokens:
        assert details.get("reasoning", 0) > 0
    assert_tokens(message, llm, family, text)


@pytest.mark.parametrize("family", REASONING)
def test_reasoning_then_a_call(llm: ChatVLLM, family: Family) -> None:
    calls = family.write_calls([("get_weather", {"city": "Paris"})])
    text = family.reason("I need the weather.", calls)
    message = ask(
        thinking(llm, family).bind_tools(TOOLS), family, ways=ASYNC_CALL_SYNC_STREAM, **script(text)
    )
    assert message.additional_kwargs["reasoning_content"] == "I need the weather."
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert message.content == ""


@pytest.mark.parametrize("family", THINKING_TOGGLES)
@pytest.mark.parametrize("on", [True, False], ids=["on", "off"])
def test_enable_thinking_reaches_the_template(llm: ChatVLLM, family: Family, *, on: bool) -> None:
    """ChatVLLM's ``enable_thinking`` turns the family's thinking on and off in its prompt
    (Qwen3's template reads ``enable_thinking``, DeepSeek V3.1's ``thinking``)."""
    message = llm.invoke(QUESTION, enable_thinking=on, return_token_ids=True, **script("Hi."))
    prompt = detokenize(llm, message.response_metadata["prompt_token_ids"])
    assert family.thinking_prompts is not None
    assert prompt.endswith(family.thinking_prompts[0 if on else 1])


@pytest.mark.parametrize("family", REASONING)
def test_output_version_v1(llm: ChatVLLM, family: Family) -> None:
    calls = family.write_calls([("get_weather", {"city": "Paris"})])
    before = family.write_text_before("Checking.")
    text = family.reason("I need the weather.", before + calls)
    v1 = thinking(llm, family).model_copy(update={"output_version": "v1"})
    message = ask(v1.bind_tools(TOOLS), family, **script(text))
    kinds = [block["type"] for block in message.content_blocks]
    assert kinds == ["reasoning", "text", "tool_call"]
    assert message.content_blocks[0].get("reasoning") == "I need the weather."
    assert message.content_blocks[1].get("text") == "Checking."
    assert message.content_blocks[2].get("args") == {"city": "Paris"}


# ---------------------------------------------------------------- a tool round trip


def detokenize(llm: ChatVLLM, tokens: list[int]) -> str:
    """The text of ``tokens`` by the server's tokenizer (``/detokenize``)."""
    root = str(llm.openai_api_base).removesuffix("/v1")
    body = {"model": llm.model_id, "tokens": tokens}
    return str(httpx.post(f"{root}/detokenize", json=body, timeout=60).json()["prompt"])


@pytest.mark.parametrize("family", ALL)
def test_a_tool_round_trip(llm: ChatVLLM, family: Family) -> None:
    """The call and its result go back through the family's template, in its markup."""
    args = {"filter": {"city": "Zürich", "tags": ["café"]}, "limit": 2}
    call = llm.bind_tools(TOOLS).invoke(QUESTION, **script(family.calls(("search", args))))
    result = ToolMessage("2 cafés", tool_call_id=call.tool_calls[0]["id"])
    history = [*QUESTION, call, result]
    text = family.answer("Two cafés.")
    if family.thinks_by_default:  # Qwen3 and DeepSeek R1 think before they answer
        text = family.reason("They answered.", text)
    answer = ask(
        llm.bind_tools(TOOLS),
        family,
        history,
        ways=ASYNC_CALL_SYNC_STREAM,
        return_token_ids=True,
        **script(text),
    )
    assert answer.content == "Two cafés."
    assert answer.tool_calls == []
    prompt = detokenize(llm, answer.response_metadata["prompt_token_ids"])
    rendered_call = family.history_calls(("search", args))
    assert rendered_call in prompt
    assert prompt.index("2 cafés") > prompt.index(rendered_call)


# ---------------------------------------------------------------- structured output


@pytest.mark.parametrize("family", REASONING)
def test_json_schema_with_reasoning(llm: ChatVLLM, family: Family) -> None:
    answer = family.answer('{"city":"Paris","sunny":true}', json_schema=True)
    text = family.reason("Paris: sun.", answer, tight=True)
    scripted = thinking(llm, family).model_copy(update={"extra_body": script(text)})
    structured = scripted.with_structured_output(Answer, method="json_schema", include_raw=True)
    result = structured.invoke(QUESTION)
    assert result["parsed"] == Answer(city="Paris", sunny=True)
    assert result["raw"].additional_kwargs["reasoning_content"] == "Paris: sun."


@pytest.mark.parametrize("family", FORCED_CALLS)
def test_tools_and_an_answer_schema(llm: ChatVLLM, family: Family) -> None:
    """The answer-tool path (``_structured.route_answer``): a forced call of the answer tool.

    The answer is the call's arguments: JSON with the whitespace the parser gives (the
    ``llama4_pythonic`` family's forced calls are re-serialized with spaces when invoked,
    streamed as the model wrote them), so the four answers are compared as JSON.
    """
    thought = "Paris: sun." if family.reasons else None
    text = family.forced_calls(("Answer", {"city": "Paris", "sunny": True}), thought=thought)
    model = thinking(llm, family) if family.reasons else llm
    bound = model.bind_tools(TOOLS, response_format=Answer)
    message = ask(bound, family, json_content=True, **script(text))
    assert message.tool_calls == []
    assert json.loads(message.text) == {"city": "Paris", "sunny": True}
    assert message.additional_kwargs["parsed"] == Answer(city="Paris", sunny=True)
    if thought is not None:
        assert message.additional_kwargs["reasoning_content"] == thought
