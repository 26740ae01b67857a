"""The one place that knows how vLLM spells things on the wire, version by version.

ChatOpenAI builds an OpenAI-shaped request; the functions here turn it into what the vLLM
server at hand reads, and read vLLM's own response fields back. What changed across vLLM
releases (and is handled here):

==========================  ==================================  ==========================
concern                     older servers                       newer servers
==========================  ==================================  ==========================
output length field         ``max_tokens`` (< 0.6.4)            ``max_completion_tokens``
constraints                 ``guided_json``/``guided_regex``/   ``structured_outputs={…}``
                            ``guided_choice``/``guided_grammar``  (>= 0.12; ``guided_*``
                            (< 0.12)                              is ignored since)
reasoning in responses      ``reasoning_content`` (< 0.11.1),   ``reasoning`` only (later)
                            both names (0.11.1 to ~0.16)
reasoning sent back         ``reasoning_content`` (< 0.11.1)    ``reasoning``
==========================  ==================================  ==========================

A server whose version is unknown (e.g. behind a router without ``/version``) gets the
newest format.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.messages import BaseMessage

_NUMBERS = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(version: str | None) -> tuple[int, int, int] | None:
    """``"0.11.1rc2+cpu"`` → ``(0, 11, 1)``; ``None`` for a missing or unreadable version."""
    match = _NUMBERS.match(version or "")
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@dataclass(frozen=True)
class WireFormat:
    """How one vLLM version spells the fields ChatVLLM sends.

    Attributes:
        version: The server's version string (``None`` when it did not say).
        max_tokens_field: The request field for the output length.
        legacy_guided: Constraints go in ``guided_*`` fields instead of ``structured_outputs``.
        reasoning_field: The assistant-message field that carries reasoning sent back.
    """

    version: str | None = None
    max_tokens_field: str = "max_completion_tokens"
    legacy_guided: bool = False
    reasoning_field: str = "reasoning"


@lru_cache(maxsize=64)
def wire_format(version: str | None) -> WireFormat:
    """The wire format for a server reporting ``version`` (newest when unknown)."""
    parsed = parse_version(version)
    if parsed is None:
        return WireFormat(version=version)
    return WireFormat(
        version=version,
        max_tokens_field="max_completion_tokens" if parsed >= (0, 6, 4) else "max_tokens",
        legacy_guided=parsed < (0, 12, 0),
        reasoning_field="reasoning" if parsed >= (0, 11, 1) else "reasoning_content",
    )


NEWEST = WireFormat()
"""The format of the newest servers; used until (or unless) a version is known."""

# ------------------------------------------------------------------ request fields

SAMPLING_FIELDS = (
    "top_k",
    "min_p",
    "repetition_penalty",
    "min_tokens",
    "stop_token_ids",
    "ignore_eos",
    "skip_special_tokens",
    "include_stop_str_in_output",
    "truncate_prompt_tokens",
    "priority",
    "return_token_ids",
)
"""vLLM's own sampling/request fields, sent in the body next to OpenAI's."""

REASONING_FIELDS = ("thinking_token_budget", "include_reasoning")
"""vLLM's reasoning request fields."""

VLLM_BODY_FIELDS = (
    *SAMPLING_FIELDS,
    *REASONING_FIELDS,
    "chat_template_kwargs",
    "structured_outputs",
)
"""Every top-level field ChatVLLM may send that the openai SDK does not know."""

CHAT_FIELDS_0_32 = frozenset(
    [
        "add_generation_prompt",
        "add_special_tokens",
        "allowed_token_ids",
        "bad_words",
        "cache_salt",
        "chat_template",
        "chat_template_kwargs",
        "continue_final_message",
        "documents",
        "ec_transfer_params",
        "echo",
        "frequency_penalty",
        "ignore_eos",
        "include_reasoning",
        "include_stop_str_in_output",
        "kv_transfer_params",
        "length_penalty",
        "logit_bias",
        "logprob_token_ids",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "media_io_kwargs",
        "messages",
        "min_p",
        "min_tokens",
        "mm_payload",
        "mm_processor_kwargs",
        "model",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "priority",
        "prompt_logprobs",
        "reasoning_effort",
        "repetition_detection",
        "repetition_penalty",
        "request_id",
        "response_format",
        "return_mm_kwargs",
        "return_prompt_text",
        "return_token_ids",
        "return_token_offsets",
        "return_tokens_as_token_ids",
        "routed_experts_prompt_start",
        "seed",
        "session_id",
        "skip_special_tokens",
        "spaces_between_special_tokens",
        "stop",
        "stop_token_ids",
        "stream",
        "stream_interval",
        "stream_options",
        "structured_outputs",
        "temperature",
        "thinking_token_budget",
        "tool_choice",
        "tools",
        "top_k",
        "top_logprobs",
        "top_p",
        "truncate_prompt_tokens",
        "truncation_side",
        "use_beam_search",
        "user",
        "vllm_xargs",
        "watermarking",
    ]
)
"""The fields vLLM 0.32's ``/v1/chat/completions`` reads (``ChatCompletionRequest``); it
accepts and silently ignores any other."""

