"""ChatVLLM behaviour at the wire level, against a fake server replaying recorded bodies."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import openai
import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelNotFoundError,
)
from langchain_core.load import dumpd, dumps, load

from langchain_vllm import (
    ChatVLLM,
    VLLMAuthenticationError,
    VLLMConnectionError,
    VLLMContextOverflowError,
    VLLMInvalidRequestError,
    VLLMModelNotFoundError,
)
from langchain_vllm._http import LoopBoundAsyncTransport, httpx
from tests.unit_tests.fake_vllm import BASE_URL, MESSAGES, FakeVLLM, make, recorded_model
from tests.unit_tests.fake_vllm import load as load_fixture
from tests.unit_tests.test_tools import GetWeather

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk


# ---------------------------------------------------------------- defaults and environment


def test_defaults_need_no_arguments() -> None:
    llm = ChatVLLM()
    assert llm.openai_api_base == "http://localhost:8000/v1"
    assert llm.openai_api_key is not None
    assert llm.openai_api_key.get_secret_value() == "EMPTY"  # type: ignore[union-attr]
    assert llm.model_name is None
    assert llm.stream_usage is True
    assert str(llm.root_client.base_url) == "http://localhost:8000/v1/"


def test_vllm_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://gpu-box:9000/v1")
    monkeypatch.setenv("VLLM_API_KEY", "vllm-secret")
    llm = ChatVLLM()
    assert llm.openai_api_base == "http://gpu-box:9000/v1"
    assert llm.openai_api_key.get_secret_value() == "vllm-secret"  # type: ignore[union-attr]


def test_api_base_is_an_alias_of_base_url() -> None:
    assert ChatVLLM(api_base="http://a:1/v1").openai_api_base == "http://a:1/v1"
    assert ChatVLLM(base_url="http://b:2/v1").openai_api_base == "http://b:2/v1"
    with pytest.raises(ValueError, match="not both"):
        ChatVLLM(api_base="http://a:1/v1", base_url="http://b:2/v1")


def test_openai_environment_is_never_read_or_sent(
    fake: FakeVLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    monkeypatch.setenv("OPENAI_API_BASE", "https://api.openai.com/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-secret")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Leak: leaked\nAuthorization: Bearer sk-env")
    monkeypatch.setenv("OPENAI_PROXY", "http://proxy.invalid:3128")
    llm = ChatVLLM(**fake.clients())
    assert llm.openai_proxy is None
    llm.invoke(MESSAGES)
    for request in fake.requests:
        assert request.url.host == "localhost"
        assert request.headers["authorization"] == "Bearer EMPTY"
        sent = {k.lower(): v for k, v in request.headers.items()}
        assert "openai-organization" not in sent
        assert "openai-project" not in sent
        assert "x-leak" not in sent
        assert "sk-openai-secret" not in str(request.headers)


def test_vllm_key_is_sent_as_bearer(fake: FakeVLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    llm = make(fake, api_key="vllm-key", model=recorded_model())
    llm.invoke(MESSAGES)
    # discovery (/v1/models, /version) and the chat call all carry the vLLM key
    assert fake.paths() == ["GET /v1/models", "GET /version", "POST /v1/chat/completions"]
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer vllm-key"}


async def test_callable_api_keys(fake: FakeVLLM) -> None:
    sync_llm = make(fake, api_key=lambda: "from-callable", model=recorded_model())
    await sync_llm.ainvoke(MESSAGES)

    async def key() -> str:
        return "from-async-callable"

    async_llm = make(fake, api_key=key, model=recorded_model())
    await async_llm.ainvoke(MESSAGES)
    chat_requests = [r for r in fake.requests if r.url.path.endswith("/chat/completions")]
    assert [r.headers["authorization"] for r in chat_requests] == [
        "Bearer from-callable",
        "Bearer from-async-callable",
    ]


def test_secret_is_not_in_repr_or_serialization() -> None:
    llm = ChatVLLM(api_key="top-secret-key", model="m")
    assert "top-secret-key" not in repr(llm)
    assert "top-secret-key" not in str(llm)
    assert "top-secret-key" not in dumps(llm)
    assert dumpd(llm)["kwargs"]["openai_api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["VLLM_API_KEY"],
    }


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = ChatVLLM(model="m", base_url="http://h:1/v1", temperature=0.2)
    monkeypatch.setenv("VLLM_API_KEY", "restored")
    restored = load(
        dumpd(llm),
        valid_namespaces=["langchain_vllm"],
        allowed_objects=[ChatVLLM],
        secrets_from_env=True,
    )
    assert isinstance(restored, ChatVLLM)
    assert restored.model_name == "m"
    assert restored.openai_api_base == "http://h:1/v1"
    assert restored.temperature == 0.2


# ---------------------------------------------------------------- model discovery


def test_construction_makes_no_request(fake: FakeVLLM) -> None:
    make(fake)
    assert fake.requests == []


def test_unknown_model_error_lists_served_models(recorded: FakeVLLM) -> None:
    with pytest.raises(VLLMModelNotFoundError) as info:
        make(recorded, model="no-such-model").invoke(MESSAGES)
    assert isinstance(info.value, ModelNotFoundError)
    assert info.value.served == tuple(recorded.served_ids)
    assert recorded_model() in str(info.value)
    assert "no-such-model" in str(info.value)


async def test_unknown_model_error_in_async_stream(fake: FakeVLLM) -> None:
    with pytest.raises(VLLMModelNotFoundError, match=recorded_model()):
        async for _ in make(fake, model="no-such-model").astream(MESSAGES):
            pass


def test_unreachable_server_names_the_url(fake: FakeVLLM) -> None:
    fake.fail_with = httpx.ConnectError("Connection refused")
    llm = make(fake, max_retries=0)
    with pytest.raises(VLLMConnectionError) as info:
        llm.invoke(MESSAGES)
    assert isinstance(info.value, ModelConnectionError)
    assert BASE_URL in str(info.value)
    llm = make(fake, model="m", max_retries=0)
    with pytest.raises(VLLMConnectionError, match=r"vllm\.test:8000"):
        llm.invoke(MESSAGES)


# ---------------------------------------------------------------- responses


def test_invoke_reads_the_recorded_answer(recorded: FakeVLLM) -> None:
    body = load_fixture("chat", recorded.version)["body"]
    msg = make(recorded).invoke(MESSAGES)
    assert msg.content == body["choices"][0]["message"]["content"]
    assert msg.response_metadata["model_provider"] == "vllm"
    assert msg.response_metadata["model_name"] == body["model"]
    assert msg.response_metadata["finish_reason"] == body["choices"][0]["finish_reason"]
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == body["usage"]["prompt_tokens"]
    assert msg.usage_metadata["output_tokens"] == body["usage"]["completion_tokens"]


def test_stream_sends_include_usage_and_reports_it(recorded: FakeVLLM) -> None:
    chunks = list(make(recorded).stream(MESSAGES))
    assert recorded.chat_bodies()[0]["stream_options"] == {"include_usage": True}
    full: AIMessageChunk = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    stream_text = load_fixture("chat_stream", recorded.version)["body"]
    events = [
        json.loads(line[len("data: ") :])
        for line in stream_text.splitlines()
        if line.startswith("data: {")
    ]
    usage = events[-1]["usage"]
    assert events[-1]["choices"] == []
    # usage arrives once, on the server's final (choice-less) chunk, after all the text
    with_usage = [i for i, c in enumerate(chunks) if c.usage_metadata]
    with_text = [i for i, c in enumerate(chunks) if c.text]
    assert len(with_usage) == 1
    assert with_usage[0] > max(with_text)
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == usage["prompt_tokens"]
    assert full.usage_metadata["output_tokens"] == usage["completion_tokens"]
    expected_text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]
    )
    assert full.text == expected_text
    assert full.response_metadata["model_provider"] == "vllm"


def test_stream_usage_can_be_turned_off(fake: FakeVLLM) -> None:
    list(make(fake, stream_usage=False).stream(MESSAGES))
    assert "stream_options" not in fake.chat_bodies()[0]


# ---------------------------------------------------------------- OpenAI name quirks


@pytest.mark.parametrize("name", ["o3-mini-distill", "o1-preview-sft", "gpt-5-mini-local"])
def test_openai_model_name_rules_do_not_apply(name: str) -> None:
    fake = FakeVLLM(models=[{**FakeVLLM().models_body["data"][0], "id": name}])
    llm = make(fake, model=name, temperature=0.3)
    assert llm.temperature == 0.3
    assert llm.use_responses_api in (None, False)
    llm.invoke(MESSAGES)
    body = fake.chat_bodies()[0]
    assert fake.requests[-1].url.path == "/v1/chat/completions"
    assert body["temperature"] == 0.3
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_o1_names_get_no_forced_temperature() -> None:
    assert ChatVLLM(model="o1-distill").temperature is None


def test_gpt4_names_keep_json_schema_structured_output(fake: FakeVLLM) -> None:
    llm = make(fake, model="gpt-4")
    structured = llm.with_structured_output(GetWeather)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the fake serves no such model
        structured.invoke("Weather?")
    body = fake.chat_bodies()[0]
    assert body["response_format"]["type"] == "json_schema"
    assert "tools" not in body


# ---------------------------------------------------------------- identity


def test_identity() -> None:
    llm = ChatVLLM(model="m")
    assert llm._llm_type == "vllm-chat"
    assert llm.lc_secrets == {"openai_api_key": "VLLM_API_KEY"}
    assert ChatVLLM.get_lc_namespace() == ["langchain_vllm", "chat_models"]
    assert llm._get_ls_params(model="other")["ls_model_name"] == "other"
    assert llm.profile is not None
    assert llm.profile["structured_output"] is True


# ---------------------------------------------------------------- event loops


def test_async_pool_is_per_event_loop() -> None:
    made: list[httpx.AsyncBaseTransport] = []

    def factory() -> httpx.AsyncBaseTransport:
        transport = httpx.MockTransport(lambda _r: httpx.Response(200, json={}))
        made.append(transport)
        return transport

    transport = LoopBoundAsyncTransport(factory)

    async def call() -> httpx.AsyncBaseTransport:
        client = httpx.AsyncClient(transport=transport)
        await client.get("http://x/")
        await client.get("http://x/")
        return await transport._pool()

    first = asyncio.run(call())
    second = asyncio.run(call())
    assert first is not second
    assert len(made) == 2
    # each loop closed its own pool on shutdown; none is kept for a closed loop
    assert len(transport._pools) == 0


# ---------------------------------------------------------------- token counting


# ---------------------------------------------------------------- errors


def vllm_error(status: int, body: dict[str, Any]) -> ChatVLLM:
    """A ChatVLLM whose server serves model "m" and answers every chat call with an error."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/version":
            return httpx.Response(200, json={"version": "0.32.0"})
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": "m"}]})
        return httpx.Response(status, json=body)

    transport = httpx.MockTransport(handler)
    return ChatVLLM(
        base_url=BASE_URL,
        model="m",
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )


