"""Reasoning on a real vLLM server with a reasoning parser (``--reasoning-parser qwen3``).

The local ``reason`` server is SmolLM2-135M with ``<think>``/``</think>`` tokens: with
``enable_thinking=True`` its parser reads the answer as reasoning until ``</think>``, which
``thinking_token_budget`` forces after a few tokens (``min_tokens`` keeps the 135M model from
ending before that). So the model really produces reasoning, an answer, and reasoning tokens.

vLLM before 0.19 has neither ``thinking_token_budget`` nor ``--reasoning-config`` (thinking
from the generation prompt on): its qwen3 parser reads reasoning from an answer holding
``<think>...</think>``, which SmolLM2 writes only when scripted (``vllm_xargs`` script, see
``scripts/server_venv/scripted_model.py``). There the tests script that answer and assert
what vLLM's parser and ChatVLLM make of it; vLLM counts reasoning tokens in chat usage from
0.28 on, so older servers' usage has none.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from pydantic import BaseModel

from langchain_vllm import ChatVLLM
from tests.integration_tests.conftest import scripted, server_version

QUESTION = [HumanMessage("Tell me about the city of Paris.")]

THOUGHT = "The user asks about Paris, the capital of France."
"""The reasoning scripted on servers without thinking_token_budget."""

ANSWER = "Paris is the capital of France."
"""The answer scripted after it."""


def reads_thinking_budget(url: str) -> bool:
    """Whether the server reads ``thinking_token_budget`` (vLLM >= 0.19)."""
    return server_version(url) >= (0, 19, 0)


class Capital(BaseModel):
    """A country and its capital."""

    country: str
    capital: str


def thinker(url: str, answer: str = ANSWER, **kwargs: Any) -> ChatVLLM:
    """A ChatVLLM that thinks for about 8 tokens, then answers (32 tokens in all).

    On a server without ``thinking_token_budget`` the budget fields are left out and the
    reasoning and ``answer`` are scripted instead.
    """
    defaults: dict[str, Any] = {
        "temperature": 0,
        "frequency_penalty": 0.5,
        "max_tokens": 32,
        "min_tokens": 24,
        "enable_thinking": True,
        "thinking_token_budget": 8,
    }
    fields = {**defaults, **kwargs}
    if not reads_thinking_budget(url):
        fields.pop("thinking_token_budget")
        fields.pop("min_tokens")  # would hold the end of the script back
        if fields["enable_thinking"]:
            script = {"script": f"<think>{THOUGHT}</think>{answer}"}
            fields["extra_body"] = {"vllm_xargs": script}
    return ChatVLLM(base_url=url, **fields)


def thought_and_answer(url: str) -> dict[str, Any]:
    """Per-call arguments scripting a reasoning model's output: ``THOUGHT``, ``</think>``,
    ``ANSWER`` (the qwen3 parser's format).

    From vLLM 0.19 the reason server starts thinking in the prompt (``--reasoning-config``);
    before, the model writes ``<think>`` itself.
    """
    opening = "" if reads_thinking_budget(url) else "<think>"
    return scripted(f"{opening}{THOUGHT}</think>{ANSWER}")


def assert_reasoning_and_answer(message: AIMessage | AIMessageChunk, url: str) -> str:
    reasoning = message.additional_kwargs.get("reasoning_content")
    assert isinstance(reasoning, str)
    assert reasoning.strip()
    assert message.text.strip()
    assert reasoning not in message.text
    assert message.content_blocks[0] == {"type": "reasoning", "reasoning": reasoning}
    if not reads_thinking_budget(url):  # split by vLLM's parser at the scripted tags
        assert (reasoning, message.text) == (THOUGHT, ANSWER)
    usage = message.usage_metadata
    assert usage is not None
    if server_version(url) >= (0, 28, 0):
        assert 0 < usage["output_token_details"]["reasoning"] < usage["output_tokens"]
    else:  # vLLM counts reasoning tokens in chat usage from 0.28; none are made up
        assert "reasoning" not in usage.get("output_token_details", {})
    return reasoning


def test_reasoning_and_answer_are_separated(reasoning_url: str) -> None:
    message = thinker(reasoning_url).invoke(QUESTION)
    assert_reasoning_and_answer(message, reasoning_url)


async def test_streamed_reasoning_equals_the_invoked_one(reasoning_url: str) -> None:
    model = thinker(reasoning_url, thinking_token_budget=None, min_tokens=None, max_tokens=64)
    script = thought_and_answer(reasoning_url)
    invoked = await model.ainvoke(QUESTION, **script)
    # vLLM's parser split the output at </think>; ChatVLLM put each part in its place
    assert assert_reasoning_and_answer(invoked, reasoning_url) == THOUGHT
    assert invoked.text.strip() == ANSWER
    chunks = [chunk async for chunk in model.astream(QUESTION, **script)]
    streamed = chunks[0]
    for chunk in chunks[1:]:
        streamed += chunk
    assert any(c.additional_kwargs.get("reasoning_content") for c in chunks[:-1])
    assert assert_reasoning_and_answer(streamed, reasoning_url) == THOUGHT
    assert streamed.text == invoked.text
    assert streamed.content_blocks == invoked.content_blocks
    assert streamed.usage_metadata == invoked.usage_metadata
    sync_chunks = list(model.stream(QUESTION, **script))
    assert "".join(c.text for c in sync_chunks) == invoked.text


def test_thinking_budget_bounds_the_reasoning(reasoning_url: str) -> None:
    if not reads_thinking_budget(reasoning_url):
        version = ".".join(map(str, server_version(reasoning_url)))
        pytest.skip(
            f"capability: thinking_token_budget, added in vLLM 0.19 (the server runs "
            f"{version}; ChatVLLM refuses to send it there, see test_chat_models_vllm.py)"
        )

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
    script = thought_and_answer(reasoning_url)
    hidden = model.invoke(QUESTION, include_reasoning=False, **script)
    assert "reasoning_content" not in hidden.additional_kwargs
    assert hidden.text == model.invoke(QUESTION, **script).text  # the same answer, no reasoning


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
    settings: dict[str, Any] = {"max_tokens": 80, "min_tokens": 12, "thinking_token_budget": 6}
    model = thinker(reasoning_url, '{"country":"France","capital":"Paris"}', **settings)
    out = model.with_structured_output(Capital, include_raw=True).invoke(
        "France's capital is Paris. Give the country and its capital."
    )
    assert out["parsing_error"] is None
    assert isinstance(out["parsed"], Capital)
    assert out["raw"].additional_kwargs["reasoning_content"]
    model = thinker(reasoning_url, "Paris", **settings)
    choice = model.with_structured_output(["Paris", "Rome"], method="choice", include_raw=True)
    picked = choice.invoke("Capital of France?")
    assert picked["parsed"] in ("Paris", "Rome")
    assert picked["raw"].additional_kwargs["reasoning_content"]
