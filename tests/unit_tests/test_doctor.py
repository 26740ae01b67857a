"""``langchain-vllm doctor`` against a mock vLLM that answers with the real servers' bodies.

Every body below was copied from vLLM 0.32's answers to the doctor's own requests (the local
chat, embedding and reasoning servers of ``scripts/vllm_local.py``); error messages are the
server's own wording.
"""

from __future__ import annotations

import json
import runpy
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest

from langchain_vllm import _server, doctor
from langchain_vllm._http import httpx
from langchain_vllm.cli import main

BASE_URL = "http://vllm.test:8000/v1"
MODEL = "SmolLM2-135M-Instruct"
ADAPTER = "SmolLM2-135M-Instruct-lora"
KEY = "sk-doctor-4711"

NOT_FOUND = {"detail": "Not Found"}  # FastAPI: vLLM did not mount the route
TOOLS_OFF = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
REASONING_OFF = (
    "thinking_token_budget is set but reasoning_config is not configured. Please set "
    "--reasoning-parser and/or --reasoning-config to use thinking_token_budget."
)


def card(
    model_id: str, *, parent: str | None = None, max_model_len: int | None = 4096
) -> dict[str, Any]:
    """One ``/v1/models`` card as vLLM 0.32 lists it (an adapter has no max_model_len)."""
    return {
        "id": model_id,
        "object": "model",
        "created": 1795686696,
        "owned_by": "vllm",
        "root": f"/root/.cache/langchain-vllm/models/{model_id}",
        "parent": parent,
        "max_model_len": None if parent else max_model_len,
        "permission": [
            {
                "id": "modelperm-865d76aa27d0064e",
                "object": "model_permission",
                "created": 1795686696,
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
        ],
    }


CHAT_CARDS = [card(MODEL), card(ADAPTER, parent=MODEL)]


def bad_request(message: str) -> dict[str, Any]:
    """vLLM's 400 body."""
    return {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}


def chat_answer(
    model: str, content: str | None, *, reasoning_tokens: int | None, finish: str = "length"
) -> dict[str, Any]:
    """A non-streaming chat answer (``completion_tokens_details`` only with a reasoning
    parser, as vLLM 0.32 does)."""
    details = None if reasoning_tokens is None else {"reasoning_tokens": reasoning_tokens}
    return {
        "id": "chatcmpl-a3dd8f2a498663b0",
        "object": "chat.completion",
        "created": 1795686696,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": None,
                    "audio": None,
                    "function_call": None,
                    "reasoning": None,
                },
                "logprobs": None,
                "finish_reason": finish,
                "stop_reason": None,
                "token_ids": None,
                "routed_experts": None,
            }
        ],
        "service_tier": None,
        "system_fingerprint": "vllm-0.32.0-dd4213e8",
        "usage": {
            "prompt_tokens": 31,
            "total_tokens": 32,
            "completion_tokens": 1,
            "prompt_tokens_details": {
                "cached_tokens": 0,
                "created_cache_tokens": 0,
                "multimodal_tokens": None,
            },
            "completion_tokens_details": details,
        },
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def embedding_answer(model: str, dimensions: int) -> dict[str, Any]:
    return {
        "id": "embd-9f421abe14665c05",
        "object": "list",
        "created": 1795686697,
        "model": model,
        "data": [
            {
                "index": 0,
                "object": "embedding",
                "embedding": [0.03698046877980232] * dimensions,
            }
        ],
        "usage": {"prompt_tokens": 3, "total_tokens": 3, "completion_tokens": 0},
    }


def rerank_answer(model: str) -> dict[str, Any]:
    return {
        "id": "score-b02edb9b6f28a145",
        "model": model,
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
        "results": [
            {
                "index": 0,
                "document": {"text": "pong", "multi_modal": None},
                "relevance_score": 0.18039418756961823,
            }
        ],
    }


