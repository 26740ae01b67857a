"""Tools (``_tools.py``) through ChatVLLM: strict by default, tool_choice spellings, checks
before sending, streamed calls, and the vllm-router warning, against the fake server."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from pydantic import BaseModel, Field

from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, make, recorded_model
from tests.unit_tests.fake_vllm import load as load_fixture


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
