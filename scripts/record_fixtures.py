r"""Record the real vLLM server's answers that the unit tests replay through a mock transport.

Usage (with the local servers running: ``python3 scripts/vllm_local.py start``)::

    uv run python scripts/record_fixtures.py [--base-url http://127.0.0.1:8000/v1]
    uv run python scripts/record_fixtures.py --families   # the families and gpt-oss servers

Each fixture is a JSON file in ``tests/unit_tests/fixtures/`` holding the request that was sent
and the server's status, content type and body (for a stream: the raw SSE text). An older
vLLM's answers go in a folder named after its version, e.g. for vLLM 0.16
(``python3 scripts/vllm_local.py start 0.16``)::

    uv run python scripts/record_fixtures.py --into tests/unit_tests/fixtures/0.16.0 \
        --base-url http://127.0.0.1:8016/v1 --embeddings-base-url http://127.0.0.1:8017/v1 \
        --reasoning-base-url http://127.0.0.1:8018/v1

``--only NAME ...`` records just those fixtures (the others are left as they are);
``--endings`` only the answers that end early or say how they ended.

``--families`` records instead each model family's answers (``tests/families.py``), invoked
and streamed, from the families server and the gpt-oss server (``--families-base-url``,
``--gpt-oss-base-url``) into ``fixtures/families/``: text then tool calls, reasoning then a
call, reasoning then an answer, each in the family's own markup (the scripted model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

from langchain_vllm._http import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "unit_tests" / "fixtures"

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


CUT_CALL_SCRIPT = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
)
"""The scripted model's Hermes tool call (the chat server's parser), cut by low limits."""

WEATHER_JSON = '{"city":"Paris","forecast":"sunny"}'
"""A scripted structured answer (compact: the server disallows whitespace in JSON)."""

WEATHER_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "Weather",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "forecast": {"type": "string"}},
            "required": ["city", "forecast"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def _record_endings(client: httpx.Client, model: str, reasoning_base_url: str) -> None:
    """Answers that end early or say how they ended.

    Cut tool calls and structured answers (scripted: exact), logprobs and stop reasons, and
    the Responses API's answers (the reasoning ones from the reasoning server).
    """
    weather = [{"role": "user", "content": "What is the weather in Paris?"}]
    stream = {"stream": True, "stream_options": {"include_usage": True}}
    named = {"type": "function", "function": {"name": "get_weather"}}
    call = {
        "model": model,
        "messages": weather,
        "tools": [WEATHER_TOOL],
        "temperature": 0,
        "vllm_xargs": {"script": CUT_CALL_SCRIPT},
    }
    cut_in_markup = {**call, "tool_choice": named, "max_completion_tokens": 4}
    cut_in_arguments = {**call, "tool_choice": "auto", "max_completion_tokens": 18}
    chat = "/chat/completions"
    _record(client, "tool_call_cut", "POST", chat, cut_in_markup)
    _record(client, "tool_call_cut_stream", "POST", chat, {**cut_in_markup, **stream})
    _record(client, "tool_call_cut_args", "POST", chat, cut_in_arguments)
    _record(client, "tool_call_cut_args_stream", "POST", chat, {**cut_in_arguments, **stream})
    structured = {
        "model": model,
        "messages": weather,
        "response_format": WEATHER_FORMAT,
        "max_completion_tokens": 5,
        "vllm_xargs": {"script": WEATHER_JSON},
    }
    _record(client, "structured_cut", "POST", chat, structured)
    _record(client, "structured_cut_stream", "POST", chat, {**structured, **stream})
    hello = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "logprobs": True,
        "top_logprobs": 2,
        "stop": ["friend"],
        "vllm_xargs": {"script": "Hello there, friend"},
    }
    _record(client, "chat_logprobs", "POST", chat, hello)
    _record(client, "chat_logprobs_stream", "POST", chat, {**hello, **stream})
    function = cast("dict[str, Any]", WEATHER_TOOL["function"])
    function_tool = {"type": "function", **function}  # the Responses API's shape of a tool
    responses = {
        "model": model,
        "input": "Say hello.",
        "max_output_tokens": 20,
        "include": ["message.output_text.logprobs"],
        "top_logprobs": 2,
        "vllm_xargs": {"script": "Hello there"},
    }
    _record(client, "responses", "POST", "/responses", responses)
    _record(client, "responses_stream", "POST", "/responses", {**responses, "stream": True})
    responses_cut = {
        "model": model,
        "input": "What is the weather in Paris?",
        "tools": [function_tool],
        "tool_choice": "auto",
        "max_output_tokens": 20,
        "vllm_xargs": {"script": CUT_CALL_SCRIPT},
    }
    structured_format = {"type": "json_schema", **WEATHER_FORMAT["json_schema"]}  # type: ignore[dict-item]
    responses_structured = {
        "model": model,
        "input": "What is the weather in Paris?",
        "text": {"format": structured_format},
        "max_output_tokens": 40,
        "vllm_xargs": {"script": WEATHER_JSON},
    }
    _record(client, "responses_structured", "POST", "/responses", responses_structured)
    cut_structured = {**responses_structured, "max_output_tokens": 5}
    _record(client, "responses_structured_cut", "POST", "/responses", cut_structured)
    _record(client, "responses_tool_cut", "POST", "/responses", responses_cut)
    stream_cut = {**responses_cut, "stream": True}
    _record(client, "responses_tool_cut_stream", "POST", "/responses", stream_cut)
    with httpx.Client(base_url=reasoning_base_url, timeout=120) as reasoner:
        thinker = reasoner.get("/models").json()["data"][0]["id"]
        reasoning = {
            "model": thinker,
            "input": "What is 2 + 2?",
            "max_output_tokens": 30,
            "chat_template_kwargs": {"enable_thinking": True},
            "vllm_xargs": {"script": "<think>two and two</think>Four."},
        }
        _record(reasoner, "responses_reasoning", "POST", "/responses", reasoning)
        reasoning_stream = {**reasoning, "stream": True}
        _record(reasoner, "responses_reasoning_stream", "POST", "/responses", reasoning_stream)


def family_cases(family: Any) -> dict[str, str]:
    """The scripts recorded for one family (``tests.families.Family``)."""
    calls = [("search", FAMILY_NESTED), ("get_time", {})]
    if not family.parallel_calls:
        calls = calls[:1]
    text = "Let me check." if family.text_before_calls else ""
    cases = {"text_then_calls": family.calls(*calls, text=text)}
    if family.reasons:
        call = family.write_calls([("get_weather", {"city": "Paris"})])
        cases["reasoning_then_call"] = family.reason("I need the weather.", call)
        cases["reasoning_then_answer"] = family.reason(
            "Paris is in France.", family.answer("It is sunny.")
        )
    return cases


FAMILY_NESTED = {"filter": {"city": "Zürich", "tags": ["café", "東京"]}, "limit": 3}
FAMILY_TOOLS = [
    WEATHER_TOOL,
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Get the current time.",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
            "strict": True,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search places.",
            "parameters": {
                "type": "object",
                "properties": {
                    "filter": {
                        "type": "object",
                        "properties": {
                            "city": {"type": "string"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["city", "tags"],
                        "additionalProperties": False,
                    },
                    "limit": {"type": "integer"},
                },
                "required": ["filter", "limit"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    },
]


def record_families(urls: dict[str, str], only: list[str]) -> None:
    """Record each family's cases (``only``: these families), invoked and streamed.

    Into ``fixtures/families/<family>/``.
    """
    sys.path.insert(0, str(ROOT))
    from tests.families import FAMILIES  # noqa: PLC0415 - test code, only for this mode

    for family in FAMILIES:
        if only and family.name not in only:
            continue
        with httpx.Client(base_url=urls[family.server], timeout=600) as client:
            model = client.get("/models").json()["data"][0]["id"]
            folder = _into / "families" / family.name
            folder.mkdir(parents=True, exist_ok=True)
            for case, text in family_cases(family).items():
                # text before calls with thinking off (Qwen3 would read it as reasoning)
                thinking = (family.thinking or {}) if case.startswith("reasoning") else {}
                if not thinking and family.server == "families":
                    thinking = {"enable_thinking": False, "thinking": False}
                kwargs = {**family.template_kwargs, **thinking}
                body: dict[str, Any] = {
                    "model": model,
                    "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
                    "tools": FAMILY_TOOLS,
                    "temperature": 0,
                    "vllm_xargs": {"script": text},
                }
                if kwargs:
                    body["chat_template_kwargs"] = kwargs
                stream = {"stream": True, "stream_options": {"include_usage": True}}
                name = f"families/{family.name}/{case}"
                _record(client, name, "POST", "/chat/completions", body)
                _record(client, name + "_stream", "POST", "/chat/completions", body | stream)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--embeddings-base-url", default="http://127.0.0.1:8001/v1")
    parser.add_argument("--reasoning-base-url", default="http://127.0.0.1:8002/v1")
    parser.add_argument("--into", type=Path, default=FIXTURES, help="the fixtures' folder")
    parser.add_argument("--only", nargs="*", default=[], help="record only these fixtures")
    parser.add_argument("--endings", action="store_true", help="record only the endings")
    parser.add_argument("--families", action="store_true", help="record the model families")
    parser.add_argument("--families-base-url", default="http://127.0.0.1:8003/v1")
    parser.add_argument("--gpt-oss-base-url", default="http://127.0.0.1:8005/v1")
    parser.add_argument("--family", action="append", default=[], help="only these families")
    return parser.parse_args()


def main() -> None:
    """Record every fixture against ``--base-url``.

    ``--endings`` records those of :func:`_record_endings` only.
    """
    args = _arguments()
    global _into  # noqa: PLW0603 - one recording run per process
    _into = args.into
    _only.update(args.only)
    _into.mkdir(parents=True, exist_ok=True)
    if args.families:
        urls = {"families": args.families_base_url, "gpt_oss": args.gpt_oss_base_url}
        record_families(urls, args.family)
        return
    if args.endings:
        with httpx.Client(base_url=args.base_url, timeout=120) as client:
            model = client.get("/models").json()["data"][0]["id"]
            _record_endings(client, model, args.reasoning_base_url)
        return
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
        _record_endings(client, model, args.reasoning_base_url)
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
