"""The probes of a vLLM server's capabilities, shared by ``profile`` and the doctor.

Each probe is one tiny chat, embeddings or rerank request (at most 4 output tokens, never
retried by the doctor) and what its answer or refusal says: a :class:`Capability` with a
status, the server's own words, and the ``vllm serve`` flag that turns it on when it is
missing. ``ChatVLLM.profile`` asks two of them (:func:`probe_status`: tools, reasoning);
``langchain-vllm doctor`` (``doctor.py``) runs them all and renders the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import openai

from langchain_vllm import _flags, _versions, errors

Status = Literal["ok", "missing", "unknown", "n/a"]

CHOICES = ("yes", "no")
"""What the structured-outputs probe constrains the answer to."""

_CHOICE_PROMPT = "Say hello."  # asks for neither choice: only a working constraint gives one
_PING_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Return the current time.",
        "parameters": {"type": "object", "properties": {}},
    },
}


@dataclass(frozen=True)
class Capability:
    """What one probe found.

    Attributes:
        status: ``"ok"``, ``"missing"``, ``"unknown"`` or ``"n/a"``.
        detail: What the server answered, in words (its own message on failures).
        flag: The ``vllm serve`` flag(s) that turn it on: set when it is ``"missing"``
            (and when ``"unknown"`` but a flag is the likely fix), else ``None``.
    """

    status: Status
    detail: str
    flag: str | None = None


def _no_answer(error: openai.APIConnectionError, timeout: float) -> Capability:
    return Capability("unknown", errors.no_answer(error, timeout))


def _failed(error: openai.APIStatusError, what: str) -> Capability:
    return Capability("unknown", errors.answered(error, what))


def _message(answer: object) -> dict[str, Any]:
    """The first choice's message of a chat answer (empty when there is none)."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return message
    return {}


