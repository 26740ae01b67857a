"""Benchmarks for langchain-vllm: each figure next to a baseline measured in the same run.

Usage (``make bench``; the real-server part needs the local chat server or VLLM_BASE_URL)::

    uv run python scripts/bench.py [--runs 3] [--skip-server]

Prints one table row per figure: what was measured, its value, the baseline's value, and
the ratio the issue's target is stated in. Medians of ``--runs`` runs. Nothing here is
asserted: the numbers are for reading (and for the README), not a pass/fail gate.

1. Batch throughput on the real server: 48 prompts x 32 generated tokens (``ignore_eos``).
   Baseline: raw ``AsyncOpenAI`` with ``asyncio.gather``. Also ChatOpenAI's ``batch`` and
   vLLM's own ``/v1/chat/completions/batch``.
2. Client CPU per ``invoke`` on a mocked transport (the recorded chat answer), process time.
   Baseline: ChatOpenAI; also the raw openai SDK.
3. Client CPU per streamed chunk on a mocked transport (200 content chunks). Baseline:
   ChatOpenAI; also the raw SDK and ``json.loads`` of each event (the floor).
4. 1,000 concurrent ``astream`` calls against an in-process HTTP server (real sockets):
   errors, connections opened, peak RSS growth.
5. ``import langchain_vllm`` vs ``import langchain_openai`` in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from langchain_vllm import ChatVLLM, _server
from langchain_vllm._http import httpx

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "unit_tests" / "fixtures"
MOCK_URL = "http://bench.test:8000/v1"
Row = tuple[str, float, float, str]


def median_of(runs: int, measure: Callable[[], float]) -> float:
    """The median of ``runs`` measurements."""
    return statistics.median(measure() for _ in range(runs))


def fixture(name: str) -> dict[str, Any]:
    """The body of a recorded fixture."""
    return dict(json.loads((FIXTURES / f"{name}.json").read_text())["body"])


# ---------------------------------------------------------------- mocked transports


def sse_body(chunks: int) -> bytes:
    """A vLLM-shaped stream: role chunk, ``chunks`` content chunks, finish, usage, DONE."""
    events = [e for e in str(fixture_raw("chat_stream")).split("\n\n") if e.strip()]
    head = json.loads(events[0].removeprefix("data: "))
    content = json.loads(events[1].removeprefix("data: "))
    tail = [e for e in events if 'finish_reason":"stop' in e or '"usage":{' in e]
    out = [f"data: {json.dumps(head)}"]
    for i in range(chunks):
        piece = copy.deepcopy(content)
        piece["choices"][0]["delta"]["content"] = f" w{i}"
        out.append(f"data: {json.dumps(piece)}")
    out += [*tail, "data: [DONE]"]
    return ("\n\n".join(out) + "\n\n").encode()


def fixture_raw(name: str) -> Any:
    """The raw body (SSE text for streams) of a recorded fixture."""
    return json.loads((FIXTURES / f"{name}.json").read_text())["body"]


def mocked_clients(stream_body: bytes) -> dict[str, Any]:
    """HTTP clients answering like the recorded server, streams with ``stream_body``."""
    chat = fixture("chat")
    models = fixture("models")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=models)
        if request.url.path == "/version":
            return httpx.Response(200, json={"version": "0.32.0"})
        if b'"stream":true' in request.content:
            return httpx.Response(
                200, content=stream_body, headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=chat)

    transport = httpx.MockTransport(handler)
    return {
        "http_client": httpx.Client(transport=transport),
        "http_async_client": httpx.AsyncClient(transport=transport),
    }


def models_for(clients: dict[str, Any]) -> dict[str, Any]:
    """The raw SDK, ChatOpenAI and ChatVLLM, all on ``clients``."""
    model = fixture("models")["data"][0]["id"]
    common = {"model": model, "base_url": MOCK_URL, "api_key": "EMPTY"}
    raw = openai.OpenAI(base_url=MOCK_URL, api_key="EMPTY", http_client=clients["http_client"])
    return {
        "raw": raw,
        "model": model,
        "openai": ChatOpenAI(**common, stream_usage=True, **clients),
        "vllm": ChatVLLM(**common, **clients),
    }


def cpu_per_call(runs: int, calls: int, call: Callable[[], Any]) -> float:
    """Median process time per ``call``, in microseconds."""
    call()  # warm up (discovery, imports)

    def one() -> float:
        start = time.process_time()
        for _ in range(calls):
            call()
        return (time.process_time() - start) / calls * 1e6

    return median_of(runs, one)


def bench_invoke(runs: int) -> list[Row]:
    """Client CPU per invoke: raw SDK and ChatVLLM against ChatOpenAI."""
    m = models_for(mocked_clients(sse_body(1)))
    messages = [HumanMessage("What is the capital of France?")]
    raw_messages = [{"role": "user", "content": "What is the capital of France?"}]
    calls = 300
    raw = cpu_per_call(
        runs,
        calls,
        lambda: m["raw"].chat.completions.create(model=m["model"], messages=raw_messages),
    )
    base = cpu_per_call(runs, calls, lambda: m["openai"].invoke(messages))
    ours = cpu_per_call(runs, calls, lambda: m["vllm"].invoke(messages))
    return [
        ("CPU per invoke, raw openai SDK (µs)", raw, base, "vs ChatOpenAI"),
        ("CPU per invoke, ChatVLLM (µs) [target <= 1.0x]", ours, base, "vs ChatOpenAI"),
    ]


def bench_stream(runs: int) -> list[Row]:
    """Client CPU per streamed chunk against ChatOpenAI."""
    chunks = 200
    body = sse_body(chunks)
    m = models_for(mocked_clients(body))
    messages = [HumanMessage("What is the capital of France?")]
    raw_messages = [{"role": "user", "content": "What is the capital of France?"}]

    def per_chunk(consume: Callable[[], Any]) -> float:
        return cpu_per_call(runs, 20, consume) / chunks

    def raw_stream() -> None:
        for _ in m["raw"].chat.completions.create(
            model=m["model"], messages=raw_messages, stream=True
        ):
            pass

    events = [e.removeprefix("data: ") for e in body.decode().split("\n\n") if e.strip()]

    def floor() -> None:
        for event in events[:-1]:
            json.loads(event)

    base = per_chunk(lambda: list(m["openai"].stream(messages)))
    return [
        ("CPU per chunk, json.loads floor (µs)", per_chunk(floor), base, "vs ChatOpenAI"),
        ("CPU per chunk, raw openai SDK (µs)", per_chunk(raw_stream), base, "vs ChatOpenAI"),
        (
            "CPU per chunk, ChatVLLM (µs) [target <= 60 µs]",
            per_chunk(lambda: list(m["vllm"].stream(messages))),
            base,
            "vs ChatOpenAI",
        ),
    ]


# ---------------------------------------------------------------- real server


async def raw_gather(base_url: str, model: str, prompts: list[str], tokens: int) -> None:
    """The baseline: raw AsyncOpenAI requests, all at once."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=600)
    async with client:
        await asyncio.gather(
            *(
                client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": p}],
                    extra_body={"ignore_eos": True},
                    max_completion_tokens=tokens,
                    temperature=0,
                )
                for p in prompts
            )
        )


