"""VLLMCompletions at the wire level, against the fake server (recorded bodies)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import ModelNotFoundError
from langchain_core.load import dumpd

from langchain_vllm import VLLMCompletions
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, load, recorded_model

PROMPT = "The capital of France is"


def make(fake: FakeVLLM, **kwargs: Any) -> VLLMCompletions:
    return VLLMCompletions(base_url=BASE_URL, **fake.clients(), **kwargs)


def completion_bodies(fake: FakeVLLM) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in fake.requests if r.url.path == "/v1/completions"]


def test_invoke_returns_the_recorded_text(fake: FakeVLLM) -> None:
    text = make(fake, max_tokens=8, temperature=0).invoke(PROMPT)
    assert text == load("completion")["body"]["choices"][0]["text"]
    body = completion_bodies(fake)[-1]
    assert body["prompt"] == PROMPT
    assert body["model"] == recorded_model()  # discovered
    assert (body["max_tokens"], body["temperature"]) == (8, 0)


def test_generate_reports_usage_and_model(fake: FakeVLLM) -> None:
    result = make(fake).generate([PROMPT])
    usage = load("completion")["body"]["usage"]
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["prompt_tokens"] == usage["prompt_tokens"]
    assert result.llm_output["token_usage"]["completion_tokens"] == usage["completion_tokens"]
    assert result.llm_output["model_name"] == recorded_model()
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["finish_reason"] == load("completion")["body"]["choices"][0]["finish_reason"]


def test_batch_is_one_request_with_a_prompt_list(fake: FakeVLLM) -> None:
    texts = make(fake).batch([PROMPT, "1 + 1 ="])
    assert texts == [load("completion")["body"]["choices"][0]["text"]] * 2
    bodies = completion_bodies(fake)
    assert len(bodies) == 1
    assert bodies[0]["prompt"] == [PROMPT, "1 + 1 ="]


def test_stream_yields_the_recorded_text_and_usage(fake: FakeVLLM) -> None:
    llm = make(fake)
    chunks = list(llm.stream(PROMPT))
    assert "".join(chunks) == load("completion")["body"]["choices"][0]["text"]
    body = completion_bodies(fake)[-1]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    result = make(fake, streaming=True).generate([PROMPT])
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["usage"]["completion_tokens"] > 0


async def test_async_invoke_and_stream(fake: FakeVLLM) -> None:
    llm = make(fake)
    expected = load("completion")["body"]["choices"][0]["text"]
    assert await llm.ainvoke(PROMPT) == expected
    assert "".join([c async for c in llm.astream(PROMPT)]) == expected


def test_sampling_fields_and_constraints_are_sent(fake: FakeVLLM) -> None:
    llm = make(fake, top_k=5, min_p=0.1, structured_outputs={"choice": ["a", "b"]})
    llm.invoke(PROMPT, repetition_penalty=1.2, extra_body={"top_k": 9})
    body = completion_bodies(fake)[-1]
    assert (body["top_k"], body["min_p"], body["repetition_penalty"]) == (9, 0.1, 1.2)
    assert body["structured_outputs"] == {"choice": ["a", "b"]}
    llm.invoke(PROMPT, stop=["\n"])
    assert completion_bodies(fake)[-1]["stop"] == ["\n"]


def test_old_servers_get_guided_fields() -> None:
    fake = FakeVLLM(version="0.8.5")
    make(fake, structured_outputs={"regex": "[a-z]+"}).invoke(PROMPT)
    body = completion_bodies(fake)[-1]
    assert body["guided_regex"] == "[a-z]+"
    assert "structured_outputs" not in body
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize(("field", "value"), [("min_p", 2), ("top_k", -5), ("temperature", 3)])
def test_out_of_range_values_fail_before_any_request(
    fake: FakeVLLM, field: str, value: Any
) -> None:
    with pytest.raises(ValueError, match=f"{field}={value}"):
        make(fake, **{field: value})
    with pytest.raises(ValueError, match=f"{field}={value}"):
        make(fake).invoke(PROMPT, **{field: value})
    assert completion_bodies(fake) == []


def test_unknown_model_lists_the_served_ones(fake: FakeVLLM) -> None:
    with pytest.raises(ModelNotFoundError, match=recorded_model()):
        make(fake, model="no-such-model").invoke(PROMPT)


def test_identity_and_serialization() -> None:
    llm = VLLMCompletions(model="m", api_key="sk-vllm-123", temperature=0.5)
    assert llm._llm_type == "vllm-completions"
    params = llm._get_ls_params()
    assert (params["ls_provider"], params["ls_model_name"]) == ("vllm", "m")
    dumped = json.dumps(dumpd(llm))
    assert "sk-vllm-123" not in dumped
    assert "VLLM_API_KEY" in dumped
    assert "sk-vllm-123" not in repr(llm)
