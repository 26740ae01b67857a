"""Integration tests talk to a real vLLM server.

``VLLM_BASE_URL`` (and ``VLLM_EMBEDDINGS_BASE_URL``, ``VLLM_REASONING_BASE_URL``) select any
running vLLM, e.g. a GPU one; when unset, the local CPU servers of ``scripts/vllm_local.py``
are used. A URL that is one of the launcher's local servers (the current vLLM's, or the
older vLLM's of ``make integration_tests_0.16``: ``eval "$(scripts/vllm_local.py env 0.16)"``)
is started when a test first needs it, if it is not running yet (the first start installs
vLLM and prepares the models). The reasoning tests need a server with ``--reasoning-parser``:
the local ``reason`` server, or ``VLLM_REASONING_BASE_URL``; they are skipped, saying so, when
``VLLM_BASE_URL`` names a server and ``VLLM_REASONING_BASE_URL`` does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from langchain_vllm import ChatVLLM, _versions
from langchain_vllm._http import httpx
from langchain_vllm._server import default_model
from tests.standard_suites import LOCAL_CHAT_URL

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "vllm_local.py"
sys.path.append(str(LAUNCHER.parent))  # as the launcher does, for its package (stdlib only)

from launcher.layout import servers_from_env  # noqa: E402


def local_server(url: str) -> str | None:
    """The launcher's name for the local server at ``url`` (``None``: not one of them)."""
    for server in servers_from_env().values():
        if server.base_url == url.rstrip("/"):
            return str(server.name)
    return None


def start_if_local(url: str) -> None:
    """Start the launcher's server at ``url`` unless it runs (nothing for other servers)."""
    name = local_server(url)
    if name is not None:
        subprocess.run([sys.executable, str(LAUNCHER), "start", name], check=True)  # noqa: S603


def chat_base_url() -> str:
    """The chat server under test."""
    return os.environ.get("VLLM_BASE_URL") or LOCAL_CHAT_URL


def uses_local_server() -> bool:
    """Whether the tests run against the launcher's local CPU server."""
    return not os.environ.get("VLLM_BASE_URL")


def scripted(text: str) -> dict[str, Any]:
    """Per-call arguments that make the server's model answer exactly ``text``.

    The launcher's generative servers load ``scripts/server_venv/scripted_model.py``; a
    request carrying ``vllm_xargs={"script": text}`` outputs ``text`` then EOS, and everything
    else (template, parsers, grammar, streaming, usage) is the real server's. Tests use it
    where an exact output is needed: the model's choice of tokens is then fixed, whatever the
    CPU's floating point does.
    """
    return {"vllm_xargs": {"script": text}}


@cache
def chat_model() -> str:
    """The model under test: the server's only base model (discovered, as users do)."""
    served = ChatVLLM(base_url=chat_base_url()).served_models()
    return default_model(tuple(served), chat_base_url())


@cache
def server_version(url: str) -> tuple[int, int, int]:
    """The vLLM version of the server at ``url`` (``GET /version``), e.g. ``(0, 16, 0)``.

    Tests whose expectations differ by version (what an older server cannot do, or says
    differently) branch on it; the tests run against vLLM 0.16 and 0.32 in ``make check``.
    """
    root = url.rstrip("/").removesuffix("/v1")
    version = _versions.parse_version(httpx.get(f"{root}/version", timeout=30).json()["version"])
    assert version is not None, f"{root}/version names no version"
    return version


def tool_call_script(url: str, name: str, arguments: dict[str, Any], tool_choice: str) -> str:
    """What a scripted model (``vllm_xargs={"script": ...}``) writes to call a tool on ``url``.

    For the launcher's servers (Hermes tool parser, compact JSON). ``tool_choice`` is what
    ChatVLLM is given: ``"auto"``, ``"required"`` or the tool's name. vLLM 0.32 holds every
    forced call to the parser's own format (``<tool_call>...</tool_call>``); before 0.20 a
    forced call is grammar-constrained JSON: a named tool's arguments alone (ChatVLLM sends
    ``"required"`` with one tool as the named tool there).
    """
    hermes = json.dumps({"name": name, "arguments": arguments})
    forced = tool_choice != "auto"
    if forced and server_version(url) < _versions.REQUIRED_AS_JSON_LIST_UNTIL:
        return json.dumps(arguments, separators=(",", ":"))
    return f"<tool_call>\n{hermes}\n</tool_call>"


