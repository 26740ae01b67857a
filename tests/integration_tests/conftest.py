"""Integration tests talk to a real vLLM server.

``VLLM_BASE_URL`` (and ``VLLM_EMBEDDINGS_BASE_URL``) select any running vLLM, e.g. a GPU
one; when unset, the local CPU servers of ``scripts/vllm_local.py`` are used and started if
they are not running yet (the first start installs vLLM and prepares the models).
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from langchain_vllm import ChatVLLM
from langchain_vllm._server import default_model
from tests.standard_suites import LOCAL_CHAT_URL

ROOT = Path(__file__).resolve().parents[2]


def chat_base_url() -> str:
    """The chat server under test."""
    return os.environ.get("VLLM_BASE_URL") or LOCAL_CHAT_URL


def uses_local_server() -> bool:
    """Whether the tests run against the launcher's local CPU server."""
    return not os.environ.get("VLLM_BASE_URL")


@cache
def chat_model() -> str:
    """The model under test: the server's only base model (discovered, as users do)."""
    served = ChatVLLM(base_url=chat_base_url()).served_models()
    return default_model(tuple(served), chat_base_url())


@cache
def chat_adapter() -> str | None:
    """A LoRA adapter served next to the model (None if the server serves none)."""
    served = ChatVLLM(base_url=chat_base_url()).served_models()
    return next((m.id for m in served if m.parent == chat_model()), None)


@pytest.fixture(scope="session", autouse=True)
def _vllm_server() -> None:
    """Start the local CPU chat server unless VLLM_BASE_URL names another server."""
    if uses_local_server():
        launcher = ROOT / "scripts" / "vllm_local.py"
        subprocess.run([sys.executable, str(launcher), "start", "chat"], check=True)  # noqa: S603
