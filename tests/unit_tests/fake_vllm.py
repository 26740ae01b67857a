"""A mock vLLM server for unit tests: replays bodies recorded from the real server.

The fixtures in ``fixtures/`` were recorded by ``scripts/record_fixtures.py`` against a real
vLLM 0.32 (SmolLM2-135M-Instruct). ``FakeVLLM`` routes each request the way vLLM would answer
it and keeps every request it saw, so tests can assert on the wire traffic.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from langchain_vllm._http import httpx

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "http://vllm.test:8000/v1"


def load(name: str) -> dict[str, Any]:
    """Load one recorded fixture (request, status, content type, body)."""
    fixture: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return fixture


def recorded_model() -> str:
    """The id the recording server served."""
    return str(load("models")["body"]["data"][0]["id"])


def lora_card(name: str, parent: str) -> dict[str, Any]:
    """A ``/v1/models`` card the way vLLM lists a LoRA adapter (``parent`` = base model)."""
    card: dict[str, Any] = copy.deepcopy(load("models")["body"]["data"][0])
    card.update({"id": name, "root": f"/adapters/{name}", "parent": parent})
    card.pop("max_model_len", None)
    return card


class FakeVLLM:
    """Answers like the recorded server; ``requests`` keeps what the client sent."""

    def __init__(self, models: list[dict[str, Any]] | None = None) -> None:
        """Serve the recorded model list, or ``models`` (cards) instead."""
        self.models_body = copy.deepcopy(load("models")["body"])
        if models is not None:
            self.models_body["data"] = models
        self.requests: list[httpx.Request] = []
        self.fail_with: Exception | None = None

    @property
    def served_ids(self) -> list[str]:
        """Ids of the cards served."""
        return [card["id"] for card in self.models_body["data"]]

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Route one request."""
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        path = request.url.path
        if request.method == "GET" and path.endswith("/models"):
            return httpx.Response(200, json=self.models_body)
        if request.method == "POST" and path.endswith("/chat/completions"):
            body = json.loads(request.content)
            if body.get("model") not in self.served_ids:
                return self._fixture("model_not_found")
            name = "tool_call" if body.get("tools") else "chat"
            if body.get("stream"):
                name += "_stream"
            return self._fixture(name)
        return httpx.Response(404, json={"detail": "Not Found"})

    def _fixture(self, name: str) -> httpx.Response:
        fixture = load(name)
        if fixture["content_type"] == "text/event-stream":
            return httpx.Response(
                fixture["status"],
                content=fixture["body"].encode(),
                headers={"content-type": "text/event-stream"},
            )
        return httpx.Response(fixture["status"], json=fixture["body"])

    def chat_bodies(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests sent so far."""
        return [
            json.loads(r.content) for r in self.requests if r.url.path.endswith("/chat/completions")
        ]

    def clients(self) -> dict[str, Any]:
        """``http_client``/``http_async_client`` arguments routing to this fake server."""
        transport = httpx.MockTransport(self.handler)
        return {
            "http_client": httpx.Client(transport=transport),
            "http_async_client": httpx.AsyncClient(transport=transport),
        }