def vllm_batch_endpoint(base_url: str, model: str, prompts: list[str], tokens: int) -> None:
    """All prompts in one request to vLLM's batch endpoint."""
    client = openai.OpenAI(base_url=base_url, api_key="EMPTY", timeout=600)
    client.post(
        "/chat/completions/batch",
        body={
            "model": model,
            "messages": [[{"role": "user", "content": p}] for p in prompts],
            "max_completion_tokens": tokens,
            "temperature": 0,
            "ignore_eos": True,
        },
        cast_to=object,
    )


def wall(run: Callable[[], Any]) -> float:
    """Wall time of ``run`` in seconds."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_batch(runs: int, base_url: str) -> list[Row]:
    """Batch throughput on the real server against raw asyncio.gather."""
    model = _server.default_model(
        _server.served_models(ChatVLLM(base_url=base_url).root_client), base_url
    )
    prompts = [f"Write a short story about the number {i}." for i in range(48)]
    tokens = 32
    settings = {"model": model, "base_url": base_url, "max_tokens": tokens, "temperature": 0}
    vllm = ChatVLLM(**settings, ignore_eos=True)
    plain = ChatOpenAI(**settings, api_key="EMPTY", extra_body={"ignore_eos": True})
    inputs: list[Any] = list(prompts)

    base = median_of(
        runs, lambda: wall(lambda: asyncio.run(raw_gather(base_url, model, prompts, tokens)))
    )
    rows: list[Row] = []
    variants: list[tuple[str, Callable[[], Any]]] = [
        ("ChatOpenAI.batch", lambda: plain.batch(inputs)),
        ("ChatVLLM.batch [target >= 0.95x]", lambda: vllm.batch(inputs)),
        ("ChatVLLM.abatch [target >= 0.95x]", lambda: asyncio.run(vllm.abatch(inputs))),
        (
            "vLLM /v1/chat/completions/batch",
            lambda: vllm_batch_endpoint(base_url, model, prompts, tokens),
        ),
    ]
    for label, run in variants:
        seconds = median_of(runs, functools.partial(wall, run))
        rows.append((f"48x{tokens} tokens, {label} (s)", seconds, base, "raw gather time / this"))
    return rows


# ---------------------------------------------------------------- concurrency


class SseServer:
    """A tiny keep-alive HTTP/1.1 server answering every POST with one SSE body."""

    def __init__(self, body: bytes) -> None:
        """Serve ``body`` to every POST; count connections and requests."""
        self.body = body
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection until the client closes it."""
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.requests += 1
                if b"GET /version" in head:
                    payload, kind = b'{"version": "0.32.0"}', b"application/json"
                elif b"GET /v1/models" in head:
                    payload, kind = json.dumps(fixture("models")).encode(), b"application/json"
                else:
                    payload, kind = self.body, b"text/event-stream"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: "
                    + kind
                    + b"\r\ncontent-length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client closed the connection, or the benchmark is over
        finally:
            writer.close()


