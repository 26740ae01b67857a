"""``_request.py``: the request-field table, per-call fields, constraints and extra_body."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_vllm import ChatVLLM, VLLMCompletions, _request, _server
from langchain_vllm.sampling import VLLMSamplingParams
from tests.unit_tests.fake_vllm import (
    BASE_URL,
    FakeVLLM,
    recorded_model,
)
from tests.unit_tests.test_versions import CURRENT, QUESTION, sent


def make(fake: FakeVLLM, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients(), **kwargs)


def test_the_sampling_fields_are_vllm_sampling_params_own() -> None:
    assert tuple(VLLMSamplingParams.model_fields) == _request.SAMPLING_FIELDS
    for endpoint in ("chat", "completions"):
        assert set(_request.SAMPLING_FIELDS) <= set(_request.CALL_FIELDS[endpoint])
        assert "structured_outputs" in _request.CALL_FIELDS[endpoint]
    # reasoning fields and options are chat-only
    for name in ("thinking_token_budget", "include_reasoning", "enable_thinking"):
        assert name in _request.CALL_FIELDS["chat"]
        assert name not in _request.CALL_FIELDS["completions"]
    # VLLMCompletions sends its OpenAI fields itself, from typed fields of the same names
    for name in _request.OPENAI_FIELDS["completions"]:
        assert name in VLLMCompletions.model_fields


@pytest.mark.parametrize("name", _request.SAMPLING_FIELDS)
def test_every_sampling_field_is_taken_per_call_by_both_endpoints(name: str) -> None:
    value = object()
    for endpoint in _request.OPENAI_FIELDS:
        kwargs = {name: value, "temperature": 0.5}
        assert _request.pop_call_fields(kwargs, endpoint) == {name: value}
        assert kwargs == {"temperature": 0.5}


def test_structured_outputs_per_call_overrides_init() -> None:
    body = sent(
        CURRENT,
        structured_outputs={"choice": ["a"]},
        invoke={"structured_outputs": {"regex": "b+"}},
    )
    assert body["structured_outputs"] == {"regex": "b+"}


@pytest.mark.parametrize(
    "constraints",
    [{}, {"choice": ["a"], "regex": "a"}, {"disable_any_whitespace": True}],
)
def test_malformed_structured_outputs_fail_before_any_request(
    constraints: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        ChatVLLM(base_url=BASE_URL, structured_outputs=constraints)
    fake = FakeVLLM()
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    with pytest.raises(ValueError, match="exactly one of"):
        llm.invoke(QUESTION, structured_outputs=constraints)
    assert fake.chat_bodies() == []


def test_untyped_vllm_fields_are_taken_per_call(fake: FakeVLLM) -> None:
    # vLLM request fields without a typed field go in extra_body (the SDK would raise a
    # TypeError on them); they are sent the same way from invoke and stream
    call: dict[str, Any] = {
        "allowed_token_ids": [42],
        "priority": 1,
        "request_id": "r-1",
        "bad_words": ["x"],
    }
    make(fake).invoke(QUESTION, **call)
    list(make(fake).stream(QUESTION, **call))
    for body in fake.chat_bodies():
        assert {name: body[name] for name in call} == call
    assert {"allowed_token_ids", "request_id", "add_generation_prompt"} <= (
        _request.untyped_chat_fields()
    )
    # neither a field the SDK sends itself nor a typed one
    assert not _request.untyped_chat_fields() & {"logit_bias", "user", "min_p", "top_k"}


def test_extra_body_keys_the_server_would_ignore_are_refused(fake: FakeVLLM) -> None:
    with pytest.raises(ValueError, match=r"'mni_p' \(did you mean 'min_p'\?\).*silently ignored"):
        make(fake, extra_body={"mni_p": 0.1}).invoke(QUESTION)
    assert fake.chat_bodies() == []


def test_extra_body_keys_are_not_checked_for_unknown_or_newer_servers() -> None:
    for version in (None, "0.40.0"):
        fake = FakeVLLM(version=version)
        make(fake, extra_body={"future_field": 1}).invoke(QUESTION)
        assert fake.chat_bodies()[-1]["future_field"] == 1
        _server.forget()
