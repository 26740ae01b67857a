"""Structured output (``_structured``): json_schema and vLLM's choice/regex/grammar."""

from __future__ import annotations

import enum
import re
from typing import Any, Literal

import pytest

from langchain_vllm import ChatVLLM
from tests.unit_tests.fake_vllm import MESSAGES, FakeVLLM, make, recorded_model
from tests.unit_tests.fake_vllm import load as load_fixture
from tests.unit_tests.test_tools import GetWeather

# ---------------------------------------------------------------- vLLM-only constraints


class Answer(enum.Enum):
    YES = "yes"
    NO = "no"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (["yes", "no"], "no"),
        (("yes", "no"), "no"),
        (Literal["yes", "no"], "no"),
        (Answer, Answer.NO),
    ],
)
def test_choice_returns_the_chosen_value(fake: FakeVLLM, schema: Any, expected: Any) -> None:
    # the recorded answer of the real server to this constraint is "no"
    assert load_fixture("choice")["body"]["choices"][0]["message"]["content"] == "no"
    llm = make(fake, model=recorded_model())
    assert llm.with_structured_output(schema, method="choice").invoke("Sky blue?") == expected
    assert fake.chat_bodies()[-1]["structured_outputs"] == {"choice": ["yes", "no"]}


def test_choice_with_include_raw(fake: FakeVLLM) -> None:
    llm = make(fake, model=recorded_model())
    out = llm.with_structured_output(Answer, method="choice", include_raw=True).invoke("?")
    assert out["parsed"] is Answer.NO
    assert out["parsing_error"] is None
    assert out["raw"].text == "no"


@pytest.mark.parametrize(("method", "schema"), [("regex", r"\d+"), ("grammar", 'root ::= "no"')])
def test_regex_and_grammar_are_sent_and_return_text(
    fake: FakeVLLM, method: Any, schema: str
) -> None:
    llm = make(fake, model=recorded_model())
    assert llm.with_structured_output(schema, method=method).invoke("?") == "no"
    assert fake.chat_bodies()[-1]["structured_outputs"] == {method: schema}


@pytest.mark.parametrize(
    ("method", "schema", "message"),
    [
        ("choice", [], "takes a list of strings"),
        ("choice", [1, 2], "takes a list of strings"),
        ("choice", int, "takes a list of strings"),
        ("regex", "", "takes a regular expression"),
        ("regex", "(unclosed", "missing"),
        ("grammar", None, "takes a grammar"),
    ],
)
def test_bad_constraint_schemas_fail_early(method: Any, schema: Any, message: str) -> None:
    with pytest.raises((ValueError, re.error), match=message):
        ChatVLLM().with_structured_output(schema, method=method)


def test_json_schema_answer_parses_from_content_not_reasoning() -> None:
    # a reasoning model: the reasoning is prose, the content is the JSON
    fake = FakeVLLM(reasoning_fields=("reasoning",))
    llm = make(fake, model=recorded_model())
    structured = llm.with_structured_output(
        {"title": "Capital", "type": "object", "properties": {"city": {"type": "string"}}},
        include_raw=True,
    )
    out = structured.invoke(MESSAGES)
    assert out["raw"].additional_kwargs["reasoning_content"]
    # the recorded content is prose, so parsing fails on *content* (not on the reasoning)
    assert out["parsing_error"] is not None
    assert "Paris" in out["raw"].text


# ---------------------------------------------------------------- json_schema


def test_json_schema_is_the_default_and_names_the_schema(fake: FakeVLLM) -> None:
    llm = make(fake, model=recorded_model())
    structured = llm.with_structured_output(GetWeather, include_raw=True)
    structured.invoke(MESSAGES)
    response_format = fake.chat_bodies()[-1]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "GetWeather"
    assert response_format["json_schema"]["strict"] is True
    llm.with_structured_output(
        {"name": "city_answer", "schema": {"type": "object"}}, include_raw=True
    ).invoke(MESSAGES)
    assert fake.chat_bodies()[-1]["response_format"]["json_schema"]["name"] == "city_answer"
