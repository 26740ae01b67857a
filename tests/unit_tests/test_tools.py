"""Tools (``_tools.py``) through ChatVLLM: strict by default, tool_choice spellings, checks
before sending, streamed calls, and the vllm-router warning, against the fake server; and
each tool parser family's opening markup, which finds a call an answer was cut in."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from pydantic import BaseModel, Field

from langchain_vllm import _tools
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, make, recorded_model
from tests.unit_tests.fake_vllm import load as load_fixture
from tests.unit_tests.test_flags import VLLM_TOOL_PARSERS


class GetWeather(BaseModel):
    """Get the current weather in a given city."""

    city: str = Field(description="The city name")


# ---------------------------------------------------------------- tools


def test_tools_are_strict_by_default(fake: FakeVLLM) -> None:
    msg = make(fake).bind_tools([GetWeather], tool_choice="any").invoke("Weather in Paris?")
    body = fake.chat_bodies()[0]
    assert body["tool_choice"] == "required"
    function = body["tools"][0]["function"]
    assert function["strict"] is True
    assert function["parameters"]["additionalProperties"] is False
    recorded = load_fixture("tool_call")["body"]["choices"][0]["message"]["tool_calls"][0]
    assert msg.tool_calls[0]["name"] == recorded["function"]["name"]
    assert msg.tool_calls[0]["args"] == json.loads(recorded["function"]["arguments"])


@pytest.mark.parametrize(
    ("tool_choice", "sent"),
    [(True, "required"), ("any", "required"), ("required", "required"), ("auto", "auto")],
)
def test_tool_choice_spellings(fake: FakeVLLM, tool_choice: Any, sent: str) -> None:
    make(fake).bind_tools([GetWeather], tool_choice=tool_choice).invoke("Weather in Paris?")
    assert fake.chat_bodies()[0]["tool_choice"] == sent


def test_tool_choice_by_name(fake: FakeVLLM) -> None:
    make(fake).bind_tools([GetWeather], tool_choice="GetWeather").invoke("Weather?")
    assert fake.chat_bodies()[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "GetWeather"},
    }


def test_explicit_strict_false_is_honoured(fake: FakeVLLM) -> None:
    make(fake).bind_tools([GetWeather], strict=False).invoke("Weather?")
    assert fake.chat_bodies()[0]["tools"][0]["function"]["strict"] is False


def test_openai_dict_tools_keep_their_own_strict(fake: FakeVLLM) -> None:
    loose: dict[str, Any] = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            "strict": False,
        },
    }
    plain: dict[str, Any] = {
        "type": "function",
        "function": {**loose["function"], "name": "plain"},
    }
    del plain["function"]["strict"]
    make(fake).bind_tools([loose, plain]).invoke("Look it up")
    tools = fake.chat_bodies()[0]["tools"]
    assert [t["function"]["strict"] for t in tools] == [False, True]


def test_recorded_tool_calls_of_each_version_are_read(recorded: FakeVLLM) -> None:
    msg = make(recorded).bind_tools([GetWeather], tool_choice="required").invoke("Weather?")
    body = load_fixture("tool_call", recorded.version)["body"]
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert msg.tool_calls == [
        {
            "name": call["function"]["name"],
            "args": json.loads(call["function"]["arguments"]),
            "id": call["id"],
            "type": "tool_call",
        }
    ]
    assert msg.response_metadata["finish_reason"] == "tool_calls"


async def test_streamed_tool_call_is_assembled(recorded: FakeVLLM) -> None:
    llm = make(recorded).bind_tools([GetWeather], tool_choice="required")
    full: Any = None
    async for chunk in llm.astream("Weather in Paris?"):
        full = chunk if full is None else full + chunk
    assert full.tool_calls
    stream = load_fixture("tool_call_stream", recorded.version)["body"]
    assert full.tool_calls[0]["name"] in stream
    assert full.tool_calls[0]["args"] == {"city": "Paris"}
    assert full.usage_metadata is not None


def router() -> FakeVLLM:
    """A vllm-router in front of vLLM: its own /health text and no /version."""
    return FakeVLLM(version=None, health="All servers healthy")


def test_strict_tools_through_vllm_router_warn_once_with_the_fix() -> None:
    fake = router()
    tools = make(fake).bind_tools([GetWeather], tool_choice="any")
    with pytest.warns(UserWarning, match=r"drops the \"strict\" flag") as caught:
        tools.invoke("Weather in Paris?")
    assert "--tool-strict-level parameter" in str(caught[0].message)
    assert BASE_URL in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tools.invoke("Weather in Paris?")  # once per server
    assert fake.paths().count("GET /health") == 1
    assert fake.chat_bodies()[0]["tools"][0]["function"]["strict"] is True  # still sent


async def test_strict_tools_through_vllm_router_warn_in_async_streams() -> None:
    tools = make(router()).bind_tools([GetWeather], tool_choice="any")
    with pytest.warns(UserWarning, match="--tool-strict-level parameter"):
        _ = [chunk async for chunk in tools.astream("Weather in Paris?")]


@pytest.mark.parametrize(
    ("fake", "strict", "health_checks"),
    [
        (FakeVLLM(), True, 1),  # vLLM itself: /health is empty, nothing to say
        (router(), False, 0),  # no strict tools: nothing to lose, nothing asked
    ],
)
def test_no_router_warning_when_nothing_is_dropped(
    fake: FakeVLLM, *, strict: bool, health_checks: int
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(fake).bind_tools([GetWeather], strict=strict).invoke("Weather?")
        make(fake).invoke("Hi")
    assert fake.paths().count("GET /health") == health_checks


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        (
            {"type": "function", "function": {"name": "get weather", "parameters": {}}},
            "Tool name 'get weather' is not valid",
        ),
        (
            {"type": "function", "function": {"name": "x" * 65, "parameters": {}}},
            "is not valid",
        ),
        (
            {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}},
            "parameters must be a JSON schema of an object",
        ),
        (
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object", "properties": []}},
            },
            "parameters must be a JSON schema of an object",
        ),
    ],
)
def test_invalid_tools_are_refused(fake: FakeVLLM, tool: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(fake, model=recorded_model()).bind_tools([tool]).invoke("hi")
    assert fake.chat_bodies() == []


# ---------------------------------------------------------------- answers cut mid tool call
# Each family of vLLM tool parsers opens a call its own way; an answer cut at max_tokens
# leaves that opening (and what followed) in the text. The samples are each parser's format
# (from its source and docstrings in vLLM 0.32), cut in the middle of the arguments.

_DS_CALLS, _DS_CALL, _DS_SEP = _tools._DS_CALLS, _tools._DS_CALL, _tools._DS_SEP
NAMES = frozenset({"get_weather"})

CUT_CALLS = [
    # (parser, cut text, tool name found, partial arguments)
    ("hermes", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', '{"city": "Pa'),
    (
        "qwen3_xml",
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nPa",
        "<parameter=city>\nPa",
    ),
    ("glm47", "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Pa", "<arg_key>city"),
    (
        "llama3_json",
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Pa',
        '{"city": "Pa',
    ),
    ("llama3_json", '{"name": "get_weather", "parameters": {"city": "Pa', '{"city": "Pa'),
    ("mistral", '[TOOL_CALLS]get_weather[ARGS]{"city": "Pa', '{"city": "Pa'),
    ("mistral", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Pa', '{"city": "Pa'),
    ("pythonic", '[get_weather(city="Pa', 'city="Pa'),
    ("olmo3", 'get_weather(city="Pa', 'city="Pa'),
    ("llama4_pythonic", '<|python_start|>[get_weather(city="Pa', 'city="Pa'),
    (
        "deepseek_v3",
        f'{_DS_CALLS}{_DS_CALL}function{_DS_SEP}get_weather\n```json\n{{"city": "Pa',
        '{"city": "Pa',
    ),
    ("deepseek_v31", f'{_DS_CALLS}{_DS_CALL}get_weather{_DS_SEP}{{"city": "Pa', '{"city": "Pa'),
    (
        "granite-20b-fc",
        '<function_call> {"name": "get_weather", "arguments": {"city": "Pa',
        '{"city": "Pa',
    ),
    ("jamba", '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Pa', '{"city": "Pa'),
    ("lfm2", '<|tool_call_start|>[get_weather(city="Pa', 'city="Pa'),
    ("functiongemma", "<start_function_call>call:get_weather{city:<escape>Pa", "city:<escape>Pa"),
    ("phi4_mini_json", 'functools[{"name": "get_weather", "arguments": {"city": "Pa', '{"city"'),
    (
        "internlm",
        '<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Pa',
        '{"city": "Pa',
    ),
]


@pytest.mark.parametrize(("parser", "text", "arguments"), CUT_CALLS, ids=lambda v: str(v)[:20])
def test_each_parser_familys_cut_call_is_found(parser: str, text: str, arguments: str) -> None:
    assert any(parser in markup.parsers for markup in _tools.MARKUPS), parser
    # bare JSON and Python calls are calls only as the whole output (as their parsers read)
    before = "" if text[0] in "{[g" else "Let me check. "
    found = _tools.find_call(before + text, NAMES)
    assert found is not None
    assert found.start == len(before)  # the text before the call stays text
    assert found.name == "get_weather"
    assert found.arguments.startswith(arguments)


def test_every_parser_in_the_table_is_one_vllm_registers() -> None:
    named = {parser for markup in _tools.MARKUPS for parser in markup.parsers}
    assert named <= VLLM_TOOL_PARSERS
    sampled = {parser for parser, *_ in CUT_CALLS}
    assert named - sampled <= {
        "qwen3_json", "qwen3_coder", "granite4", "ernie45", "poolside_v1", "hy_v4", "glm45",
        "xlam", "llama4_json", "hunyuan_a13b",
    }  # fmt: skip


@pytest.mark.parametrize(
    "text", ["<tool_cal", "<tool_c", "[TOOL_CA", "<|python_ta", "Sure, <tool_call"]
)
def test_a_text_cut_inside_an_opening_is_a_call_without_a_name(text: str) -> None:
    found = _tools.find_call(text)
    assert found is not None
    assert (found.name, found.arguments) == (None, "")
    assert text[: found.start] in ("", "Sure, ")


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Bob", "age": 4',  # a JSON answer: no tool of the request is named
        '[summarize(text="a',  # a Python-looking list naming no tool of the request
        "The weather in Paris is",
        "x <",  # one character of an opening is not enough
        "That is so fu",  # the start of "functools[" (phi4_mini_json) is the start of words
    ],
)
def test_ordinary_answers_are_no_calls(text: str) -> None:
    assert _tools.find_call(text, NAMES) is None


def test_calls_asked_reads_chat_and_responses_requests() -> None:
    chat = {
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_completion_tokens": 9,
    }
    asked = _tools.CallsAsked.of(chat)
    assert (asked.names, asked.forced, asked.forced_name, asked.max_tokens) == (
        NAMES,
        True,
        "get_weather",
        9,
    )
    responses = {
        "tools": [{"type": "function", "name": "get_weather"}],
        "tool_choice": "required",
        "max_output_tokens": 7,
    }
    asked = _tools.CallsAsked.of(responses)
    assert (asked.names, asked.forced, asked.forced_name, asked.max_tokens) == (
        NAMES,
        True,
        None,
        7,
    )
    assert _tools.CallsAsked.of({**chat, "tool_choice": "none"}).names == frozenset()
