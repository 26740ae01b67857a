"""A mock vLLM server for unit tests: replays bodies recorded from the real servers.

The fixtures in ``fixtures/`` were recorded by ``scripts/record_fixtures.py`` against a real
vLLM 0.32 (SmolLM2-135M-Instruct), those in ``fixtures/0.16.0/`` against a real vLLM 0.16
(``scripts/vllm_local.py start 0.16``). ``FakeVLLM(version=...)`` answers with the recording
of that version when there is one (:data:`RECORDED_VERSIONS`), else with 0.32's; it routes
each request the way vLLM would answer it and keeps every request it saw, so tests can
assert on the wire traffic.
"""

from __future__ import annotations

import base64
import copy
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, SystemMessage

from langchain_vllm import ChatVLLM
from langchain_vllm._http import httpx

if TYPE_CHECKING:
    from collections.abc import Callable

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "http://vllm.test:8000/v1"

MESSAGES = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("What is the capital of France?"),
]
"""The conversation the chat fixtures were recorded with."""


CURRENT_VERSION = "0.32.0"
"""The version the fixtures at the top of ``fixtures/`` were recorded with."""

RECORDED_VERSIONS = (CURRENT_VERSION, "0.16.0")
"""Every vLLM version whose answers were recorded from a real server."""


def load(name: str, version: str | None = None) -> dict[str, Any]:
    """Load one recorded fixture (request, status, content type, body).

    Args:
        name: The fixture's name.
        version: The vLLM version whose recording to load (``None``: the current one); a
            version without its own recording of ``name`` gets the current one.
    """
    folder = FIXTURES / version if version and version != CURRENT_VERSION else FIXTURES
    path = folder / f"{name}.json"
    if not path.exists():
        path = FIXTURES / f"{name}.json"
    fixture: dict[str, Any] = json.loads(path.read_text())
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


def _NOT_FOUND() -> httpx.Response:  # noqa: N802 - reads as the constant answer it is
    return httpx.Response(404, json={"detail": "Not Found"})


REASONING = "The user asks for a capital city. France's capital is Paris."
"""Reasoning text the fake adds when asked to answer like a server with a reasoning parser."""

REASONING_TOKENS = 14
"""``usage.completion_tokens_details.reasoning_tokens`` the fake reports with reasoning."""


