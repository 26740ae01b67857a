"""The standard integration suite replayed from cassettes recorded against a real vLLM.

No server and no sockets: every HTTP exchange comes from ``tests/cassettes/chat_standard/``,
recorded by ``make record`` (the same suite run against the local CPU vLLM with
``--record-mode=all``). A request that differs from the recorded one fails the test, so this
also catches changes in what ChatVLLM sends.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.standard_suites import (
    LOCAL_CHAT_ADAPTER,
    LOCAL_CHAT_MODEL,
    LOCAL_CHAT_URL,
    SUITE_SAMPLING,
    ChatVLLMStandardSuite,
)


@pytest.mark.vcr
class TestChatVLLMReplay(ChatVLLMStandardSuite):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        # Where and what the cassettes were recorded with: requests must match them.
        return {"base_url": LOCAL_CHAT_URL, "model": LOCAL_CHAT_MODEL, **SUITE_SAMPLING}

    @property
    def model_override_value(self) -> str | None:
        return LOCAL_CHAT_ADAPTER

    def cassette_config(self) -> dict[str, Any]:
        # Replay only: a request with no recorded answer fails instead of going out.
        return {**super().cassette_config(), "record_mode": "none"}
