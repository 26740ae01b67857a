"""Every model family's recorded wire shapes, read by ChatVLLM without a server.

The bodies in ``fixtures/families/<family>/`` were recorded from the launcher's families and
gpt-oss servers (``scripts/record_fixtures.py --families``): the same answer invoked and
streamed, written in each family's own markup by the scripted model and parsed by vLLM's
parsers for that family. Replayed here, the streamed chunks must add up to the invoked
message (v0 and v1), and say what the model wrote.
"""

from __future__ import annotations

import asyncio
import json
import operator
import re
from functools import reduce
from typing import TYPE_CHECKING, Any

import pytest

from langchain_vllm import ChatVLLM
from langchain_vllm._http import httpx
from tests.families import BY_NAME
from tests.unit_tests.fake_vllm import BASE_URL, FIXTURES, FakeVLLM, recorded_model

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, AIMessageChunk

CASES = sorted(
    path.relative_to(FIXTURES).with_suffix("").as_posix()
    for path in (FIXTURES / "families").glob("*/*.json")
    if not path.stem.endswith("_stream")
)
NESTED = {"filter": {"city": "Zürich", "tags": ["café", "東京"]}, "limit": 3}


def test_every_family_was_recorded() -> None:
    recorded = {case.split("/")[1] for case in CASES}
    assert recorded == set(BY_NAME)


def replaying(case: str, **kwargs: Any) -> ChatVLLM:
    """A ChatVLLM whose chat requests get the recorded answer (streamed when asked)."""

    fake = FakeVLLM()  # the server's other routes (models, version), as recorded

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):
            return fake.handler(request)
        stream = json.loads(request.content).get("stream")
        fixture = json.loads((FIXTURES / f"{case}{'_stream' if stream else ''}.json").read_text())
        if stream:
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, content=fixture["body"].encode(), headers=headers)
        return httpx.Response(200, json=fixture["body"])

    transport = httpx.MockTransport(handler)
    return ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
        **kwargs,
    )


def four_ways(llm: ChatVLLM) -> list[AIMessage]:
    """Invoke, stream (summed), ainvoke and astream (summed)."""

    async def both() -> tuple[AIMessage, AIMessageChunk]:
        chunks = [chunk async for chunk in llm.astream("hi")]
        return await llm.ainvoke("hi"), reduce(operator.add, chunks)

    streamed = reduce(operator.add, list(llm.stream("hi")))
    return [llm.invoke("hi"), streamed, *asyncio.run(both())]


def view(message: AIMessage, family: str) -> dict[str, Any]:
    for call in message.tool_calls:
        assert re.fullmatch(BY_NAME[family].id_pattern, str(call["id"]))
    content = message.content
    if isinstance(content, list):
        content = [
            {k: v for k, v in block.items() if k not in ("id", "index")}  # type: ignore[union-attr]
            for block in content
        ]
    return {
        "content": content,
        "reasoning": message.additional_kwargs.get("reasoning_content"),
        "calls": [(call["name"], call["args"]) for call in message.tool_calls],
        "invalid": message.invalid_tool_calls,
        "finish_reason": message.response_metadata.get("finish_reason"),
        # the recorded invoke and stream differ in cached prompt tokens only
        "usage": {
            k: v for k, v in (message.usage_metadata or {}).items() if k != "input_token_details"
        },
    }


@pytest.mark.parametrize("output_version", ["v0", "v1"])
@pytest.mark.parametrize("case", CASES)
def test_streamed_chunks_add_up_to_the_invoked_message(case: str, output_version: str) -> None:
    family = case.split("/")[1]
    invoked, *others = four_ways(replaying(case, output_version=output_version))
    for other in others:
        assert view(other, family) == view(invoked, family)


@pytest.mark.parametrize("case", CASES)
def test_what_the_model_wrote(case: str) -> None:
    _, name, kind = case.split("/")
    family = BY_NAME[name]
    message = replaying(case).invoke("hi")
    calls = [(call["name"], call["args"]) for call in message.tool_calls]
    reasoning = message.additional_kwargs.get("reasoning_content")
    if kind == "text_then_calls":
        expected = [("search", NESTED), ("get_time", {})]
        assert calls == (expected if family.parallel_calls else expected[:1])
        assert message.content == ("Let me check." if family.text_before_calls else "")
        assert reasoning == ("I will call a tool." if family.always_thinks else None)
    elif kind == "reasoning_then_call":
        assert calls == [("get_weather", {"city": "Paris"})]
        assert (message.content, reasoning) == ("", "I need the weather.")
    else:
        assert calls == []
        assert (message.content, reasoning) == ("It is sunny.", "Paris is in France.")