_CHECKED_VERSIONS = ((0, 12, 0), (0, 32, 99))
"""Servers whose request fields are the ones above (older ones read ``guided_*``; newer
ones may read fields this package does not know yet, so they are not checked)."""


def check_extra_body(extra: dict[str, Any], wire: WireFormat) -> None:
    """Refuse ``extra_body`` keys the server would silently ignore (for known versions).

    Raises:
        ValueError: A key is not a field of the server's chat request.
    """
    version = parse_version(wire.version)
    if version is None or not _CHECKED_VERSIONS[0] <= version <= _CHECKED_VERSIONS[1]:
        return
    unknown = sorted(set(extra) - CHAT_FIELDS_0_32)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, CHAT_FIELDS_0_32, n=1, cutoff=0.75)
            hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
        msg = (
            f"extra_body has {', '.join(hints)}, which vLLM {wire.version} does not read: it "
            "would be silently ignored. Check the spelling, or use the typed field."
        )
        raise ValueError(msg)


_GUIDED = {
    "json": "guided_json",
    "regex": "guided_regex",
    "choice": "guided_choice",
    "grammar": "guided_grammar",
    "whitespace_pattern": "guided_whitespace_pattern",
}
_LEGACY_GUIDED_FIELDS = (*_GUIDED.values(), "guided_decoding_backend")
_CONSTRAINT_KINDS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


def check_structured_outputs(constraints: dict[str, Any]) -> None:
    """Reject a ``structured_outputs`` dict vLLM would reject or misread.

    Raises:
        ValueError: Not exactly one constraint kind is given.
    """
    kinds = [kind for kind in _CONSTRAINT_KINDS if constraints.get(kind) not in (None, False)]
    if len(kinds) != 1:
        msg = (
            "structured_outputs takes exactly one of "
            f"{', '.join(_CONSTRAINT_KINDS)}; got {kinds or 'none'} in {constraints!r}. "
            'Example: structured_outputs={"choice": ["yes", "no"]}.'
        )
        raise ValueError(msg)


def _constraints_for(constraints: dict[str, Any], wire: WireFormat) -> dict[str, Any]:
    """``structured_outputs`` as the server version reads it (top-level body fields)."""
    check_structured_outputs(constraints)
    if not wire.legacy_guided:
        return {"structured_outputs": constraints}
    fields: dict[str, Any] = {}
    for key, value in constraints.items():
        if key == "json_object":
            fields["response_format"] = {"type": "json_object"}
        elif key in _GUIDED:
            fields[_GUIDED[key]] = value
        elif key == "disable_any_whitespace":
            continue  # a server option before 0.12; nothing to send per request
        else:
            msg = (
                f"structured_outputs[{key!r}] needs vLLM >= 0.12; the server runs "
                f"{wire.version}. Upgrade vLLM or drop {key!r}."
            )
            raise ValueError(msg)
    return fields


VERSIONED_FIELDS = (
    "max_tokens",
    "max_completion_tokens",
    "structured_outputs",
    *_LEGACY_GUIDED_FIELDS,
    "reasoning",
    "reasoning_content",
)
"""Request fields whose spelling this module picks by the server's version."""

_NAMES_VERSIONED_FIELD = re.compile(rf"(?<![\w-])(?:{'|'.join(VERSIONED_FIELDS)})(?![\w-])")


def names_versioned_field(message: str) -> bool:
    """Whether a server's refusal (a 400 message) names a field of :data:`VERSIONED_FIELDS`.

    Such a refusal can mean the server's version changed since it was learned: e.g. a
    server whose request models forbid unknown fields refusing ``max_completion_tokens``.
    """
    return _NAMES_VERSIONED_FIELD.search(message) is not None


def _reject_legacy_guided(body: dict[str, Any], wire: WireFormat) -> None:
    if wire.legacy_guided:
        return
    legacy = sorted(set(body).intersection(_LEGACY_GUIDED_FIELDS))
    if legacy:
        msg = (
            f"{', '.join(legacy)} is not read by vLLM >= 0.12 (the server "
            f"{'runs ' + wire.version if wire.version else 'is recent'}) and would be "
            "silently ignored. Pass structured_outputs={'json': ..., 'regex': ..., "
            "'choice': ..., 'grammar': ...} instead; ChatVLLM translates it for old servers."
        )
        raise ValueError(msg)


