r"""Record the real vLLM server's answers that the unit tests replay through a mock transport.

Usage (with the local servers running: ``python3 scripts/vllm_local.py start``)::

    uv run python scripts/record_fixtures.py [--base-url http://127.0.0.1:8000/v1]

Each fixture is a JSON file in ``tests/unit_tests/fixtures/`` holding the request that was sent
and the server's status, content type and body (for a stream: the raw SSE text). An older
vLLM's answers go in a folder named after its version, e.g. for vLLM 0.16
(``python3 scripts/vllm_local.py start 0.16``)::

    uv run python scripts/record_fixtures.py --into tests/unit_tests/fixtures/0.16.0 \
        --base-url http://127.0.0.1:8016/v1 --embeddings-base-url http://127.0.0.1:8017/v1 \
        --reasoning-base-url http://127.0.0.1:8018/v1

``--only NAME ...`` records just those fixtures (the others are left as they are).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from langchain_vllm._http import httpx

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "unit_tests" / "fixtures"

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


_into = FIXTURES
_only: set[str] = set()


def _record(client: httpx.Client, name: str, method: str, path: str, body: Any = None) -> None:
    """Send one request (``path`` relative to /v1, or absolute) and store the exchange."""
    if _only and name not in _only:
        return
    response = client.request(method, path, json=body)
    content_type = response.headers.get("content-type", "")
    text = response.text
    fixture = {
        "request": {"method": method, "path": path, "json": body},
        "status": response.status_code,
        "content_type": content_type.split(";")[0],
        "body": text if "event-stream" in content_type else json.loads(text),
    }
    (_into / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"{name}: {response.status_code} {content_type}")


def main() -> None:
    """Record every fixture against ``--base-url``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--embeddings-base-url", default="http://127.0.0.1:8001/v1")
    parser.add_argument("--reasoning-base-url", default="http://127.0.0.1:8002/v1")
    parser.add_argument("--into", type=Path, default=FIXTURES, help="the fixtures' folder")
    parser.add_argument("--only", nargs="*", default=[], help="record only these fixtures")
    args = parser.parse_args()
    global _into  # noqa: PLW0603 - one recording run per process
    _into = args.into
    _only.update(args.only)
    _into.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=args.base_url, timeout=120) as client:
        models = client.get("/models").json()
        model = models["data"][0]["id"]
        hello = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"},
        ]
        weather = [{"role": "user", "content": "What is the weather in Paris?"}]
        _record(client, "models", "GET", "/models")
        stream = {"stream": True, "stream_options": {"include_usage": True}}
        chat = {"model": model, "messages": hello, "max_completion_tokens": 20, "temperature": 0}
        tool_call = {
            "model": model,
            "messages": weather,
            "tools": [WEATHER_TOOL],
            "tool_choice": "required",
            "temperature": 0,
        }
        for name, body in (("chat", chat), ("tool_call", tool_call)):
            _record(client, name, "POST", "/chat/completions", body)
            _record(client, f"{name}_stream", "POST", "/chat/completions", {**body, **stream})
        # tool_choice="required" with two tools, cut short by max_tokens (before vLLM 0.20 the
        # answer is an open-ended JSON list the server then fails to parse: a 400)
        other_tool = {
            **WEATHER_TOOL,
            "function": {**WEATHER_TOOL["function"], "name": "get_time"},
        }
        cut = {**tool_call, "tools": [WEATHER_TOOL, other_tool], "max_completion_tokens": 12}
        _record(client, "required_cut", "POST", "/chat/completions", cut)
        _record(
            client,
            "model_not_found",
            "POST",
            "/chat/completions",
            {"model": "no-such-model", "messages": hello},
        )
        root = args.base_url.removesuffix("/v1")
        _record(client, "version", "GET", f"{root}/version")
        _record(
            client,
            "tokenize_chat",
            "POST",
            f"{root}/tokenize",
            {"model": model, "messages": hello, "add_generation_prompt": True},
        )
        _record(
            client,
            "tokenize_chat_tools",
            "POST",
            f"{root}/tokenize",
            {"model": model, "messages": weather, "tools": [WEATHER_TOOL]},
        )
        _record(
            client,
            "tokenize_text",
            "POST",
            f"{root}/tokenize",
            {"model": model, "prompt": "Hello world", "add_special_tokens": False},
        )
        long_prompt = [{"role": "user", "content": "word " * 5000}]
        _record(
            client,
            "context_overflow",
            "POST",
            "/chat/completions",
            {"model": model, "messages": long_prompt},
        )
        _record(
            client,
            "output_too_long",
            "POST",
            "/chat/completions",
            {"model": model, "messages": hello, "max_completion_tokens": 100000},
        )
        _record(
            client,
            "choice",
            "POST",
            "/chat/completions",
            {
                "model": model,
                "messages": [{"role": "user", "content": "Is the sky blue? Answer yes or no."}],
                "structured_outputs": {"choice": ["yes", "no"]},
                "temperature": 0,
            },
        )
        completion = {"model": model, "prompt": "The capital of France is", "max_tokens": 8}
        _record(client, "completion", "POST", "/completions", {**completion, "temperature": 0})
        _record(
            client,
            "completion_stream",
            "POST",
            "/completions",
            {**completion, "temperature": 0, **stream},
        )
    _record_pooling(args.embeddings_base_url)
    _record_reasoning(args.reasoning_base_url)


