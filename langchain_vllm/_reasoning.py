"""Reasoning: read from responses and stream deltas, asked for, and sent back in the history.

vLLM returns a reasoning model's thinking apart from the answer (``--reasoning-parser``), as
``reasoning`` or ``reasoning_content`` depending on its version (see ``_versions``); ChatVLLM
keeps it in ``additional_kwargs["reasoning_content"]`` (a reasoning block in
``content_blocks``), sends it back for earlier assistant turns as ``reasoning_history`` says,
and turns ``enable_thinking`` into the chat-template variable hybrid models read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage
from pydantic import BaseModel

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.messages import BaseMessage

    from langchain_vllm._versions import WireFormat

HISTORY_POLICIES = ("never", "last", "all")
"""The values of ``reasoning_history``."""


class ReasoningParams(BaseModel):
    """ChatVLLM's reasoning fields: asking for thinking, and sending it back."""

    enable_thinking: bool | None = None
    """Turn a hybrid reasoning model's thinking on or off (Qwen3, DeepSeek-V3.1, Granite …):
    sent as ``chat_template_kwargs={"enable_thinking": ..., "thinking": ...}``, the two names
    chat templates read (Qwen3's ``enable_thinking``, DeepSeek-V3.1's and Granite's
    ``thinking``); a ``thinking`` given in ``chat_template_kwargs`` wins."""

    thinking_token_budget: int | None = None
    """Cap on reasoning tokens (vLLM ends the reasoning section after this many). Needs vLLM
    0.19 or later and ``--reasoning-parser``; refused before sending to an older server, which
    would ignore it."""

    include_reasoning: bool | None = None
    """``False`` asks the server to leave the reasoning text out of the response."""

    reasoning_history: Literal["never", "last", "all"] = "last"
    """Which earlier assistant reasoning is sent back to the server in the history.

    ``"last"`` (default): the reasoning of assistant messages after the last human message
    (the current turn's tool-calling steps, which interleaved-thinking models such as
    gpt-oss, Kimi K2 and MiniMax-M2 need); ``"all"``: every assistant message's reasoning;
    ``"never"``: none. Sent in the field name the server's version reads.
    """


def reasoning_text(message: dict[str, Any]) -> str | None:
    """Reasoning text of a response message or delta, whichever name the server used."""
    for name in ("reasoning", "reasoning_content"):
        value = message.get(name)
        if isinstance(value, str):
            return value
    return None


def with_reasoning(message: dict[str, Any], reasoning: str, wire: WireFormat) -> dict[str, Any]:
    """An assistant message dict carrying ``reasoning`` back to the server."""
    return {**message, wire.reasoning_field: reasoning}


def reasoning_of(message: BaseMessage) -> str | None:
    """The reasoning text an assistant message carries (from vLLM or a reasoning block)."""
    text = message.additional_kwargs.get("reasoning_content")
    if isinstance(text, str) and text:
        return text
    if isinstance(message.content, list):
        texts = [
            str(block.get("reasoning", ""))
            for block in message.content
            if isinstance(block, dict) and block.get("type") == "reasoning"
        ]
        return "".join(texts) or None
    return None


def with_reasoning_history(
    messages: Sequence[BaseMessage],
    dicts: list[dict[str, Any]],
    policy: str,
    wire: WireFormat,
) -> list[dict[str, Any]]:
    """Add earlier assistant reasoning to the request messages as ``policy`` says."""
    if policy == "never":
        return dicts
    start = 0
    if policy == "last":
        humans = [i for i, m in enumerate(messages) if m.type == "human"]
        start = humans[-1] + 1 if humans else 0
    out = list(dicts)
    for index in range(start, len(messages)):
        message = messages[index]
        if isinstance(message, AIMessage) and (reasoning := reasoning_of(message)):
            out[index] = with_reasoning(out[index], reasoning, wire)
    return out


def add_reasoning(message: BaseMessage, fields: dict[str, Any]) -> None:
    """Copy the reasoning text of a response message or delta onto ``message`` (or chunk)."""
    reasoning = reasoning_text(fields)
    if reasoning:
        message.additional_kwargs["reasoning_content"] = reasoning


def history_policy(policy: Any) -> str:
    """``policy`` checked as a ``reasoning_history`` value.

    Raises:
        ValueError: Not one of ``"never"``, ``"last"``, ``"all"``.
    """
    if policy not in HISTORY_POLICIES:
        msg = f"reasoning_history must be 'never', 'last' or 'all', got {policy!r}."
        raise ValueError(msg)
    return str(policy)


def template_kwargs(
    typed: dict[str, Any] | None,
    *,
    enable_thinking: bool | None,
    call_kwargs: dict[str, Any] | None = None,
    call_thinking: bool | None = None,
) -> dict[str, Any]:
    """The ``chat_template_kwargs`` to send, with ``enable_thinking`` merged in.

    Later wins: the typed ``chat_template_kwargs``, the typed ``enable_thinking``, then the
    same two per call (``call_kwargs``, ``call_thinking``). ``enable_thinking`` is also sent
    as ``thinking`` (unless that is given), the name DeepSeek-V3.1's template reads.
    """
    merged = dict(typed or {})
    for source in (
        {"enable_thinking": enable_thinking},
        call_kwargs or {},
        {"enable_thinking": call_thinking},
    ):
        merged.update({k: v for k, v in source.items() if v is not None})
    if "enable_thinking" in merged:  # DeepSeek V3.1's (and Granite's) templates read "thinking"
        merged.setdefault("thinking", merged["enable_thinking"])
    return merged
