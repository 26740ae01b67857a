"""VLLMRerank against the real pooling server (all-MiniLM-L6-v2 scores by cosine)."""

from __future__ import annotations

from langchain_core.documents import Document

from langchain_vllm import VLLMRerank

QUERY = "What is the capital of France?"
DOCUMENTS = [
    "Bananas are rich in potassium.",
    "Paris is the capital and largest city of France.",
    "The stock market fell on Tuesday.",
    "Photosynthesis happens in chloroplasts.",
]


def test_relevant_document_ranks_first(embeddings_url: str) -> None:
    results = VLLMRerank(base_url=embeddings_url, top_n=None).rerank(QUERY, DOCUMENTS)
    assert results[0]["index"] == 1
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]


def test_compressor_keeps_top_n_with_scores(embeddings_url: str) -> None:
    documents = [Document(text, metadata={"source": i}) for i, text in enumerate(DOCUMENTS)]
    ranked = VLLMRerank(base_url=embeddings_url, top_n=2).compress_documents(documents, QUERY)
    assert len(ranked) == 2
    assert ranked[0].metadata["source"] == 1
    assert ranked[0].metadata["relevance_score"] > ranked[1].metadata["relevance_score"]


def test_score_threshold_drops_unrelated(embeddings_url: str) -> None:
    everything = VLLMRerank(base_url=embeddings_url, top_n=None).rerank(QUERY, DOCUMENTS)
    cut = (everything[0]["relevance_score"] + everything[1]["relevance_score"]) / 2
    kept = VLLMRerank(base_url=embeddings_url, top_n=None, score_threshold=cut).rerank(
        QUERY, DOCUMENTS
    )
    assert [r["index"] for r in kept] == [1]


async def test_async_rerank_matches_sync(embeddings_url: str) -> None:
    reranker = VLLMRerank(base_url=embeddings_url, top_n=3)
    asynchronous = await reranker.arerank(QUERY, DOCUMENTS)
    assert [r["index"] for r in asynchronous] == [
        r["index"] for r in reranker.rerank(QUERY, DOCUMENTS)
    ]
    ranked = await reranker.acompress_documents([Document(t) for t in DOCUMENTS], QUERY)
    assert ranked[0].page_content == DOCUMENTS[1]