@dataclass
class MockVLLM:
    """Routes requests the way vLLM 0.32 does for the flags it was "started" with."""

    cards: list[dict[str, Any]] = field(default_factory=lambda: list(CHAT_CARDS))
    version: str | None = "0.32.0"
    generative: bool = True
    tool_parser: bool = True
    reasoning_parser: bool = False
    api_key: str | None = None
    honors_constraints: bool = True
    health_text: str = ""  # vllm-router: "All servers healthy"
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        wanted = f"Bearer {self.api_key}"
        if self.api_key and path.startswith("/v1") and request.headers["authorization"] != wanted:
            return httpx.Response(401, json={"error": "Unauthorized"})
        body = json.loads(request.content) if request.content else {}
        routes = {
            # vLLM: an empty body, no content type
            ("GET", "/health"): lambda: httpx.Response(200, text=self.health_text),
            ("GET", "/v1/models"): lambda: httpx.Response(
                200, json={"object": "list", "data": self.cards}
            ),
        }
        if self.version is not None:
            routes["GET", "/version"] = lambda: httpx.Response(200, json={"version": self.version})
        if self.generative:
            routes["POST", "/v1/chat/completions"] = lambda: self._chat(body)
        else:
            routes["POST", "/v1/embeddings"] = lambda: httpx.Response(
                200, json=embedding_answer(body["model"], 384)
            )
            routes["POST", "/rerank"] = lambda: httpx.Response(
                200, json=rerank_answer(body["model"])
            )
        route = routes.get((method, path))
        return route() if route else httpx.Response(404, json=NOT_FOUND)

    def _chat(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("tool_choice") == "auto" and not self.tool_parser:
            return httpx.Response(400, json=bad_request(TOOLS_OFF))
        if body.get("thinking_token_budget") is not None and not self.reasoning_parser:
            return httpx.Response(400, json=bad_request(REASONING_OFF))
        tokens = 1 if self.reasoning_parser else None
        constrained = body.get("structured_outputs") or body.get("guided_choice")
        if constrained and self.honors_constraints:
            answer = chat_answer(body["model"], "no", reasoning_tokens=tokens, finish="stop")
        else:
            answer = chat_answer(body["model"], "Hello", reasoning_tokens=tokens)
        return httpx.Response(200, json=answer)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def chat_bodies(self) -> list[dict[str, Any]]:
        return [
            json.loads(r.content) for r in self.requests if r.url.path == "/v1/chat/completions"
        ]


def refusing(request: httpx.Request) -> httpx.Response:
    """What an address where nothing listens does."""
    message = "[Errno 111] Connection refused"
    raise httpx.ConnectError(message, request=request)


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    client: httpx.Client,
    *args: str,
) -> tuple[int, str]:
    """``langchain-vllm doctor ARGS`` with every request sent through ``client``."""
    monkeypatch.setattr(doctor, "diagnose", partial(doctor.diagnose, http_client=client))
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def statuses(report: doctor.Report) -> dict[str, str]:
    return {name: result.status for name, _, result in report.capabilities()}


def test_unreachable_server_exits_2_naming_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(refusing))
    code, out = run(monkeypatch, capsys, client, "--base-url", "http://nowhere.test:8000/v1")
    assert code == 2
    assert "reachable     no" in out
    assert "http://nowhere.test:8000/v1" in out
    assert "vllm serve" in out
    assert "VLLM_BASE_URL" in out
    assert "/v1 suffix" in out
    assert "Connection refused" in out


def test_unreachable_json_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(refusing))
    code, out = run(monkeypatch, capsys, client, "--json", "--base-url", BASE_URL)
    data = json.loads(out)
    assert code == 2
    assert data["reachable"] is False
    assert BASE_URL in data["problem"]
    assert {c["status"] for c in data["capabilities"].values()} == {"unknown"}


def test_base_url_without_v1_is_unreachable_and_says_so() -> None:
    server = MockVLLM()
    report = doctor.diagnose("http://vllm.test:8000", http_client=server.client())
    assert not report.reachable
    assert report.exit_code == 2
    assert report.problem is not None
    assert "try --base-url http://vllm.test:8000/v1" in report.problem
    assert report.healthy  # the root answers; only /models is missing


def test_default_base_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://from-env.test:9000/v1")
    client = httpx.Client(transport=httpx.MockTransport(refusing))
    code, out = run(monkeypatch, capsys, client)
    assert code == 2
    assert "http://from-env.test:9000/v1" in out


def test_chat_server_with_everything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM(reasoning_parser=True)
    code, out = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL)
    assert code == 0
    assert "reachable     yes (GET /health 200, GET /v1/models 200)" in out
    assert "vLLM version  0.32.0" in out
    assert f"{MODEL}  (max_model_len 4096)" in out
    for label in ("chat", "auto tool choice", "structured outputs", "reasoning parser"):
        assert any(line.startswith("[ok]") and label in line for line in out.splitlines())
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert statuses(report) == {
        "chat": "ok",
        "tool_choice": "ok",
        "structured_outputs": "ok",
        "reasoning_parser": "ok",
        "embeddings": "missing",
        "rerank": "missing",
    }
    assert report.structured_outputs.detail.endswith("answered 'no'")
    assert report.embeddings.flag == "--runner pooling"
    assert report.rerank.flag == "--runner pooling"
    assert "-> start the server with: --runner pooling" in out


