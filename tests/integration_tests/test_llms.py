"""VLLMCompletions against the real chat server's ``/v1/completions``."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.exceptions import ContextOverflowError
from langchain_core.prompts import PromptTemplate

from langchain_vllm import VLLMCompletions, VLLMDeadlineError
from tests.integration_tests.conftest import chat_base_url, chat_model, scripted
from tests.integration_tests.test_reliability import drained_within

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput

PROMPT = "The capital of France is"


def llm(**kwargs: Any) -> VLLMCompletions:
    defaults: dict[str, Any] = {"max_tokens": 12, "temperature": 0}
    return VLLMCompletions(base_url=chat_base_url(), **{**defaults, **kwargs})


def test_invoke_generate_and_usage() -> None:
    model = llm()
    # a continuation longer than max_tokens (12): cut at 12 tokens, the same every time
    script = scripted(" Paris. It is known for the Eiffel Tower, the Louvre and cafes.")
    text = model.invoke(PROMPT, extra_body=script)
    assert text.strip()
    result = model.generate([PROMPT], extra_body=script)
    assert result.generations[0][0].text == text
    assert (result.generations[0][0].generation_info or {})["finish_reason"] == "length"
    assert result.llm_output is not None
    usage = result.llm_output["token_usage"]
    assert usage["completion_tokens"] == 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + 12
    assert result.llm_output["model_name"] == chat_model()


def test_batch_answers_each_prompt_in_order() -> None:
    # vLLM's greedy output is not batch-invariant: three prompts in one request may
    # continue differently after a few tokens than three single requests do. What a
    # user relies on is one answer per prompt, in the prompts' order.
    capitals = {"France": "Paris", "Italy": "Rome", "Spain": "Madrid"}
    prompts: list[LanguageModelInput] = [f"The capital of {c} is" for c in capitals]
    batched = llm().batch(prompts)
    assert len(batched) == len(prompts)
    for answer, capital in zip(batched, capitals.values(), strict=True):
        assert answer.split()[0].strip(".,") == capital


def test_stream_equals_invoke_and_reports_usage() -> None:
    model = llm()
    chunks = list(model.stream(PROMPT))
    assert "".join(chunks) == model.invoke(PROMPT)
    streamed = llm(streaming=True).generate([PROMPT])
    info = streamed.generations[0][0].generation_info
    assert info is not None
    assert info["usage"]["completion_tokens"] == 12


async def test_async_invoke_and_stream() -> None:
    model = llm()
    text = await model.ainvoke(PROMPT)
    assert "".join([c async for c in model.astream(PROMPT)]) == text


def test_constraints_and_sampling_fields() -> None:
    picked = llm().invoke("My favourite color is", structured_outputs={"choice": ["red", "blue"]})
    assert picked in ("red", "blue")
    digits = llm(structured_outputs={"regex": r"[0-9]{4}"}).invoke("The year is")
    assert re.fullmatch(r"[0-9]{4}", digits)
    long = llm(max_tokens=20).generate([PROMPT], min_tokens=20, return_token_ids=True)
    info = long.generations[0][0].generation_info
    assert info is not None
    assert len(info["token_ids"]) == 20


def test_prompt_too_long_is_a_context_overflow_error() -> None:
    # each vLLM words it its own way (0.32: "maximum context length is 4096 tokens. However,
    # your prompt contains ..."; 0.16: "You passed ... However, the model's context length is
    # only 4096 tokens")
    with pytest.raises(ContextOverflowError) as caught:
        llm().invoke("word " * 5000)
    error: Any = caught.value
    card = next(m for m in llm().served_models() if m.id == chat_model())
    assert error.max_context_tokens == card.max_model_len


def test_prompt_template_chain() -> None:
    chain = PromptTemplate.from_template("The capital of {country} is") | llm()
    assert chain.invoke({"country": "France"}).strip()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stream_deadline_is_honoured_keeps_the_text_and_aborts(mode: str) -> None:
    model = llm(max_tokens=2000, stream_deadline=1.5, extra_body={"ignore_eos": True})
    model.invoke(PROMPT, max_tokens=1)  # discovery outside the clock

    def consume_sync() -> None:
        for _ in model.stream("Once upon a time"):
            pass

    async def consume_async() -> None:
        async for _ in model.astream("Once upon a time"):
            pass

    consume = consume_sync if mode == "sync" else lambda: asyncio.run(consume_async())
    started = time.monotonic()
    with pytest.raises(VLLMDeadlineError) as caught:
        consume()
    assert time.monotonic() - started < 1.5 + 0.5
    assert caught.value.partial is not None
    assert caught.value.partial.text  # what arrived before the deadline is kept
    assert drained_within(2.0) is not None  # the closed stream aborted the generation
