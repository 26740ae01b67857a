r"""Whitespace vLLM's parsers leave around reasoning and tool calls, tidied alike for all.

Models write newlines around their markup (Qwen3 ``<think>\nplan\n</think>\n\nanswer``,
DeepSeek R1 ``plan\n</think>\n\nanswer``, a line break between two tool calls), and vLLM's
parsers keep some of it as text: the ``qwen3`` and ``deepseek_r1`` reasoning parsers return
reasoning ``"\nplan\n"`` and content ``"\n\nanswer"``, where the ``mistral`` parser returns
``"plan"`` and ``"answer"``; and a stream carries the whitespace between reasoning or calls as
content where the same answer not streamed has ``content: null`` (vLLM drops whitespace-only
content beside tool calls there). ChatVLLM reads every family alike:

- reasoning without the line breaks around it;
- content without the line breaks between the reasoning and it, and between it and the tool
  calls that follow it (Hermes and Qwen write one there);
- no content when the message calls tools and its content is whitespace only (as vLLM does
  for answers not streamed).

Only line breaks are markup: spaces are the model's text (a reasoning model cut short by
``thinking_token_budget`` goes on mid-sentence, `` of Paris``). A stream holds back trailing
whitespace until it knows which it is (the next text or a tool call), so the streamed chunks
add up to the message an invoke gives. Text inside the answer is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MARKUP = "\n"
"""The whitespace that is the families' markup around reasoning and calls: line breaks."""

REASONING_KEYS = ("reasoning", "reasoning_content")


def tidy_message(message: dict[str, Any]) -> None:
    """Tidy a response message (a dict, in place)."""
    reasoned = False
    for key in REASONING_KEYS:
        if isinstance(message.get(key), str):
            message[key] = message[key].strip(MARKUP)
            reasoned = reasoned or bool(message[key].strip())
    content = message.get("content")
    if not isinstance(content, str):
        return
    calls = bool(message.get("tool_calls"))
    if calls and not content.strip():
        message["content"] = None
        return
    if reasoned:
        content = content.lstrip(MARKUP)
    message["content"] = content.rstrip(MARKUP) if calls else content


def _split_end(text: str) -> tuple[str, str]:
    """``text`` as its body and its trailing whitespace."""
    body = text.rstrip()
    return body, text[len(body) :]


@dataclass
class _Choice:
    """What one streamed choice has shown so far, and the whitespace held back."""

    reasoning_started: bool = False
    reasoning_key: str = "reasoning"
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
            if not isinstance(choice, dict) or not isinstance(choice.get("delta"), dict):
                continue
            state = self._choices.setdefault(int(choice.get("index") or 0), _Choice())
            delta = choice["delta"]
            self._reasoning(state, delta)
            if delta.get("tool_calls"):
                self._calls(state, delta)
            self._content(state, delta)
            if choice.get("finish_reason") is not None:
                self._finish(state, delta)

    @staticmethod
    def _reasoning(state: _Choice, delta: dict[str, Any]) -> None:
        for key in REASONING_KEYS:
            text = delta.get(key)
            if not isinstance(text, str) or not text:
                continue
            text = state.held_reasoning + text
            if not state.reasoning_started:
                text = text.lstrip(MARKUP)
            body, state.held_reasoning = _split_end(text)
            delta[key] = body or None
            state.reasoning_key = key
            state.reasoning_started = state.reasoning_started or bool(body)

    @staticmethod
    def _close_reasoning(state: _Choice, delta: dict[str, Any]) -> None:
        """Reasoning is over: of its held whitespace, the line breaks at its end are markup."""
        kept = state.held_reasoning.rstrip(MARKUP)
        if kept and state.reasoning_started:
            delta[state.reasoning_key] = (delta.get(state.reasoning_key) or "") + kept
        state.held_reasoning = ""

    @staticmethod
    def _calls(state: _Choice, delta: dict[str, Any]) -> None:
        """Calls begin: held content whitespace is markup, or all the content there is."""
        state.calls = True
        StreamTidier._close_reasoning(state, delta)
        kept = state.held_content.rstrip(MARKUP) if state.content_started else ""
        if kept:
            delta["content"] = kept + (delta.get("content") or "")
        state.held_content = ""

    @staticmethod
    def _content(state: _Choice, delta: dict[str, Any]) -> None:
        text = delta.get("content")
        if not isinstance(text, str) or not text:
            return
        text = state.held_content + text
        if not text.strip():
            state.held_content = text
            delta["content"] = ""
            return
        if not state.content_started:
            StreamTidier._close_reasoning(state, delta)
            if state.reasoning_started:  # the line breaks after reasoning are markup
                text = text.lstrip(MARKUP)
        delta["content"], state.held_content = _split_end(text)
        state.content_started = True

    @staticmethod
    def _finish(state: _Choice, delta: dict[str, Any]) -> None:
        """The last event: what was held back is text, unless calls or reasoning own it."""
        StreamTidier._close_reasoning(state, delta)
        held = state.held_content
        if state.reasoning_started and not state.content_started:
            held = held.lstrip(MARKUP)
        if held and not state.calls:
            delta["content"] = (delta.get("content") or "") + held
        state.held_content = ""
