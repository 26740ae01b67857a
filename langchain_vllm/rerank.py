"""VLLMRerank: a LangChain document compressor over a vLLM server's ``/rerank``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import openai
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field, model_validator

from langchain_vllm import _server, errors
from langchain_vllm._endpoint import VLLMEndpoint, base_url_from_env

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Self

    from langchain_core.callbacks import Callbacks


class VLLMRerank(VLLMEndpoint, BaseDocumentCompressor):
    r"""Rerank documents by relevance to a query with a vLLM server's ``/rerank``.

    Works with cross-encoder (``--runner pooling`` with a reranker such as
    ``BAAI/bge-reranker-base``) and embedding models (vLLM then scores by cosine
    similarity). Servers without ``/rerank`` are asked through ``/score`` instead.

    Setup:
        .. code-block:: bash

            vllm serve BAAI/bge-reranker-base --runner pooling --port 8001
            export VLLM_EMBEDDINGS_BASE_URL="http://localhost:8001/v1"

    Key init args:
        model: str | None
            Served model id; discovered from ``/v1/models`` when omitted.
        base_url: str
            Default from ``VLLM_RERANK_BASE_URL``, ``VLLM_EMBEDDINGS_BASE_URL``, then
            ``VLLM_BASE_URL``, else ``http://localhost:8000/v1``.
        top_n: int | None
            How many documents to keep (default 3; ``None``: all).
        score_threshold: float | None
            Drop documents scoring below this.

    Instantiate:
        .. code-block:: python

            from langchain_vllm import VLLMRerank

            reranker = VLLMRerank(top_n=2)

    Rerank documents:
        .. code-block:: python

            from langchain_core.documents import Document

            docs = [Document("Paris is the capital of France."), Document("I like pizza.")]
            best = reranker.compress_documents(docs, "What is the capital of France?")
            best[0].metadata["relevance_score"]

    Rerank strings:
        .. code-block:: python

            reranker.rerank("capital of France?", ["Paris is in France.", "Pizza."])
            # [{'index': 0, 'relevance_score': 0.71}, {'index': 1, 'relevance_score': 0.08}]

    In a retrieval pipeline:
        .. code-block:: python

            from langchain_core.vectorstores import InMemoryVectorStore

            from langchain_vllm import VLLMEmbeddings

            store = InMemoryVectorStore.from_documents(docs, VLLMEmbeddings())
            candidates = store.as_retriever(search_kwargs={"k": 2}).invoke("French capital")
            reranker.compress_documents(candidates, "What is the capital of France?")

        (or as ``base_compressor`` of langchain-classic's ``ContextualCompressionRetriever``).

    Worker processes:
        Pickles (Ray, Dask, ``multiprocessing``) and deep copies work as for
        :class:`~langchain_vllm.ChatVLLM`; its "Worker processes" section says how
        (connections, the API key, ``http_client``, a model discovered again).
    """

    base_url: str = Field(
        default_factory=base_url_from_env(
            "VLLM_RERANK_BASE_URL", "VLLM_EMBEDDINGS_BASE_URL", "VLLM_BASE_URL"
        )
    )
    """Server URL including ``/v1``."""

    top_n: int | None = 3
    """How many of the best documents to return (``None``: all of them)."""

    score_threshold: float | None = None
    """Documents scoring below this are dropped."""

    truncate_prompt_tokens: int | None = None
    """Keep only the last ``n`` tokens of each query+document pair (``-1``: model's limit)."""

    @model_validator(mode="after")
    def _check_top_n(self) -> Self:
        if self.top_n is not None and self.top_n < 1:
            msg = f"top_n={self.top_n} is out of range: pass a positive number or None (all)."
            raise ValueError(msg)
        return self

    # ------------------------------------------------------------------ wire

    def _rerank_body(self, model: str, query: str, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "query": query, "documents": texts}
        if self.truncate_prompt_tokens is not None:
            body["truncate_prompt_tokens"] = self.truncate_prompt_tokens
        return body

    def _attempts(self, model: str, query: str, texts: list[str]) -> list[_Attempt]:
        """``/rerank`` first; ``/score`` for servers that predate ``/rerank``."""
        return [
            ("/rerank", self._rerank_body(model, query, texts), _from_rerank),
            ("/score", {"model": model, "text_1": query, "text_2": texts}, _from_score),
        ]

    def _select(self, scores: list[tuple[int, float]], top_n: int | None) -> list[dict[str, Any]]:
        ranked = sorted(scores, key=lambda pair: pair[1], reverse=True)
        if self.score_threshold is not None:
            ranked = [pair for pair in ranked if pair[1] >= self.score_threshold]
        limit = top_n if top_n is not None else self.top_n
        if limit is not None:
            ranked = ranked[:limit]
        return [{"index": index, "relevance_score": score} for index, score in ranked]

    # ------------------------------------------------------------------ public

    @_server.resend_if_server_changed
    def rerank(
        self, query: str, documents: Sequence[str | Document], *, top_n: int | None = None
    ) -> list[dict[str, Any]]:
        """Score ``documents`` against ``query``; best first, as ``top_n`` and the threshold say.

        Returns:
            ``[{"index": <position in documents>, "relevance_score": <float>}, ...]``.
        """
        texts = _texts(documents)
        if not texts:
            return []
        model = self._vllm.pick_model(self.model)
        return self._ranked(self._attempts(model, query, texts), top_n)

    @_server.resend_if_server_changed
    async def arerank(
        self, query: str, documents: Sequence[str | Document], *, top_n: int | None = None
    ) -> list[dict[str, Any]]:
        """Async twin of :meth:`rerank`."""
        texts = _texts(documents)
        if not texts:
            return []
        model = await self._vllm.apick_model(self.model)
        return await self._aranked(self._attempts(model, query, texts), top_n)

    def _ranked(self, attempts: list[_Attempt], top_n: int | None) -> list[dict[str, Any]]:
        """The first of ``attempts`` the server has the endpoint for, its scores ranked."""
        root = _server.root_url(self.client)
        with self._vllm.explained_errors():
            for path, body, parse in attempts:
                with _falls_back(path, attempts):
                    return self._select(
                        parse(self.client.post(root + path, body=body, cast_to=object)), top_n
                    )
        return []  # pragma: no cover - the loop returns or raises

    async def _aranked(self, attempts: list[_Attempt], top_n: int | None) -> list[dict[str, Any]]:
        """Async twin of :meth:`_ranked`."""
        root = _server.root_url(self.async_client)
        async with self._vllm.aexplained_errors():
            for path, body, parse in attempts:
                with _falls_back(path, attempts):
                    return self._select(
                        parse(await self.async_client.post(root + path, body=body, cast_to=object)),
                        top_n,
                    )
        return []  # pragma: no cover - the loop returns or raises

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The most relevant ``documents`` for ``query``, best first.

        Each returned document is a copy with ``metadata["relevance_score"]`` added.
        """
        del callbacks
        return _ranked(documents, self.rerank(query, documents))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async twin of :meth:`compress_documents`."""
        del callbacks
        return _ranked(documents, await self.arerank(query, documents))


_Attempt = tuple[str, dict[str, Any], "Callable[[Any], list[tuple[int, float]]]"]


@contextmanager
def _falls_back(path: str, attempts: list[_Attempt]) -> Iterator[None]:
    """Let a 404 for a missing endpoint ``path`` fall back to the next of ``attempts``.

    A 404 for a missing model, or from the last attempt, is raised.
    """
    try:
        yield
    except openai.NotFoundError as error:
        if errors.missing(error) == "model" or path == attempts[-1][0]:
            raise


def _from_rerank(answer: Any) -> list[tuple[int, float]]:
    return [(int(r["index"]), float(r["relevance_score"])) for r in answer["results"]]


def _from_score(answer: Any) -> list[tuple[int, float]]:
    return [(int(d["index"]), float(d["score"])) for d in answer["data"]]


def _texts(documents: Sequence[str | Document]) -> list[str]:
    return [d.page_content if isinstance(d, Document) else str(d) for d in documents]


def _ranked(documents: Sequence[Document], results: list[dict[str, Any]]) -> list[Document]:
    ranked = []
    for result in results:
        original = documents[result["index"]]
        metadata = {**original.metadata, "relevance_score": result["relevance_score"]}
        ranked.append(original.model_copy(update={"metadata": metadata}))
    return ranked
