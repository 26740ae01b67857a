"""``ChatVLLM(system_messages=...)`` on a server whose chat template refuses late system
messages (the scripted server with ``system_first_only``, vLLM 0.32's wording)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_vllm import ChatVLLM
from langchain_vllm._system_messages import merge_first, needs_rewrite
from langchain_vllm.errors import VLLMInvalidRequestError
from tests.unit_tests.scripted_vllm import BASE_URL, ScriptedVLLM

CONVERSATION = [
    SystemMessage("You are terse."),
    HumanMessage("Hi"),
    AIMessage("Hello."),
    SystemMessage("Answer in French."),
    HumanMessage("Capital of France?"),
]


def make(server: ScriptedVLLM, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=BASE_URL, **server.clients(), **kwargs)


def sent_roles(server: ScriptedVLLM) -> list[str]:
    return [m["role"] for m in server.chat_bodies()[-1]["messages"]]


def test_auto_merges_where_the_template_refuses() -> None:
    server = ScriptedVLLM(system_first_only=True)
    llm = make(server)
    assert llm.invoke(CONVERSATION).text
    assert sent_roles(server) == ["system", "user", "assistant", "user"]
    first = server.chat_bodies()[-1]["messages"][0]["content"]
    assert first == "You are terse.\n\nAnswer in French."
    # asked once (the /tokenize probe), then known for every later call and object
    assert server.paths().count("POST /tokenize") == 1
    make(server).invoke(CONVERSATION)
    assert server.paths().count("POST /tokenize") == 1


async def test_auto_merges_in_async_and_streaming_calls() -> None:
    server = ScriptedVLLM(system_first_only=True)
    llm = make(server)
    assert (await llm.ainvoke(CONVERSATION)).text
    assert sent_roles(server).count("system") == 1
    chunks = [chunk async for chunk in make(server).astream(CONVERSATION)]
    assert "".join(c.text for c in chunks)
    assert sent_roles(server).count("system") == 1


def test_auto_keeps_them_where_the_template_accepts() -> None:
    server = ScriptedVLLM()
    make(server).invoke(CONVERSATION)
    assert sent_roles(server) == ["system", "user", "assistant", "system", "user"]


def test_auto_asks_nothing_for_a_plain_conversation() -> None:
    server = ScriptedVLLM(system_first_only=True)
    make(server).invoke([SystemMessage("Be terse."), HumanMessage("Hi")])
    assert "POST /tokenize" not in server.paths()


def test_as_given_names_the_setting_when_refused() -> None:
    server = ScriptedVLLM(system_first_only=True)
    with pytest.raises(VLLMInvalidRequestError, match="system_messages='merge_first'"):
        make(server, system_messages="as_given").invoke(CONVERSATION)
    assert sent_roles(server).count("system") == 2


def test_merge_first_merges_without_asking() -> None:
    server = ScriptedVLLM()
    make(server, system_messages="merge_first").invoke(CONVERSATION)
    assert sent_roles(server) == ["system", "user", "assistant", "user"]
    assert "POST /tokenize" not in server.paths()


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="system_messages"):
        ChatVLLM(model="m", system_messages="drop")


def test_merge_first_joins_text_parts_in_order() -> None:
    merged = merge_first(
        [
            {"role": "user", "content": "q"},
            {"role": "system", "content": [{"type": "text", "text": "a"}, "b"]},
            {"role": "system", "content": "c"},
        ]
    )
    assert merged == [{"role": "system", "content": "a\nb\n\nc"}, {"role": "user", "content": "q"}]
    assert needs_rewrite([{"role": "user"}, {"role": "system"}])
    assert needs_rewrite([{"role": "system"}, {"role": "system"}])
    assert not needs_rewrite([{"role": "system"}, {"role": "user"}])
