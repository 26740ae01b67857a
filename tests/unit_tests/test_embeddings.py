"""VLLMEmbeddings at the wire level, against the fake embedding server (recorded bodies)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_vllm import VLLMEmbeddings
from tests.unit_tests.fake_vllm import BASE_URL, RECORDED_VERSIONS, FakeVLLM, load


@pytest.fixture(params=RECORDED_VERSIONS)
def pooling(request: pytest.FixtureRequest) -> FakeVLLM:
    """The fake embedding server, answering as each recorded vLLM (0.32, 0.16) did."""
    return FakeVLLM(pooling=True, version=request.param)


def make(fake: FakeVLLM, **kwargs: Any) -> VLLMEmbeddings:
    return VLLMEmbeddings(base_url=BASE_URL, **fake.clients(), **kwargs)


def recorded_vectors(version: str | None) -> list[list[float]]:
    return [item["embedding"] for item in load("embeddings", version)["body"]["data"]]


class TestVLLMEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[VLLMEmbeddings]:
        return VLLMEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "all-MiniLM-L6-v2", "base_url": BASE_URL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"VLLM_EMBEDDINGS_BASE_URL": "http://embed.test/v1", "VLLM_API_KEY": "secret"},
            {"model": "all-MiniLM-L6-v2"},
            {"base_url": "http://embed.test/v1"},
        )


def body_of(fake: FakeVLLM, index: int = -1) -> dict[str, Any]:
    embeds = [r for r in fake.requests if r.url.path == "/v1/embeddings"]
    return dict(json.loads(embeds[index].content))


def test_raw_text_is_sent_and_vectors_come_back_in_order(pooling: FakeVLLM) -> None:
    texts = ["Paris is the capital of France.", "I like pizza."]
    vectors = make(pooling).embed_documents(texts)
    assert body_of(pooling)["input"] == texts  # the texts themselves, never token ids
    assert (
        body_of(pooling)["model"] == load("embed_models", pooling.version)["body"]["data"][0]["id"]
    )
    expected = recorded_vectors(pooling.version)
    assert len(vectors) == 2
    for got, want in zip(vectors, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-6)


def test_model_is_discovered_once(pooling: FakeVLLM) -> None:
    embeddings = make(pooling)
    embeddings.embed_query("a")
    embeddings.embed_query("b")
    assert pooling.paths().count("GET /v1/models") == 1
    assert embeddings.model_id == "all-MiniLM-L6-v2"


def test_big_inputs_are_chunked_and_keep_their_order(pooling: FakeVLLM) -> None:
    texts = [f"text {i}" for i in range(11)]
    vectors = make(pooling, chunk_size=3, max_concurrency=4).embed_documents(texts)
    sent = [body_of(pooling, i)["input"] for i in range(4)]
    assert sorted(sent) == sorted([texts[0:3], texts[3:6], texts[6:9], texts[9:11]])
    expected = recorded_vectors(pooling.version)
    # the fake answers chunk position i with recorded vector i % 2: order must follow input
    for start in range(0, 11, 3):
        for offset, vector in enumerate(vectors[start : start + 3]):
            assert vector == pytest.approx(expected[offset % 2], rel=1e-6)


async def test_async_chunks_concurrently_in_order(pooling: FakeVLLM) -> None:
    texts = [f"text {i}" for i in range(7)]
    vectors = await make(pooling, chunk_size=2).aembed_documents(texts)
    assert len(vectors) == 7
    assert len([r for r in pooling.requests if r.url.path == "/v1/embeddings"]) == 4
    assert await make(pooling).aembed_query("x") == pytest.approx(
        recorded_vectors(pooling.version)[0]
    )


def test_empty_input_makes_no_request(pooling: FakeVLLM) -> None:
    assert make(pooling).embed_documents([]) == []
    assert pooling.requests == []


def test_truncate_and_dimensions_are_sent(pooling: FakeVLLM) -> None:
    make(pooling, truncate_prompt_tokens=16).embed_query("x")
    assert body_of(pooling)["truncate_prompt_tokens"] == 16
    with pytest.raises(ModelInvalidRequestError, match="Leave dimensions unset"):
        make(pooling, dimensions=8).embed_query("x")
    assert body_of(pooling)["dimensions"] == 8


@pytest.mark.parametrize(
    ("field", "value"),
    [("chunk_size", 0), ("max_concurrency", 0), ("dimensions", 0), ("truncate_prompt_tokens", -2)],
)
def test_bad_sizes_fail_at_construction(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{field}={value} is out of range"):
        VLLMEmbeddings(**{field: value})


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert VLLMEmbeddings().base_url == "http://localhost:8000/v1"
    monkeypatch.setenv("VLLM_BASE_URL", "http://chat.test/v1")
    assert VLLMEmbeddings().base_url == "http://chat.test/v1"
    monkeypatch.setenv("VLLM_EMBEDDINGS_BASE_URL", "http://embed.test/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    embeddings = VLLMEmbeddings()
    assert embeddings.base_url == "http://embed.test/v1"
    assert embeddings.api_key.get_secret_value() == "EMPTY"
    assert "EMPTY" not in repr(embeddings)
