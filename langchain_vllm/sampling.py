"""vLLM's sampling fields, typed, checked before any request, shared by every vLLM model class.

Besides OpenAI's ``temperature``/``top_p``/penalties/``seed``/``logprobs``, vLLM reads its own
sampling and request fields from the body. ``VLLMSamplingParams`` declares them once; the model
classes send them in ``extra_body`` (a user's own ``extra_body`` values win) and accept the same
names per call (``llm.invoke(msgs, top_k=20)``, ``llm.bind(min_p=0.05)``).
"""

from __future__ import annotations

import math
from typing import Any, Self

from pydantic import BaseModel, model_validator


def _in(low: float, high: float, *, low_open: bool = False) -> Any:
    def check(value: float) -> bool:
        above = value > low if low_open else value >= low
        return math.isfinite(value) and above and value <= high

    return check


# name → (check, how the valid range reads in the error)
_RANGES: dict[str, tuple[Any, str]] = {
    "temperature": (_in(0, 2), "between 0 and 2"),
    "top_p": (_in(0, 1, low_open=True), "greater than 0 and at most 1"),
    "frequency_penalty": (_in(-2, 2), "between -2 and 2"),
    "presence_penalty": (_in(-2, 2), "between -2 and 2"),
    "top_k": (lambda v: v >= -1, "-1 or 0 (no limit) or a positive integer"),
    "min_p": (_in(0, 1), "between 0 and 1"),
    "repetition_penalty": (_in(0, math.inf, low_open=True), "greater than 0 (1 = off)"),
    "min_tokens": (lambda v: v >= 0, "0 or more"),
    "truncate_prompt_tokens": (lambda v: v >= -1, "-1 (the model's limit) or 0 or more"),
    "thinking_token_budget": (lambda v: v >= -1, "-1 (unlimited) or 0 or more"),
    "top_logprobs": (lambda v: v >= 0, "0 or more (the server caps it, 20 by default)"),
    "n": (lambda v: v >= 1, "1 or more"),
}
_INTEGERS = (
    "top_k",
    "min_tokens",
    "truncate_prompt_tokens",
    "thinking_token_budget",
    "top_logprobs",
    "n",
    "priority",
    "seed",
)


def check_sampling(values: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first field outside its valid range.

    Args:
        values: Field names (OpenAI's and vLLM's) to values; ``None`` values are skipped.

    Raises:
        ValueError: A value is out of range or of the wrong type.
    """
    for name, value in values.items():
        if value is None:
            continue
        if name in _INTEGERS and (isinstance(value, bool) or not isinstance(value, int)):
            msg = f"{name} must be an integer, got {value!r}."
            raise ValueError(msg)
        if name in _RANGES:
            check, valid = _RANGES[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not check(value):
                msg = f"{name}={value!r} is out of range: {name} must be {valid}."
                raise ValueError(msg)
    stop_ids = values.get("stop_token_ids")
    if stop_ids is not None and not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in stop_ids
    ):
        msg = f"stop_token_ids must be a list of token ids (integers >= 0), got {stop_ids!r}."
        raise ValueError(msg)
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
        check_sampling({name: getattr(self, name, None) for name in (*_RANGES, *_INTEGERS)})
        check_sampling(
            {
                "stop_token_ids": self.stop_token_ids,
                "min_tokens": self.min_tokens,
                "max_tokens": getattr(self, "max_tokens", None),
            }
        )
        return self

    def _vllm_fields(self) -> dict[str, Any]:
        """The vLLM-only fields set on this object (``None`` ones left out)."""
        return {
            name: value
            for name in VLLMSamplingParams.model_fields
            if (value := getattr(self, name, None)) is not None
        }
