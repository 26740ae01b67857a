"""``langchain-vllm doctor``: ask a vLLM server what it can do, and say how to turn on the rest.

Usage::

    langchain-vllm doctor [--base-url URL] [--api-key KEY] [--timeout SECONDS] [--json]
    python -m langchain_vllm doctor ...

``--base-url`` defaults to ``VLLM_BASE_URL``, else ``http://localhost:8000/v1`` (the URL
includes the ``/v1`` suffix, as everywhere in langchain-vllm). ``--api-key`` defaults to
``VLLM_API_KEY``, else ``EMPTY``; it is sent to the server only and never printed.
``--timeout`` (default 10 seconds) bounds every single request; nothing is retried.
``--json`` prints the same report as one JSON object (see :meth:`Report.to_dict`).

The exit code is 0 when the server answered ``GET /v1/models`` with its model list, and 2
otherwise; the report then names the URL tried and what to check (is ``vllm serve`` running,
does ``--base-url`` / ``VLLM_BASE_URL`` point at it, including ``/v1``, is the API key
right). A missing capability does not change the exit code.

Example (a chat server started with ``--enable-auto-tool-choice --tool-call-parser hermes
--enable-lora --lora-modules ...`` and no reasoning parser)::

    langchain-vllm doctor: http://127.0.0.1:8000/v1

    reachable     yes (GET /health 200, GET /v1/models 200)
    vLLM version  0.32.0
    models        SmolLM2-135M-Instruct  (max_model_len 4096)
                  SmolLM2-135M-Instruct-lora  (LoRA adapter on SmolLM2-135M-Instruct)
    probed with   SmolLM2-135M-Instruct

    [ok]       chat                POST /v1/chat/completions answered
    [ok]       auto tool choice    tool_choice="auto" with a tool was accepted
    [ok]       structured outputs  constrained to one of yes/no, the model answered 'no'
    [missing]  reasoning parser    thinking_token_budget is set but reasoning_config is not
                                   configured. ...
                                   -> start the server with: --reasoning-parser <parser>
    [missing]  embeddings          no /v1/embeddings route: the server runs a generative ...
                                   -> start the server with: --runner pooling
    [missing]  rerank              no /rerank route: the server runs a generative model ...
                                   -> start the server with: --runner pooling

(long details are wrapped at 100 columns; shortened with ``...`` here). Nothing listening::

    langchain-vllm doctor: http://127.0.0.1:8009/v1

    reachable     no: Could not connect to the vLLM server at http://127.0.0.1:8009/v1
                  ([Errno 111] Connection refused). Check that it is running (`vllm serve
                  <model>`) and that base_url / VLLM_BASE_URL points at it, including the /v1
                  suffix.

What each line means:

``reachable``
    ``yes`` when ``GET <base-url>/models`` answered with a model list. ``GET <root>/health``
    (root = the base URL without ``/v1``) is reported next to it; a router may not have it.
    ``no`` comes with the reason: connection refused or timed out, a 404 (usually a base URL
    without ``/v1``), or a 401 (the server was started with ``--api-key`` and the key sent
    differs). Nothing else is probed then.
``vLLM version``
    From ``GET <root>/version``; ``unknown`` when there is none (e.g. a router or proxy in
    front of vLLM). The probes then use the newest request format.
``router``
    Shown when the base URL is a vllm-router (its ``GET /health`` says "All servers
    healthy"). The router drops the ``strict`` flag of tools on the way to vLLM, so tool
    arguments follow their schema only when every replica runs with
    ``--tool-strict-level parameter``.
``models``
    Every card of ``/v1/models``: a base model with its ``max_model_len`` (the context
    window the server was started with), a LoRA adapter with the base model it runs on
    (its ``parent``). Adapters are requested with their id as ``model``.
``probed with``
    The model the probes below use: the first base model listed. Every probe asks for at
    most 4 output tokens, at temperature 0.

Each capability is ``ok``, ``missing`` (with the server flag that turns it on, after
``->``), ``unknown`` (the probe failed for another reason; the server's message is shown)
or ``n/a`` (it does not apply, e.g. tool calling on a server without chat):

``chat``
    ``POST /v1/chat/completions``. A pooling (embedding / reranking) server has no such
    route: ``n/a``, and so are the three chat capabilities. A generative model without a
    chat template is ``missing`` (``--chat-template``).
``auto tool choice``
    A chat request with one tool and ``tool_choice="auto"``. vLLM refuses it unless it was
    started with ``--enable-auto-tool-choice --tool-call-parser <parser>`` (the parser that
    matches the model's chat template: ``hermes``, ``llama3_json``, ``mistral``,
    ``qwen3_xml`` ...). Without it, ``with_structured_output(method="json_schema")`` still
    works.
``structured outputs``
    A chat request constrained to the choices ``yes``/``no`` (``structured_outputs`` on
    vLLM >= 0.12, ``guided_choice`` before) with a prompt that does not ask for either:
    ``ok`` only when the answer is exactly one of them. An answer outside them means the
    constraint was dropped (a proxy that strips vLLM's fields, or a vLLM too old for the
    field sent).
``reasoning parser``
    A chat request with ``thinking_token_budget=1``: vLLM refuses it without
    ``--reasoning-parser <parser>`` (``deepseek_r1``, ``qwen3``, ``granite``,
    ``openai_gptoss`` ...), and a server with a parser counts ``reasoning_tokens`` in the
    usage. A parser whose think markers vLLM cannot find is refused the same way;
    ``--reasoning-config`` then names them.
``embeddings``
    ``POST /v1/embeddings``: served by an embedding model started with ``--runner pooling``.
    One vLLM server serves one model, so a chat server needs a second server for this.
``rerank``
    ``POST <root>/rerank``: served by a cross-encoder (reranker) or an embedding model with
    ``--runner pooling`` (an embedding model scores by embedding similarity).
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import openai
from pydantic import SecretStr

from langchain_vllm import _http, _server, _versions, errors
from langchain_vllm._endpoint import DEFAULT_API_KEY
from langchain_vllm._probes import CHOICES, Capability, Prober, Status, probe_status

if TYPE_CHECKING:
    from langchain_vllm._http import httpx

DEFAULT_TIMEOUT = 10.0
"""Seconds each request may take."""

EXIT_UNREACHABLE = 2
"""Exit code when the server did not answer ``GET /v1/models``."""

__all__ = [
    "CAPABILITIES",
    "CHOICES",
    "DEFAULT_TIMEOUT",
    "EXIT_UNREACHABLE",
    "Capability",
    "Report",
    "Status",
    "diagnose",
    "probe_status",
    "render",
]

CAPABILITIES = (
    ("chat", "chat"),
    ("tool_choice", "auto tool choice"),
    ("structured_outputs", "structured outputs"),
    ("reasoning_parser", "reasoning parser"),
    ("embeddings", "embeddings"),
    ("rerank", "rerank"),
)
"""``(field, label)`` of each capability of a :class:`Report`, in report order."""


def _not_probed(detail: str) -> Capability:
    return Capability("unknown", detail)


_UNREACHABLE = _not_probed("not probed: the server is not reachable")


@dataclass(frozen=True)
class Report:
    """What ``langchain-vllm doctor`` found out about one server.

    Attributes:
        base_url: The URL probed (with ``/v1``).
        reachable: Whether ``GET /v1/models`` answered with a model list.
        problem: Why the server is not reachable, and what to check (``None`` if it is).
        healthy: Whether ``GET <root>/health`` answered 200.
        version: The vLLM version from ``GET <root>/version`` (``None``: unknown).
        router: The base URL is a vllm-router (it drops tools' ``strict``).
        models: The cards of ``/v1/models``.
        probed_model: The model the capability probes used (the first base model).
        chat: ``POST /v1/chat/completions``.
        tool_choice: ``tool_choice="auto"`` (a tool-call parser is on).
        structured_outputs: Constrained decoding (``structured_outputs`` / ``guided_*``).
        reasoning_parser: A reasoning parser is on (``thinking_token_budget`` works).
        embeddings: ``POST /v1/embeddings``.
        rerank: ``POST <root>/rerank``.
    """

    base_url: str
    reachable: bool
    problem: str | None = None
    healthy: bool = False
    version: str | None = None
    router: bool = False
    models: tuple[_server.ServedModel, ...] = ()
    probed_model: str | None = None
    chat: Capability = field(default=_UNREACHABLE)
    tool_choice: Capability = field(default=_UNREACHABLE)
    structured_outputs: Capability = field(default=_UNREACHABLE)
    reasoning_parser: Capability = field(default=_UNREACHABLE)
    embeddings: Capability = field(default=_UNREACHABLE)
    rerank: Capability = field(default=_UNREACHABLE)

    @property
    def exit_code(self) -> int:
        """0 when the server is reachable, 2 otherwise."""
        return 0 if self.reachable else EXIT_UNREACHABLE

    def capabilities(self) -> tuple[tuple[str, str, Capability], ...]:
        """``(field, label, result)`` of every capability, in report order."""
        return tuple((name, label, getattr(self, name)) for name, label in CAPABILITIES)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON data (what ``--json`` prints).

        Keys: ``base_url``, ``reachable``, ``problem``, ``healthy``, ``version`` (``null``
        when unknown), ``router``, ``models`` (``id``, ``root``, ``parent``, ``max_model_len``,
        ``is_adapter``), ``probed_model`` and ``capabilities``: one object per capability
        (``chat``, ``tool_choice``, ``structured_outputs``, ``reasoning_parser``,
        ``embeddings``, ``rerank``) with ``status``, ``detail`` and ``flag``.
        """
        return {
            "base_url": self.base_url,
            "reachable": self.reachable,
            "problem": self.problem,
            "healthy": self.healthy,
            "version": self.version,
            "router": self.router,
            "models": [{**asdict(m), "is_adapter": m.is_adapter} for m in self.models],
            "probed_model": self.probed_model,
            "capabilities": {name: asdict(result) for name, _, result in self.capabilities()},
        }


def _scrubbed(report: Report, secret: str) -> Report:
    """The report with the API key masked wherever a server echoed it back."""
    if secret in ("", DEFAULT_API_KEY) or secret not in json.dumps(report.to_dict()):
        return report

    def mask(text: str) -> str:
        return text.replace(secret, "***")

    masked: dict[str, Any] = {
        name: replace(result, detail=mask(result.detail))
        for name, _, result in report.capabilities()
    }
    return replace(
        report,
        base_url=mask(report.base_url),
        problem=None if report.problem is None else mask(report.problem),
        **masked,
    )


def diagnose(
    base_url: str,
    api_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    http_client: httpx.Client | None = None,
) -> Report:
    """Probe the vLLM server at ``base_url`` and report what it can do.

    Every request is tiny (at most 4 output tokens) and is not retried.

    Args:
        base_url: Server URL including ``/v1``.
        api_key: The server's ``--api-key`` (default: ``VLLM_API_KEY``, else ``"EMPTY"``).
        timeout: Seconds each request may take.
        http_client: An ``httpx.Client`` to send the requests through (e.g. for tests).

    Returns:
        The report; ``reachable`` is ``False`` (and ``problem`` says why) when
        ``GET /v1/models`` did not answer with a model list.
    """
    base_url = base_url.rstrip("/")
    key = api_key if api_key is not None else os.environ.get("VLLM_API_KEY", DEFAULT_API_KEY)
    client, _ = _http.build_clients(
        base_url=base_url,
        api_key=SecretStr(key),
        timeout=timeout,
        max_retries=0,
        http_client=http_client,
    )
    if client is None:  # pragma: no cover - a SecretStr key always yields a sync client
        msg = "no sync client"
        raise RuntimeError(msg)
    return _scrubbed(_diagnose(client, base_url, timeout), key)


def _diagnose(client: openai.OpenAI, base_url: str, timeout: float) -> Report:
    answer = _server.health_answer(client)
    healthy = answer is not None
    try:
        models = _server.served_models(client, refresh=True)
    except (openai.APIStatusError, openai.APIConnectionError) as error:
        problem = errors.unreachable_problem(error, base_url)
        return Report(base_url=base_url, reachable=False, problem=problem, healthy=healthy)
    try:
        version = _server.server_version(client, refresh=True)
    except (openai.APIStatusError, openai.APIConnectionError):
        version = None
    found = Report(
        base_url=base_url,
        reachable=True,
        healthy=healthy,
        version=version,
        router=_server.is_router_answer(answer),
        models=models,
    )
    model = next((m.id for m in models if not m.is_adapter), None)
    if model is None:
        nothing = Capability("n/a", "the server lists no base model to probe")
        none_probed: dict[str, Any] = dict.fromkeys((name for name, _ in CAPABILITIES), nothing)
        return replace(found, **none_probed)
    prober = Prober(
        client, model, _versions.wire_format(version), timeout, _server.root_url(client)
    )
    chat = prober.probe_chat()
    if chat.status == "ok":
        reasoning = prober.probe_reasoning()
        tools = prober.probe_tools()
        structured = prober.probe_structured(reasoning=reasoning.status == "ok")
    else:
        tools = structured = reasoning = Capability("n/a", "needs chat")
    embeddings = prober.probe_embeddings()
    rerank = prober.probe_rerank(embeddings=embeddings.status == "ok")
    return replace(
        found,
        probed_model=model,
        chat=chat,
        tool_choice=tools,
        structured_outputs=structured,
        reasoning_parser=reasoning,
        embeddings=embeddings,
        rerank=rerank,
    )


# ------------------------------------------------------------------ output

_LABEL_WIDTH = 20  # the longest capability label plus two
_STATUS_WIDTH = 11  # "[missing]" plus two
_LINE_WIDTH = 100


def _model_line(model: _server.ServedModel) -> str:
    if model.is_adapter:
        return f"{model.id}  (LoRA adapter on {model.parent})"
    if model.max_model_len is None:
        return f"{model.id}  (max_model_len not stated)"
    return f"{model.id}  (max_model_len {model.max_model_len})"


def _wrapped(head: str, text: str, indent: str) -> list[str]:
    """``head`` + ``text`` wrapped at the line width, continuation lines under ``indent``."""
    return textwrap.wrap(
        text,
        _LINE_WIDTH,
        initial_indent=head,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [head.rstrip()]


def render(report: Report) -> str:
    """The human-readable report (what ``langchain-vllm doctor`` prints)."""
    lines = [f"langchain-vllm doctor: {report.base_url}", ""]
    if not report.reachable:
        lines.extend(_wrapped("reachable     no: ", report.problem or "", " " * 14))
        return "\n".join(lines) + "\n"
    health = "GET /health 200" if report.healthy else "GET /health did not answer 200"
    lines.append(f"reachable     yes ({health}, GET /v1/models 200)")
    version = report.version or "unknown (no GET /version: e.g. a router in front of vLLM)"
    lines.append(f"vLLM version  {version}")
    if report.router:
        lines.extend(
            _wrapped(
                "router        ",
                'vllm-router (GET /health: "All servers healthy"). It drops the "strict" '
                "flag of tools, so tool arguments follow their schema only when every "
                f"replica behind it runs with {_server.STRICT_LEVEL_FLAG}.",
                " " * 14,
            )
        )
    model_lines = [_model_line(m) for m in report.models] or ["none"]
    lines.append(f"models        {model_lines[0]}")
    lines.extend(f"              {line}" for line in model_lines[1:])
    lines.append(f"probed with   {report.probed_model or 'nothing (no base model)'}")
    lines.append("")
    indent = " " * (_STATUS_WIDTH + _LABEL_WIDTH)
    for _, label, result in report.capabilities():
        head = f"{'[' + result.status + ']':<{_STATUS_WIDTH}}{label:<{_LABEL_WIDTH}}"
        lines.extend(_wrapped(head, result.detail, indent))
        if result.flag:
            lines.append(f"{indent}-> start the server with: {result.flag}")
    return "\n".join(lines) + "\n"