def test_prompt_too_long_is_a_context_overflow_error(recorded: FakeVLLM) -> None:
    llm = make(recorded, model=recorded_model())
    with pytest.raises(ContextOverflowError) as caught:
        llm.invoke("word " * 5000)
    error = caught.value
    assert isinstance(error, VLLMContextOverflowError)
    assert isinstance(error, openai.BadRequestError)
    # 0.32: "...maximum context length is 4096 tokens. However, your prompt contains at least
    # 4097 input tokens..."; 0.16: "You passed 4097 input tokens and requested 0 output
    # tokens. However, the model's context length is only 4096 tokens..."
    assert (error.max_context_tokens, error.prompt_tokens) == (4096, 4097)
    assert "trim or summarize earlier messages" in str(error)


@pytest.mark.parametrize(
    ("message", "max_context", "prompt"),
    [
        (  # vLLM 0.4-0.8
            (
                "This model's maximum context length is 2048 tokens. However, you requested "
                "2100 tokens (2000 in the messages, 100 in the completion). Please reduce the "
                "length of the messages or completion."
            ),
            2048,
            2000,
        ),
        (  # vLLM 0.9-0.11
            (
                "This model's maximum context length is 4096 tokens. However, your request has "
                "5000 input tokens. Please reduce the length of the input messages."
            ),
            4096,
            5000,
        ),
        (  # vLLM 0.10 max_tokens check
            (
                "'max_tokens' or 'max_completion_tokens' is too large: 500. This model's maximum "
                "context length is 4096 tokens and your request has 3900 input tokens "
                "(500 > 4096 - 3900)."
            ),
            4096,
            3900,
        ),
        (  # vLLM 0.32, prompt checked in characters before tokenizing
            (
                "This model's maximum context length is 4096 tokens. However, your prompt "
                "contains 90000 characters (more than 81920 characters, which is the upper bound "
                "for 4096 input tokens). Please reduce the length of the input prompt."
            ),
            4096,
            None,
        ),
        (  # vLLM 0.16-0.17, prompt checked in characters (vllm/renderers/params.py)
            (
                "You passed 90000 input characters and requested 64 output tokens. However, the "
                "model's context length is only 4096 tokens, resulting in a maximum input length "
                "of 4032 tokens (at most 80640 characters). Please reduce the length of the "
                "input prompt."
            ),
            4096,
            None,
        ),
        (  # vLLM 0.16-0.18 embeddings (entrypoints/openai/engine/serving.py)
            (
                "This model's maximum context length is 512 tokens. However, you requested 2001 "
                "tokens in the input for embedding generation. Please reduce the length of the "
                "input."
            ),
            512,
            2001,
        ),
    ],
)
async def test_every_context_length_wording_is_recognised(
    message: str, max_context: int, prompt: int | None
) -> None:
    body = {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}
    llm = vllm_error(400, body)
    with pytest.raises(VLLMContextOverflowError) as caught:
        await llm.ainvoke("hi")
    assert (caught.value.max_context_tokens, caught.value.prompt_tokens) == (max_context, prompt)
    with pytest.raises(ContextOverflowError):
        list(llm.stream("hi"))


