"""``langchain-vllm doctor`` against real vLLM servers.

The chat server (``VLLM_BASE_URL``, else the local one: tool parser on, no reasoning parser,
a LoRA adapter), the embedding server (``VLLM_EMBEDDINGS_BASE_URL``, else local) and the
reasoning server (``VLLM_REASONING_BASE_URL``, else local). What the report says about models
and versions is checked against what the server itself answers on ``/v1/models`` and
``/version``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any

import pytest

from langchain_vllm._http import httpx
from langchain_vllm.cli import main
from tests.integration_tests.conftest import (
    ROOT,
    chat_adapter,
    chat_base_url,
    chat_model,
    uses_local_server,
)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``langchain-vllm doctor ARGS`` in this process: exit code and standard output."""
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def json_report(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, Any]:
    code, out = cli(capsys, "--json", "--base-url", url)
    assert code == 0, out
    report: dict[str, Any] = json.loads(out)
    return report


def server_says(url: str, path: str) -> Any:
    """What the server answers on ``path`` (relative to its root), asked directly."""
    root = url.rstrip("/").removesuffix("/v1")
    return httpx.get(f"{root}{path}", timeout=30).json()


def status(report: dict[str, Any], name: str) -> str:
    result: str = report["capabilities"][name]["status"]
    return result


def test_chat_server_report(capsys: pytest.CaptureFixture[str]) -> None:
    url = chat_base_url()
    report = json_report(capsys, url)
    assert report["reachable"] is True
    assert report["healthy"] is True
    assert report["version"] == server_says(url, "/version")["version"]
    assert report["probed_model"] == chat_model()
    served = {card["id"]: card for card in server_says(url, "/v1/models")["data"]}
    assert {m["id"] for m in report["models"]} == set(served)
    for model in report["models"]:
        assert model["max_model_len"] == served[model["id"]]["max_model_len"]
        assert model["parent"] == served[model["id"]]["parent"]
    assert status(report, "chat") == "ok"
    assert status(report, "tool_choice") == "ok"
    assert status(report, "structured_outputs") == "ok"
    assert report["capabilities"]["structured_outputs"]["detail"].endswith(("'yes'", "'no'"))
    assert status(report, "embeddings") == "missing"
    assert report["capabilities"]["embeddings"]["flag"] == "--runner pooling"
    if uses_local_server():  # what scripts/vllm_local.py starts
        base = next(m for m in report["models"] if m["id"] == chat_model())
        assert base["max_model_len"] == 4096
        assert status(report, "reasoning_parser") == "missing"
        assert "--reasoning-parser" in report["capabilities"]["reasoning_parser"]["detail"]
        assert report["capabilities"]["reasoning_parser"]["flag"] == "--reasoning-parser <parser>"


def test_chat_server_text_report_lists_the_lora_adapter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    adapter = chat_adapter()
    if adapter is None:
        pytest.skip("the chat server serves no LoRA adapter")
    code, out = cli(capsys, "--base-url", chat_base_url())
    assert code == 0
    assert f"{adapter}  (LoRA adapter on {chat_model()})" in out
    assert "[ok]       auto tool choice" in out
    assert "[ok]       structured outputs" in out
    if uses_local_server():
        assert f"{chat_model()}  (max_model_len 4096)" in out
        assert "[missing]  reasoning parser" in out
        assert "-> start the server with: --reasoning-parser <parser>" in out


def test_embedding_server_report(capsys: pytest.CaptureFixture[str], embeddings_url: str) -> None:
    report = json_report(capsys, embeddings_url)
    assert status(report, "embeddings") == "ok"
    assert status(report, "rerank") == "ok"  # vLLM scores with an embedding model too
    assert status(report, "chat") == "n/a"
    assert {status(report, name) for name in ("tool_choice", "reasoning_parser")} == {"n/a"}


def test_reasoning_server_report(capsys: pytest.CaptureFixture[str], reasoning_url: str) -> None:
    report = json_report(capsys, reasoning_url)
    assert status(report, "reasoning_parser") == "ok"
    assert report["capabilities"]["reasoning_parser"]["flag"] is None
    assert status(report, "structured_outputs") == "ok"  # thinking does not eat the answer


def test_router_report_names_the_router_and_the_strict_level_flag(
    capsys: pytest.CaptureFixture[str], router_url: str
) -> None:
    report = json_report(capsys, router_url)
    assert report["router"] is True
    assert status(report, "chat") == "ok"
    assert json_report(capsys, chat_base_url())["router"] is False  # vLLM itself
    code, out = cli(capsys, "--base-url", router_url)
    assert code == 0
    assert "router        vllm-router" in out
    assert "--tool-strict-level parameter" in " ".join(out.split())


def test_cli_subprocess_json() -> None:
    url = chat_base_url()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "langchain_vllm", "doctor", "--json", "--base-url", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["base_url"] == url.rstrip("/")
    assert report["reachable"] is True
    assert status(report, "tool_choice") == "ok"


def test_nothing_listening_exits_2_naming_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    code, out = cli(capsys, "--base-url", url, "--timeout", "5")
    assert code == 2
    assert url in out
    assert "vllm serve" in out
    assert "/v1 suffix" in out


def test_base_url_without_v1_exits_2_and_says_to_add_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = chat_base_url().rstrip("/").removesuffix("/v1")
    code, out = cli(capsys, "--base-url", root)
    assert code == 2
    assert f"try --base-url {root}/v1" in " ".join(out.split())
