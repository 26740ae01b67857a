"""Typed vLLM sampling fields: sent in the body, merged with extra_body, range-checked early."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_vllm import ChatVLLM
from langchain_vllm.sampling import check_sampling
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, recorded_model

QUESTION = [HumanMessage("What is the capital of France?")]

TYPED: dict[str, Any] = {
    "top_k": 20,
    "min_p": 0.05,
    "repetition_penalty": 1.1,
    "min_tokens": 2,
    "stop_token_ids": [2, 7],
    "ignore_eos": False,
    "skip_special_tokens": False,
    "include_stop_str_in_output": True,
    "truncate_prompt_tokens": 100,
    "priority": 3,
    "chat_template_kwargs": {"custom": 1},
    "return_token_ids": True,
    "thinking_token_budget": 64,
    "include_reasoning": False,
}


def make(fake: FakeVLLM, **kwargs: Any) -> ChatVLLM:
    return ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients(), **kwargs)


def test_typed_fields_at_init_are_sent(fake: FakeVLLM) -> None:
    make(fake, **TYPED, seed=5, logprobs=True, top_logprobs=2).invoke(QUESTION)
    body = fake.chat_bodies()[-1]
    for name, value in TYPED.items():
        assert body[name] == value, name
    assert (body["seed"], body["logprobs"], body["top_logprobs"]) == (5, True, 2)


def test_typed_fields_per_call_and_bind(fake: FakeVLLM) -> None:
    llm = make(fake, top_k=5, min_p=0.5)
    llm.invoke(QUESTION, **TYPED)
    body = fake.chat_bodies()[-1]
    for name, value in TYPED.items():
        assert body[name] == value, name
    llm.bind(top_k=7).invoke(QUESTION)
    assert (fake.chat_bodies()[-1]["top_k"], fake.chat_bodies()[-1]["min_p"]) == (7, 0.5)


def test_unset_fields_are_not_sent(fake: FakeVLLM) -> None:
    make(fake).invoke(QUESTION)
    body = fake.chat_bodies()[-1]
    assert not set(TYPED).intersection(body)
    assert "enable_thinking" not in body


def test_explicit_extra_body_values_win(fake: FakeVLLM) -> None:
    llm = make(
        fake,
        top_k=5,
        chat_template_kwargs={"a": 1, "b": 1},
        extra_body={"top_k": 9, "chat_template_kwargs": {"b": 2}, "length_penalty": 0.5},
    )
    llm.invoke(QUESTION)
    body = fake.chat_bodies()[-1]
    assert body["top_k"] == 9
    assert body["chat_template_kwargs"] == {"a": 1, "b": 2}
    assert body["length_penalty"] == 0.5


def test_enable_thinking_goes_to_the_chat_template(fake: FakeVLLM) -> None:
    llm = make(fake, enable_thinking=False, chat_template_kwargs={"x": 1})
    llm.invoke(QUESTION)
    sent = {"x": 1, "enable_thinking": False, "thinking": False}
    assert fake.chat_bodies()[-1]["chat_template_kwargs"] == sent
    llm.invoke(QUESTION, enable_thinking=True)
    sent = {"x": 1, "enable_thinking": True, "thinking": True}
    assert fake.chat_bodies()[-1]["chat_template_kwargs"] == sent
    # DeepSeek-V3.1's own name, given explicitly, wins
    llm.invoke(QUESTION, enable_thinking=True, chat_template_kwargs={"thinking": False})
    sent = {"x": 1, "enable_thinking": True, "thinking": False}
    assert fake.chat_bodies()[-1]["chat_template_kwargs"] == sent


def test_reasoning_effort_is_sent(fake: FakeVLLM) -> None:
    make(fake, reasoning_effort="low").invoke(QUESTION)
    assert fake.chat_bodies()[-1]["reasoning_effort"] == "low"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_p", 2, r"min_p=2(\.0)? is out of range: min_p must be between 0 and 1"),
        ("top_k", -5, r"top_k=-5 is out of range: top_k must be -1 or 0"),
        ("top_p", 0, r"top_p=0(\.0)? is out of range: top_p must be greater than 0"),
        ("temperature", 3, r"temperature=3(\.0)? is out of range: .* between 0 and 2"),
        ("repetition_penalty", 0, r"repetition_penalty=0(\.0)? is out of range"),
        ("frequency_penalty", 2.5, r"frequency_penalty=2.5 is out of range"),
        ("min_tokens", -1, r"min_tokens=-1 is out of range"),
        ("truncate_prompt_tokens", -2, r"truncate_prompt_tokens=-2 is out of range"),
        ("thinking_token_budget", -3, r"thinking_token_budget=-3 is out of range"),
        # at init pydantic's type check names the field; per call ours does
        ("top_k", 2.5, r"top_k(\n.*valid integer| must be an integer)"),
        ("priority", "high", r"priority(\n.*valid integer| must be an integer)"),
        ("stop_token_ids", [1, "x"], r"stop_token_ids(\.1\n.*valid integer| must be a list)"),
    ],
)
def test_out_of_range_values_fail_before_any_request(
    fake: FakeVLLM, field: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(fake, **{field: value})
    llm = make(fake)
    with pytest.raises(ValueError, match=message):
        llm.invoke(QUESTION, **{field: value})
    with pytest.raises(ValueError, match=message):
        llm.bind(**{field: value}).invoke(QUESTION)
    assert fake.chat_bodies() == []


def test_min_tokens_above_max_tokens_is_refused(fake: FakeVLLM) -> None:
    with pytest.raises(ValueError, match="min_tokens=10 is larger than max_tokens=5"):
        make(fake, min_tokens=10, max_tokens=5)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"temperature": True}, r"temperature=True is out of range"),
        ({"min_p": float("nan")}, r"min_p=nan is out of range"),
        ({"repetition_penalty": float("inf")}, r"repetition_penalty=inf is out of range"),
        ({"top_p": "0.5"}, r"top_p='0.5' is out of range"),
        ({"seed": "3"}, r"seed must be an integer, got '3'"),
        ({"n": 0}, r"n=0 is out of range: n must be 1 or more"),
        ({"stop_token_ids": [-1]}, r"stop_token_ids must be a list of token ids"),
        # the first field given that fails is the one named
        ({"min_p": 5, "top_k": -9}, r"^min_p=5"),
        ({"top_k": -9, "min_p": 5}, r"^top_k=-9"),
    ],
)
def test_check_sampling_names_the_first_bad_value(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_sampling(values)


def test_check_sampling_accepts_valid_and_unset_values() -> None:
    check_sampling({"temperature": 0, "top_p": 1, "top_k": -1, "stop_token_ids": (1, 2)})
    check_sampling({"temperature": None, "unknown": "anything"})
