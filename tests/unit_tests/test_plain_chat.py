"""``_plain_chat.py``: Chat Completions read as plain dicts give what ChatOpenAI gives."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from tests.unit_tests.fake_vllm import BASE_URL, MESSAGES, FakeVLLM, make, recorded_model


class GetWeather(BaseModel):
    """Get the current weather in a given city."""

    city: str = Field(description="The city name")


_CHAT_OPENAI_PROBES_SOCKETS = pytest.mark.filterwarnings(
    "ignore:A test tried to use socket.socket:UserWarning"
)


def chat_openai(fake: FakeVLLM) -> Any:
    from langchain_openai import ChatOpenAI  # noqa: PLC0415

    return ChatOpenAI(
        base_url=BASE_URL,
        api_key="EMPTY",
        model=recorded_model(),
        stream_usage=True,
        **fake.clients(),
    )


def without_nones(value: Any) -> Any:
    """``value`` with ``None`` entries dropped from dicts, recursively."""
    if isinstance(value, dict):
        return {k: without_nones(v) for k, v in value.items() if v is not None}
    return value


def comparable(message: Any) -> dict[str, Any]:
    """What users read from a message, minus per-run ids and the provider tag.

    ``token_usage`` is compared without ``None`` entries: ChatOpenAI reports every field
    of the SDK's usage model (``audio_tokens: None`` …), ChatVLLM what the server sent.
    """
    metadata = {
        k: v for k, v in message.response_metadata.items() if k not in ("model_provider", "id")
    }
    metadata = without_nones(metadata)
    return {
        "content": message.content,
        "tool_calls": [{**c, "id": None} for c in message.tool_calls],
        "tool_call_chunks": [{**c, "id": None} for c in getattr(message, "tool_call_chunks", [])],
        "usage": message.usage_metadata,
        "metadata": metadata,
    }


@_CHAT_OPENAI_PROBES_SOCKETS
@pytest.mark.parametrize("tools", [False, True])
def test_streamed_chunks_equal_chat_openais(fake: FakeVLLM, *, tools: bool) -> None:
    ours: Any = make(fake, model=recorded_model())
    theirs: Any = chat_openai(fake)
    if tools:
        ours = ours.bind_tools([GetWeather], tool_choice="any")
        theirs = theirs.bind_tools([GetWeather], tool_choice="any", strict=True)
    our_chunks = list(ours.stream(MESSAGES))
    their_chunks = list(theirs.stream(MESSAGES))
    assert [comparable(c) for c in our_chunks] == [comparable(c) for c in their_chunks]
    assert all(c.response_metadata["model_provider"] == "vllm" for c in our_chunks if c.content)


@_CHAT_OPENAI_PROBES_SOCKETS
@pytest.mark.parametrize("tools", [False, True])
async def test_invoked_messages_equal_chat_openais(fake: FakeVLLM, *, tools: bool) -> None:
    ours: Any = make(fake, model=recorded_model())
    theirs: Any = chat_openai(fake)
    if tools:
        ours = ours.bind_tools([GetWeather], tool_choice="any")
        theirs = theirs.bind_tools([GetWeather], tool_choice="any", strict=True)
    assert comparable(await ours.ainvoke(MESSAGES)) == comparable(await theirs.ainvoke(MESSAGES))
    assert comparable(ours.invoke(MESSAGES)) == comparable(theirs.invoke(MESSAGES))


async def test_one_request_per_call_after_the_first(fake: FakeVLLM) -> None:
    llm = make(fake)
    llm.invoke(MESSAGES)
    before = len(fake.requests)
    llm.invoke(MESSAGES)
    list(llm.stream(MESSAGES))
    await llm.ainvoke(MESSAGES)
    _ = [c async for c in llm.astream(MESSAGES)]
    assert len(fake.requests) - before == 4
    assert {r.url.path for r in fake.requests[before:]} == {"/v1/chat/completions"}
