"""LangChain's standard integration suite against the real server, with a capable model.

The same suite as ``test_chat_models_standard.py``, but every request carries what a capable
model would answer as the scripted model's script (``tests/capable_model.py``): tool calls
chosen on its own, JSON in the shape the prompt describes, answers after tool results. The
server's chat template, tool-call parser, grammars, streaming and usage are real, so nothing
here is marked as a capability the model lacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.capable_model import CapableChatVLLM
from tests.families import BY_NAME
from tests.integration_tests.conftest import (
    chat_adapter,
    chat_base_url,
    chat_model,
    families_adapter,
    families_base_url,
)
from tests.standard_suites import SCRATCH_CASSETTES, VLLMSuiteBase

if TYPE_CHECKING:
    from pathlib import Path


class _ScriptedSuite(VLLMSuiteBase):
    """The standard suite with a capable model played by the scripted model."""

    @property
    def chat_model_class(self) -> type[CapableChatVLLM]:
        return CapableChatVLLM


@pytest.mark.vcr
class TestHermesScripted(_ScriptedSuite):
    """A Hermes-format model (Qwen2.5, Hermes, Qwen3) behind ``--tool-call-parser hermes``."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "base_url": chat_base_url(),
            "model": chat_model(),
            "script_format": "hermes",
            "temperature": 0,
            "max_tokens": 256,
        }

    @property
    def model_override_value(self) -> str | None:
        return chat_adapter()

    def cassette_root(self) -> Path:
        return SCRATCH_CASSETTES / "scripted"


@pytest.mark.vcr
class TestQwen3CoderScripted(_ScriptedSuite):
    """A Qwen3-Coder / Qwen3.5 model behind ``--tool-call-parser qwen3_coder --reasoning-parser
    qwen3`` (the families server's ``qwen3_coder`` family): XML tool calls
    (``<function=NAME><parameter=KEY>value</parameter>``) in place of Hermes' JSON, its own
    grammar for strict tools, and Qwen3's reasoning parser with thinking off."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "base_url": families_base_url(),
            "script_format": "qwen3_coder",
            "chat_template_kwargs": BY_NAME["qwen3_coder"].template_kwargs,
            # Qwen3's reasoning parser reads an answer as reasoning unless thinking is off
            "enable_thinking": False,
            "temperature": 0,
            "max_tokens": 256,
        }

    @property
    def model_override_value(self) -> str | None:
        return families_adapter()

    def cassette_root(self) -> Path:
        return SCRATCH_CASSETTES / "scripted_qwen3_coder"
