"""The vLLM request fields: the one table of what is sent where, and the finished body.

Every model class asks this table which fields it takes per call, which it sends itself and
which go in ``extra_body`` (the openai SDK does not know vLLM's fields). vLLM's sampling
fields are the fields of :class:`~langchain_vllm.sampling.VLLMSamplingParams`, read from the
model itself so that they are declared once. ``finish_payload`` then makes the body what the
server's version reads (see ``_versions``).
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import openai

from langchain_vllm import _reasoning, _versions
from langchain_vllm.sampling import VLLMSamplingParams, check_sampling

Endpoint = Literal["chat", "completions", "responses"]


@dataclass(frozen=True)
class RequestField:
    """How one field reaches the server, and which endpoints take it.

    Attributes:
        sent: ``"openai"``: a field of the openai SDK, sent as given; ``"vllm"``: a vLLM
            field, sent in ``extra_body``; ``"option"``: a ChatVLLM option taken per call
            and turned into other fields (not sent under its own name).
        endpoints: ``"chat"`` (``/v1/chat/completions``), ``"completions"``
            (``/v1/completions``) or both.
    """

    sent: Literal["openai", "vllm", "option"]
    endpoints: frozenset[Endpoint]


_BOTH: frozenset[Endpoint] = frozenset(("chat", "completions"))
_CHAT: frozenset[Endpoint] = frozenset(("chat",))
_COMPLETIONS: frozenset[Endpoint] = frozenset(("completions",))

SAMPLING_FIELDS = tuple(VLLMSamplingParams.model_fields)
"""vLLM's own sampling/request fields (``VLLMSamplingParams``), for chat and completions."""

FIELDS: dict[str, RequestField] = {
    # OpenAI's fields, typed by the model classes (ChatOpenAI's for chat) and range-checked.
    "max_tokens": RequestField("openai", _BOTH),
    "temperature": RequestField("openai", _BOTH),
    "top_p": RequestField("openai", _BOTH),
    "frequency_penalty": RequestField("openai", _BOTH),
    "presence_penalty": RequestField("openai", _BOTH),
    "seed": RequestField("openai", _BOTH),
    "n": RequestField("openai", _BOTH),
    "logprobs": RequestField("openai", _COMPLETIONS),
    "echo": RequestField("openai", _COMPLETIONS),
    "top_logprobs": RequestField("openai", _CHAT),
    "max_completion_tokens": RequestField("openai", _CHAT),
    # vLLM's fields, sent in extra_body.
    **dict.fromkeys(SAMPLING_FIELDS, RequestField("vllm", _BOTH)),
    "thinking_token_budget": RequestField("vllm", _CHAT),
    "include_reasoning": RequestField("vllm", _CHAT),
    "structured_outputs": RequestField("vllm", _BOTH),
    # ChatVLLM's options: enable_thinking goes into chat_template_kwargs, reasoning_history
    # decides which reasoning is sent back (see _reasoning).
    "enable_thinking": RequestField("option", _CHAT),
    "reasoning_history": RequestField("option", _CHAT),
}
"""Every request field the model classes know, in the order they are sent."""


def names(endpoint: Endpoint, *sent: str) -> tuple[str, ...]:
    """The fields ``endpoint`` takes that are sent as one of ``sent``."""
    return tuple(
        name for name, field in FIELDS.items() if field.sent in sent and endpoint in field.endpoints
    )


_ENDPOINTS: tuple[Endpoint, ...] = ("chat", "completions")

OPENAI_FIELDS = {endpoint: names(endpoint, "openai") for endpoint in _ENDPOINTS}
"""Per endpoint: OpenAI's fields (the SDK sends them; checked per call all the same)."""

CALL_FIELDS = {endpoint: names(endpoint, "vllm", "option") for endpoint in _ENDPOINTS}
"""Per endpoint: the per-call keyword arguments the model classes take out of the SDK's hands."""

TYPED_CHAT_FIELDS = tuple(name for name in names("chat", "vllm") if name not in SAMPLING_FIELDS)
"""ChatVLLM's own typed vLLM fields besides ``VLLMSamplingParams``' (reasoning, constraints)."""