def max_rss_mb() -> float:
    """This process's peak RSS in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def concurrent_streams(total: int) -> list[Row]:
    """Two rounds of ``total`` concurrent astream calls on real sockets."""
    server = SseServer(sse_body(20))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    llm = ChatVLLM(base_url=f"http://127.0.0.1:{port}/v1")
    messages = [HumanMessage("hi")]

    async def one() -> int:
        """Stream one answer; its chunk count."""
        return len([c async for c in llm.astream(messages)])

    before = max_rss_mb()
    rows: list[Row] = []
    for round_number in (1, 2):
        opened = server.connections
        results = await asyncio.gather(*(one() for _ in range(total)), return_exceptions=True)
        errors = sum(isinstance(r, BaseException) for r in results)
        rows.append(
            (
                f"{total} concurrent astream, round {round_number}: errors / new connections",
                float(errors),
                float(server.connections - opened),
                "errors, connections",
            )
        )
    rows.append(
        ("peak RSS growth over both rounds (MB)", max_rss_mb() - before, before, "MB, base")
    )
    listener.close()
    return rows


# ---------------------------------------------------------------- import time


def import_seconds(module: str, runs: int) -> float:
    """Median import time of ``module`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

    def one() -> float:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    return median_of(max(runs, 5), one)


def bench_import(runs: int) -> list[Row]:
    """Import time of langchain_vllm against langchain_openai."""
    base = import_seconds("langchain_openai", runs)
    ours = import_seconds("langchain_vllm", runs)
    return [("import time (s) [target <= 1.05x]", ours, base, "vs import langchain_openai")]


# ---------------------------------------------------------------- main


def print_table(rows: list[Row]) -> None:
    """Print the rows as a Markdown table."""
    print(f"| {'figure':<62} | {'value':>10} | {'baseline':>10} | {'ratio':>6} | ratio is |")
    print(f"|{'-' * 64}|{'-' * 12}|{'-' * 12}|{'-' * 8}|----------|")
    for label, value, base, meaning in rows:
        if meaning.startswith("raw gather"):
            ratio = base / value if value else float("nan")
        elif meaning.startswith("vs"):
            ratio = value / base if base else float("nan")
        else:
            ratio = float("nan")
        shown = f"{ratio:6.2f}" if ratio == ratio else "     -"  # noqa: PLR0124 - NaN check
        print(f"| {label:<62} | {value:>10.3f} | {base:>10.3f} | {shown} | {meaning} |")


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-server", action="store_true", help="skip the real-server batch")
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument(
        "--only",
        choices=("invoke", "stream", "concurrent", "import", "batch"),
        help="run one benchmark only",
    )
    args = parser.parse_args()
    base_url = os.environ.get("VLLM_BASE_URL") or "http://127.0.0.1:8000/v1"
    python = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} CPUs, python {python}, openai {openai.__version__}")
    benchmarks: dict[str, Callable[[], list[Row]]] = {
        "invoke": lambda: bench_invoke(args.runs),
        "stream": lambda: bench_stream(args.runs),
        "concurrent": lambda: asyncio.run(concurrent_streams(args.concurrent)),
        "import": lambda: bench_import(args.runs),
        "batch": lambda: [] if args.skip_server else bench_batch(args.runs, base_url),
    }
    rows: list[Row] = []
    for name, bench in benchmarks.items():
        if args.only in (None, name):
            rows += bench()
    print_table(rows)


if __name__ == "__main__":
    main()
