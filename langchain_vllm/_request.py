"""The vLLM request fields: each declared once, the one table of what is sent where, the body.

A field is declared in one place, with its name, type, bounds and endpoints: vLLM's sampling
fields in :class:`VLLMSamplingParams` (both endpoints; a field's :class:`Bounds` stand on its
declaration), ChatVLLM's reasoning fields in ``ReasoningParams`` plus their row in
:data:`FIELDS` (chat only), OpenAI's fields (declared by the openai-side classes) by their row
in :data:`FIELDS`. Every model class asks this table which fields it takes per call, which it
sends itself and which go in ``extra_body`` (the openai SDK does not know vLLM's fields), and
checks values against it (:func:`check_sampling`). ``finish_payload`` then makes the body what
the server's version reads (see ``_versions``). The public home of ``VLLMSamplingParams`` and
``check_sampling`` is :mod:`langchain_vllm.sampling`.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Self

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from langchain_vllm import _reasoning, _versions

Endpoint = Literal["chat", "completions", "responses"]


@dataclass(frozen=True)
class Bounds:
    """What a field's value must be, checked before any request (strict types, finite numbers).

    Stands on a field's declaration (``top_k: int | None = _bounded(...)``) or in its row of
    :data:`FIELDS`; ``None`` values always pass.

    Attributes:
        rule: How the error message says the valid values (``"between 0 and 2"``); without
            one, only the type is checked (``priority must be an integer``).
        ge: The least valid value.
        gt: Valid values are greater than this.
        le: The greatest valid value.
        kind: The type checked, where the declaration's own does not say it (OpenAI's
            fields, declared elsewhere) or says it more loosely (token-id lists).
    """

    rule: str | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    kind: Any = None

    def on_declaration(self) -> dict[str, Any]:
        """The bounds as a declaration carries them: ``Field(json_schema_extra=...)``.

        JSON-schema words (``minimum``, ``exclusiveMinimum``, ``maximum``), so the bounds also
        show in the model's JSON schema, and ``x-vllm-valid`` for the rule; the field's own
        signature and type stay as declared.
        """
        words = {
            "minimum": self.ge,
            "exclusiveMinimum": self.gt,
            "maximum": self.le,
            "x-vllm-valid": self.rule,
        }
        return {"x-vllm-checked": True, **{k: v for k, v in words.items() if v is not None}}

    @classmethod
    def declared(cls, extra: object) -> Bounds | None:
        """The bounds a declaration carries (see :meth:`on_declaration`), if any."""
        if not isinstance(extra, dict) or not extra.get("x-vllm-checked"):
            return None
        return cls(
            extra.get("x-vllm-valid"),
            extra.get("minimum"),
            extra.get("exclusiveMinimum"),
            extra.get("maximum"),
        )


def _bounded(rule: str | None = None, **limits: float) -> Any:
    """A ``None``-default field declaration that carries its :class:`Bounds`."""
    return Field(None, json_schema_extra=Bounds(rule, **limits).on_declaration())


_TokenId = Annotated[int, Field(ge=0)]
_TOKEN_IDS = {"stop_token_ids": list[_TokenId] | tuple[_TokenId, ...] | None}
"""Token-id lists, checked as such (tuples accepted, every id ``>= 0``)."""


class VLLMSamplingParams(BaseModel):
    """vLLM's own sampling fields; ``None`` leaves the server's default in place."""

    top_k: int | None = _bounded("-1 or 0 (no limit) or a positive integer", ge=-1)
    """Sample from the ``k`` most likely tokens only (``-1``/``0``: no limit)."""

    min_p: float | None = _bounded("between 0 and 1", ge=0, le=1)
    """Drop tokens less likely than ``min_p`` times the most likely one (0 to 1)."""

    repetition_penalty: float | None = _bounded("greater than 0 (1 = off)", gt=0)
    """Penalize tokens already in the prompt or output (``> 1`` discourages repeats)."""

    min_tokens: int | None = _bounded("0 or more", ge=0)
    """Generate at least this many tokens before EOS or a stop string may end the output."""

    stop_token_ids: list[int] | None = _bounded()
    """Token ids that end generation, in addition to ``stop`` strings."""

    ignore_eos: bool | None = None
    """Keep generating past the end-of-sequence token (benchmarks)."""

    skip_special_tokens: bool | None = None
    """Leave special tokens out of the text (vLLM's default: ``True``)."""

    include_stop_str_in_output: bool | None = None
    """Keep the matched stop string at the end of the output."""

    truncate_prompt_tokens: int | None = _bounded("-1 (the model's limit) or 0 or more", ge=-1)
    """Keep only the last ``n`` prompt tokens (``-1``: as many as the model allows)."""

    priority: int | None = _bounded()
    """Scheduling priority (lower runs first) on a server started with
    ``--scheduling-policy priority``."""

    chat_template_kwargs: dict[str, Any] | None = None
    """Extra variables for the model's chat template (e.g. ``{"enable_thinking": False}``)."""

    return_token_ids: bool | None = None
    """Return prompt and output token ids (in ``response_metadata``)."""

    @model_validator(mode="after")
    def _check_sampling_ranges(self) -> Self:
        checked = (*_checked().model_fields, "max_tokens")
        check_sampling({name: getattr(self, name, None) for name in checked})
        return self

    def _vllm_fields(self) -> dict[str, Any]:
        """The vLLM-only fields set on this object (``None`` ones left out)."""
        return {
            name: value
            for name in VLLMSamplingParams.model_fields
            if (value := getattr(self, name, None)) is not None
        }


# Its public home (documentation, pickle): built here, where its fields' bounds are read.
VLLMSamplingParams.__module__ = "langchain_vllm.sampling"


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
    bounds: Bounds | None = None


_BOTH: frozenset[Endpoint] = frozenset(("chat", "completions"))
_CHAT: frozenset[Endpoint] = frozenset(("chat",))
_COMPLETIONS: frozenset[Endpoint] = frozenset(("completions",))
_F = float | None
_I = int | None


SAMPLING_FIELDS = tuple(VLLMSamplingParams.model_fields)
"""vLLM's own sampling/request fields (``VLLMSamplingParams``), for chat and completions."""

FIELDS: dict[str, RequestField] = {
    # OpenAI's fields, typed by the model classes (ChatOpenAI's for chat) and range-checked.
    "max_tokens": RequestField("openai", _BOTH),
    "temperature": RequestField("openai", _BOTH, Bounds("between 0 and 2", ge=0, le=2, kind=_F)),
    "top_p": RequestField(
        "openai", _BOTH, Bounds("greater than 0 and at most 1", gt=0, le=1, kind=_F)
    ),
    "frequency_penalty": RequestField(
        "openai", _BOTH, Bounds("between -2 and 2", ge=-2, le=2, kind=_F)
    ),
    "presence_penalty": RequestField(
        "openai", _BOTH, Bounds("between -2 and 2", ge=-2, le=2, kind=_F)
    ),
    "seed": RequestField("openai", _BOTH, Bounds(kind=_I)),
    "n": RequestField("openai", _BOTH, Bounds("1 or more", ge=1, kind=_I)),
    "logprobs": RequestField("openai", _COMPLETIONS),
    "echo": RequestField("openai", _COMPLETIONS),
    "top_logprobs": RequestField(
        "openai", _CHAT, Bounds("0 or more (the server caps it, 20 by default)", ge=0, kind=_I)
    ),
    "max_completion_tokens": RequestField("openai", _CHAT),
    # vLLM's fields, sent in extra_body (the sampling fields' bounds are on their declaration).
    **{
        name: RequestField("vllm", _BOTH, Bounds.declared(field.json_schema_extra))
        for name, field in VLLMSamplingParams.model_fields.items()
    },
    "thinking_token_budget": RequestField(
        "vllm", _CHAT, Bounds("-1 (unlimited) or 0 or more", ge=-1, kind=_I)
    ),
    "include_reasoning": RequestField("vllm", _CHAT),
    "structured_outputs": RequestField("vllm", _BOTH),
    # ChatVLLM's options: enable_thinking goes into chat_template_kwargs, reasoning_history
    # decides which reasoning is sent back (see _reasoning).
    "enable_thinking": RequestField("option", _CHAT),
    "reasoning_history": RequestField("option", _CHAT),
}
"""Every request field the model classes know, in the order they are sent."""


@cache
def _checked() -> type[BaseModel]:
    """The fields with :class:`Bounds`, as one strict model (built once, from the table).

    Strict (``"3"`` is no integer, ``True`` no number) and finite; ``None`` is always
    accepted. Used for typed fields at construction and for per-call values alike.
    """
    fields: dict[str, Any] = {}
    for name, row in FIELDS.items():
        if (bounds := row.bounds) is None:
            continue
        kind = (
            bounds.kind or _TOKEN_IDS.get(name) or VLLMSamplingParams.model_fields[name].annotation
        )
        fields[name] = (
            kind,
            Field(None, description=bounds.rule, ge=bounds.ge, gt=bounds.gt, le=bounds.le),
        )
    config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")
    return create_model("_Checked", __config__=config, **fields)


def _explained(error: ValidationError, values: dict[str, Any]) -> str:
    """The message for the first field (in the order of ``values``) that failed."""
    failed = {str(detail["loc"][0]): detail["type"] for detail in error.errors()}
    name = next(name for name in values if name in failed)
    value = values[name]
    field = _checked().model_fields[name]
    if name == "stop_token_ids":
        return f"stop_token_ids must be a list of token ids (integers >= 0), got {value!r}."
    if field.annotation == int | None and (failed[name] == "int_type" or not field.description):
        return f"{name} must be an integer, got {value!r}."
    return f"{name}={value!r} is out of range: {name} must be {field.description}."


def check_sampling(values: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first field outside its valid range.

    Args:
        values: Field names (OpenAI's and vLLM's) to values; ``None`` values are skipped.

    Raises:
        ValueError: A value is out of range or of the wrong type.
    """
    try:
        _checked().model_validate(values)
    except ValidationError as error:
        raise ValueError(_explained(error, values)) from None
    min_tokens, max_tokens = values.get("min_tokens"), values.get("max_tokens")
    if min_tokens is not None and max_tokens is not None and min_tokens > max_tokens:
        msg = f"min_tokens={min_tokens} is larger than max_tokens={max_tokens}."
        raise ValueError(msg)


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
        fields.get("chat_template_kwargs"),
        enable_thinking=enable_thinking,
        call_kwargs=call.pop("chat_template_kwargs", None),
        call_thinking=call.pop("enable_thinking", None),
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
        _versions.refuse_unread_chat_fields(list(extra), wire)  # the names only
        _versions.translate_tool_choice(payload, wire)
    if extra:
        payload["extra_body"] = extra
    return payload