class FakeVLLM:
    """Answers like the recorded server; ``requests`` keeps what the client sent.

    Args:
        models: Cards to serve instead of the recorded model list.
        version: What ``GET /version`` says (``None``: the route is missing, as behind a
            router).
        reasoning_fields: Answer like a server with ``--reasoning-parser`` of a version
            that was not recorded: the recorded answer gets ``REASONING`` under each of
            these names (``("reasoning_content",)`` for 0.8-0.11.0, both for 0.11.1 to 0.15,
            as those releases' source says), in the message or, streaming, in deltas before
            the content.
        reasoning: Answer chat requests with the recorded reasoning server's answers
            (``reasoning_chat``, ``reasoning_chat_stream``: a scripted thought and answer,
            split by the real server's parser).
        health: The text body of ``GET /health`` (vLLM: empty; vllm-router: "All servers
            healthy"; ``None``: the route is missing).
        pooling: Answer like the embedding server (all-MiniLM-L6-v2): its model list,
            ``/v1/embeddings``, ``/rerank`` and ``/score``. ``routes_missing`` lists paths
            to answer 404 for (an older server).

    ``chat_answer`` names a recorded chat answer to give every chat request (``<name>`` or,
    streamed, ``<name>_stream``); ``responses_answer`` the same for ``/v1/responses``.
    """

    def __init__(  # noqa: PLR0913 - the fake's settings, keyword-only
        self,
        models: list[dict[str, Any]] | None = None,
        *,
        version: str | None = "0.32.0",
        reasoning_fields: tuple[str, ...] = (),
        reasoning: bool = False,
        health: str | None = "",
        pooling: bool = False,
    ) -> None:
        listed = load("embed_models" if pooling else "models", version)
        self.models_body = copy.deepcopy(listed["body"])
        self.pooling = pooling
        self.routes_missing: set[str] = set()
        if models is not None:
            self.models_body["data"] = models
        self.version = version
        self.health = health
        self.reasoning_fields = reasoning_fields
        self.reasoning = reasoning
        self.requests: list[httpx.Request] = []
        self.fail_with: Exception | None = None
        self.refuses: set[str] = set()
        self.chat_answer: str | None = None
        self.responses_answer = "responses"

    def restart_as(self, name: str, *, version: str | None = None) -> None:
        """Serve the base model as ``name`` from now on (a restart with another
        ``--served-model-name``); adapters follow it. ``version``: also another version."""
        old = self.models_body["data"][0]["id"]
        for card in self.models_body["data"]:
            if card["id"] == old:
                card["id"] = name
            if card.get("parent") == old:
                card["parent"] = name
        if version is not None:
            self.version = version

    def _unknown_model(self, body: dict[str, Any]) -> httpx.Response | None:
        """vLLM's 404 for a model it does not serve (as recorded), else ``None``."""
        if body.get("model") in self.served_ids:
            return None
        answer = copy.deepcopy(load("model_not_found", self.version)["body"])
        answer["error"]["message"] = (
            f"The model `{body.get('model')}` does not exist. "
            f"Valid aliases: {', '.join(self.served_ids)}."
        )
        return httpx.Response(404, json=answer)

    def _refused(self, body: dict[str, Any]) -> httpx.Response | None:
        """A 400 for the fields in ``refuses``, as a server whose request models forbid
        unknown fields answers (vLLM's validation error text)."""
        refused = sorted(self.refuses.intersection(body))
        if not refused:
            return None
        errors = [
            {
                "type": "extra_forbidden",
                "loc": ("body", name),
                "msg": "Extra inputs are not permitted",
            }
            for name in refused
        ]
        error = {"message": str(errors), "type": "BadRequestError", "param": None, "code": 400}
        return httpx.Response(400, json={"error": error})

    @property
    def served_ids(self) -> list[str]:
        """Ids of the cards served."""
        return [card["id"] for card in self.models_body["data"]]

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Route one request the way vLLM's routes would answer it."""
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        path = request.url.path
        if path in self.routes_missing:
            return _NOT_FOUND()
        if request.method == "GET":
            if path == "/v1/models":
                return httpx.Response(200, json=self.models_body)
            if path == "/version" and self.version is not None:
                return httpx.Response(200, json={"version": self.version})
            if path == "/health" and self.health is not None:
                return httpx.Response(200, text=self.health)
            return _NOT_FOUND()
        return self._post(path, request)

    def _post(self, path: str, request: httpx.Request) -> httpx.Response:
        route: Callable[[dict[str, Any]], httpx.Response] | None = {
            "/tokenize": self._tokenize,
            "/v1/chat/completions": self._chat,
            "/v1/responses": self._responses,
            "/v1/completions": self._completions,
            "/v1/embeddings": self._embeddings,
            "/rerank": lambda _: self._fixture("rerank"),
            "/score": lambda _: self._fixture("score"),
        }.get(path)
        if route is None:
            return _NOT_FOUND()
        body = json.loads(request.content)
        if (
            refusal := self._unknown_model(body)
            if path == "/tokenize"
            else (self._refused(body) or self._unknown_model(body))
        ):
            return refusal
        return route(body)

    def _tokenize(self, body: dict[str, Any]) -> httpx.Response:
        if "prompt" in body:
            return self._fixture("tokenize_text")
        return self._fixture("tokenize_chat_tools" if body.get("tools") else "tokenize_chat")

    def _completions(self, body: dict[str, Any]) -> httpx.Response:
        """The recorded completion for each prompt of a prompt list (choice i: prompt i)."""
        if body.get("stream"):
            return self._fixture("completion_stream")
        answer = copy.deepcopy(load("completion", self.version)["body"])
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        choice = answer["choices"][0]
        answer["choices"] = [{**choice, "index": i} for i in range(len(prompts))]
        return httpx.Response(200, json=answer)

    def _embeddings(self, body: dict[str, Any]) -> httpx.Response:
        """The recorded vectors, one per input text (cycled), in the encoding asked for."""
        if body.get("dimensions") is not None:
            return self._fixture("embeddings_dimensions")
        recorded = load("embeddings", self.version)["body"]
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        answer = copy.deepcopy(recorded)
        vectors = [item["embedding"] for item in recorded["data"]]
        answer["data"] = []
        for index, _ in enumerate(texts):
            vector = vectors[index % len(vectors)]
            if body.get("encoding_format") == "base64":  # what vLLM does: float32, little end.
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            answer["data"].append({"index": index, "object": "embedding", "embedding": vector})
        return httpx.Response(200, json=answer)

    def _responses(self, body: dict[str, Any]) -> httpx.Response:
        """The recorded Responses API answer ``responses_answer`` (its stream if asked)."""
        return self._fixture(self.responses_answer + ("_stream" if body.get("stream") else ""))

    def _chat(self, body: dict[str, Any]) -> httpx.Response:
        if self.chat_answer is not None:  # a recorded answer chosen by the test
            return self._fixture(self.chat_answer + ("_stream" if body.get("stream") else ""))
        if sum(len(str(m.get("content"))) for m in body["messages"]) > 20000:
            return self._fixture("context_overflow")
        if body.get("max_completion_tokens", 0) > self.models_body["data"][0]["max_model_len"]:
            return self._fixture("output_too_long")
        if body.get("structured_outputs"):
            return self._fixture("choice")
        name = "tool_call" if body.get("tools") else "chat"
        if self.reasoning and name == "chat":
            name = "reasoning_chat"
        if body.get("stream"):
            name += "_stream"
        return self._fixture(name)

    def _fixture(self, name: str) -> httpx.Response:
        fixture = load(name, self.version)
        if fixture["content_type"] == "text/event-stream":
            return httpx.Response(
                fixture["status"],
                content=self._with_reasoning_deltas(fixture["body"]).encode(),
                headers={"content-type": "text/event-stream"},
            )
        body = fixture["body"]
        for field in self.reasoning_fields:
            for choice in body.get("choices", []):
                choice["message"][field] = REASONING
        if self.reasoning_fields and body.get("usage"):
            # what vLLM adds when a reasoning parser runs (chat_completion/serving.py)
            body["usage"]["completion_tokens_details"] = {"reasoning_tokens": REASONING_TOKENS}
        return httpx.Response(fixture["status"], json=body)

    def _with_reasoning_deltas(self, sse: str) -> str:
        """Insert reasoning deltas (two pieces) before the first content delta."""
        if not self.reasoning_fields:
            return sse
        events = [e for e in sse.split("\n\n") if e.strip()]
        first = next(i for i, e in enumerate(events) if '"delta":{"content"' in e)
        template = json.loads(events[first].removeprefix("data: "))
        pieces = []
        half = len(REASONING) // 2
        for text in (REASONING[:half], REASONING[half:]):
            chunk = copy.deepcopy(template)
            delta: dict[str, Any] = dict.fromkeys(self.reasoning_fields, text)
            chunk["choices"][0]["delta"] = delta
            pieces.append("data: " + json.dumps(chunk))
        rest = []
        for event in events[first:]:
            payload = event.removeprefix("data: ")
            if payload.startswith("{") and '"usage":{' in payload:
                chunk = json.loads(payload)
                if chunk.get("usage"):
                    details = {"reasoning_tokens": REASONING_TOKENS}
                    chunk["usage"]["completion_tokens_details"] = details
                    event = "data: " + json.dumps(chunk)  # noqa: PLW2901
            rest.append(event)
        return "\n\n".join([*events[:first], *pieces, *rest]) + "\n\n"

    def paths(self) -> list[str]:
        """``METHOD /path`` of every request so far."""
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """JSON bodies of the requests to ``path`` (e.g. ``/v1/responses``) sent so far."""
        return [json.loads(r.content) for r in self.requests if r.url.path == path and r.content]

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


def make(fake: FakeVLLM, **kwargs: Any) -> ChatVLLM:
    """A ChatVLLM whose every request goes to ``fake``."""
    return ChatVLLM(base_url=BASE_URL, **fake.clients(), **kwargs)
