"""LangChain's standard integration suite for ChatVLLM against a real vLLM server.

Every run records its HTTP traffic (``--record-mode=all``): into the gitignored ``.cassettes/``
normally, into the committed ``tests/cassettes/`` when ``VLLM_RECORD_CASSETTES=1`` (that is
``make record``), which ``tests/unit_tests/test_chat_models_replay.py`` replays without a server.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration_tests.conftest import chat_adapter, chat_base_url, chat_model
from tests.standard_suites import (
    CASSETTES,
    SCRATCH_CASSETTES,
    SUITE_SAMPLING,
    ChatVLLMStandardSuite,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.vcr
class TestChatVLLMStandard(ChatVLLMStandardSuite):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": chat_base_url(), "model": chat_model(), **SUITE_SAMPLING}

    @property
    def model_override_value(self) -> str | None:
        # A LoRA adapter is a second model vLLM answers for under its own name.
        return chat_adapter()

    def cassette_root(self) -> Path:
        return CASSETTES if os.environ.get("VLLM_RECORD_CASSETTES") == "1" else SCRATCH_CASSETTES