@dataclass(frozen=True)
class Prober:
    """The probes: each a tiny request (at most 4 output tokens) and what it says."""

    client: openai.OpenAI
    model: str
    wire: _versions.WireFormat
    timeout: float
    root: str
    """The server root (``_server.root_url``): ``/rerank`` lives there."""

    def chat(self, max_tokens: int, prompt: str = "Hi", **fields: Any) -> object:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            self.wire.max_tokens_field: max_tokens,
            **fields,
        }
        return self.client.post("/chat/completions", body=body, cast_to=object)

    def probe_chat(self) -> Capability:
        try:
            answer = self.chat(1)
        except openai.APIStatusError as error:
            if errors.missing(error) == "route":
                return Capability(
                    "n/a",
                    "no /v1/chat/completions route: the server runs a pooling (embedding or "
                    "reranking) model; chat needs a server with a generative model",
                )
            text = errors.server_text(error)
            if "chat template" in text:
                return Capability("missing", text, _flags.CHAT_TEMPLATE_SETUP)
            return _failed(error, "POST /v1/chat/completions")
        except openai.APIConnectionError as error:
            return _no_answer(error, self.timeout)
        if not _message(answer):
            return Capability("unknown", f"the chat answer has no message: {answer!r:.200}")
        return Capability("ok", "POST /v1/chat/completions answered")

    def probe_tools(self) -> Capability:
        try:
            self.chat(1, prompt="What time is it?", tools=[_PING_TOOL], tool_choice="auto")
        except openai.APIStatusError as error:
            text = errors.server_text(error)
            if any(flag in text for flag in _flags.TOOL_FLAGS):
                return Capability("missing", text, _flags.TOOL_SETUP)
            return _failed(error, 'a chat request with tool_choice="auto"')
        except openai.APIConnectionError as error:
            return _no_answer(error, self.timeout)
        return Capability("ok", 'tool_choice="auto" with a tool was accepted')

    def probe_reasoning(self) -> Capability:
        try:
            answer = self.chat(1, thinking_token_budget=1)
        except openai.APIStatusError as error:
            text = errors.server_text(error)
            if _flags.REASONING_PARSER in text:
                return Capability("missing", text, _flags.REASONING_SETUP)
            return _failed(error, "a chat request with thinking_token_budget")
        except openai.APIConnectionError as error:
            return _no_answer(error, self.timeout)
        usage = answer.get("usage") if isinstance(answer, dict) else None
        details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
        if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
            return Capability(
                "ok",
                "thinking_token_budget was accepted and reasoning_tokens are counted",
            )
        return Capability(
            "unknown",
            "thinking_token_budget was accepted, but the answer counts no reasoning_tokens "
            "(a vLLM that predates thinking_token_budget ignores it; --reasoning-config "
            "without --reasoning-parser also accepts it)",
            _flags.REASONING_SETUP,
        )

    def probe_structured(self, *, reasoning: bool) -> Capability:
        choices = list(CHOICES)
        constraint: dict[str, Any] = (
            {"guided_choice": choices}
            if self.wire.legacy_guided
            else {"structured_outputs": {"choice": choices}}
        )
        if reasoning:  # end thinking at once, so the constrained answer fits in 4 tokens
            constraint["thinking_token_budget"] = 0
        field_name = next(iter(constraint))
        try:
            answer = self.chat(4, prompt=_CHOICE_PROMPT, **constraint)
        except openai.APIStatusError as error:
            flag = (
                _flags.LEGACY_STRUCTURED_SETUP
                if self.wire.legacy_guided
                else _flags.STRUCTURED_SETUP
            )
            if error.status_code == 400:  # noqa: PLR2004
                return Capability("missing", errors.server_text(error), flag)
            return _failed(error, f"a chat request with {field_name}")
        except openai.APIConnectionError as error:
            return _no_answer(error, self.timeout)
        content = _message(answer).get("content")
        wanted = "/".join(choices)
        if content in choices:
            return Capability(
                "ok", f"constrained to one of {wanted}, the model answered {content!r}"
            )
        if content is None:
            return Capability(
                "unknown",
                f"constrained to one of {wanted}, the answer had no content "
                f"(message: {_message(answer)!r:.200})",
            )
        return Capability(
            "missing",
            f"constrained to one of {wanted} ({field_name}), the model answered {content!r}: "
            "the constraint was ignored (a proxy dropping vLLM's fields, or a vLLM too old "
            f"for {field_name})",
        )

    def probe_embeddings(self) -> Capability:
        try:
            answer = self.client.post(
                "/embeddings", body={"model": self.model, "input": "ping"}, cast_to=object
            )
        except openai.APIStatusError as error:
            if errors.missing(error) == "route":
                return Capability(
                    "missing",
                    "no /v1/embeddings route: the server runs a generative model; serve an "
                    "embedding model on a second server",
                    _flags.POOLING_RUNNER,
                )
            return _failed(error, "POST /v1/embeddings")
        except openai.APIConnectionError as error:
            return _no_answer(error, self.timeout)
        data = answer.get("data") if isinstance(answer, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        vector = first.get("embedding") if isinstance(first, dict) else None
        if not isinstance(vector, list):
            return Capability("unknown", f"the answer has no embedding: {answer!r:.200}")
        return Capability("ok", f"POST /v1/embeddings answered ({len(vector)} dimensions)")

    def probe_rerank(self, *, embeddings: bool) -> Capability:
        body = {"model": self.model, "query": "ping", "documents": ["pong"]}
        try:
            answer = self.client.post(f"{self.root}/rerank", body=body, cast_to=object)
        except openai.APIStatusError as error:
            if errors.missing(error) == "route":
                return Capability(
                    "missing",
                    "no /rerank route: the server runs a generative model; serve a reranker "
                    "(cross-encoder, e.g. BAAI/bge-reranker-base) or an embedding model on a "
                    "second server",
                    _flags.POOLING_RUNNER,
                )
            return _failed(error, "POST /rerank")
        except openai.APIConnectionError as error:
            return _no_answer(error, self.timeout)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or not results:
            return Capability("unknown", f"the answer has no results: {answer!r:.200}")
        how = " (by embedding similarity: an embedding model, not a cross-encoder)"
        return Capability("ok", "POST /rerank answered" + (how if embeddings else ""))


def probe_status(client: openai.OpenAI, model: str, wire: _versions.WireFormat, group: str) -> str:
    """The status of the doctor's ``"tools"`` or ``"reasoning"`` probe (``ChatVLLM.profile``)."""
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    prober = Prober(client, model, wire, timeout=30.0, root=root)
    return (prober.probe_tools() if group == "tools" else prober.probe_reasoning()).status