def test_probes_are_tiny_and_use_the_base_model() -> None:
    server = MockVLLM(cards=[card(ADAPTER, parent=MODEL), card(MODEL)])
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert report.probed_model == MODEL
    bodies = server.chat_bodies()
    assert len(bodies) == 4  # chat, reasoning, tools, structured outputs
    for body in bodies:
        assert body["model"] == MODEL
        assert body["temperature"] == 0
        assert 1 <= body["max_completion_tokens"] <= 4


def test_server_without_tool_parser_reports_the_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM(tool_parser=False)
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert report.tool_choice.status == "missing"
    assert report.tool_choice.detail == TOOLS_OFF
    assert report.tool_choice.flag == "--enable-auto-tool-choice --tool-call-parser <parser>"
    assert report.chat.status == "ok"
    code, out = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL)
    assert code == 0  # a missing capability is not a failure
    assert "[missing]  auto tool choice" in out
    assert "--enable-auto-tool-choice --tool-call-parser <parser>" in out


def test_server_without_reasoning_parser() -> None:
    report = doctor.diagnose(BASE_URL, http_client=MockVLLM().client())
    assert report.reasoning_parser.status == "missing"
    assert report.reasoning_parser.detail == REASONING_OFF
    assert report.reasoning_parser.flag == "--reasoning-parser <parser>"


def test_structured_outputs_probe_ends_thinking_on_a_reasoning_server() -> None:
    server = MockVLLM(reasoning_parser=True)
    doctor.diagnose(BASE_URL, http_client=server.client())
    structured = [b for b in server.chat_bodies() if "structured_outputs" in b]
    assert structured == [
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Say hello."}],
            "temperature": 0,
            "max_completion_tokens": 4,
            "structured_outputs": {"choice": ["yes", "no"]},
            "thinking_token_budget": 0,
        }
    ]


def test_ignored_constraint_is_reported_missing() -> None:
    server = MockVLLM(honors_constraints=False)  # e.g. a proxy that drops vLLM's fields
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert report.structured_outputs.status == "missing"
    assert "'Hello'" in report.structured_outputs.detail


def test_old_server_gets_guided_choice() -> None:
    server = MockVLLM(version="0.11.0")
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert report.structured_outputs.status == "ok"
    constrained = [b for b in server.chat_bodies() if "guided_choice" in b]
    assert [b["guided_choice"] for b in constrained] == [["yes", "no"]]
    assert not any("structured_outputs" in b for b in server.chat_bodies())


def test_json_output_has_the_fields(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM()
    code, out = run(monkeypatch, capsys, server.client(), "--json", "--base-url", BASE_URL)
    data = json.loads(out)
    assert code == 0
    assert data["base_url"] == BASE_URL
    assert data["reachable"] is True
    assert data["problem"] is None
    assert data["healthy"] is True
    assert data["version"] == "0.32.0"
    assert data["probed_model"] == MODEL
    assert data["models"][0] == {
        "id": MODEL,
        "root": f"/root/.cache/langchain-vllm/models/{MODEL}",
        "parent": None,
        "max_model_len": 4096,
        "is_adapter": False,
    }
    assert list(data["capabilities"]) == [
        "chat",
        "tool_choice",
        "structured_outputs",
        "reasoning_parser",
        "embeddings",
        "rerank",
    ]
    assert data["capabilities"]["reasoning_parser"] == {
        "status": "missing",
        "detail": REASONING_OFF,
        "flag": "--reasoning-parser <parser>",
    }


def test_router_without_version_says_unknown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM(version=None)
    code, out = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL)
    assert code == 0
    assert "vLLM version  unknown" in out
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert report.version is None
    assert report.to_dict()["version"] is None
    # the newest request format is used
    assert any("structured_outputs" in body for body in server.chat_bodies())


