"""VLLMEmbeddings: LangChain embeddings from a vLLM server's ``/v1/embeddings``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from pydantic import Field, model_validator

from langchain_vllm import _server
from langchain_vllm._endpoint import VLLMEndpoint, base_url_from_env

if TYPE_CHECKING:
    from typing import Self

    from openai.types import CreateEmbeddingResponse


class VLLMEmbeddings(VLLMEndpoint, Embeddings):
    r"""Embeddings from a vLLM server (``vllm serve <model> --runner pooling``).

    Sends the texts themselves (never token ids, the pitfall of ``OpenAIEmbeddings``
    pointed at vLLM, which tokenizes with OpenAI's tiktoken vocabulary and sends the ids).
    Big inputs are split into ``chunk_size`` texts per request and sent concurrently, as vLLM
    batches them; results come back in input order.

    Setup:
        .. code-block:: bash

            vllm serve sentence-transformers/all-MiniLM-L6-v2 --runner pooling --port 8001
            export VLLM_EMBEDDINGS_BASE_URL="http://localhost:8001/v1"
            pip install -U langchain-vllm

    Key init args:
        model: str | None
            Served model id; discovered from ``/v1/models`` when omitted.
        base_url: str
            Default from ``VLLM_EMBEDDINGS_BASE_URL``, else ``VLLM_BASE_URL``, else
            ``http://localhost:8000/v1``.
        api_key: SecretStr
            Default from ``VLLM_API_KEY``, else ``"EMPTY"``.
        dimensions: int | None
            Shorter vectors from a Matryoshka model (others answer with an error).
        truncate_prompt_tokens: int | None
            Keep only the last ``n`` tokens of each text (``-1``: the model's limit), instead
            of failing on texts longer than the model takes.
        chunk_size: int
            Texts per request (default 64).
        max_concurrency: int
            Requests in flight at once (default 8).

    Instantiate:
        .. code-block:: python

            from langchain_vllm import VLLMEmbeddings

            embeddings = VLLMEmbeddings()  # server from the environment, model discovered

    Embed:
        .. code-block:: python

            vector = embeddings.embed_query("What is the capital of France?")
            vectors = embeddings.embed_documents(["Paris is in France.", "Rome is in Italy."])
            await embeddings.aembed_documents(["..."])

    Vector store:
        .. code-block:: python

            from langchain_core.vectorstores import InMemoryVectorStore

            store = InMemoryVectorStore.from_texts(["Paris is in France."], embeddings)
            store.similarity_search("French capital", k=1)

    Worker processes:
        Pickles (Ray, Dask, ``multiprocessing``) and deep copies work as for
        :class:`~langchain_vllm.ChatVLLM`; its "Worker processes" section says how
        (connections, the API key, ``http_client``, a model discovered again).
    """

    base_url: str = Field(
        default_factory=base_url_from_env("VLLM_EMBEDDINGS_BASE_URL", "VLLM_BASE_URL")
    )
    """Server URL including ``/v1``: ``VLLM_EMBEDDINGS_BASE_URL``, else ``VLLM_BASE_URL``."""

    dimensions: int | None = None
    """Output size for Matryoshka models; ``None`` keeps the model's own size."""

    truncate_prompt_tokens: int | None = None
    """Keep the last ``n`` tokens of each text (``-1``: as many as the model takes)."""

    chunk_size: int = 64
    """How many texts go in one request."""

    max_concurrency: int = 8
    """How many requests are in flight at once for big inputs."""

    @model_validator(mode="after")
    def _check_sizes(self) -> Self:
        for name, value, least in (
            ("chunk_size", self.chunk_size, 1),
            ("max_concurrency", self.max_concurrency, 1),
            ("dimensions", self.dimensions, 1),
            ("truncate_prompt_tokens", self.truncate_prompt_tokens, -1),
        ):
            if value is not None and value < least:
                msg = f"{name}={value} is out of range: {name} must be at least {least}."
                raise ValueError(msg)
        return self

    def _request(self, model: str, texts: list[str]) -> dict[str, Any]:
        request: dict[str, Any] = {"model": model, "input": texts}
        if self.dimensions is not None:
            request["dimensions"] = self.dimensions
        if self.truncate_prompt_tokens is not None:
            request["extra_body"] = {"truncate_prompt_tokens": self.truncate_prompt_tokens}
        return request

    def _chunks(self, texts: list[str]) -> list[list[str]]:
        return [texts[i : i + self.chunk_size] for i in range(0, len(texts), self.chunk_size)]

    @staticmethod
    def _vectors(response: CreateEmbeddingResponse) -> list[list[float]]:
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]

    @_server.resend_if_server_changed
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts``, in order (``chunk_size`` per request, requests in parallel)."""
        if not texts:
            return []
        model = self._vllm.pick_model(self.model)

        def embed(chunk: list[str]) -> list[list[float]]:
            with self._vllm.explained_errors():
                return self._vectors(self.client.embeddings.create(**self._request(model, chunk)))

        chunks = self._chunks(list(texts))
        if len(chunks) == 1:
            return embed(chunks[0])
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(chunks))) as pool:
            return [vector for part in pool.map(embed, chunks) for vector in part]

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        return self.embed_documents([text])[0]

    @_server.resend_if_server_changed
    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async twin of :meth:`embed_documents` (at most ``max_concurrency`` in flight)."""
        if not texts:
            return []
        model = await self._vllm.apick_model(self.model)
        limit = asyncio.Semaphore(self.max_concurrency)

        async def embed(chunk: list[str]) -> list[list[float]]:
            async with limit, self._vllm.aexplained_errors():
                response = await self.async_client.embeddings.create(**self._request(model, chunk))
            return self._vectors(response)

        parts = await asyncio.gather(*(embed(chunk) for chunk in self._chunks(list(texts))))
        return [vector for part in parts for vector in part]

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of :meth:`embed_query`."""
        return (await self.aembed_documents([text]))[0]
