"""What ChatVLLM learns from the server outside chat calls, and how often it asks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import openai
import pytest
from langchain_core.exceptions import ModelInvalidRequestError, ModelNotFoundError

from langchain_vllm import (
    ChatVLLM,
    VLLMCompletions,
    VLLMEmbeddings,
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
    VLLMRerank,
    _server,
)
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import (
    BASE_URL,
    MESSAGES,
    FakeVLLM,
    load,
    lora_card,
    make,
    recorded_model,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping


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


# ---------------------------------------------------------------- a server that changed under it


def chat_models(fake: FakeVLLM) -> list[str]:
    """The ``model`` of each chat request sent so far."""
    return [body["model"] for body in fake.chat_bodies()]


def ask(llm: ChatVLLM, how: str, **kwargs: Any) -> str:
    """Ask ``llm`` one question the way ``how`` says; the answer's text."""
    if how == "invoke":
        return llm.invoke(MESSAGES, **kwargs).text
    if how == "ainvoke":
        return asyncio.run(llm.ainvoke(MESSAGES, **kwargs)).text

    async def astream() -> str:
        return "".join([chunk.text async for chunk in llm.astream(MESSAGES, **kwargs)])

    if how == "astream":
        return asyncio.run(astream())
    return "".join(chunk.text for chunk in llm.stream(MESSAGES, **kwargs))


HOW = ["invoke", "ainvoke", "stream", "astream"]


@pytest.mark.parametrize("how", HOW)
def test_a_discovered_model_is_discovered_again_after_a_restart(fake: FakeVLLM, how: str) -> None:
    llm = make(fake)  # the model is discovered
    answer = ask(llm, how)
    fake.restart_as("model-b")
    assert ask(llm, how) == answer  # refused with a 404, rediscovered, sent once more
    assert chat_models(fake) == [recorded_model(), recorded_model(), "model-b"]
    assert llm.model_id == "model-b"
    learned = fake.paths().count("GET /v1/models")
    assert ask(llm, how) == answer  # learned for good: no more lookups
    assert fake.paths().count("GET /v1/models") == learned
    assert chat_models(fake)[-1] == "model-b"


@pytest.mark.parametrize("how", HOW)
def test_a_named_model_keeps_its_clear_error(fake: FakeVLLM, how: str) -> None:
    llm = make(fake, model=recorded_model())
    ask(llm, how)
    fake.restart_as("model-b")
    with pytest.raises(VLLMModelNotFoundError, match="serves base models: model-b"):
        ask(llm, how)
    assert chat_models(fake) == [recorded_model(), recorded_model()]  # not resent
    with pytest.raises(ModelNotFoundError):
        ask(make(fake), how, model="no-such-model")  # named per call: not resent either


def test_a_model_discovered_by_another_object_is_discovered_again(fake: FakeVLLM) -> None:
    make(fake).invoke(MESSAGES)  # the model list is cached for the URL
    fake.restart_as("model-b")
    assert make(fake).invoke(MESSAGES).text  # learned from the stale cache, then again
    assert chat_models(fake) == [recorded_model(), recorded_model(), "model-b"]


def test_several_models_after_a_restart_ask_the_user_to_pick(fake: FakeVLLM) -> None:
    llm = make(fake)
    llm.invoke(MESSAGES)
    card = fake.models_body["data"][0]
    fake.models_body["data"] = [{**card, "id": "model-b"}, {**card, "id": "model-c"}]
    with pytest.raises(VLLMModelNotFoundError, match="model-b, model-c"):
        llm.invoke(MESSAGES)
    with pytest.raises(VLLMModelSelectionError, match="pass the one to use as model="):
        llm.invoke(MESSAGES)
    assert len(chat_models(fake)) == 2  # nothing resent


@pytest.mark.parametrize("how", HOW)
def test_a_version_whose_wire_format_is_refused_is_learned_again(fake: FakeVLLM, how: str) -> None:
    llm = make(fake, max_tokens=8)
    ask(llm, how)
    assert "max_completion_tokens" in fake.chat_bodies()[-1]
    fake.version = "0.6.3"  # downgraded: its request models forbid fields they do not know
    fake.refuses = {"max_completion_tokens"}
    assert ask(llm, how)
    sent = fake.chat_bodies()
    assert [("max_tokens" in body, "max_completion_tokens" in body) for body in sent] == [
        (False, True),
        (False, True),  # refused with a 400 before any generation
        (True, False),  # the version's spelling, sent once more
    ]
    assert llm.server_version() == "0.6.3"


def test_an_upgrade_that_refuses_guided_fields_is_learned_again(fake: FakeVLLM) -> None:
    fake.version = "0.11.0"  # reads guided_* fields
    llm = make(fake)
    choice = llm.with_structured_output(["Paris", "Rome"], method="choice")
    choice.invoke("Capital of France?")
    assert fake.chat_bodies()[-1]["guided_choice"] == ["Paris", "Rome"]
    fake.version = "0.32.0"
    fake.refuses = {"guided_choice"}
    assert choice.invoke("Capital of France?")
    assert fake.chat_bodies()[-1]["structured_outputs"] == {"choice": ["Paris", "Rome"]}
    assert len(fake.chat_bodies()) == 3