def test_too_many_output_tokens_says_the_limit(recorded: FakeVLLM) -> None:
    # The two recorded wordings differ: 0.32 says "... cannot be greater than
    # max_model_len=4096"; 0.16 "...=100000cannot be greater than max_model_len=max_total_..."
    llm = make(recorded, model=recorded_model())
    with pytest.raises(VLLMInvalidRequestError, match=r"Pass max_tokens <= 4096") as caught:
        llm.invoke(MESSAGES, max_tokens=100000)
    assert isinstance(caught.value, ModelInvalidRequestError)


def test_tools_without_a_tool_parser_name_the_flags() -> None:
    # vLLM's answer when started without --enable-auto-tool-choice (renderers/online_renderer.py)
    message = (
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    )
    llm = vllm_error(
        400, {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}
    )
    with pytest.raises(VLLMInvalidRequestError) as caught:
        llm.bind_tools([GetWeather], tool_choice="auto").invoke("Weather in Paris?")
    text = str(caught.value)
    assert "--enable-auto-tool-choice --tool-call-parser <parser>" in text
    assert "method='json_schema'" in text
    assert isinstance(caught.value, ModelInvalidRequestError)


def test_wrong_api_key_says_where_the_key_comes_from() -> None:
    llm = vllm_error(401, {"error": "Unauthorized"})
    with pytest.raises(VLLMAuthenticationError, match="VLLM_API_KEY") as caught:
        llm.invoke("hi")
    assert isinstance(caught.value, ModelAuthenticationError)
    assert "EMPTY" not in str(caught.value)


