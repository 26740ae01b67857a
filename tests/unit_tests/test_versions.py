"""``_versions.py``: what ChatVLLM sends to old, middle and current servers.

Each test runs a real ChatVLLM request against the fake server announcing a version on
``/version``, and asserts on the JSON body that went out.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_vllm import ChatVLLM, _server, _versions
from tests.unit_tests.fake_vllm import (
    BASE_URL,
    FakeVLLM,
    recorded_model,
)

OLD = "0.8.5"  # guided_*, reasoning_content


MIDDLE = "0.11.1"  # structured_outputs not yet (guided_*), both reasoning names


CURRENT = "0.32.0"


QUESTION = [HumanMessage("What is the capital of France?")]


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
