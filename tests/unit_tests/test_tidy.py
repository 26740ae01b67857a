"""``_tidy``: the whitespace vLLM's parsers leave around reasoning and calls, invoked or streamed.

The message shapes are vLLM 0.32's (``tests/integration_tests/test_families.py`` shows them on
the real parsers); each case checks the message and the same answer cut into stream deltas.
"""

from __future__ import annotations

from typing import Any

import pytest

from langchain_vllm._tidy import StreamTidier, tidy_message

CALL = {
    "index": 0,
    "id": "call-1",
    "type": "function",
    "function": {"name": "f", "arguments": "{}"},
}


def streamed(pieces: list[dict[str, Any]]) -> dict[str, Any]:
    """The deltas ``pieces`` tidied as a stream, added up into one message."""
    tidier = StreamTidier()
    message: dict[str, Any] = {"content": "", "reasoning": "", "tool_calls": []}
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1
        choice: dict[str, Any] = {"index": 0, "delta": dict(piece)}
        choice["finish_reason"] = "stop" if last else None
        event = {"choices": [choice]}
        tidier.read_event(event)
        delta: dict[str, Any] = choice["delta"]
        message["content"] += delta.get("content") or ""
        message["reasoning"] += delta.get("reasoning") or ""
        message["tool_calls"] += delta.get("tool_calls") or []
    return message


def invoked(message: dict[str, Any]) -> dict[str, Any]:
    tidy_message(message)
    return {
        "content": message.get("content") or "",
        "reasoning": message.get("reasoning") or "",
        "tool_calls": message.get("tool_calls") or [],
    }


Case = tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]
"""Stream deltas, vLLM's message for the same answer, and both tidied."""

CASES: dict[str, Case] = {
    # Qwen3 and DeepSeek R1: newlines around the reasoning and after </think>
    "reasoning then answer": (
        [
            {"reasoning": "\n"},
            {"reasoning": "Plan"},
            {"reasoning": ".\n"},
            {"content": "\n\n"},
            {"content": "It is"},
            {"content": " sunny.\n"},
        ],
        {"reasoning": "\nPlan.\n", "content": "\n\nIt is sunny.\n"},
        {"reasoning": "Plan.", "content": "It is sunny.\n", "tool_calls": []},
    ),
    # a stream's whitespace between reasoning and a call (vLLM's message: content null)
    "reasoning then a call": (
        [{"reasoning": "Plan\n"}, {"content": "\n\n"}, {"tool_calls": [CALL]}],
        {"reasoning": "Plan\n", "content": None, "tool_calls": [CALL]},
        {"reasoning": "Plan", "content": "", "tool_calls": [CALL]},
    ),
    # Hermes: a line break between the text and the call
    "text then a call": (
        [{"content": "Let me"}, {"content": " check."}, {"content": "\n"}, {"tool_calls": [CALL]}],
        {"content": "Let me check.\n", "tool_calls": [CALL]},
        {"reasoning": "", "content": "Let me check.", "tool_calls": [CALL]},
    ),
    # DeepSeek R1 streams the line between two calls as content
    "whitespace between calls": (
        [{"tool_calls": [CALL]}, {"content": "\n"}, {"tool_calls": [{**CALL, "index": 1}]}],
        {"content": None, "tool_calls": [CALL, {**CALL, "index": 1}]},
        {"reasoning": "", "content": "", "tool_calls": [CALL, {**CALL, "index": 1}]},
    ),
    # spaces are the model's text (thinking_token_budget cut the reasoning mid-sentence)
    "spaces around reasoning": (
        [{"reasoning": "The capital"}, {"reasoning": " \n"}, {"content": " of Paris"}],
        {"reasoning": "The capital \n", "content": " of Paris"},
        {"reasoning": "The capital ", "content": " of Paris", "tool_calls": []},
    ),
    # the model's own text is never touched: inner and leading whitespace without reasoning
    "plain text": (
        [{"content": "\n"}, {"content": "  Hi\n\n"}, {"content": "there \n"}],
        {"content": "\n  Hi\n\nthere \n"},
        {"reasoning": "", "content": "\n  Hi\n\nthere \n", "tool_calls": []},
    ),
    "whitespace only": (
        [{"content": " "}, {"content": "\n"}],
        {"content": " \n"},
        {"reasoning": "", "content": " \n", "tool_calls": []},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_invoked_and_streamed_alike(case: str) -> None:
    pieces, message, expected = CASES[case]
    assert invoked(dict(message)) == {"reasoning": "", "tool_calls": [], **expected}
    assert streamed(pieces) == {"reasoning": "", "tool_calls": [], **expected}


def test_reasoning_content_is_tidied_too() -> None:
    """vLLM 0.11-0.16 name the field ``reasoning_content`` (sometimes both)."""
    message = {"reasoning_content": "\nPlan\n", "reasoning": "\nPlan\n", "content": "\n\nOk"}
    tidy_message(message)
    assert message == {"reasoning_content": "Plan", "reasoning": "Plan", "content": "Ok"}


def test_events_that_are_not_chat_chunks_pass() -> None:
    tidier = StreamTidier()
    events: list[object] = [None, "x", {"choices": None}, {"choices": ["x"]}, {"usage": {}}]
    for event in events:
        tidier.read_event(event)
