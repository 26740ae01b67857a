"""The one place that knows how vLLM spells things on the wire.

ChatOpenAI builds an OpenAI-shaped request; the functions here turn it into what vLLM reads
and read vLLM's own response fields back.
"""

from __future__ import annotations

from typing import Any

# vLLM reads ``max_completion_tokens`` since 0.6.4; ``max_tokens`` is the legacy spelling.
MAX_TOKENS_FIELD = "max_completion_tokens"


def finish_chat_payload(payload: dict[str, Any], model: str | None) -> dict[str, Any]:
    """Finish a Chat Completions request body built by ChatOpenAI for vLLM.

    Args:
        payload: The body ChatOpenAI built (modified in place and returned).
        model: The model id to send when the caller did not override it per call.
    """
    if payload.get("model") is None and model is not None:
        payload["model"] = model
    if "max_tokens" in payload:
        payload[MAX_TOKENS_FIELD] = payload.pop("max_tokens")
    return payload
