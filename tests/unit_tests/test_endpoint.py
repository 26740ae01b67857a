"""``_endpoint.py``: what every model class learns from its server, once per server."""

from __future__ import annotations

import pytest

from langchain_vllm import VLLMModelSelectionError
from tests.unit_tests.fake_vllm import MESSAGES, FakeVLLM, lora_card, make, recorded_model


def test_model_is_discovered_once_and_cached(fake: FakeVLLM) -> None:
    llm = make(fake)
    llm.invoke(MESSAGES)
    llm.invoke(MESSAGES)
    paths = [(r.method, r.url.path) for r in fake.requests]
    # models and version are learned once; afterwards one request per invoke
    assert paths == [
        ("GET", "/v1/models"),
        ("GET", "/version"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/chat/completions"),
    ]
    assert [b["model"] for b in fake.chat_bodies()] == [recorded_model()] * 2
    assert llm.model_id == recorded_model()
    # a second object for the same server reuses what was learned
    other = make(fake)
    other.invoke(MESSAGES)
    assert [r.method for r in fake.requests].count("GET") == 2


async def test_model_is_discovered_in_async_and_stream_paths(fake: FakeVLLM) -> None:
    await make(fake).ainvoke(MESSAGES)
    assert fake.chat_bodies()[-1]["model"] == recorded_model()
    chunks = [c async for c in make(fake).astream(MESSAGES)]
    assert chunks
    assert fake.chat_bodies()[-1]["model"] == recorded_model()
    assert [r.method for r in fake.requests].count("GET") == 2


def test_discovered_model_is_the_langsmith_model_name(fake: FakeVLLM) -> None:
    llm = make(fake)
    llm.invoke(MESSAGES)
    params = llm._get_ls_params()
    assert params["ls_provider"] == "vllm"
    assert params["ls_model_name"] == recorded_model()


def test_lora_adapters_do_not_make_the_choice_ambiguous() -> None:
    base = recorded_model()
    fake = FakeVLLM(models=[*FakeVLLM().models_body["data"], lora_card("sql-lora", base)])
    llm = make(fake)
    llm.invoke(MESSAGES)
    assert fake.chat_bodies()[0]["model"] == base
    served = llm.served_models()
    assert [m.id for m in served] == fake.served_ids
    assert (served[0].id, served[0].parent, served[0].is_adapter) == (base, None, False)
    assert (served[-1].id, served[-1].parent, served[-1].is_adapter) == ("sql-lora", base, True)
    assert all(m.parent == base for m in served[1:])
    assert served[0].max_model_len is not None


def test_several_base_models_raise_a_listing_error() -> None:
    first = FakeVLLM().models_body["data"][0]
    second = {**first, "id": "other-model", "root": "other/model"}
    fake = FakeVLLM(models=[first, second, lora_card("sql-lora", "other-model")])
    with pytest.raises(VLLMModelSelectionError) as info:
        make(fake).invoke(MESSAGES)
    message = str(info.value)
    assert first["id"] in message
    assert "other-model" in message
    assert "sql-lora (LoRA on other-model)" in message
    assert "model=" in message