def test_a_refused_field_of_an_unchanged_version_is_not_resent(fake: FakeVLLM) -> None:
    llm = make(fake, max_tokens=8)
    llm.invoke(MESSAGES)
    fake.refuses = {"max_completion_tokens"}  # the same version refuses it: nothing to learn
    with pytest.raises(ModelInvalidRequestError, match="max_completion_tokens"):
        llm.invoke(MESSAGES)
    assert len(fake.chat_bodies()) == 2
    assert fake.paths().count("GET /version") == 2  # asked once more, found unchanged


@pytest.mark.parametrize(
    "count",
    [
        lambda llm: llm.get_num_tokens_from_messages(MESSAGES),
        lambda llm: asyncio.run(llm.aget_num_tokens_from_messages(MESSAGES)),
        lambda llm: len(llm.get_token_ids("Hello world")),
        lambda llm: len(asyncio.run(llm.aget_token_ids("Hello world"))),
    ],
)
def test_token_counts_follow_a_restart(fake: FakeVLLM, count: Callable[[Any], int]) -> None:
    llm = make(fake)
    tokens = count(llm)
    fake.restart_as("model-b")
    assert count(llm) == tokens
    sent = [json.loads(r.content)["model"] for r in fake.requests if r.url.path == "/tokenize"]
    assert sent == [recorded_model(), recorded_model(), "model-b"]


@pytest.mark.parametrize(
    ("cls", "call"),
    [
        (VLLMCompletions, lambda m: m.invoke("The capital of France is")),
        (VLLMCompletions, lambda m: "".join(m.stream("The capital of France is"))),
        (VLLMCompletions, lambda m: asyncio.run(m.ainvoke("The capital of France is"))),
        (VLLMEmbeddings, lambda m: m.embed_documents(["Paris", "Rome"])),
        (VLLMEmbeddings, lambda m: asyncio.run(m.aembed_query("Paris"))),
        (VLLMRerank, lambda m: m.rerank("capital?", ["Paris", "Pizza"])),
        (VLLMRerank, lambda m: asyncio.run(m.arerank("capital?", ["Paris", "Pizza"]))),
    ],
)
def test_companions_discover_their_model_again_after_a_restart(
    cls: type, call: Callable[[Any], Any]
) -> None:
    fake = FakeVLLM(pooling=cls is not VLLMCompletions)
    model = cls(base_url=BASE_URL, **fake.clients())
    answer = call(model)
    fake.restart_as("model-b")
    assert call(model) == answer
    assert model.model_id == "model-b"
    named = cls(base_url=BASE_URL, model=model.model_id, **fake.clients())
    fake.restart_as("model-c")
    with pytest.raises(VLLMModelNotFoundError, match="model-c"):
        call(named)


class AlwaysChanged:
    """A server that, asked again, has always changed."""

    def __init__(self) -> None:
        self.relearned = 0

    def relearn(self, error: Exception, call: Mapping[str, Any], model_id: object) -> bool:
        del error, call, model_id
        self.relearned += 1
        return True  # "something changed": resend

    async def arelearn(self, error: Exception, call: Mapping[str, Any], model_id: object) -> bool:
        return self.relearn(error, call, model_id)


class Flaky:
    """A request method that fails as a changed server would, ``failures`` times."""

    model_id = None

    def __init__(self, failures: int, chunks_before_failing: int = 0) -> None:
        self.failures = failures
        self.chunks_before_failing = chunks_before_failing
        self.sent = 0
        self._vllm = AlwaysChanged()

    @property
    def relearned(self) -> int:
        return self._vllm.relearned

    @_server.resend_if_server_changed
    def stream(self) -> Iterator[int]:
        self.sent += 1
        yield from range(self.chunks_before_failing)
        if self.sent <= self.failures:
            raise VLLMModelNotFoundError(
                message="gone", response=httpx.Response(404, request=REQUEST), body=None
            )
        yield 99

    @_server.resend_if_server_changed
    async def astream(self) -> AsyncIterator[int]:
        for item in self.stream.__wrapped__(self):  # type: ignore[attr-defined]
            yield item


def _all(stream: Iterator[int] | AsyncIterator[int], received: list[int] | None = None) -> None:
    """Read ``stream`` (sync or async) into ``received``."""
    received = [] if received is None else received
    if isinstance(stream, AsyncIterator):

        async def read() -> None:
            async for item in stream:
                received.append(item)  # one by one: keeps what came before an error

        asyncio.run(read())
    else:
        received.extend(stream)


REQUEST = httpx.Request("POST", f"{BASE_URL}/chat/completions")


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_request_is_resent_once_at_most(how: str) -> None:
    received: list[int] = []
    _all(getattr(Flaky(failures=1), how)(), received)
    assert received == [99]
    flaky = Flaky(failures=2)
    with pytest.raises(VLLMModelNotFoundError):
        _all(getattr(flaky, how)())
    assert (flaky.sent, flaky.relearned) == (2, 1)


@pytest.mark.parametrize("how", ["stream", "astream"])
def test_a_stream_that_already_yielded_is_not_resent(how: str) -> None:
    flaky = Flaky(failures=1, chunks_before_failing=2)
    received: list[int] = []
    with pytest.raises(VLLMModelNotFoundError):
        _all(getattr(flaky, how)(), received)
    assert received == [0, 1]
    assert (flaky.sent, flaky.relearned) == (1, 0)