THOUGHT = "The user asks for a capital city. France's capital is Paris."
ANSWER = "The capital of France is Paris."


def _record_reasoning(base_url: str) -> None:
    """Fixtures of the reasoning server: a scripted answer split into reasoning and content.

    The script (``scripts/server_venv/scripted_model.py``) fixes the model's tokens; what the
    server's reasoning parser makes of them, and the fields it answers in, are vLLM's own.
    Servers from vLLM 0.19 (the launcher's ``reason``, with ``--reasoning-config``) think from
    the generation prompt on; older ones from a ``<think>`` in the answer.
    """
    with httpx.Client(base_url=base_url, timeout=120) as client:
        model = client.get("/models").json()["data"][0]["id"]
        version = client.get(base_url.removesuffix("/v1") + "/version").json()["version"]
        numbers = tuple(int(part) for part in version.split(".")[:2])
        opening = "" if numbers >= (0, 19) else "<think>"
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "temperature": 0,
            "chat_template_kwargs": {"enable_thinking": True},
            "vllm_xargs": {"script": f"{opening}{THOUGHT}</think>{ANSWER}"},
        }
        stream = {"stream": True, "stream_options": {"include_usage": True}}
        _record(client, "reasoning_chat", "POST", "/chat/completions", body)
        _record(client, "reasoning_chat_stream", "POST", "/chat/completions", {**body, **stream})


def _record_pooling(base_url: str) -> None:
    """Fixtures of the embedding server: embeddings, rerank, score, and its errors."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        models = client.get("/models").json()
        model = models["data"][0]["id"]
        root = base_url.removesuffix("/v1")
        _record(client, "embed_models", "GET", "/models")
        texts = ["Paris is the capital of France.", "I like pizza."]
        _record(
            client,
            "embeddings",
            "POST",
            "/embeddings",
            {"model": model, "input": texts, "encoding_format": "float"},
        )
        _record(
            client,
            "embeddings_dimensions",
            "POST",
            "/embeddings",
            {"model": model, "input": texts, "encoding_format": "float", "dimensions": 8},
        )
        query = "What is the capital of France?"
        documents = ["I like pizza.", "Paris is the capital of France.", "Bananas are yellow."]
        _record(
            client,
            "rerank",
            "POST",
            f"{root}/rerank",
            {"model": model, "query": query, "documents": documents},
        )
        _record(
            client,
            "score",
            "POST",
            f"{root}/score",
            {"model": model, "text_1": query, "text_2": documents},
        )


if __name__ == "__main__":
    main()
