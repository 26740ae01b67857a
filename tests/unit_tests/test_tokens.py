"""``_tokens.py``: token counts come from the server's tokenizer, as the server counts them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage

from tests.unit_tests.fake_vllm import MESSAGES, FakeVLLM, make, recorded_model
from tests.unit_tests.fake_vllm import load as load_fixture

if TYPE_CHECKING:
    import pytest


def test_token_counts_come_from_the_servers_tokenizer(recorded: FakeVLLM) -> None:
    def fixture(name: str) -> dict[str, Any]:
        return load_fixture(name, recorded.version)

    llm = make(recorded, model=recorded_model())
    assert llm.get_num_tokens_from_messages(MESSAGES) == fixture("tokenize_chat")["body"]["count"]
    sent = json.loads(recorded.requests[-1].content)
    # the chat form, exactly the messages a chat request would carry
    assert sent == fixture("tokenize_chat")["request"]["json"]
    assert llm.get_token_ids("Hello world") == fixture("tokenize_text")["body"]["tokens"]
    assert llm.get_num_tokens("Hello world") == len(fixture("tokenize_text")["body"]["tokens"])
    assert json.loads(recorded.requests[-1].content) == fixture("tokenize_text")["request"]["json"]


def test_token_count_matches_the_prompt_tokens_of_the_same_request(recorded: FakeVLLM) -> None:
    # both fixtures were recorded from the real server for the same two messages
    llm = make(recorded, model=recorded_model())
    usage = llm.invoke(MESSAGES).usage_metadata
    assert usage is not None
    assert llm.get_num_tokens_from_messages(MESSAGES) == usage["input_tokens"]


async def test_token_count_with_tools_sends_the_tools(recorded: FakeVLLM) -> None:
    tokenized = load_fixture("tokenize_chat_tools", recorded.version)
    tool = tokenized["request"]["json"]["tools"][0]
    llm = make(recorded, model=recorded_model())
    weather = [HumanMessage("What is the weather in Paris?")]
    count = await llm.aget_num_tokens_from_messages(weather, tools=[tool])
    assert count == tokenized["body"]["count"]
    # the same server counted as many prompt tokens for the chat request with that tool
    assert count == load_fixture("tool_call", recorded.version)["body"]["usage"]["prompt_tokens"]
    sent = json.loads(recorded.requests[-1].content)
    assert sent["tools"] == [tool]
    assert sent["messages"] == tokenized["request"]["json"]["messages"]
    assert await llm.aget_num_tokens("Hello world") == len(
        load_fixture("tokenize_text", recorded.version)["body"]["tokens"]
    )


def test_no_tiktoken_is_used(fake: FakeVLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_openai.chat_models.base as openai_base  # noqa: PLC0415

    def refuse(*_: Any, **__: Any) -> Any:
        msg = "tiktoken must not be used for a vLLM model"
        raise AssertionError(msg)

    monkeypatch.setattr(openai_base.BaseChatOpenAI, "_get_encoding_model", refuse)
    llm = make(fake, model=recorded_model())
    assert llm.get_num_tokens("Hello world") > 0
    assert llm.get_num_tokens_from_messages(MESSAGES) > 0
