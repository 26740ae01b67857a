"""ChatVLLM through vllm-router in front of two CPU replicas (``consistent_hash`` policy)."""

from __future__ import annotations

import re
import uuid
import warnings

import httpx as plain_httpx
import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field

from langchain_vllm import ChatVLLM, _server
from tests.integration_tests.conftest import scripted

REPLICAS = ("http://127.0.0.1:8000", "http://127.0.0.1:8004")
QUESTION = [HumanMessage("What is the capital of France?")]
CITIES = ("Paris", "Rome", "Tokyo")


class GetWeather(BaseModel):
    """Get the current weather in a given city."""

    city: str = Field(description="The city name")


def served_by_each_replica() -> list[float]:
    """Finished requests per replica (``vllm:request_success_total``)."""
    counts = []
    for root in REPLICAS:
        metrics = plain_httpx.get(f"{root}/metrics", timeout=10).text
        pattern = r"^vllm:request_success_total\{[^}]*\} ([0-9.]+)$"
        values = re.findall(pattern, metrics, re.MULTILINE)
        counts.append(sum(float(v) for v in values))
    return counts


def test_discovery_chat_stream_tools_and_tokens_through_the_router(router_url: str) -> None:
    llm = ChatVLLM(base_url=router_url, temperature=0, max_tokens=16)
    capital = scripted("The capital of France is Paris.")  # whichever replica answers
    answer = llm.invoke(QUESTION, **capital)  # model discovered through the router's /v1/models
    assert answer.text
    assert llm.server_version() is not None  # the router passes /version on
    chunks = list(llm.stream(QUESTION, **capital))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == answer.text
    # vllm-router 0.1.17 does not pass tools' "strict" on; see the test below.
    tools = llm.bind_tools([GetWeather], tool_choice="any", strict=False)
    call = tools.invoke("Weather in Paris?", max_tokens=64)
    assert call.tool_calls[0]["name"] == "GetWeather"
    assert answer.usage_metadata is not None
    assert llm.get_num_tokens_from_messages(QUESTION) == answer.usage_metadata["input_tokens"]
    structured = llm.with_structured_output(GetWeather).invoke("Weather in Paris?", max_tokens=64)
    assert isinstance(structured, GetWeather)  # response_format passes the router intact


# consistent_hash with this launcher's two workers sends this session to the replica
# started with --tool-strict-level parameter (port 8004); the test checks it went there.
ON_STRICT_REPLICA = "strict-replica"


def test_strict_tools_through_the_router_warn_and_the_flag_keeps_them_strict(
    router_url: str,
) -> None:
    _server.forget(router_url)  # the warning comes once per server and process
    before = served_by_each_replica()
    llm = ChatVLLM(
        base_url=router_url, temperature=0, default_headers={"X-Session-ID": ON_STRICT_REPLICA}
    )
    tools = llm.bind_tools([GetWeather], tool_choice="any")
    with pytest.warns(UserWarning, match="--tool-strict-level parameter"):
        calls = [tools.invoke(f"Weather in {city}?", max_tokens=64) for city in CITIES]
    # the router dropped "strict", but the replica holds every tool to its schema
    assert [GetWeather.model_validate(c.tool_calls[0]["args"]).city for c in calls] == list(CITIES)
    served = [after - b for after, b in zip(served_by_each_replica(), before, strict=True)]
    assert served == [0, len(CITIES)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        tools.invoke("Weather in Paris?", max_tokens=64)


def test_sessions_spread_over_replicas_and_each_sticks_to_one(router_url: str) -> None:
    before = served_by_each_replica()
    for _ in range(20):  # all 20 on one replica by chance: 2 in a million
        session = {"X-Session-ID": uuid.uuid4().hex}
        ChatVLLM(base_url=router_url, max_tokens=2, default_headers=session).invoke(QUESTION)
    spread = [after - b for after, b in zip(served_by_each_replica(), before, strict=True)]
    assert sum(spread) == 20
    assert all(count > 0 for count in spread)  # the sessions did not all hash to one replica

    sticky = ChatVLLM(
        base_url=router_url, max_tokens=2, default_headers={"X-Session-ID": "conversation-1"}
    )
    before = served_by_each_replica()
    for _ in range(6):
        sticky.invoke(QUESTION)
    moved = [after - b for after, b in zip(served_by_each_replica(), before, strict=True)]
    assert sorted(moved) == [0, 6]  # one conversation, one replica (its prefix cache)
