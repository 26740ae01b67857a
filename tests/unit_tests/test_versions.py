"""``_versions.py``: what ChatVLLM sends to old, middle and current servers.

Each test runs a real ChatVLLM request against the fake server announcing a version on
``/version``, and asserts on the JSON body that went out.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from langchain_vllm import ChatVLLM, _request, _server, _versions
from tests.unit_tests.fake_vllm import (
    BASE_URL,
    FakeVLLM,
    recorded_model,
)

OLD = "0.8.5"  # guided_*, reasoning_content


MIDDLE = "0.11.1"  # structured_outputs not yet (guided_*), both reasoning names


CURRENT = "0.32.0"


QUESTION = [HumanMessage("What is the capital of France?")]


class GetWeather(BaseModel):
    """Get the current weather in a given city."""

    city: str


class GetTime(BaseModel):
    """Get the local time in a given city."""

    city: str


def sent(version: str | None, *, invoke: dict[str, Any] | None = None, **init: Any) -> Any:
    """The chat body ChatVLLM sends to a fresh server announcing ``version``."""
    _server.forget()
    fake = FakeVLLM(version=version)
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients(), **init)
    llm.invoke(QUESTION, **(invoke or {}))
    return fake.chat_bodies()[-1]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.32.0", _versions.WireFormat("0.32.0")),
        ("0.32.0+cpu", _versions.WireFormat("0.32.0+cpu")),
        (
            "0.11.1rc2",
            _versions.WireFormat("0.11.1rc2", legacy_guided=True, reasoning_field="reasoning"),
        ),
        (
            "0.8.5.post1",
            _versions.WireFormat(
                "0.8.5.post1", legacy_guided=True, reasoning_field="reasoning_content"
            ),
        ),
        (
            "0.6.3",
            _versions.WireFormat(
                "0.6.3",
                max_tokens_field="max_tokens",
                legacy_guided=True,
                reasoning_field="reasoning_content",
            ),
        ),
        (None, _versions.WireFormat(None)),
        ("dev", _versions.WireFormat("dev")),
    ],
)
def test_wire_format_by_version(version: str | None, expected: _versions.WireFormat) -> None:
    assert _versions.wire_format(version) == expected


def test_max_tokens_field_follows_the_version() -> None:
    assert sent(CURRENT, max_tokens=7)["max_completion_tokens"] == 7
    assert "max_tokens" not in sent(CURRENT, max_tokens=7)
    assert sent("0.6.3", max_tokens=7)["max_tokens"] == 7
    assert "max_completion_tokens" not in sent("0.6.3", max_tokens=7)


def test_server_without_version_route_gets_the_newest_format() -> None:
    body = sent(None, max_tokens=7, structured_outputs={"choice": ["a", "b"]})
    assert body["max_completion_tokens"] == 7
    assert body["structured_outputs"] == {"choice": ["a", "b"]}


@pytest.mark.parametrize(
    ("constraint", "legacy_field"),
    [
        ({"choice": ["yes", "no"]}, "guided_choice"),
        ({"regex": r"\d+"}, "guided_regex"),
        ({"grammar": 'root ::= "a"'}, "guided_grammar"),
        ({"json": {"type": "object"}}, "guided_json"),
    ],
)
def test_structured_outputs_per_version(constraint: dict[str, Any], legacy_field: str) -> None:
    current = sent(CURRENT, structured_outputs=constraint)
    assert current["structured_outputs"] == constraint
    assert legacy_field not in current
    for version in (OLD, MIDDLE):
        legacy = sent(version, structured_outputs=constraint)
        assert legacy[legacy_field] == next(iter(constraint.values()))
        assert "structured_outputs" not in legacy


def test_json_object_constraint_on_old_servers_is_a_response_format() -> None:
    assert sent(OLD, structured_outputs={"json_object": True})["response_format"] == {
        "type": "json_object"
    }


def test_newer_only_constraint_on_old_server_is_refused() -> None:
    with pytest.raises(ValueError, match=r"structural_tag.*needs vLLM >= 0.12.*0.8.5"):
        sent(OLD, structured_outputs={"structural_tag": "{}"})


def test_legacy_guided_fields_to_a_current_server_are_refused() -> None:
    with pytest.raises(ValueError, match=r"guided_json is not read by vLLM >= 0.12.*"):
        sent(CURRENT, extra_body={"guided_json": {"type": "object"}})
    # ...but an old server still reads them
    assert sent(OLD, extra_body={"guided_json": {"type": "object"}})["guided_json"]


# ---------------------------------------------------------------- fields an older server ignores


def test_a_field_the_servers_version_does_not_read_is_refused_naming_both_versions() -> None:
    with pytest.raises(
        ValueError,
        match=r"runs 0\.16\.0, which does not read thinking_token_budget \(read "
        r"since vLLM 0\.19\).*silently ignore it",
    ):
        sent("0.16.0", thinking_token_budget=8)
    assert sent("0.19.0", thinking_token_budget=8)["thinking_token_budget"] == 8
    with pytest.raises(ValueError, match=r"session_id \(read since vLLM 0\.28\)"):
        sent("0.16.0", extra_body={"session_id": "s-1"})
    assert sent(CURRENT, extra_body={"session_id": "s-1"})["session_id"] == "s-1"


def test_a_field_only_older_servers_read_reaches_them() -> None:
    assert sent("0.16.0", extra_body={"logits_processors": ["m:P"]})["logits_processors"]
    with pytest.raises(ValueError, match=r"'logits_processors'.*vLLM 0\.32\.0 does not read"):
        sent(CURRENT, extra_body={"logits_processors": ["m:P"]})


def test_every_field_refused_for_old_servers_is_one_the_current_server_reads() -> None:
    assert set(_versions.CHAT_FIELDS_ADDED) <= _request.CHAT_FIELDS_0_32
    assert not set(_versions.CHAT_FIELDS_REMOVED) & _request.CHAT_FIELDS_0_32


def tool_request(version: str, tools: list[Any], tool_choice: Any) -> dict[str, Any]:
    """The chat body ChatVLLM sends for ``tools`` bound with ``tool_choice``."""
    _server.forget()
    fake = FakeVLLM(version=version)
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    llm.bind_tools(tools, tool_choice=tool_choice).invoke(QUESTION)
    return fake.chat_bodies()[-1]


def test_required_with_one_tool_is_sent_named_where_required_is_an_open_list() -> None:
    named = {"type": "function", "function": {"name": "GetWeather"}}
    assert tool_request("0.16.0", [GetWeather], "required")["tool_choice"] == named
    assert tool_request("0.16.0", [GetWeather], "any")["tool_choice"] == named
    two = tool_request("0.16.0", [GetWeather, GetTime], "required")
    assert two["tool_choice"] == "required"  # "call one of them" has no named spelling
    assert tool_request(CURRENT, [GetWeather], "required")["tool_choice"] == "required"
    assert tool_request("0.21.0", [GetWeather], "required")["tool_choice"] == "required"


@pytest.mark.parametrize(
    ("version", "tool_choice", "warnings_given"),
    [
        ("0.16.0", "auto", 1),
        ("0.16.0", None, 1),
        ("0.16.0", "required", 0),
        ("0.16.0", "GetWeather", 0),
        ("0.23.0", "auto", 1),
        ("0.24.0", "auto", 0),
        (CURRENT, "auto", 0),
    ],
)
def test_strict_tools_under_auto_warn_once_where_the_server_ignores_strict(
    version: str, tool_choice: Any, warnings_given: int, recwarn: pytest.WarningsRecorder
) -> None:
    warnings.simplefilter("always")  # count every warning given (no per-location dedup)
    tool_request(version, [GetWeather], tool_choice)
    fake = FakeVLLM(version=version)
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    llm.bind_tools([GetWeather], tool_choice=tool_choice).invoke(QUESTION)  # a second call
    warned = [str(w.message) for w in recwarn if 'ignores "strict"' in str(w.message)]
    assert len(warned) == warnings_given  # once per server, however many calls
    if warned:
        assert f"runs {version}" in warned[0]
        assert "tool_choice='required'" in warned[0]
    recwarn.clear()
    _server.forget()
    unstrict = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    unstrict.bind_tools([GetWeather], tool_choice=tool_choice, strict=False).invoke(QUESTION)
    assert not [w for w in recwarn if 'ignores "strict"' in str(w.message)]


# ---------------------------------------------------------------- the oldest version supported


def test_a_server_older_than_the_oldest_supported_one_is_named_once(
    recwarn: pytest.WarningsRecorder,
) -> None:
    warnings.simplefilter("always")
    assert _versions.OLDEST_SUPPORTED == (0, 16, 0)
    fake = FakeVLLM(version="0.15.1")
    _server.forget()
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    llm.invoke(QUESTION)
    llm.invoke(QUESTION)  # the version is learned once per server, and so is the warning
    warned = [str(w.message) for w in recwarn if "oldest vLLM" in str(w.message)]
    assert len(warned) == 1
    assert "runs 0.15.1, older than the oldest vLLM langchain-vllm supports" in warned[0]
    assert "(0.16.0)" in warned[0]
    recwarn.clear()
    for version in ("0.16.0", CURRENT, None):  # None: a router without /version
        sent(version)
    assert not [w for w in recwarn if "oldest vLLM" in str(w.message)]
