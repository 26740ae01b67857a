"""``ChatVLLM.profile``: static keys at once, server-decided keys asked when first read."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from langchain.agents.middleware import SummarizationMiddleware

from langchain_vllm import ChatVLLM
from langchain_vllm._profile import ServerProfile
from tests.unit_tests.scripted_vllm import BASE_URL, MAX_MODEL_LEN, ScriptedVLLM


def make(server: ScriptedVLLM, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=BASE_URL, **server.clients(), **kwargs)


def test_construction_asks_nothing() -> None:
    server = ScriptedVLLM()
    llm = make(server)
    assert llm.profile is not None
    assert llm.profile["structured_output"] is True
    assert bool(llm.profile)
    assert "max_input_tokens" not in repr(llm.profile)  # repr shows what is known, asks nothing
    assert server.requests == []


def test_summarization_fraction_resolves_against_max_model_len() -> None:
    server = ScriptedVLLM()
    llm = make(server)  # no model given: discovered
    assert server.requests == []
    middleware = SummarizationMiddleware(model=llm, trigger=("fraction", 0.8))
    assert middleware._get_profile_limits() == MAX_MODEL_LEN
    assert "POST /v1/chat/completions" not in server.paths()
    # a second fresh object on the same server knows it without asking
    before = len(server.requests)
    again = SummarizationMiddleware(model=make(server), trigger=("fraction", 0.5))
    assert again._get_profile_limits() == MAX_MODEL_LEN
    assert len(server.requests) == before


@pytest.mark.parametrize("auto_tools", [True, False])
def test_tool_keys_follow_auto_tool_choice(auto_tools: bool) -> None:  # noqa: FBT001
    server = ScriptedVLLM(auto_tools=auto_tools)
    profile = make(server).profile
    assert profile is not None
    assert profile["tool_calling"] is auto_tools
    assert profile["tool_choice"] is auto_tools
    asked = [b for b in server.chat_bodies() if b.get("tool_choice") == "auto"]
    assert len(asked) == 1  # one question answers both keys


@pytest.mark.parametrize("parser", [True, False])
def test_reasoning_output_follows_the_reasoning_parser(parser: bool) -> None:  # noqa: FBT001
    server = ScriptedVLLM(reasoning_parser=parser)
    profile = make(server).profile
    assert profile is not None
    if parser:
        # the scripted server counts no reasoning tokens: like an old vLLM, no conclusion
        assert "reasoning_output" not in profile
    else:
        assert profile["reasoning_output"] is False


@pytest.mark.parametrize(
    ("strict_template", "policy", "expected"),
    [
        (True, "auto", False),
        (False, "auto", True),
        (True, "as_given", True),
        (False, "merge_first", False),
    ],
)
def test_mid_conversation_system_messages(
    strict_template: bool,  # noqa: FBT001
    policy: str,
    expected: bool,  # noqa: FBT001
) -> None:
    server = ScriptedVLLM(system_first_only=strict_template)
    profile = make(server, system_messages=policy).profile
    assert profile is not None
    assert profile["mid_conversation_system_messages"] is expected
    assert "POST /v1/chat/completions" not in server.paths()


def test_a_profile_given_by_the_user_wins() -> None:
    server = ScriptedVLLM()
    llm = make(server, profile={"max_input_tokens": 1000, "tool_calling": False})
    assert llm.profile == {"max_input_tokens": 1000, "tool_calling": False}
    assert "reasoning_output" not in llm.profile
    assert server.requests == []


def test_reading_everything_asks_each_question_once() -> None:
    server = ScriptedVLLM()
    llm = make(server)
    assert llm.profile is not None
    full = dict(llm.profile.items())
    assert full["max_input_tokens"] == MAX_MODEL_LEN
    assert full["tool_calling"] is True
    assert full["mid_conversation_system_messages"] is True
    count = len(server.requests)
    assert dict(make(server).profile or {}) == full
    assert len(server.requests) == count


def test_copies_and_pickles_ask_nothing() -> None:
    calls: list[str] = []

    def ask(group: str) -> dict[str, Any]:
        calls.append(group)
        return {"max_input_tokens": 7} if group == "context" else {}

    profile = ServerProfile({"text_inputs": True}, ask)
    copied = copy.deepcopy(profile)
    assert calls == []
    assert copied["max_input_tokens"] == 7
    assert calls == ["context"]
    restored = pickle.loads(pickle.dumps(ServerProfile({"text_inputs": True})))  # noqa: S301
    assert restored["text_inputs"] is True
    assert "max_input_tokens" not in restored
