"""A scripted vLLM with a *capable* model behind it, for agent and middleware tests.

The 135M model of the real test server cannot decide by itself to call a tool; this server
stands in for a capable model, while constraining the output the way vLLM 0.32 does:

* A ``response_format`` JSON schema covers the whole output, so no tool call can be written:
  the model answers the schema straight away, from what it knows (the weather it makes up is
  :data:`MADE_UP`).
* Otherwise, with tools: a model that has no weather yet calls ``get_weather``; once a tool
  result is in the conversation it answers, through a tool whose parameters are the answer
  schema when one is offered with ``tool_choice="required"``, else in plain text.
* A named ``tool_choice`` forces that tool, as vLLM's named function calling does.
* ``tool_choice="auto"``/``"required"`` without a tool parser, ``thinking_token_budget``
  without a reasoning parser, and (with ``system_first_only``) a system message anywhere
  but first are refused with vLLM 0.32's own error messages; ``POST /tokenize`` renders
  the same template checks.
* ``tools: []`` is refused as vLLM 0.32 refuses it.

Streaming answers arrive as vLLM's SSE chunks: role, content in pieces or tool-call deltas
(name first, arguments in pieces), the finish reason, then a usage chunk when asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langchain_vllm._http import httpx

BASE_URL = "http://scripted.test:8000/v1"
MODEL = "capable-model"
MAX_MODEL_LEN = 8192

WEATHER_RESULT = "Paris: 21 degrees C, sunny"
"""What the tests' ``get_weather`` tool returns."""

FROM_TOOL = {"city": "Paris", "temperature_c": 21, "conditions": "sunny"}
"""The answer of a model that read the tool's result."""

MADE_UP = {"city": "Paris", "temperature_c": -99, "conditions": "unknown"}
"""The answer of a model that could not call the tool."""

TOOLS_OFF = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
REASONING_OFF = (
    "thinking_token_budget is set but reasoning_config is not configured. Please set "
    "--reasoning-parser and/or --reasoning-config to use thinking_token_budget."
)
SYSTEM_FIRST = "System message must be at the beginning."
EMPTY_TOOLS = (
    "`tools` must not be an empty array. Either provide at least one tool or omit the field "
    "entirely."
)


def _bad_request(message: str) -> httpx.Response:
    return httpx.Response(
        400,
        json={"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}},
    )


@dataclass
class ScriptedVLLM:
    """vLLM 0.32 with a capable model, "started" with the given flags."""

    auto_tools: bool = True
    reasoning_parser: bool = False
    system_first_only: bool = False
    requests: list[httpx.Request] = field(default_factory=list)
    tool_calls_made: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Route one request."""
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/v1/models":
            card: dict[str, Any] = {"id": MODEL, "object": "model", "root": MODEL}
            card.update(parent=None, max_model_len=MAX_MODEL_LEN)
            return httpx.Response(200, json={"object": "list", "data": [card]})
        if request.method == "GET" and path == "/version":
            return httpx.Response(200, json={"version": "0.32.0"})
        body = json.loads(request.content) if request.content else {}
        if path == "/tokenize":
            return self._tokenize(body)
        if path == "/v1/chat/completions":
            return self._chat(body)
        return httpx.Response(404, json={"detail": "Not Found"})

    # ------------------------------------------------------------------ routes

    def _template_refusal(self, messages: list[dict[str, Any]]) -> httpx.Response | None:
        late_system = any(m["role"] == "system" for m in messages[1:])
        return _bad_request(SYSTEM_FIRST) if self.system_first_only and late_system else None

    def _tokenize(self, body: dict[str, Any]) -> httpx.Response:
        if "messages" in body and (refusal := self._template_refusal(body["messages"])):
            return refusal
        text = json.dumps(body.get("messages") or body.get("prompt"))
        count = len(text) // 4 + 1
        return httpx.Response(
            200, json={"count": count, "max_model_len": MAX_MODEL_LEN, "tokens": [1] * count}
        )

    def _chat(self, body: dict[str, Any]) -> httpx.Response:
        messages = body["messages"]
        tools = body.get("tools")
        choice = body.get("tool_choice")
        if tools is not None and not tools:
            return _bad_request(EMPTY_TOOLS)
        if choice in ("auto", "required") and not self.auto_tools:
            return _bad_request(TOOLS_OFF)
        if body.get("thinking_token_budget") is not None and not self.reasoning_parser:
            return _bad_request(REASONING_OFF)
        if refusal := self._template_refusal(messages):
            return refusal
        content, calls = self._decide(body)
        if calls:
            self.tool_calls_made += 1
        if body.get("stream"):
            return self._sse(body, content, calls)
        return httpx.Response(200, json=self._completion(content, calls))

    def _decide(self, body: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
        """What the capable model writes, within what vLLM's constraints allow."""
        tools = body.get("tools") or []
        names = [t["function"]["name"] for t in tools]
        choice = body.get("tool_choice")
        read_tool = any(m["role"] == "tool" for m in body["messages"])
        answer = FROM_TOOL if read_tool else MADE_UP
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return json.dumps(answer), []  # the schema covers the whole output
        if isinstance(choice, dict):
            forced = choice["function"]["name"]
            arguments = {"city": "Paris"} if forced == "get_weather" else answer
            return None, [_call(forced, arguments)]
        if not tools or choice == "none":
            return f"It is {answer['temperature_c']} degrees in Paris.", []
        if not read_tool and "get_weather" in names:
            return None, [_call("get_weather", {"city": "Paris"})]
        others = [name for name in names if name != "get_weather"]
        if choice == "required":
            return None, [_call(others[0] if others else names[0], answer)]
        return f"It is {answer['temperature_c']} degrees in Paris.", []

    # ------------------------------------------------------------------ answers

    @staticmethod
    def _usage() -> dict[str, int]:
        return {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}

    def _completion(self, content: str | None, calls: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 1795686696,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "tool_calls": calls,
                        "reasoning": None,
                    },
                    "finish_reason": "tool_calls" if calls else "stop",
                    "stop_reason": None,
                }
            ],
            "usage": self._usage(),
        }

    def _sse(
        self, body: dict[str, Any], content: str | None, calls: list[dict[str, Any]]
    ) -> httpx.Response:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": 1795686696,
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events = [chunk({"role": "assistant", "content": ""})]
        if content:
            half = len(content) // 2
            events += [chunk({"content": content[:half]}), chunk({"content": content[half:]})]
        for index, call in enumerate(calls):
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            head = {**call, "index": index, "function": {"name": call["function"]["name"]}}
            head["function"]["arguments"] = ""
            events.append(chunk({"tool_calls": [head]}))
            for piece in (arguments[:half], arguments[half:]):
                piece_delta = {"index": index, "function": {"arguments": piece}}
                events.append(chunk({"tool_calls": [piece_delta]}))
        events.append(chunk({}, "tool_calls" if calls else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk({}), "choices": [], "usage": self._usage()})
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(
            200, content=text.encode(), headers={"content-type": "text/event-stream"}
        )

    # ------------------------------------------------------------------ for assertions

    def chat_bodies(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests so far."""
        return [
            json.loads(r.content) for r in self.requests if r.url.path == "/v1/chat/completions"
        ]

    def paths(self) -> list[str]:
        """``METHOD /path`` of every request so far."""
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def clients(self) -> dict[str, Any]:
        """``http_client``/``http_async_client`` arguments routing to this server."""
        transport = httpx.MockTransport(self.handler)
        return {
            "http_client": httpx.Client(transport=transport),
            "http_async_client": httpx.AsyncClient(transport=transport),
        }


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-tool-{name}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
