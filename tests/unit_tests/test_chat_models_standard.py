"""LangChain's standard unit suite for ChatVLLM (no server, sockets disabled)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_vllm import ChatVLLM

# langchain_core.load.load, the module (the package attribute of that name is load() itself)
core_load = importlib.import_module("langchain_core.load.load")


class TestChatVLLMUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatVLLM]:
        return ChatVLLM

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "SmolLM2-135M-Instruct", "base_url": "http://127.0.0.1:8000/v1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"VLLM_API_KEY": "api_key", "VLLM_BASE_URL": "http://gpu-box:8000/v1"},
            {"model": "SmolLM2-135M-Instruct"},
            {"openai_api_key": "api_key", "openai_api_base": "http://gpu-box:8000/v1"},
        )

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return True

    @pytest.fixture(autouse=True)
    def _chat_vllm_in_cores_serialization_mapping(
        self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """For ``test_serdes`` (which runs unchanged): ChatVLLM in langchain-core's mapping.

        ``load(allowed_objects="all")`` admits the partner classes listed in langchain-core's
        serialization mapping (upstream entries such as ChatXAI or ChatBaseten map a class
        path to itself). ChatVLLM's entry is not upstream yet, so this adds the same entry
        for that test only.
        """
        if request.node.originalname != "test_serdes":
            return
        path = ("langchain_vllm", "chat_models", "ChatVLLM")
        monkeypatch.setitem(core_load.ALL_SERIALIZABLE_MAPPINGS, path, path)
        monkeypatch.setattr(core_load, "_default_class_paths_cache", {})
