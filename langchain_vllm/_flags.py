"""The vLLM server flags and parser names langchain-vllm tells users about.

One table for every hint that says how to start ``vllm serve``: the explained errors
(``_server``), the doctor's report (``doctor``) and the docs (a unit test checks that the
parser names the docs and docstrings mention are ones vLLM registers). Parser names are
spelled as vLLM 0.32 registers them (``vllm/tool_parsers/__init__.py``,
``vllm/reasoning/__init__.py``): the reasoning parser of gpt-oss is ``openai_gptoss``, not
``gpt_oss``. An integration test compares them with the installed server's registry.
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------- flags of `vllm serve`

AUTO_TOOL_CHOICE: Final = "--enable-auto-tool-choice"
"""Lets ``tool_choice="auto"`` (and ``"required"``) through; needs a tool-call parser."""

TOOL_CALL_PARSER: Final = "--tool-call-parser"
"""Which parser turns the model's tool-call text into ``tool_calls``."""

TOOL_STRICT_LEVEL: Final = "--tool-strict-level"
"""``parameter``: every tool's arguments held to its schema, as if sent with ``strict``."""

REASONING_PARSER: Final = "--reasoning-parser"
"""Which parser splits reasoning from the answer (and makes ``thinking_token_budget`` work)."""

REASONING_CONFIG: Final = "--reasoning-config"
"""Where thinking starts and ends, for models whose markers vLLM cannot find."""

STRUCTURED_OUTPUTS_CONFIG: Final = "--structured-outputs-config"
"""The structured-output backend and its options (vLLM >= 0.12)."""

GUIDED_DECODING_BACKEND: Final = "--guided-decoding-backend"
"""The structured-output backend on vLLM < 0.12."""

ENABLE_LORA: Final = "--enable-lora"
"""Serves LoRA adapters (``--lora-modules``, or loaded at runtime)."""

LORA_MODULES: Final = "--lora-modules"
"""LoRA adapters served from the start."""

RUNTIME_LORA_UPDATING: Final = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"
"""The server's environment variable that opens ``/v1/load_lora_adapter`` (set to ``True``)."""

RESPONSES_STORE: Final = "VLLM_ENABLE_RESPONSES_API_STORE"
"""The server's environment variable (set to ``1``) that keeps Responses API answers, for
``previous_response_id`` and ``background=True`` (in memory, until the server restarts)."""

POOLING_RUNNER: Final = "--runner pooling"
"""Serves an embedding or reranking model (``/v1/embeddings``, ``/rerank``, ``/score``)."""

CHAT_TEMPLATE: Final = "--chat-template"
"""A Jinja chat template for models that ship none (or none that renders tools)."""

MAX_MODEL_LEN: Final = "--max-model-len"
"""The context window in tokens."""

# ---------------------------------------------------------------- parser names

TOOL_PARSERS: Final = (
    "hermes",
    "qwen3_coder",
    "qwen3_xml",
    "llama3_json",
    "llama4_pythonic",
    "mistral",
    "deepseek_v31",
    "deepseek_v3",
    "openai",
)
"""Tool-call parsers of the model families langchain-vllm is tested with (README's "Tested
model families"); vLLM has many more: the one matching the chat template of the model."""

REASONING_PARSERS: Final = (
    "qwen3",
    "deepseek_r1",
    "deepseek_v3",
    "mistral",
    "openai_gptoss",
    "granite",
)
"""Reasoning parsers of the tested model families, and ``granite``; vLLM has many more: the
one made for the model."""

# ---------------------------------------------------------------- what hints say

TOOL_FLAGS: Final = (AUTO_TOOL_CHOICE, TOOL_CALL_PARSER)
"""The flags vLLM names when it refuses ``tool_choice`` for want of a parser."""

TOOL_SETUP: Final = f"{AUTO_TOOL_CHOICE} {TOOL_CALL_PARSER} <parser>"
"""How to start a server that calls tools."""

REASONING_SETUP: Final = f"{REASONING_PARSER} <parser>"
"""How to start a server that separates reasoning."""

STRUCTURED_SETUP: Final = f'{STRUCTURED_OUTPUTS_CONFIG} \'{{"backend": "auto"}}\''
"""How to turn structured outputs on (vLLM >= 0.12)."""

LEGACY_STRUCTURED_SETUP: Final = f"{GUIDED_DECODING_BACKEND} auto"
"""How to turn structured outputs on (vLLM < 0.12)."""

COMPACT_JSON_SETUP: Final = f"{STRUCTURED_OUTPUTS_CONFIG} '{{\"disable_any_whitespace\": true}}'"
"""Keeps small models from padding constrained JSON with whitespace until ``max_tokens``."""

CHAT_TEMPLATE_SETUP: Final = f"{CHAT_TEMPLATE} <template.jinja>"
"""How to give a model without one a chat template."""

LORA_RUNTIME_SETUP: Final = (
    f"{ENABLE_LORA} and the environment variable {RUNTIME_LORA_UPDATING}=True"
)
"""What runtime LoRA loading needs."""


def examples(names: tuple[str, ...]) -> str:
    """Parser names for a hint: ``"hermes, qwen3_coder, ..."``.

    Args:
        names: ``TOOL_PARSERS`` or ``REASONING_PARSERS``.

    Returns:
        The names, comma-separated.
    """
    return ", ".join(names)
