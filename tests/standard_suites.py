"""LangChain's standard integration suite for ChatVLLM, shared by two runs.

- ``tests/integration_tests/test_chat_models_standard.py`` runs it against a real vLLM server
  (``VLLM_BASE_URL``, else the local CPU server of ``scripts/vllm_local.py``); ``make record``
  runs it against the local server while recording every HTTP exchange as VCR cassettes.
- ``tests/unit_tests/test_chat_models_replay.py`` replays those cassettes with sockets
  disabled: the "mocked vLLM server" for contributors who cannot run vLLM.

Both runs use the same cassette names (the test name, without the class), so one recording
serves the replay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_tests.conftest import base_vcr_config
from langchain_tests.integration_tests import ChatModelIntegrationTests
from pytest_recording.plugin import get_default_cassette_name

from langchain_vllm import ChatVLLM

CASSETTES = Path(__file__).parent / "cassettes"

LOCAL_CHAT_URL = "http://127.0.0.1:8000/v1"
"""Where scripts/vllm_local.py serves the chat model (and where cassettes were recorded)."""

LOCAL_CHAT_MODEL = "SmolLM2-135M-Instruct"
"""The served name the launcher gives SmolLM2-135M-Instruct."""

# What the 135M model cannot do (each mark names the capability); same marks in both runs.
NO_AUTONOMOUS_TOOL_USE = pytest.mark.xfail(
    reason=(
        "capability: choosing on its own (tool_choice='auto') to call a tool. "
        "SmolLM2-135M answers in prose instead"
    ),
    strict=False,
)


class ChatVLLMStandardSuite(ChatModelIntegrationTests):
    """ChatModelIntegrationTests configured for ChatVLLM on a vLLM server."""

    @property
    def chat_model_class(self) -> type[ChatVLLM]:
        return ChatVLLM

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
    def enable_vcr_tests(self) -> bool:
        return True

    # ---- VCR: one cassette per test, named by the test alone, kept in tests/cassettes/.

    @pytest.fixture
    def vcr_cassette_dir(self) -> str:
        return str(CASSETTES / "chat_standard")

    @pytest.fixture
    def default_cassette_name(self, request: pytest.FixtureRequest) -> str:
        return get_default_cassette_name(None, request.node.name)

    @pytest.fixture
    def vcr_config(self) -> dict[str, Any]:
        config = base_vcr_config()
        config.pop("cassette_library_dir", None)
        config["filter_headers"] = [*config["filter_headers"], ("cookie", "PLACEHOLDER")]
        return config
