r"""Whitespace vLLM's parsers leave around reasoning and tool calls, tidied alike for all.

Models write newlines around their markup (Qwen3 ``<think>\nplan\n</think>\n\nanswer``,
DeepSeek R1 ``plan\n</think>\n\nanswer``, a line break between two tool calls), and vLLM's
parsers keep some of it as text: the ``qwen3`` and ``deepseek_r1`` reasoning parsers return
reasoning ``"\nplan\n"`` and content ``"\n\nanswer"``, where the ``mistral`` parser returns
``"plan"`` and ``"answer"``; and a stream carries the whitespace between reasoning or calls as
content where the same answer not streamed has ``content: null`` (vLLM drops whitespace-only
content beside tool calls there). ChatVLLM reads every family alike:

- reasoning without the whitespace around it;
- content without the whitespace between the reasoning and it, and without the whitespace
  between it and the tool calls that follow it (Hermes and Qwen write a line break there);
- no content when the message calls tools and its content is whitespace only.

A stream holds back whitespace until it knows which of these it is (the next non-blank text
or a tool call), so the streamed chunks add up to the message an invoke gives. Text the
model wrote inside its answer is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def tidy_message(message: dict[str, Any]) -> None:
    """Tidy a response message (a dict, in place)."""
    reasoning_key = next(
        (key for key in ("reasoning", "reasoning_content") if isinstance(message.get(key), str)),
        None,
    )
    reasoning = message.get(reasoning_key) if reasoning_key else None
    if reasoning_key is not None and isinstance(reasoning, str):
        for key in ("reasoning", "reasoning_content"):
            if isinstance(message.get(key), str):
                message[key] = message[key].strip()
    content = message.get("content")
    if not isinstance(content, str):
        return
    if reasoning and reasoning.strip():
        content = content.lstrip()
    if message.get("tool_calls"):
        content = content.rstrip()
    message["content"] = content if content or not message.get("tool_calls") else None


@dataclass
class _Choice:
    """What one streamed choice has shown so far, and the whitespace held back."""

    reasoning_started: bool = False
    held_reasoning: str = ""
    content_started: bool = False
    held_content: str = ""
    calls: bool = False


class StreamTidier:
    """Tidies a stream's events (dicts, in place) as :func:`tidy_message` tidies a message."""

    def __init__(self) -> None:
        """Start with nothing seen."""
        self._choices: dict[int, _Choice] = {}

    def read_event(self, event: object) -> None:
        """Tidy one streamed event."""
        if not isinstance(event, dict):
            return
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            state = self._choices.setdefault(int(choice.get("index") or 0), _Choice())
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._reasoning(state, delta)
                if delta.get("tool_calls"):
                    state.calls = True
                    state.held_reasoning = state.held_content = ""
                self._content(state, delta)
            if choice.get("finish_reason") is not None and isinstance(delta, dict):
                self._finish(state, delta)

    @staticmethod
    def _reasoning(state: _Choice, delta: dict[str, Any]) -> None:
        for key in ("reasoning", "reasoning_content"):
            text = delta.get(key)
            if not isinstance(text, str) or not text:
                continue
            if not state.reasoning_started:
                text = text.lstrip()
            if not text.strip():
                state.held_reasoning += text
                delta[key] = None
                continue
            body = text.rstrip()
            delta[key] = state.held_reasoning + body
            state.held_reasoning = text[len(body) :]
            state.reasoning_started = True

    @staticmethod
    def _content(state: _Choice, delta: dict[str, Any]) -> None:
        text = delta.get("content")
        if not isinstance(text, str) or not text:
            return
        if not text.strip():
            state.held_content += text
            delta["content"] = ""
            return
        if not state.content_started:
            state.held_reasoning = ""
            if state.reasoning_started:  # the whitespace after reasoning is markup
                state.held_content, text = "", text.lstrip()
        body = text.rstrip()
        delta["content"] = state.held_content + body
        state.held_content = text[len(body) :]
        state.content_started = True

    @staticmethod
    def _finish(state: _Choice, delta: dict[str, Any]) -> None:
        """The last event of a choice: held whitespace is text only without tool calls."""
        keep = not state.calls and (state.content_started or not state.reasoning_started)
        if state.held_content and keep:
            delta["content"] = (delta.get("content") or "") + state.held_content
        state.held_content = state.held_reasoning = ""
