"""VLLMRerank at the wire level, against the fake embedding server (recorded bodies)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from langchain_core.documents import Document

from langchain_vllm import VLLMModelNotFoundError, VLLMRerank
from tests.unit_tests.fake_vllm import BASE_URL, RECORDED_VERSIONS, FakeVLLM, load

QUERY = "What is the capital of France?"
DOCUMENTS = ["I like pizza.", "Paris is the capital of France.", "Bananas are yellow."]


def make(fake: FakeVLLM, **kwargs: Any) -> VLLMRerank:
    return VLLMRerank(base_url=BASE_URL, **fake.clients(), **kwargs)


@pytest.fixture(params=RECORDED_VERSIONS)
def pooling(request: pytest.FixtureRequest) -> FakeVLLM:
    """The fake embedding server, answering as each recorded vLLM (0.32, 0.16) did."""
    return FakeVLLM(pooling=True, version=request.param)


def recorded_ranking(version: str | None) -> list[tuple[int, float]]:
    results = load("rerank", version)["body"]["results"]
    pairs = [(r["index"], r["relevance_score"]) for r in results]
    return sorted(pairs, key=lambda pair: pair[1], reverse=True)


def test_rerank_sends_query_and_documents_and_ranks(pooling: FakeVLLM) -> None:
    results = make(pooling, top_n=None).rerank(QUERY, DOCUMENTS)
    request = next(r for r in pooling.requests if r.url.path == "/rerank")
    assert json.loads(request.content) == load("rerank", pooling.version)["request"]["json"]
    assert [(r["index"], r["relevance_score"]) for r in results] == recorded_ranking(
        pooling.version
    )
    assert results[0]["index"] == 1  # the real server ranked the relevant document first


def test_top_n_and_threshold(pooling: FakeVLLM) -> None:
    ranking = recorded_ranking(pooling.version)
    assert len(make(pooling, top_n=1).rerank(QUERY, DOCUMENTS)) == 1
    assert len(make(pooling).rerank(QUERY, DOCUMENTS, top_n=2)) == 2
    threshold = (ranking[0][1] + ranking[1][1]) / 2
    kept = make(pooling, top_n=None, score_threshold=threshold).rerank(QUERY, DOCUMENTS)
    assert [r["index"] for r in kept] == [ranking[0][0]]


def test_compress_documents_copies_with_scores(pooling: FakeVLLM) -> None:
    documents = [Document(text, metadata={"n": i}) for i, text in enumerate(DOCUMENTS)]
    ranked = make(pooling, top_n=2).compress_documents(documents, QUERY)
    assert [d.page_content for d in ranked] == [
        DOCUMENTS[i] for i, _ in recorded_ranking(pooling.version)[:2]
    ]
    assert ranked[0].metadata["relevance_score"] == recorded_ranking(pooling.version)[0][1]
    assert ranked[0].metadata["n"] == 1
    assert "relevance_score" not in documents[1].metadata  # inputs untouched


async def test_async_variants(pooling: FakeVLLM) -> None:
    reranker = make(pooling, top_n=None)
    assert await reranker.arerank(QUERY, DOCUMENTS) == reranker.rerank(QUERY, DOCUMENTS)
    ranked = await reranker.acompress_documents([Document(t) for t in DOCUMENTS], QUERY)
    assert ranked[0].page_content == DOCUMENTS[1]


async def test_servers_without_rerank_are_asked_through_score() -> None:
    fake = FakeVLLM(pooling=True)
    fake.routes_missing = {"/rerank"}
    results = make(fake, top_n=None).rerank(QUERY, DOCUMENTS)
    score = next(r for r in fake.requests if r.url.path == "/score")
    assert json.loads(score.content) == load("score")["request"]["json"]
    scores = sorted(
        ((d["index"], d["score"]) for d in load("score")["body"]["data"]),
        key=lambda pair: pair[1],
        reverse=True,
    )
    assert [(r["index"], r["relevance_score"]) for r in results] == scores
    assert [r["index"] for r in await make(fake, top_n=None).arerank(QUERY, DOCUMENTS)] == [
        index for index, _ in scores
    ]


def test_no_documents_no_request(pooling: FakeVLLM) -> None:
    assert make(pooling).rerank(QUERY, []) == []
    assert pooling.requests == []


def test_top_n_must_be_positive() -> None:
    with pytest.raises(ValueError, match="top_n=0 is out of range"):
        VLLMRerank(top_n=0)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_missing_model_or_endpoint_is_raised_not_tried_elsewhere(*, asynchronous: bool) -> None:
    def rerank(reranker: VLLMRerank) -> list[dict[str, Any]]:
        if asynchronous:
            return asyncio.run(reranker.arerank(QUERY, DOCUMENTS))
        return reranker.rerank(QUERY, DOCUMENTS)

    fake = FakeVLLM(pooling=True)
    with pytest.raises(VLLMModelNotFoundError):
        rerank(make(fake, model="not-served"))
    assert "/score" not in [r.url.path for r in fake.requests]  # a missing model: no fallback
    fake.routes_missing = {"/rerank", "/score"}
    with pytest.raises(openai.NotFoundError):
        rerank(make(fake, top_n=None))
    assert [r.url.path for r in fake.requests][-2:] == ["/rerank", "/score"]
