"""Model objects travel to worker processes and answer there, against the real servers.

``ProcessPoolExecutor`` pickles the model object for each task, as Ray, Dask and Spark do;
with the ``fork`` start method (Linux's default before Python 3.14) the workers also inherit
the parent's connection pools, which already hold connections to the server.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from langchain_vllm import ChatVLLM, VLLMEmbeddings
from tests.integration_tests.conftest import chat_base_url, chat_model

PROMPTS = [f"What is the capital of {country}?" for country in ("France", "Italy", "Japan")] * 2


def answer(llm: ChatVLLM, prompt: str) -> tuple[int, str, Any]:
    """Run in a worker: its pid, the answer and its metadata."""
    message = llm.invoke(prompt)
    return os.getpid(), message.text, message.response_metadata


def embed(embeddings: VLLMEmbeddings, text: str) -> tuple[int, list[float]]:
    """Run in a worker: its pid and the vector."""
    return os.getpid(), embeddings.embed_query(text)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_pickled_chat_model_answers_in_worker_processes(method: str) -> None:
    llm = ChatVLLM(base_url=chat_base_url(), temperature=0, max_tokens=12)
    llm.invoke("Hi")  # the parent's pools hold a connection: forked workers inherit them
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        results = list(pool.map(answer, [llm] * len(PROMPTS), PROMPTS))
    pids = {pid for pid, _, _ in results}
    assert os.getpid() not in pids
    assert len(results) == len(PROMPTS)
    assert all(text.strip() for _, text, _ in results)
    assert {metadata["model_name"] for _, _, metadata in results} == {chat_model()}
    assert llm.invoke("Hi").text  # the parent's own pools still work


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pickled_embeddings_embed_in_worker_processes(method: str, embeddings_url: str) -> None:
    embeddings = VLLMEmbeddings(base_url=embeddings_url)
    texts = ["Paris is in France.", "Rome is in Italy.", "Tokyo is in Japan."] * 2
    expected = embeddings.embed_documents(texts)
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        results = list(pool.map(embed, [embeddings] * len(texts), texts))
    assert os.getpid() not in {pid for pid, _ in results}
    for (_, vector), reference in zip(results, expected, strict=True):
        assert len(vector) == len(reference)
        cosine = sum(a * b for a, b in zip(vector, reference, strict=True)) / (
            math.hypot(*vector) * math.hypot(*reference)
        )
        assert cosine > 0.9999  # the same text, the same vector
