"""vLLM's sampling fields, typed, checked before any request, shared by every vLLM model class.

Besides OpenAI's ``temperature``/``top_p``/penalties/``seed``/``logprobs``, vLLM reads its own
sampling and request fields from the body. ``VLLMSamplingParams`` declares them once; the model
classes send them in ``extra_body`` (a user's own ``extra_body`` values win) and accept the same
names per call (``llm.invoke(msgs, top_k=20)``, ``llm.bind(min_p=0.05)``).
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_TokenId = Annotated[int, Field(ge=0)]


class _Checked(BaseModel):
    """The sampling values checked before any request, typed and bounded.

    Strict (``"3"`` is no integer, ``True`` no number) and finite; ``None`` is always
    accepted. Used for typed fields at construction and for per-call values alike.
    """

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")

    temperature: float | None = Field(None, description="between 0 and 2", ge=0, le=2)
    top_p: float | None = Field(None, description="greater than 0 and at most 1", gt=0, le=1)
    frequency_penalty: float | None = Field(None, description="between -2 and 2", ge=-2, le=2)
    presence_penalty: float | None = Field(None, description="between -2 and 2", ge=-2, le=2)
    top_k: int | None = Field(None, description="-1 or 0 (no limit) or a positive integer", ge=-1)
    min_p: float | None = Field(None, description="between 0 and 1", ge=0, le=1)
    repetition_penalty: float | None = Field(None, description="greater than 0 (1 = off)", gt=0)
    min_tokens: int | None = Field(None, description="0 or more", ge=0)
    truncate_prompt_tokens: int | None = Field(
        None, description="-1 (the model's limit) or 0 or more", ge=-1
    )
    thinking_token_budget: int | None = Field(
        None, description="-1 (unlimited) or 0 or more", ge=-1
    )
    top_logprobs: int | None = Field(
        None, description="0 or more (the server caps it, 20 by default)", ge=0
    )
    n: int | None = Field(None, description="1 or more", ge=1)
    priority: int | None = None
    seed: int | None = None
    stop_token_ids: list[_TokenId] | tuple[_TokenId, ...] | None = None


def _explained(error: ValidationError, values: dict[str, Any]) -> str:
    """The message for the first field (in the order of ``values``) that failed."""
    failed = {str(detail["loc"][0]): detail["type"] for detail in error.errors()}
    name = next(name for name in values if name in failed)
    value = values[name]
    field = _Checked.model_fields[name]
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
        _Checked.model_validate(values)
    except ValidationError as error:
        raise ValueError(_explained(error, values)) from None
    min_tokens, max_tokens = values.get("min_tokens"), values.get("max_tokens")
    if min_tokens is not None and max_tokens is not None and min_tokens > max_tokens:
        msg = f"min_tokens={min_tokens} is larger than max_tokens={max_tokens}."
        raise ValueError(msg)


class VLLMSamplingParams(BaseModel):
    """vLLM's own sampling fields; ``None`` leaves the server's default in place."""

    top_k: int | None = None
    """Sample from the ``k`` most likely tokens only (``-1``/``0``: no limit)."""

    min_p: float | None = None
    """Drop tokens less likely than ``min_p`` times the most likely one (0 to 1)."""

    repetition_penalty: float | None = None
    """Penalize tokens already in the prompt or output (``> 1`` discourages repeats)."""

    min_tokens: int | None = None
    """Generate at least this many tokens before EOS or a stop string may end the output."""

    stop_token_ids: list[int] | None = None
    """Token ids that end generation, in addition to ``stop`` strings."""

    ignore_eos: bool | None = None
    """Keep generating past the end-of-sequence token (benchmarks)."""

    skip_special_tokens: bool | None = None
    """Leave special tokens out of the text (vLLM's default: ``True``)."""

    include_stop_str_in_output: bool | None = None
    """Keep the matched stop string at the end of the output."""

    truncate_prompt_tokens: int | None = None
    """Keep only the last ``n`` prompt tokens (``-1``: as many as the model allows)."""

    priority: int | None = None
    """Scheduling priority (lower runs first) on a server started with
    ``--scheduling-policy priority``."""

    chat_template_kwargs: dict[str, Any] | None = None
    """Extra variables for the model's chat template (e.g. ``{"enable_thinking": False}``)."""

    return_token_ids: bool | None = None
    """Return prompt and output token ids (in ``response_metadata``)."""

    @model_validator(mode="after")
    def _check_sampling_ranges(self) -> Self:
        checked = (*_Checked.model_fields, "max_tokens")
        check_sampling({name: getattr(self, name, None) for name in checked})
        return self

    def _vllm_fields(self) -> dict[str, Any]:
        """The vLLM-only fields set on this object (``None`` ones left out)."""
        return {
            name: value
            for name in VLLMSamplingParams.model_fields
            if (value := getattr(self, name, None)) is not None
        }