def finish_payload(
    payload: dict[str, Any],
    *,
    model: str | None,
    wire: WireFormat,
    vllm_fields: dict[str, Any],
    endpoint: str = "chat",
) -> dict[str, Any]:
    """Finish a request body (OpenAI-shaped) for a vLLM server.

    Args:
        payload: The body built so far (modified in place and returned).
        model: The model id to send when the caller did not override it per call.
        wire: The server's wire format.
        vllm_fields: vLLM-only fields (typed fields merged with per-call values); they go in
            ``extra_body``, where the user's own ``extra_body`` values win.
        endpoint: ``"chat"`` (``/v1/chat/completions``, whose output-length field changed
            name) or ``"completions"`` (``/v1/completions``: always ``max_tokens``).

    Raises:
        ValueError: The request uses a constraint field the server would ignore.
    """
    if payload.get("model") is None and model is not None:
        payload["model"] = model
    length_field = wire.max_tokens_field if endpoint == "chat" else "max_tokens"
    for name in ("max_tokens", "max_completion_tokens"):
        if name in payload and name != length_field:
            payload[length_field] = payload.pop(name)
    extra: dict[str, Any] = {
        key: value for key, value in vllm_fields.items() if key != "structured_outputs"
    }
    constraints = vllm_fields.get("structured_outputs")
    user_extra = dict(payload.pop("extra_body", None) or {})
    if "structured_outputs" in user_extra:
        constraints = user_extra.pop("structured_outputs")
    _reject_legacy_guided(user_extra, wire)
    if endpoint == "chat":
        check_extra_body(user_extra, wire)
    if constraints is not None:
        translated = _constraints_for(dict(constraints), wire)
        if "response_format" in translated:
            payload["response_format"] = translated.pop("response_format")
        extra.update(translated)
    if "chat_template_kwargs" in user_extra and "chat_template_kwargs" in extra:
        user_extra["chat_template_kwargs"] = {
            **extra["chat_template_kwargs"],
            **user_extra["chat_template_kwargs"],
        }
    extra.update(user_extra)
    if extra:
        payload["extra_body"] = extra
    return payload


# ------------------------------------------------------------------ reasoning


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


# ------------------------------------------------------------------ multimodal content

_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}


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


def _source_url(block: dict[str, Any]) -> str | None:
    """The URL of a LangChain data block: its ``url``, or a data URL of its base64 data."""
    url = block.get("url")
    if block.get("source_type") == "url":
        url = url or block.get("data")
    if isinstance(url, str):
        return url
    data = block.get("base64") or (
        block.get("data") if block.get("source_type") == "base64" else None
    )
    if isinstance(data, str):
        mime = block.get("mime_type")
        if not mime:
            msg = f"A base64 {block.get('type')} block needs a mime_type (e.g. 'image/png')."
            raise ValueError(msg)
        return f"data:{mime};base64,{data}"
    return None


def content_part(block: Any) -> Any:
    """Turn one LangChain image/video/audio block into vLLM's content part.

    Other parts are returned unchanged. vLLM reads ``image_url``, ``video_url``,
    ``audio_url`` (URL or data URL) and ``input_audio`` (base64 WAV/MP3).

    Raises:
        ValueError: A media block has neither a URL nor base64 data (e.g. a file id,
            which vLLM cannot resolve).
    """
    if not isinstance(block, dict) or block.get("type") not in ("image", "video", "audio"):
        return block
    kind = block["type"]
    base64_data = block.get("base64") or (
        block.get("data") if block.get("source_type") == "base64" else None
    )
    mime = block.get("mime_type")
    if kind == "audio" and isinstance(base64_data, str) and mime in _AUDIO_FORMATS:
        return {
            "type": "input_audio",
            "input_audio": {"data": base64_data, "format": _AUDIO_FORMATS[mime]},
        }
    url = _source_url(block)
    if url is None:
        msg = (
            f"vLLM needs {kind} content as a URL or base64 data (with mime_type); got "
            f"{sorted(block)}. File ids are not supported by vLLM."
        )
        raise ValueError(msg)
    part_type = f"{kind}_url"
    part: dict[str, Any] = {"url": url}
    if kind == "image" and (detail := block.get("detail")):
        part["detail"] = detail
    return {"type": part_type, part_type: part}
