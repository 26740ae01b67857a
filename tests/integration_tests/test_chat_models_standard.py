"""LangChain's standard integration suite for ChatVLLM against a real vLLM server.

``make record`` runs this module with ``--record-mode=all`` to refresh the cassettes that
``tests/unit_tests/test_chat_models_replay.py`` replays without a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.integration_tests.conftest import chat_base_url, chat_model
from tests.standard_suites import NO_AUTONOMOUS_TOOL_USE, ChatVLLMStandardSuite

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


@pytest.mark.vcr
class TestChatVLLMStandard(ChatVLLMStandardSuite):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"base_url": chat_base_url(), "model": chat_model()}

    @NO_AUTONOMOUS_TOOL_USE
    def test_agent_loop(self, model: BaseChatModel) -> None:
        super().test_agent_loop(model)
