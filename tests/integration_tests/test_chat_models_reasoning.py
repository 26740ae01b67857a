"""Reasoning on a real vLLM server with a reasoning parser (``--reasoning-parser qwen3``).

The local ``reason`` server is SmolLM2-135M with ``<think>``/``</think>`` tokens: with
``enable_thinking=True`` its parser reads the answer as reasoning until ``</think>``, which
``thinking_token_budget`` forces after a few tokens (``min_tokens`` keeps the 135M model from
ending before that). So the model really produces reasoning, an answer, and reasoning tokens.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from pydantic import BaseModel

from langchain_vllm import ChatVLLM
from tests.integration_tests.conftest import scripted

QUESTION = [HumanMessage("Tell me about the city of Paris.")]


class Capital(BaseModel):
    """A country and its capital."""

    country: str
    capital: str


def thinker(url: str, **kwargs: Any) -> ChatVLLM:
    """A ChatVLLM that thinks for about 8 tokens, then answers (32 tokens in all)."""
    defaults: dict[str, Any] = {
        "temperature": 0,
        "frequency_penalty": 0.5,
        "max_tokens": 32,
        "min_tokens": 24,
        "enable_thinking": True,
        "thinking_token_budget": 8,
    }
    return ChatVLLM(base_url=url, **{**defaults, **kwargs})


def assert_reasoning_and_answer(message: AIMessage | AIMessageChunk) -> str:
    reasoning = message.additional_kwargs.get("reasoning_content")
    assert isinstance(reasoning, str)
    assert reasoning.strip()
    assert message.text.strip()
    assert reasoning not in message.text
    assert message.content_blocks[0] == {"type": "reasoning", "reasoning": reasoning}
    usage = message.usage_metadata
    assert usage is not None
    assert 0 < usage["output_token_details"]["reasoning"] < usage["output_tokens"]
    return reasoning


def test_reasoning_and_answer_are_separated(reasoning_url: str) -> None:
    message = thinker(reasoning_url).invoke(QUESTION)
    assert_reasoning_and_answer(message)


THOUGHT = "Paris lies on the Seine; it has been the capital since 987."
ANSWER = "Paris is the capital of France."
SCRIPT = scripted(f"{THOUGHT}</think>\n\n{ANSWER}")
"""A reasoning model's output: thinking, ``</think>``, the answer (the qwen3 parser's format)."""


async def test_streamed_reasoning_equals_the_invoked_one(reasoning_url: str) -> None:
    model = thinker(reasoning_url, thinking_token_budget=None, min_tokens=None, max_tokens=64)
    invoked = await model.ainvoke(QUESTION, **SCRIPT)
    # vLLM's parser split the output at </think>; ChatVLLM put each part in its place
    assert assert_reasoning_and_answer(invoked) == THOUGHT
    assert invoked.text.strip() == ANSWER
    chunks = [chunk async for chunk in model.astream(QUESTION, **SCRIPT)]
    streamed = chunks[0]
    for chunk in chunks[1:]:
        streamed += chunk
    assert any(c.additional_kwargs.get("reasoning_content") for c in chunks[:-1])
    assert assert_reasoning_and_answer(streamed) == THOUGHT
    assert streamed.text == invoked.text
    assert streamed.content_blocks == invoked.content_blocks
    assert streamed.usage_metadata == invoked.usage_metadata
    sync_chunks = list(model.stream(QUESTION, **SCRIPT))
    assert "".join(c.text for c in sync_chunks) == invoked.text


def test_thinking_budget_bounds_the_reasoning(reasoning_url: str) -> None:
    def reasoning_tokens(budget: int) -> int:
        message = thinker(reasoning_url, thinking_token_budget=budget, min_tokens=budget + 12)
        usage = message.invoke(QUESTION, max_tokens=budget + 16).usage_metadata
        assert usage is not None
        return usage["output_token_details"]["reasoning"]

    assert reasoning_tokens(4) < reasoning_tokens(12)


def test_thinking_off_and_reasoning_left_out(reasoning_url: str) -> None:
    plain = thinker(reasoning_url, enable_thinking=False, thinking_token_budget=None)
    message = plain.invoke(QUESTION)
    assert "reasoning_content" not in message.additional_kwargs
    assert message.text.strip()
    model = thinker(reasoning_url, thinking_token_budget=None, min_tokens=None, max_tokens=64)
    hidden = model.invoke(QUESTION, include_reasoning=False, **SCRIPT)
    assert "reasoning_content" not in hidden.additional_kwargs
    assert hidden.text == model.invoke(QUESTION, **SCRIPT).text  # the same answer, no reasoning


def test_reasoning_history_reaches_the_chat_template(reasoning_url: str) -> None:
    history = [
        HumanMessage("Capital of France?"),
        AIMessage(
            "Paris.",
            additional_kwargs={"reasoning_content": "France's capital is Paris, of course."},
        ),
        HumanMessage("And of Italy?"),
    ]
    counts = {}
    for policy in ("never", "all"):
        model = ChatVLLM(
            base_url=reasoning_url,
            enable_thinking=False,
            reasoning_history=policy,
            max_tokens=4,
            temperature=0,
        )
        usage = model.invoke(history).usage_metadata
        assert usage is not None
        counts[policy] = model.get_num_tokens_from_messages(history)
        assert counts[policy] == usage["input_tokens"]
    assert counts["all"] > counts["never"]  # the template rendered the reasoning sent back


def test_structured_output_parses_the_answer_not_the_reasoning(reasoning_url: str) -> None:
    model = thinker(reasoning_url, max_tokens=80, min_tokens=12, thinking_token_budget=6)
    out = model.with_structured_output(Capital, include_raw=True).invoke(
        "France's capital is Paris. Give the country and its capital."
    )
    assert out["parsing_error"] is None
    assert isinstance(out["parsed"], Capital)
    assert out["raw"].additional_kwargs["reasoning_content"]
    choice = model.with_structured_output(["Paris", "Rome"], method="choice", include_raw=True)
    picked = choice.invoke("Capital of France?")
    assert picked["parsed"] in ("Paris", "Rome")
    assert picked["raw"].additional_kwargs["reasoning_content"]
