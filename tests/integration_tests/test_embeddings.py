"""VLLMEmbeddings against the real embedding server (all-MiniLM-L6-v2, ``--runner pooling``)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_core.exceptions import ContextOverflowError, ModelInvalidRequestError
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from langchain_vllm import VLLMEmbeddings
from tests.integration_tests.conftest import embeddings_base_url


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


class TestVLLMEmbeddingsStandard(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _server(self, embeddings_url: str) -> None:
        del embeddings_url  # started (or named) by the fixture

    @property
    def embeddings_class(self) -> type[VLLMEmbeddings]:
        return VLLMEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"base_url": embeddings_base_url()}


def test_similar_texts_score_higher_than_unrelated(embeddings_url: str) -> None:
    embeddings = VLLMEmbeddings(base_url=embeddings_url)
    query = embeddings.embed_query("What is the capital of France?")
    related, unrelated = embeddings.embed_documents(
        ["Paris is the capital of France.", "Bananas are rich in potassium."]
    )
    assert cosine(query, related) > cosine(query, unrelated) + 0.2


def test_chunked_concurrent_embedding_keeps_order(embeddings_url: str) -> None:
    texts = [f"Document number {i} is about topic {i % 7}." for i in range(45)]
    one_by_one = [VLLMEmbeddings(base_url=embeddings_url).embed_query(t) for t in texts[:5]]
    chunked = VLLMEmbeddings(base_url=embeddings_url, chunk_size=4).embed_documents(texts)
    assert len(chunked) == 45
    for single, batched in zip(one_by_one, chunked[:5], strict=True):
        assert cosine(single, batched) > 0.9999


async def test_async_chunks_match_sync(embeddings_url: str) -> None:
    texts = [f"Sentence {i}." for i in range(10)]
    embeddings = VLLMEmbeddings(base_url=embeddings_url, chunk_size=3)
    asynchronous = await embeddings.aembed_documents(texts)
    synchronous = embeddings.embed_documents(texts)
    for a, s in zip(asynchronous, synchronous, strict=True):
        assert cosine(a, s) > 0.9999


def test_vector_store_retrieves_the_relevant_text(embeddings_url: str) -> None:
    store = InMemoryVectorStore.from_texts(
        ["Paris is the capital of France.", "The mitochondria is the powerhouse of the cell."],
        VLLMEmbeddings(base_url=embeddings_url),
    )
    assert store.similarity_search("French capital city", k=1)[0].page_content.startswith("Paris")


def test_too_long_texts_overflow_unless_truncated(embeddings_url: str) -> None:
    long_text = "word " * 2000
    with pytest.raises(ContextOverflowError):
        VLLMEmbeddings(base_url=embeddings_url).embed_query(long_text)
    vector = VLLMEmbeddings(base_url=embeddings_url, truncate_prompt_tokens=64).embed_query(
        long_text
    )
    assert len(vector) == len(VLLMEmbeddings(base_url=embeddings_url).embed_query("word"))


def test_dimensions_on_a_non_matryoshka_model_says_what_to_do(embeddings_url: str) -> None:
    with pytest.raises(ModelInvalidRequestError, match="Leave dimensions unset"):
        VLLMEmbeddings(base_url=embeddings_url, dimensions=64).embed_query("x")
