"""``_reasoning.py``: reasoning read from every server version, and sent back as asked."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_vllm import ChatVLLM
from tests.unit_tests.fake_vllm import (
    BASE_URL,
    REASONING,
    REASONING_TOKENS,
    RECORDED_VERSIONS,
    FakeVLLM,
    load,
    recorded_model,
)
from tests.unit_tests.test_versions import CURRENT, MIDDLE, OLD, QUESTION


def history_with_reasoning() -> list[Any]:
    first = AIMessage("Paris.", additional_kwargs={"reasoning_content": "old thought"})
    call = AIMessage(
        "",
        additional_kwargs={"reasoning_content": "need the weather"},
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
    )
    return [
        HumanMessage("Capital of France?"),
        first,
        HumanMessage("Weather there?"),
        call,
        ToolMessage("sunny", tool_call_id="call_1"),
    ]


@pytest.mark.parametrize(
    ("version", "field"),
    [
        (CURRENT, "reasoning"),
        ("0.16.0", "reasoning"),
        (MIDDLE, "reasoning"),
        (OLD, "reasoning_content"),
    ],
)
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("never", [None, None]),
        ("last", [None, "need the weather"]),
        ("all", ["old thought", "need the weather"]),
    ],
)
def test_reasoning_history_policy_and_field_name(
    version: str, field: str, policy: str, expected: list[str | None]
) -> None:
    fake = FakeVLLM(version=version)
    llm = ChatVLLM(
        base_url=BASE_URL, model=recorded_model(), reasoning_history=policy, **fake.clients()
    )
    llm.invoke(history_with_reasoning())
    assistants = [m for m in fake.chat_bodies()[-1]["messages"] if m["role"] == "assistant"]
    assert [m.get(field) for m in assistants] == expected
    other = "reasoning_content" if field == "reasoning" else "reasoning"
    assert all(other not in m for m in assistants)


def test_reasoning_history_per_call() -> None:
    fake = FakeVLLM()
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    llm.invoke(history_with_reasoning(), reasoning_history="never")
    assert all("reasoning" not in m for m in fake.chat_bodies()[-1]["messages"])
    with pytest.raises(ValueError, match="reasoning_history must be"):
        llm.invoke(history_with_reasoning(), reasoning_history="sometimes")


@pytest.mark.parametrize("version", RECORDED_VERSIONS)
async def test_recorded_reasoning_is_read_from_each_real_version(version: str) -> None:
    recorded = load("reasoning_chat", version)["body"]
    message = recorded["choices"][0]["message"]
    assert "reasoning_content" not in message  # 0.16 and 0.32 send `reasoning` only
    fake = FakeVLLM(version=version, reasoning=True)
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    for answer in (llm.invoke(QUESTION), await llm.ainvoke(QUESTION)):
        assert answer.additional_kwargs["reasoning_content"] == message["reasoning"]
        assert answer.text == message["content"]
        assert answer.content_blocks[0] == {"type": "reasoning", "reasoning": message["reasoning"]}
    streamed = None
    async for chunk in llm.astream(QUESTION):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None
    assert streamed.additional_kwargs["reasoning_content"] == message["reasoning"]
    assert streamed.text == message["content"]
    counted = (recorded["usage"].get("completion_tokens_details") or {}).get("reasoning_tokens")
    for usage in (streamed.usage_metadata, llm.invoke(QUESTION).usage_metadata):
        assert usage is not None
        if counted is None:  # vLLM counts reasoning tokens in chat usage from 0.28 on
            assert "reasoning" not in usage.get("output_token_details", {})
        else:
            assert usage["output_token_details"]["reasoning"] == counted


@pytest.mark.parametrize(
    ("version", "fields"),
    [
        (OLD, ("reasoning_content",)),
        (MIDDLE, ("reasoning", "reasoning_content")),
    ],
)
async def test_reasoning_is_read_from_every_older_version(
    version: str, fields: tuple[str, ...]
) -> None:
    fake = FakeVLLM(version=version, reasoning_fields=fields)
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    for message in (llm.invoke(QUESTION), await llm.ainvoke(QUESTION)):
        assert message.additional_kwargs["reasoning_content"] == REASONING
        assert REASONING not in message.text
        assert message.content_blocks[0] == {"type": "reasoning", "reasoning": REASONING}
    streamed = None
    for chunk in llm.stream(QUESTION):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None
    assert streamed.additional_kwargs["reasoning_content"] == REASONING
    assert REASONING not in streamed.text
    assert streamed.text == llm.invoke(QUESTION).text  # the answer is untouched
    for usage in (streamed.usage_metadata, llm.invoke(QUESTION).usage_metadata):
        assert usage is not None
        assert usage["output_token_details"]["reasoning"] == REASONING_TOKENS