def test_vllm_router_is_named_with_the_flag_that_keeps_tools_strict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    router = MockVLLM(version=None, health_text="All servers healthy")
    code, out = run(monkeypatch, capsys, router.client(), "--base-url", BASE_URL)
    assert code == 0
    line = " ".join(out.split("router        ", 1)[1].split("\n              "))
    assert line.startswith("vllm-router")
    assert 'drops the "strict" flag' in line
    assert "--tool-strict-level parameter" in line
    assert doctor.diagnose(BASE_URL, http_client=router.client()).to_dict()["router"] is True
    _server.forget()
    plain = doctor.diagnose(BASE_URL, http_client=MockVLLM().client())
    assert plain.router is False
    assert "router " not in doctor.render(plain)


def test_lora_adapters_are_listed_with_their_parent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM()
    code, out = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL)
    assert code == 0
    assert f"{ADAPTER}  (LoRA adapter on {MODEL})" in out
    adapter = doctor.diagnose(BASE_URL, http_client=server.client()).to_dict()["models"][1]
    assert adapter["id"] == ADAPTER
    assert adapter["parent"] == MODEL
    assert adapter["is_adapter"] is True


def test_embedding_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM(cards=[card("all-MiniLM-L6-v2", max_model_len=256)], generative=False)
    report = doctor.diagnose(BASE_URL, http_client=server.client())
    assert statuses(report) == {
        "chat": "n/a",
        "tool_choice": "n/a",
        "structured_outputs": "n/a",
        "reasoning_parser": "n/a",
        "embeddings": "ok",
        "rerank": "ok",
    }
    assert "384 dimensions" in report.embeddings.detail
    assert len(server.chat_bodies()) == 1  # chat is not probed further once it is absent
    code, out = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL)
    assert code == 0
    assert "[n/a]      chat" in out


def test_server_listing_no_model() -> None:
    report = doctor.diagnose(BASE_URL, http_client=MockVLLM(cards=[]).client())
    assert report.reachable
    assert set(statuses(report).values()) == {"n/a"}
    assert "lists no base model" in doctor.render(report)


def test_timeout_is_reported_not_raised() -> None:
    server = MockVLLM()

    def slow_embeddings(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/embeddings":
            message = "timed out"
            raise httpx.ReadTimeout(message, request=request)
        return server.handler(request)

    client = httpx.Client(transport=httpx.MockTransport(slow_embeddings))
    report = doctor.diagnose(BASE_URL, timeout=3, http_client=client)
    assert report.embeddings.status == "unknown"
    assert "no answer within 3 s" in report.embeddings.detail
    assert report.chat.status == "ok"


def test_api_key_is_sent_and_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM(api_key=KEY)
    code, text = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL, "--api-key", KEY)
    assert code == 0
    assert "[ok]       chat" in text
    code, as_json = run(
        monkeypatch, capsys, server.client(), "--json", "--base-url", BASE_URL, "--api-key", KEY
    )
    assert code == 0
    assert KEY not in text
    assert KEY not in as_json
    sent = {r.headers["authorization"] for r in server.requests if r.url.path.startswith("/v1")}
    assert sent == {f"Bearer {KEY}"}


def test_api_key_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    server = MockVLLM(api_key=KEY)
    assert doctor.diagnose(BASE_URL, http_client=server.client()).reachable


def test_rejected_api_key_is_unreachable_and_not_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = MockVLLM(api_key="sk-the-right-one")
    code, out = run(monkeypatch, capsys, server.client(), "--base-url", BASE_URL, "--api-key", KEY)
    assert code == 2
    assert "rejected the API key" in out
    assert "VLLM_API_KEY" in out
    assert KEY not in out


def test_echoed_api_key_is_masked() -> None:
    def echoing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": f"bad header {request.headers['authorization']}"})

    client = httpx.Client(transport=httpx.MockTransport(echoing))
    report = doctor.diagnose(BASE_URL, api_key=KEY, http_client=client)
    assert not report.reachable
    assert "***" in (report.problem or "")
    assert KEY not in json.dumps(report.to_dict())
    assert KEY not in doctor.render(report)


def test_python_dash_m_runs_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(refusing))
    monkeypatch.setattr(doctor, "diagnose", partial(doctor.diagnose, http_client=client))
    monkeypatch.setattr(sys, "argv", ["langchain_vllm", "doctor", "--base-url", BASE_URL])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("langchain_vllm", run_name="__main__")
    assert exit_info.value.code == 2
    assert BASE_URL in capsys.readouterr().out


def test_doctor_subcommand_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "{doctor}" in capsys.readouterr().err