def test_a_cut_list_of_required_tool_calls_says_what_to_do() -> None:
    # vLLM 0.16 parses the answer to tool_choice "required" (a JSON list) itself, and fails
    # with this 400 when max_tokens cut the list short
    body = load_fixture("required_cut", "0.16.0")["body"]
    llm = vllm_error(400, body)
    with pytest.raises(VLLMInvalidRequestError) as caught:
        llm.bind_tools([GetWeather], tool_choice="required").invoke("Weather in Paris?")
    text = str(caught.value)
    assert "EOF while parsing" in text  # the server's own words are kept
    assert "Raise max_tokens" in text
    assert "vLLM before 0.20" in text


def test_other_bad_requests_keep_the_servers_message() -> None:
    message = "min_p must be in [0, 1], got 2.0."
    llm = vllm_error(
        400, {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}
    )
    with pytest.raises(ModelInvalidRequestError, match=r"min_p must be in \[0, 1\]"):
        llm.invoke("hi", extra_body={"min_p": 2})


# ---------------------------------------------------------------- multimodal


# ---------------------------------------------------------------- same answers as ChatOpenAI


# ChatOpenAI (the baseline here, not ChatVLLM) opens a socket at construction to probe
# which socket options the OS supports; pytest-socket blocks it and ChatOpenAI falls back.