@cache
def chat_adapter() -> str | None:
    """A LoRA adapter served next to the model (None if the server serves none)."""
    served = ChatVLLM(base_url=chat_base_url()).served_models()
    return next((m.id for m in served if m.parent == chat_model()), None)


LOCAL_EMBEDDINGS_URL = "http://127.0.0.1:8001/v1"
"""Where scripts/vllm_local.py serves all-MiniLM-L6-v2 (embeddings, /rerank, /score)."""


def embeddings_base_url() -> str:
    """The pooling server under test."""
    return os.environ.get("VLLM_EMBEDDINGS_BASE_URL") or LOCAL_EMBEDDINGS_URL


@pytest.fixture(scope="session")
def embeddings_url() -> str:
    """The embedding server (a local one is started if needed)."""
    start_if_local(embeddings_base_url())
    return embeddings_base_url()


LOCAL_REASONING_URL = "http://127.0.0.1:8002/v1"
"""Where scripts/vllm_local.py serves SmolLM2 with a reasoning parser."""


def reasoning_base_url() -> str | None:
    """The server with a reasoning parser under test (None: none was named)."""
    explicit = os.environ.get("VLLM_REASONING_BASE_URL")
    if explicit:
        return explicit
    return LOCAL_REASONING_URL if uses_local_server() else None


@pytest.fixture(scope="session")
def reasoning_url() -> str:
    """A server started with ``--reasoning-parser`` (the local one is started if needed)."""
    url = reasoning_base_url()
    if url is None:
        pytest.skip(
            "needs a vLLM server started with --reasoning-parser: set VLLM_REASONING_BASE_URL"
        )
    start_if_local(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def _vllm_server() -> None:
    """Start the chat server under test if it is one of the launcher's and not running."""
    start_if_local(chat_base_url())


@pytest.fixture(scope="session")
def router_url() -> str:
    """vllm-router in front of two replicas (the local ones are started if needed)."""
    explicit = os.environ.get("VLLM_ROUTER_BASE_URL")
    if explicit:
        return explicit
    if not uses_local_server():
        pytest.skip("needs a router in front of replicas: set VLLM_ROUTER_BASE_URL")
    for server in ("replica", "router"):
        subprocess.run([sys.executable, str(LAUNCHER), "start", server], check=True)  # noqa: S603
    return "http://127.0.0.1:8010/v1"


LOCAL_FAMILIES_URL = "http://127.0.0.1:8003/v1"
"""Where scripts/vllm_local.py serves SmolLM2 speaking every model family's markup."""

LOCAL_GPT_OSS_URL = "http://127.0.0.1:8005/v1"
"""Where scripts/vllm_local.py serves a tiny gpt-oss through vLLM's Harmony path."""


def _local_or_named(variable: str, local_url: str, server: str, needs: str) -> str:
    """The URL ``variable`` names, else the launcher's local ``server`` (started if needed)."""
    explicit = os.environ.get(variable)
    if explicit:
        return explicit
    if not uses_local_server():
        pytest.skip(f"needs {needs}: set {variable}")
    launcher = ROOT / "scripts" / "vllm_local.py"
    subprocess.run([sys.executable, str(launcher), "start", server], check=True)  # noqa: S603
    return local_url


@cache
def families_base_url() -> str:
    """The families server (tests/families.py); the local one is started if needed."""
    return _local_or_named(
        "VLLM_FAMILIES_BASE_URL",
        LOCAL_FAMILIES_URL,
        "families",
        "the launcher's families server (model families picked per request)",
    )


@cache
def families_adapter() -> str:
    """The LoRA adapter the families server serves next to its model (model overrides)."""
    served = ChatVLLM(base_url=families_base_url()).served_models()
    adapter = next((m.id for m in served if m.parent is not None), None)
    if adapter is None:
        pytest.skip(
            "needs a families server with a LoRA adapter (model overrides): it serves "
            f"{', '.join(m.id for m in served)}; restart it with scripts/vllm_local.py"
        )
    return adapter


@pytest.fixture(scope="session")
def families_url() -> str:
    """The families server (tests/families.py); the local one is started if needed."""
    return families_base_url()


@pytest.fixture(scope="session")
def gpt_oss_url() -> str:
    """A gpt-oss server (scripted model loaded); the local one is started if needed."""
    return _local_or_named(
        "VLLM_GPT_OSS_BASE_URL",
        LOCAL_GPT_OSS_URL,
        "gpt_oss",
        "a gpt-oss server with the scripted model (scripts/server_venv/scripted_model.py)",
    )