def pop_call_fields(kwargs: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """Take the per-call vLLM fields and options for ``endpoint`` out of ``kwargs``."""
    return {name: kwargs.pop(name) for name in CALL_FIELDS[endpoint] if name in kwargs}


def chat_fields(
    typed: dict[str, Any],
    kwargs: dict[str, Any],
    *,
    enable_thinking: bool | None,
    reasoning_history: str,
) -> tuple[dict[str, Any], str]:
    """Pop ChatVLLM's per-call values from ``kwargs`` and merge them over its typed fields.

    Args:
        typed: The typed vLLM fields that are set (sampling, reasoning, constraints).
        kwargs: The call's keyword arguments (the vLLM ones are popped).
        enable_thinking: The typed ``enable_thinking``.
        reasoning_history: The typed ``reasoning_history``.

    Returns:
        The vLLM body fields and the reasoning-history policy for this call.

    Raises:
        ValueError: A value is out of range, or ``structured_outputs`` is malformed.
    """
    call = pop_call_fields(kwargs, "chat")
    openai_values = {k: v for k, v in kwargs.items() if k in OPENAI_FIELDS["chat"]}
    check_sampling({**call, **openai_values})
    call.update({name: kwargs.pop(name) for name in untyped_chat_fields() if name in kwargs})
    history = _reasoning.history_policy(call.pop("reasoning_history", reasoning_history))
    fields = dict(typed)
    template_kwargs = _reasoning.template_kwargs(
        fields.get("chat_template_kwargs"), enable_thinking=enable_thinking, call=call
    )
    fields.update(call)
    if template_kwargs:
        fields["chat_template_kwargs"] = template_kwargs
    if fields.get("structured_outputs") is not None:
        check_structured_outputs(fields["structured_outputs"])
    return fields, history


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


@cache
def untyped_chat_fields() -> frozenset[str]:
    """The vLLM chat fields with no typed field here that the openai SDK does not know.

    ``allowed_token_ids``, ``bad_words``, ``priority``, ``request_id``, ``cache_salt``,
    ``add_generation_prompt`` … : ChatVLLM takes them per call and sends them in
    ``extra_body`` (the SDK's ``create`` would raise ``TypeError`` on them).
    """
    sdk = inspect.signature(openai.resources.chat.completions.Completions.create).parameters
    return CHAT_FIELDS_0_32 - set(sdk) - set(FIELDS)


RESPONSES_FIELDS_0_32 = frozenset(
    [
        "background",
        "cache_salt",
        "chat_template_kwargs",
        "ec_transfer_params",
        "enable_response_messages",
        "frequency_penalty",
        "ignore_eos",
        "include",
        "include_reasoning",
        "include_stop_str_in_output",
        "input",
        "instructions",
        "kv_transfer_params",
        "logit_bias",
        "max_output_tokens",
        "max_tool_calls",
        "media_io_kwargs",
        "metadata",
        "min_p",
        "mm_payload",
        "mm_processor_kwargs",
        "model",
        "parallel_tool_calls",
        "presence_penalty",
        "previous_input_messages",
        "previous_response_id",
        "priority",
        "prompt",
        "prompt_cache_key",
        "reasoning",
        "repetition_penalty",
        "request_id",
        "return_mm_kwargs",
        "seed",
        "service_tier",
        "session_id",
        "skip_special_tokens",
        "stop",
        "stop_token_ids",
        "store",
        "stream",
        "structured_outputs",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_k",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
        "vllm_xargs",
        "watermarking",
    ]
)
"""The fields vLLM 0.32's ``/v1/responses`` reads (``ResponsesRequest``); it accepts and
silently ignores any other (``min_tokens``, ``thinking_token_budget``, ``n`` …)."""

RESPONSES_ONLY_FIELDS = ("previous_response_id", "background")
"""Per-call fields only the Responses API reads (Chat Completions would lose them)."""

_LOGPROBS = "message.output_text.logprobs"
"""What the Responses API ``include``s for ``logprobs=True``."""

_CHECKED_VERSIONS = ((0, 12, 0), (0, 32, 99))
"""Servers whose request fields are the ones above (older ones read ``guided_*``; newer
ones may read fields this package does not know yet, so they are not checked)."""


def check_responses_fields(fields: dict[str, Any], wire: _versions.WireFormat) -> None:
    """Refuse vLLM fields that vLLM's Responses API would silently ignore (known versions).

    Raises:
        ValueError: A field (typed, per call or in ``extra_body``) is not one the server's
            ``/v1/responses`` reads.
    """
    version = _versions.parse_version(wire.version)
    if version is None or not _CHECKED_VERSIONS[0] <= version <= _CHECKED_VERSIONS[1]:
        return
    unknown = sorted(set(fields) - RESPONSES_FIELDS_0_32)
    if unknown:
        msg = (
            f"{', '.join(unknown)}: vLLM {wire.version}'s Responses API (use_responses_api="
            "True) does not read this, it would be silently ignored. Leave it out, or use "
            "Chat Completions (use_responses_api=False), which reads it."
        )
        raise ValueError(msg)


def check_extra_body(extra: dict[str, Any], wire: _versions.WireFormat) -> None:
    """Refuse ``extra_body`` keys the server would silently ignore (for known versions).

    Raises:
        ValueError: A key is not a field of the server's chat request.
    """
    version = _versions.parse_version(wire.version)
    if version is None or not _CHECKED_VERSIONS[0] <= version <= _CHECKED_VERSIONS[1]:
        return
    unknown = sorted(set(extra) - CHAT_FIELDS_0_32 - _versions.read_by_older(wire))
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


def _logprobs_as_include(payload: dict[str, Any]) -> None:
    """``logprobs=True`` as the Responses API asks for it (``include``)."""
    if payload.pop("logprobs", None):
        include = list(payload.get("include") or [])
        if _LOGPROBS not in include:
            include.append(_LOGPROBS)
        payload["include"] = include


def finish_payload(
    payload: dict[str, Any],
    *,
    model: str | None,
    wire: _versions.WireFormat,
    vllm_fields: dict[str, Any],
    endpoint: Endpoint = "chat",
) -> dict[str, Any]:
    """Finish a request body (OpenAI-shaped) for a vLLM server.

    Args:
        payload: The body built so far (modified in place and returned).
        model: The model id to send when the caller did not override it per call.
        wire: The server's wire format.
        vllm_fields: vLLM-only fields (typed fields merged with per-call values); they go in
            ``extra_body``, where the user's own ``extra_body`` values win.
        endpoint: ``"chat"`` (``/v1/chat/completions``, whose output-length field changed
            name), ``"completions"`` (``/v1/completions``: always ``max_tokens``) or
            ``"responses"`` (``/v1/responses``: ``max_output_tokens``, set by ChatOpenAI).

    Raises:
        ValueError: The request uses a constraint field the server would ignore, or a field
            its version does not read yet (e.g. ``thinking_token_budget`` before 0.19).
    """
    if payload.get("model") is None and model is not None:
        payload["model"] = model
    _versions.rename_length_field(payload, wire, endpoint)
    extra: dict[str, Any] = {
        key: value for key, value in vllm_fields.items() if key != "structured_outputs"
    }
    constraints = vllm_fields.get("structured_outputs")
    user_extra = dict(payload.pop("extra_body", None) or {})
    if "structured_outputs" in user_extra:
        constraints = user_extra.pop("structured_outputs")
    _versions.reject_legacy_guided(user_extra, wire)
    if endpoint == "chat":
        check_extra_body(user_extra, wire)
    if endpoint == "responses":
        check_responses_fields({**extra, **user_extra}, wire)
        _logprobs_as_include(payload)
    if constraints is not None:
        check_structured_outputs(dict(constraints))
        translated = _versions.translate_constraints(dict(constraints), wire)
        if "response_format" in translated:
            payload["response_format"] = translated.pop("response_format")
        extra.update(translated)
    if "chat_template_kwargs" in user_extra and "chat_template_kwargs" in extra:
        user_extra["chat_template_kwargs"] = {
            **extra["chat_template_kwargs"],
            **user_extra["chat_template_kwargs"],
        }
    extra.update(user_extra)
    if endpoint == "chat":
        _versions.refuse_unread_chat_fields(extra, wire)
        _versions.translate_tool_choice(payload, wire)
    if extra:
        payload["extra_body"] = extra
    return payload