def test_sync_batch_sends_every_input_at_once(fake: FakeVLLM) -> None:
    in_flight = 0
    most = 0
    all_in = asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        """Hold chat requests until all 20 are in flight at once."""
        nonlocal in_flight, most
        if request.url.path == "/v1/chat/completions":
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == 20:
                all_in.set()
            await asyncio.wait_for(all_in.wait(), timeout=5)
            in_flight -= 1
        return fake.handler(request)

    llm = ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        http_client=httpx.Client(transport=httpx.MockTransport(fake.handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(held)),
    )
    answers = llm.batch([MESSAGES] * 20)
    assert [a.text for a in answers] == [
        load_fixture("chat")["body"]["choices"][0]["message"]["content"]
    ] * 20
    assert most == 20  # LangChain's default pool would have run 6 at a time on 2 cores


async def test_sync_batch_inside_a_running_event_loop(fake: FakeVLLM) -> None:
    llm = make(fake, model=recorded_model())
    answers = llm.batch([MESSAGES] * 3)  # e.g. sync code called from a notebook cell
    assert len(answers) == 3


def test_sync_batch_with_max_concurrency_uses_threads(fake: FakeVLLM) -> None:
    import threading  # noqa: PLC0415

    in_flight = 0
    most = 0
    lock = threading.Lock()
    two_in = threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        if request.url.path == "/v1/chat/completions":
            with lock:
                in_flight += 1
                most = max(most, in_flight)
                if in_flight == 2:
                    two_in.set()
            two_in.wait(timeout=5)
            with lock:
                in_flight -= 1
        return fake.handler(request)

    llm = ChatVLLM(
        base_url=BASE_URL,
        model=recorded_model(),
        http_client=httpx.Client(transport=httpx.MockTransport(held)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)),
    )
    assert len(llm.batch([MESSAGES] * 8, config={"max_concurrency": 2})) == 8
    assert most == 2


# ---------------------------------------------------------------- bad input, before any request


def test_empty_conversation_is_refused(fake: FakeVLLM) -> None:
    llm = make(fake, model=recorded_model())
    with pytest.raises(ValueError, match="at least one message"):
        llm.invoke([])
    with pytest.raises(ValueError, match="at least one message"):
        asyncio.run(llm.ainvoke([]))
    assert fake.chat_bodies() == []
