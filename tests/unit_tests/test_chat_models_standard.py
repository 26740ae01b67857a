"""LangChain's standard unit suite for ChatVLLM (no server, sockets disabled)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_vllm import ChatVLLM

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from syrupy.assertion import SnapshotAssertion


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

    @pytest.mark.xfail(
        reason=(
            "langchain-core's load(allowed_objects='all') admits only partner classes listed "
            "in langchain_core.load.mapping, which does not list langchain_vllm yet; "
            "test_chat_models.py::test_serialization_round_trip checks the same dump and "
            "round trip with ChatVLLM allow-listed explicitly"
        ),
        raises=ValueError,
        strict=True,
    )
    def test_serdes(self, model: BaseChatModel, snapshot: SnapshotAssertion) -> None:
        super().test_serdes(model, snapshot)
