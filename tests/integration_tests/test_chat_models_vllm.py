"""vLLM-native ChatVLLM features on a real server: constraints, tokens, limits, errors, LoRA.

The 135M test model cannot reason (no reasoning parser applies to it) and reads no images,
so reasoning and multimodal content are tested at the wire level in the unit tests.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
import warnings
from typing import Any, Literal

import pytest
from langchain_core.exceptions import ContextOverflowError
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from langchain_vllm import ChatVLLM, VLLMInvalidRequestError, _server, _versions
from tests.integration_tests.conftest import (
    chat_adapter,
    chat_base_url,
    chat_model,
    scripted,
    server_version,
)

CONVERSATION = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("What is the capital of France?"),
]


class GetWeather(BaseModel):
    """Get the current weather in a given city."""

    city: str = Field(description="The city name")


class Capital(BaseModel):
    """A country and its capital."""

    country: str
    capital: str


def llm(**kwargs: Any) -> ChatVLLM:
    defaults: dict[str, Any] = {"temperature": 0, "max_tokens": 64, "frequency_penalty": 0.5}
    return ChatVLLM(base_url=chat_base_url(), **{**defaults, **kwargs})


# ---------------------------------------------------------------- server knowledge


def test_version_and_wire_format_are_learned() -> None:
    model = llm()
    model.invoke("Hi", max_tokens=2)
    known, version = _server.cached_version(model.root_client)
    assert known
    assert version is not None
    assert _versions.parse_version(version) is not None
    assert model._vllm.wire_format() == _versions.wire_format(version)


def test_the_server_is_a_version_the_package_supports(recwarn: pytest.WarningsRecorder) -> None:
    # make check runs this against vLLM 0.32 and 0.16, the oldest version supported
    warnings.simplefilter("always")
    _server.forget(chat_base_url())
    llm().invoke("Hi", max_tokens=2)
    assert server_version(chat_base_url()) >= _versions.OLDEST_SUPPORTED
    assert not [w for w in recwarn if "oldest vLLM" in str(w.message)]


def test_profile_reports_the_servers_context_window() -> None:
    model = llm()
    model.invoke("Hi", max_tokens=2)
    card = next(m for m in model.served_models() if m.id == chat_model())
    assert card.max_model_len
    assert model.profile is not None
    assert model.profile["max_input_tokens"] == card.max_model_len


# ---------------------------------------------------------------- tokens


def test_message_token_count_equals_the_servers_prompt_tokens() -> None:
    model = llm(max_tokens=4)
    usage = model.invoke(CONVERSATION).usage_metadata
    assert usage is not None
    assert model.get_num_tokens_from_messages(CONVERSATION) == usage["input_tokens"]


async def test_token_count_with_tools_equals_the_servers_prompt_tokens() -> None:
    model = llm(max_tokens=40)
    question = [HumanMessage("What is the weather in Paris?")]
    usage = (
        await model.bind_tools([GetWeather], tool_choice="required").ainvoke(question)
    ).usage_metadata
    assert usage is not None
    with_tools = await model.aget_num_tokens_from_messages(question, tools=[GetWeather])
    assert with_tools == usage["input_tokens"]
    assert with_tools > await model.aget_num_tokens_from_messages(question)


def test_text_token_ids_round_trip_through_the_servers_tokenizer() -> None:
    model = llm()
    ids = model.get_token_ids("Hello world, hello vLLM")
    assert ids
    assert all(isinstance(i, int) for i in ids)
    assert model.get_num_tokens("Hello world, hello vLLM") == len(ids)
    assert model.get_num_tokens("Hello world, hello vLLM" * 10) > len(ids) * 5


# ---------------------------------------------------------------- constraints


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


def test_choice_returns_one_of_the_choices() -> None:
    model = llm()
    answer = model.with_structured_output(["Paris", "Rome", "Madrid"], method="choice").invoke(
        "What is the capital of Italy?"
    )
    assert answer in ("Paris", "Rome", "Madrid")
    mood = model.with_structured_output(Mood, method="choice").invoke("I won the lottery!")
    assert isinstance(mood, Mood)
    literal = model.with_structured_output(Literal["yes", "no"], method="choice")
    assert literal.invoke("Is water wet?") in ("yes", "no")


def test_regex_output_matches_the_pattern() -> None:
    pattern = r"\d{3}-\d{3}-\d{4}"
    answer = llm().with_structured_output(pattern, method="regex").invoke("Make up a phone number.")
    assert re.fullmatch(pattern, answer), answer


def test_grammar_output_is_in_the_language() -> None:
    grammar = 'root ::= answer " " answer\nanswer ::= "yes" | "no"'
    answer = llm().with_structured_output(grammar, method="grammar").invoke("Two answers?")
    assert re.fullmatch(r"(yes|no) (yes|no)", answer), answer


def test_structured_outputs_field_passes_constraints_per_call() -> None:
    model = llm()
    answer = model.bind(structured_outputs={"regex": r"[A-Z]{5}"}).invoke("Shout a word.")
    assert re.fullmatch(r"[A-Z]{5}", answer.text), answer.text
    fixed = llm(structured_outputs={"choice": ["alpha", "beta"]})
    assert fixed.invoke("Pick one.").text in ("alpha", "beta")


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output_methods_follow_the_schema(method: Any) -> None:
    structured = llm(max_tokens=128).with_structured_output(Capital, method=method)
    answer = structured.invoke("France's capital is Paris. Give the country and its capital.")
    assert isinstance(answer, Capital)
    assert answer.country
    assert answer.capital


def test_json_schema_output_with_include_raw() -> None:
    structured = llm(max_tokens=128).with_structured_output(Capital, include_raw=True)
    out = structured.invoke("France's capital is Paris. Give the country and its capital.")
    assert out["parsing_error"] is None
    assert isinstance(out["parsed"], Capital)
    assert out["raw"].response_metadata["model_provider"] == "vllm"


def test_json_mode_returns_a_json_object() -> None:
    structured = llm(max_tokens=200).with_structured_output(None, method="json_mode")
    answer = structured.invoke('Return a JSON object with the key "city" set to Paris.')
    assert isinstance(answer, dict)
    assert answer  # some key/value, as json_object only promises an object


# ---------------------------------------------------------------- sampling fields


def test_min_tokens_and_token_ids_are_honoured() -> None:
    message = llm(max_tokens=24).invoke(
        "Say hi.", min_tokens=24, return_token_ids=True, top_k=20, min_p=0.05
    )
    usage = message.usage_metadata
    assert usage is not None
    assert usage["output_tokens"] == 24  # min_tokens kept it going to the cap
    token_ids = message.response_metadata["token_ids"]
    assert len(token_ids) == usage["output_tokens"]
    assert len(message.response_metadata["prompt_token_ids"]) == usage["input_tokens"]


def test_stop_token_ids_and_stop_string_in_output() -> None:
    model = llm(max_tokens=40)
    prompt = "Count from 1 to 10."
    count = scripted("One, two, three, four, five.")  # the same text every time
    plain = model.invoke(prompt, return_token_ids=True, **count)
    assert plain.response_metadata.get("stop_reason") is None  # ended by EOS
    third_token = plain.response_metadata["token_ids"][2]
    stopped = model.invoke(prompt, stop_token_ids=[third_token], **count)
    assert stopped.response_metadata["stop_reason"] == third_token
    assert stopped.response_metadata["finish_reason"] == "stop"
    assert len(stopped.text) < len(plain.text)
    assert plain.text.startswith(stopped.text)
    kept = model.invoke(prompt, stop=["three"], include_stop_str_in_output=True, **count)
    assert kept.response_metadata["stop_reason"] == "three"
    assert kept.text.endswith("three")
    assert plain.text.startswith(kept.text)
    dropped = model.invoke(prompt, stop=["three"], **count)
    assert dropped.text == kept.text.removesuffix("three")


async def test_streamed_sampling_fields_and_usage() -> None:
    chunks = [
        chunk async for chunk in llm(max_tokens=12).astream("Say hi.", min_tokens=12, top_k=5)
    ]
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert full.usage_metadata is not None
    assert full.usage_metadata["output_tokens"] == 12


# ---------------------------------------------------------------- errors


def test_prompt_too_long_is_a_context_overflow_error() -> None:
    with pytest.raises(ContextOverflowError) as caught:
        llm().invoke("word " * 5000)  # about 5,000 tokens; max_tokens=64
    error: Any = caught.value
    card = next(m for m in llm().served_models() if m.id == chat_model())
    assert card.max_model_len is not None
    assert error.max_context_tokens == card.max_model_len
    assert f"{error.prompt_tokens} input tokens" in str(error)  # the server's own count
    if server_version(chat_base_url()) >= (0, 18, 0):
        # "your prompt contains at least 4097 input tokens, which exceeds this limit even
        # without any output tokens"
        assert error.prompt_tokens > card.max_model_len
    else:
        # 0.16 and 0.17 count the prompt up to the room left beside max_tokens, plus one:
        # "You passed 4033 input tokens and requested 64 output tokens. However, the
        # model's context length is only 4096 tokens"
        assert error.prompt_tokens == card.max_model_len - 64 + 1


async def test_async_stream_prompt_too_long_is_a_context_overflow_error() -> None:
    with pytest.raises(ContextOverflowError):
        async for _ in llm().astream("word " * 5000):
            pass


def test_too_many_output_tokens_says_the_limit() -> None:
    with pytest.raises(VLLMInvalidRequestError, match="Pass max_tokens <="):
        llm().invoke("Hi", max_tokens=10**6)


def test_thinking_budget_without_a_reasoning_parser_says_what_to_do() -> None:
    if server_version(chat_base_url()) >= (0, 19, 0):
        # the server refuses it (400); the error names the flag that makes it work
        with pytest.raises(VLLMInvalidRequestError, match="--reasoning-parser <parser>"):
            llm().invoke("Hi", thinking_token_budget=10)
    else:
        # vLLM added thinking_token_budget in 0.19; older servers accept it and ignore it,
        # so ChatVLLM refuses to send it, naming the server's version
        version = ".".join(map(str, server_version(chat_base_url())))
        with pytest.raises(ValueError, match=rf"runs {version}.*thinking_token_budget.*0\.19"):
            llm().invoke("Hi", thinking_token_budget=10)


def test_strict_tools_under_auto_warn_where_the_server_ignores_strict(
    recwarn: pytest.WarningsRecorder,
) -> None:
    _server.forget(chat_base_url())  # the warning is given once per server: start afresh
    warnings.simplefilter("always")  # and count every one given
    model = llm(max_tokens=2).bind_tools([GetWeather], tool_choice="auto")
    model.invoke("Hi")
    model.invoke("Hello")
    warned = [str(w.message) for w in recwarn if 'ignores "strict"' in str(w.message)]
    if server_version(chat_base_url()) >= (0, 24, 0):
        assert warned == []  # strict tools are enforced under any tool_choice
    else:
        version = ".".join(map(str, server_version(chat_base_url())))
        assert len(warned) == 1  # once per server
        assert f"runs {version}" in warned[0]
        assert "from 0.24" in warned[0]


def test_reasoning_fields_are_accepted_by_a_server_without_a_parser() -> None:
    answer = llm(enable_thinking=False, include_reasoning=False, reasoning_effort="low").invoke(
        "Hi"
    )
    assert answer.text
    assert "reasoning_content" not in answer.additional_kwargs


# ---------------------------------------------------------------- LoRA


def test_lora_adapters_are_listed_with_their_base_model() -> None:
    adapter = chat_adapter()
    if adapter is None:
        pytest.skip("the server under test serves no LoRA adapter (start it with --lora-modules)")
    adapters = llm().lora_adapters()
    assert (adapter, chat_model()) in [(a.id, a.parent) for a in adapters]
    answer = llm(model=adapter, max_tokens=8).invoke("Hi")
    assert answer.response_metadata["model_name"] == adapter


def test_runtime_lora_load_and_unload() -> None:
    adapter = chat_adapter()
    if adapter is None:
        pytest.skip("the server under test serves no LoRA adapter (start it with --lora-modules)")
    model = llm()
    path = next(a.root for a in model.lora_adapters() if a.id == adapter)
    assert path
    name = f"runtime-{uuid.uuid4().hex[:8]}"
    try:
        model.load_lora_adapter(name, path)
    except RuntimeError as error:
        pytest.skip(f"server does not allow runtime LoRA updates: {error}")
    try:
        assert name in [a.id for a in model.lora_adapters()]
        answer = llm(model=name, max_tokens=8).invoke("Hi")
        assert answer.response_metadata["model_name"] == name
        assert json.dumps(answer.usage_metadata)
    finally:
        model.unload_lora_adapter(name)
    assert name not in [a.id for a in model.lora_adapters()]
