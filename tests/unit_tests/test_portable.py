"""Model objects travel: pickled to workers (Ray, Dask, multiprocessing) and deep-copied.

The "worker" here is this process after what a worker would not have is dropped: the
learned server facts (``_server.forget``) and, for the copy's own clients, the pooled ones
it builds when unpickled, routed to the fake server by patching the pool functions of
``_http`` (the functions a fresh process calls).
"""

from __future__ import annotations

import asyncio
import copy
import pickle
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.prompts import ChatPromptTemplate

from langchain_vllm import ChatVLLM, VLLMCompletions, VLLMEmbeddings, VLLMRerank, _http, _server
from langchain_vllm._http import httpx
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, recorded_model

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = "sk-vllm-travels-4242"
ENV_KEY = "sk-vllm-from-env-1717"
CLASSES = [ChatVLLM, VLLMCompletions, VLLMEmbeddings, VLLMRerank]


def use(model: Any) -> Any:
    """One call of the class's main kind; returns what the server's answer became."""
    if isinstance(model, ChatVLLM):
        return model.invoke("What is the capital of France?").text
    if isinstance(model, VLLMCompletions):
        return model.invoke("The capital of France is")
    if isinstance(model, VLLMEmbeddings):
        return model.embed_query("Paris")
    return model.rerank("capital of France?", ["Paris is in France.", "Pizza."])


async def ause(model: Any) -> Any:
    """Async twin of :func:`use`."""
    if isinstance(model, ChatVLLM):
        return (await model.ainvoke("What is the capital of France?")).text
    if isinstance(model, VLLMCompletions):
        return await model.ainvoke("The capital of France is")
    if isinstance(model, VLLMEmbeddings):
        return await model.aembed_query("Paris")
    return await model.arerank("capital of France?", ["Paris is in France.", "Pizza."])


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> Callable[[type], FakeVLLM]:
    """Route the pooled clients every model object builds to a fake server for ``cls``."""
    fakes: dict[bool, FakeVLLM] = {}

    def route(cls: type) -> FakeVLLM:
        pooling = cls in (VLLMEmbeddings, VLLMRerank)
        fake = fakes.setdefault(pooling, FakeVLLM(pooling=pooling))
        transport = httpx.MockTransport(fake.handler)
        monkeypatch.setattr(
            _http, "sync_http_client", lambda *_a, **_k: httpx.Client(transport=transport)
        )
        monkeypatch.setattr(
            _http, "async_http_client", lambda *_a, **_k: httpx.AsyncClient(transport=transport)
        )
        return fake

    return route


def in_a_worker(data: bytes) -> Any:
    """Unpickle as a fresh worker process would: nothing learned about any server."""
    _server.forget()
    return pickle.loads(data)  # noqa: S301 - our own pickle


