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
reasoning in responses      ``reasoning_content`` (< 0.11.1),   ``reasoning`` only (later)
                            both names (0.11.1 to ~0.16)
reasoning sent back         ``reasoning_content`` (< 0.11.1)    ``reasoning``
==========================  ==================================  ==========================

A server whose version is unknown (e.g. behind a router without ``/version``) gets the
newest format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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
