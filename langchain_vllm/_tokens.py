"""Counting tokens with the server's own tokenizer (``POST /tokenize``), never tiktoken.

Text is counted without special tokens; a chat request is counted in the chat form of
``/tokenize`` (chat template, generation prompt and tool definitions included), so the
count equals the ``input_tokens`` of sending the same request. ``ChatVLLM``'s
``get_token_ids``/``get_num_tokens*`` build these bodies and send them through its server
(``_server.Server.tokenize``).
"""

from __future__ import annotations

from typing import Any


def chat_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The chat-form ``/tokenize`` body for a chat request ``payload`` (as it would be sent)."""
    body: dict[str, Any] = {
        "model": payload["model"],
        "messages": payload["messages"],
        "add_generation_prompt": True,
    }
    if payload.get("tools"):
        body["tools"] = payload["tools"]
    template_kwargs = (payload.get("extra_body") or {}).get("chat_template_kwargs")
    if template_kwargs:
        body["chat_template_kwargs"] = template_kwargs
    return body


def text_body(model: str | None, text: str) -> dict[str, Any]:
    """The ``/tokenize`` body counting ``text`` alone (no special tokens added)."""
    return {"model": model, "prompt": text, "add_special_tokens": False}


def ids(answer: dict[str, Any]) -> list[int]:
    """The token ids of a ``/tokenize`` answer."""
    return [int(t) for t in answer["tokens"]]
