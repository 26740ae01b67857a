"""What ChatVLLM learns from the server outside chat calls, and how often it asks."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from langchain_vllm import ChatVLLM, _server
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, load, lora_card, recorded_model

MESSAGES = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("What is the capital of France?"),
]


def make(fake: FakeVLLM, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=BASE_URL, **fake.clients(), **kwargs)


def test_version_is_asked_once_per_base_url(fake: FakeVLLM) -> None:
    make(fake, model=recorded_model()).invoke(MESSAGES)
    make(fake, model=recorded_model()).invoke(MESSAGES)
    assert fake.paths().count("GET /version") == 1
    assert _server.cached_version(make(fake).root_client) == (True, "0.32.0")


async def test_public_version_lookup_and_refresh(fake: FakeVLLM) -> None:
    llm = make(fake)
    assert llm.server_version() == "0.32.0"
    assert await llm.aserver_version() == "0.32.0"
    fake.version = "0.33.0"
    assert llm.server_version() == "0.32.0"  # cached
    assert llm.server_version(refresh=True) == "0.33.0"
    assert fake.paths().count("GET /version") == 2


def test_version_root_is_the_base_url_without_v1(fake: FakeVLLM) -> None:
    llm = make(fake)
    assert _server.root_url(llm.root_client) == "http://vllm.test:8000"
    prefixed = ChatVLLM(base_url="http://router.test/vllm/v1/")
    assert _server.root_url(prefixed.root_client) == "http://router.test/vllm"


def test_missing_version_route_is_remembered_as_unknown() -> None:
    fake = FakeVLLM(version=None)
    make(fake, model=recorded_model()).invoke(MESSAGES)
    make(fake, model=recorded_model()).invoke(MESSAGES)
    assert fake.paths().count("GET /version") == 1
    assert _server.cached_version(make(fake).root_client) == (True, None)


def test_forget_and_refresh(fake: FakeVLLM) -> None:
    llm = make(fake, model=recorded_model())
    llm.invoke(MESSAGES)
    _server.forget(BASE_URL)
    llm.invoke(MESSAGES)
    assert fake.paths().count("GET /version") == 2
    assert fake.paths().count("GET /v1/models") == 2
    llm.served_models(refresh=True)
    assert fake.paths().count("GET /v1/models") == 3


def test_health(fake: FakeVLLM) -> None:
    assert _server.health(make(fake).root_client) is True
    fake.health = None  # no /health route
    assert _server.health(make(fake).root_client) is False


async def test_async_health(fake: FakeVLLM) -> None:
    assert await _server.ahealth(make(fake).root_async_client) is True
    fake.health = None
    assert await _server.ahealth(make(fake).root_async_client) is False


def test_profile_gets_max_input_tokens_from_the_model_card(fake: FakeVLLM) -> None:
    llm = make(fake)
    assert fake.requests == []  # nothing asked at construction
    assert llm.profile is not None
    assert llm.profile["structured_output"] is True  # a static key asks nothing
    assert fake.requests == []
    max_len = load("models")["body"]["data"][0]["max_model_len"]
    assert llm.profile["max_input_tokens"] == max_len  # read: asked once
    assert "POST /v1/chat/completions" not in fake.paths()  # the model card answers it
    # a later object for the same server knows it at once, without a request
    before = len(fake.requests)
    later = make(fake, model=recorded_model())
    assert later.profile is not None
    assert later.profile["max_input_tokens"] == max_len
    assert len(fake.requests) == before


def test_adapter_profile_uses_its_base_models_window() -> None:
    base = load("models")["body"]["data"][0]
    fake = FakeVLLM(models=[base, lora_card("my-lora", base["id"])])
    llm = make(fake, model="my-lora")
    llm.invoke(MESSAGES)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == base["max_model_len"]


def test_lora_adapters_list_their_parent() -> None:
    base = load("models")["body"]["data"][0]
    fake = FakeVLLM(models=[base, lora_card("sql-lora", base["id"])])
    adapters = make(fake).lora_adapters()
    assert [(a.id, a.parent) for a in adapters] == [("sql-lora", base["id"])]


def lora_server(*, allowed: bool) -> tuple[list[httpx.Request], dict[str, Any]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if not allowed:
            return httpx.Response(404, json={"detail": "Not Found"})
        if request.url.path == "/v1/unload_lora_adapter":
            return httpx.Response(
                404,
                json={"error": {"message": "The lora adapter 'x' cannot be found.", "code": 404}},
            )
        return httpx.Response(200, text="Success: LoRA adapter 'x' added successfully.")

    transport = httpx.MockTransport(handler)
    return seen, {
        "http_client": httpx.Client(transport=transport),
        "http_async_client": httpx.AsyncClient(transport=transport),
    }


def test_load_lora_adapter_posts_and_forgets_the_model_list(fake: FakeVLLM) -> None:
    make(fake).served_models()
    assert _server.cache_key(make(fake).root_client) in _server._models
    seen, clients = lora_server(allowed=True)
    ChatVLLM(base_url=BASE_URL, **clients).load_lora_adapter("x", "/adapters/x")
    assert seen[0].url.path == "/v1/load_lora_adapter"
    assert json.loads(seen[0].content) == {"lora_name": "x", "lora_path": "/adapters/x"}
    assert _server.cache_key(make(fake).root_client) not in _server._models


def test_unloading_an_unknown_adapter_keeps_the_servers_error() -> None:
    _, clients = lora_server(allowed=True)
    with pytest.raises(openai.NotFoundError, match="cannot be found"):
        ChatVLLM(base_url=BASE_URL, **clients).unload_lora_adapter("x")


async def test_runtime_lora_disabled_says_how_to_enable() -> None:
    _, clients = lora_server(allowed=False)
    llm = ChatVLLM(base_url=BASE_URL, **clients)
    with pytest.raises(RuntimeError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
        llm.load_lora_adapter("x", "/adapters/x")
    with pytest.raises(RuntimeError, match="--enable-lora"):
        await llm.aunload_lora_adapter("x")