def settings(model: Any) -> dict[str, Any]:
    """What the user configured (everything but clients)."""
    skip = {"client", "async_client", "root_client", "root_async_client"}
    return {k: v for k, v in model.model_dump().items() if k not in skip}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_pickle_round_trip_before_use(cls: type, pools: Callable[[type], FakeVLLM]) -> None:
    fake = pools(cls)
    model = cls(base_url=BASE_URL, max_retries=1, timeout=30)
    assert fake.requests == []  # construction made no call
    copied = in_a_worker(pickle.dumps(model))
    assert type(copied) is cls
    assert settings(copied) == settings(model)
    assert use(copied) == use(model)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_pickle_round_trip_after_use(cls: type, pools: Callable[[type], FakeVLLM]) -> None:
    fake = pools(cls)
    model = cls(base_url=BASE_URL)  # the model is discovered on first use
    answer = use(model)
    assert model.model_id is not None
    asyncio.run(ause(model))  # async pools exist now, bound to a closed loop
    copied = in_a_worker(pickle.dumps(model))
    assert copied.model_id is None  # learned facts stay behind; the worker learns them
    before = len(fake.requests)
    assert use(copied) == answer
    assert "GET /v1/models" in fake.paths()[before:]
    assert copied.model_id == model.model_id
    assert asyncio.run(ause(copied)) == asyncio.run(ause(model))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_copy_builds_its_own_clients_from_the_pools_of_its_process(cls: type) -> None:
    model = cls(base_url=BASE_URL)
    copied = pickle.loads(pickle.dumps(model))  # noqa: S301
    sync, async_ = copied._vllm.clients
    original_sync, _ = model._vllm.clients
    assert sync is not original_sync  # a new SDK client...
    assert sync is not None
    assert original_sync is not None
    assert sync._client is _http.sync_http_client(BASE_URL, None)
    assert async_._client is _http.async_http_client(BASE_URL, None)
    assert str(sync.base_url) == f"{BASE_URL}/"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_key_from_the_environment_is_not_in_the_pickle(
    cls: type, pools: Callable[[type], FakeVLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = pools(cls)
    monkeypatch.setenv("VLLM_API_KEY", ENV_KEY)
    data = pickle.dumps(cls(base_url=BASE_URL))
    assert ENV_KEY.encode() not in data
    monkeypatch.setenv("VLLM_API_KEY", "sk-the-workers-own")  # the worker's environment
    copied = in_a_worker(data)
    use(copied)
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-the-workers-own"
    monkeypatch.delenv("VLLM_API_KEY")
    use(in_a_worker(data))
    assert fake.requests[-1].headers["authorization"] == "Bearer EMPTY"  # vLLM's default


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_key_passed_explicitly_travels_with_the_pickle(
    cls: type, pools: Callable[[type], FakeVLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = pools(cls)
    monkeypatch.setenv("VLLM_API_KEY", "sk-not-this-one")
    data = pickle.dumps(cls(base_url=BASE_URL, api_key=KEY))
    assert KEY.encode() in data  # documented: a key given as api_key= is in the pickle
    use(in_a_worker(data))
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_deepcopy_before_and_after_use(
    cls: type, pools: Callable[[type], FakeVLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = pools(cls)
    monkeypatch.setenv("VLLM_API_KEY", ENV_KEY)
    model = cls(base_url=BASE_URL)
    fresh = copy.deepcopy(model)
    answer = use(model)
    asyncio.run(ause(model))
    used = copy.deepcopy(model)
    for copied in (fresh, used, model.model_copy(deep=True)):
        assert copied is not model
        assert settings(copied) == settings(model)
        assert copied._vllm.clients == model._vllm.clients
        assert use(copied) == answer
        assert fake.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_own_http_client_cannot_be_pickled_and_says_why(cls: type, fake: FakeVLLM) -> None:
    model = cls(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    with pytest.raises(TypeError, match="http_client and http_async_client cannot be pickled"):
        pickle.dumps(model)
    assert copy.deepcopy(model).model_id == model.model_id  # a deep copy shares them


def test_a_chain_and_a_bound_model_travel(pools: Callable[[type], FakeVLLM]) -> None:
    pools(ChatVLLM)
    llm = ChatVLLM(base_url=BASE_URL, temperature=0)
    chain = ChatPromptTemplate.from_messages([("human", "Capital of {country}?")]) | llm.bind(
        max_tokens=16, top_k=5
    )
    answer = chain.invoke({"country": "France"}).text
    copied = in_a_worker(pickle.dumps(chain))
    assert copied.invoke({"country": "France"}).text == answer
    assert copy.deepcopy(chain).invoke({"country": "France"}).text == answer


def test_streaming_copy(pools: Callable[[type], FakeVLLM]) -> None:
    pools(ChatVLLM)
    llm = ChatVLLM(base_url=BASE_URL)
    text = "".join(chunk.text for chunk in llm.stream("hi"))
    copied = in_a_worker(pickle.dumps(llm))
    assert "".join(chunk.text for chunk in copied.stream("hi")) == text
