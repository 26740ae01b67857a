"""Errors raised by langchain-vllm.

Each one is also the matching ``openai`` SDK error (so existing ``except openai.…`` code keeps
working) and the matching ``langchain_core.exceptions`` class (so provider-neutral code can
catch ``ContextOverflowError``, ``ModelNotFoundError``, ``ModelConnectionError`` …). Messages
say what happened and what to do next.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import openai
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from openai import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)

from langchain_vllm import _flags, _system_messages
from langchain_vllm._http import httpx

if TYPE_CHECKING:
    from collections.abc import Iterable

    from langchain_vllm._server import ServedModel


class VLLMModelNotFoundError(NotFoundError, ModelNotFoundError):
    """The server does not serve the requested model; ``served`` lists what it does serve."""

    served: tuple[str, ...] = ()


class VLLMConnectionError(APIConnectionError, ModelConnectionError):
    """The vLLM server could not be reached; ``base_url`` is the address that was tried."""

    base_url: str = ""


class VLLMModelSelectionError(ModelInvalidRequestError, ValueError):
    """No ``model`` was given and the server's model list does not single one out."""


class VLLMContextOverflowError(BadRequestError, ContextOverflowError):
    """The prompt (plus the requested output) does not fit the model's context window.

    Attributes:
        max_context_tokens: The server's context window (``max_model_len``), if stated.
        prompt_tokens: The prompt's size in tokens, if the server said (a lower bound when
            the message says "at least").
    """

    max_context_tokens: int | None = None
    prompt_tokens: int | None = None


class VLLMInvalidRequestError(BadRequestError, ModelInvalidRequestError):
    """The server rejected the request; the message says which setting or flag to change."""


class VLLMAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """The server was started with ``--api-key`` and the key sent does not match."""


class VLLMNotFoundError(NotFoundError, ModelNotFoundError):
    """404 for something other than the model (e.g. an endpoint the server does not have)."""


class VLLMRateLimitError(RateLimitError, ModelRateLimitError):
    """429: the server (or a router in front of it) is overloaded; retry later."""


class VLLMServerError(InternalServerError, ModelAPIError):
    """5xx: the server failed (an engine error, or a router with no healthy replica)."""


class VLLMTimeoutError(APITimeoutError, ModelTimeoutError):
    """The request timed out (raise ``timeout``, or ask for fewer tokens)."""


class VLLMStreamInterruptedError(APIConnectionError, ModelConnectionError):
    """A streamed answer broke off (server gone, connection dropped, engine error).

    ``partial`` holds what arrived before the break (an ``AIMessageChunk`` from ``ChatVLLM``,
    a ``GenerationChunk`` from ``VLLMCompletions``, or ``None`` when nothing did), so the text
    received is not lost: ``error.partial.text``.
    """

    partial: Any = None


class VLLMDeadlineError(VLLMTimeoutError):
    """A streamed answer ran past ``stream_deadline``.

    The stream was closed, so vLLM aborts the generation. ``partial`` holds what arrived in
    time.
    """

    partial: Any = None


# ------------------------------------------------------------------ server answers as errors
# The one translation of what a vLLM server answers into the errors above: _server applies
# it around every request; the doctor and VLLMRerank ask it about 404s.


def describe(models: Iterable[ServedModel]) -> str:
    """List served ids the way error messages show them: base models, then LoRA adapters."""
    models = tuple(models)
    bases = [m.id for m in models if not m.is_adapter]
    adapters = [f"{m.id} (LoRA on {m.parent})" for m in models if m.is_adapter]
    parts = [f"base models: {', '.join(bases) or 'none'}"]
    if adapters:
        parts.append(f"LoRA adapters: {', '.join(adapters)}")
    return "; ".join(parts)


def route_missing(error: openai.APIStatusError) -> bool:
    """Whether a 404 is FastAPI's "no such route" (vLLM did not mount the endpoint).

    The doctor, the LoRA calls and :func:`about_model`'s callers ask this of a 404; a
    missing model is :func:`about_model`.
    """
    body = error.body if isinstance(error.body, dict) else {}
    return error.status_code == 404 and body.get("detail") == "Not Found"  # noqa: PLR2004


_LORA_HINT = f"Runtime LoRA updates need a server started with {_flags.LORA_RUNTIME_SETUP}."


def lora_error(error: openai.APIStatusError, action: str) -> Exception:
    """A refused runtime LoRA update: a missing route says how to allow them."""
    if route_missing(error):
        return RuntimeError(f"The server has no /v1/{action} endpoint. {_LORA_HINT}")
    return error


def connection_error(base_url: str, error: openai.APIConnectionError) -> VLLMConnectionError:
    """Wrap an SDK connection error into one that names the URL tried and what to do."""
    failure = VLLMConnectionError(
        message=(
            f"Could not connect to the vLLM server at {base_url} ({error.__cause__ or error}). "
            "Check that it is running (`vllm serve <model>`) and that base_url / VLLM_BASE_URL "
            "points at it, including the /v1 suffix."
        ),
        request=error.request,
    )
    failure.base_url = base_url
    return failure


_CONTEXT = re.compile(r"maximum context length is (\d+) tokens")
_PROMPT_TOKENS = (
    re.compile(r"prompt contains (?:at least )?(\d+) input tokens"),
    re.compile(r"request has (\d+) input tokens"),
    re.compile(r"\((\d+) in the messages"),
)
_OUTPUT_TOO_LONG = re.compile(r"(max_\w*tokens)=(\d+) cannot be greater than max_model_len=(\d+)")


def _first_int(patterns: Iterable[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        if match := pattern.search(text):
            return int(match.group(1))
    return None


def _explain_bad_request(error: openai.BadRequestError, base_url: str) -> Exception:
    message = error.message
    if context := _CONTEXT.search(message):
        overflow = VLLMContextOverflowError(
            message=(
                f"{message} (server {base_url}). Shorten the input (chat: trim or summarize "
                "earlier messages, lower max_tokens; embeddings and rerank: set "
                f"truncate_prompt_tokens), or serve the model with a larger {_flags.MAX_MODEL_LEN}."
            ),
            response=error.response,
            body=error.body,
        )
        overflow.max_context_tokens = int(context.group(1))
        overflow.prompt_tokens = _first_int(_PROMPT_TOKENS, message)
        return overflow
    if any(flag in message for flag in _flags.TOOL_FLAGS):
        return VLLMInvalidRequestError(
            message=(
                f"{message}. The vLLM server at {base_url} was started without a tool-call "
                f"parser: restart it with `{_flags.TOOL_SETUP}` (the parser matching the "
                f"model's chat template, e.g. {_flags.examples(_flags.TOOL_PARSERS)}), or use "
                "with_structured_output(...) with method='json_schema', which needs no parser."
            ),
            response=error.response,
            body=error.body,
        )
    if _flags.REASONING_PARSER in message:
        return VLLMInvalidRequestError(
            message=(
                f"{message} The vLLM server at {base_url} runs without a reasoning parser: "
                f"restart it with `{_flags.REASONING_SETUP}` for the model (e.g. "
                f"{_flags.examples(_flags.REASONING_PARSERS)}), or leave out "
                "thinking_token_budget."
            ),
            response=error.response,
            body=error.body,
        )
    if _system_messages.is_refusal(message):
        return VLLMInvalidRequestError(
            message=f"{message} ({base_url}). {_system_messages.SETTING_HINT}",
            response=error.response,
            body=error.body,
        )
    if too_long := _OUTPUT_TOO_LONG.search(message):
        message = (
            f"{message} Pass max_tokens <= {too_long.group(3)} (the server's max_model_len), "
            "including room for the prompt."
        )
    elif "matryoshka" in message.lower():
        message = (
            f"{message} Leave dimensions unset for this model, or serve a Matryoshka "
            "embedding model to get shorter vectors."
        )
    elif isinstance(error, ModelError):
        return error  # already in langchain-core's taxonomy (langchain-openai wrapped it)
    return VLLMInvalidRequestError(message=message, response=error.response, body=error.body)


def explain_error(error: Exception, base_url: str, served: Iterable[ServedModel] = ()) -> Exception:
    """Turn an SDK error into one that says what to do, or return ``error`` unchanged.

    - 404 for the model → :class:`VLLMModelNotFoundError` listing ``served``.
    - Prompt too long (every vLLM wording of "maximum context length is N tokens") →
      :class:`VLLMContextOverflowError` with the server's numbers.
    - Tools asked of a server without a tool-call parser, or a reasoning field of one
      without a reasoning parser → :class:`VLLMInvalidRequestError` naming the flag to add.
    - 401 → :class:`VLLMAuthenticationError` saying where the key comes from.
    - Connection failure (not a timeout) → :class:`VLLMConnectionError` naming ``base_url``.
    """
    served = tuple(served)
    if isinstance(error, openai.NotFoundError) and served and about_model(error):
        failure = VLLMModelNotFoundError(
            message=(
                f"{error.message} The vLLM server at {base_url} serves {describe(served)}. "
                "Pass one of these as model=..."
            ),
            response=error.response,
            body=error.body,
        )
        failure.served = tuple(m.id for m in served)
        return failure
    if isinstance(error, openai.BadRequestError):
        return _explain_bad_request(error, base_url)
    if isinstance(error, openai.AuthenticationError):
        return VLLMAuthenticationError(
            message=(
                f"The vLLM server at {base_url} rejected the API key ({error.message}). It "
                "was started with --api-key: set VLLM_API_KEY or pass api_key=... with that "
                "key (OPENAI_API_KEY is never used)."
            ),
            response=error.response,
            body=error.body,
        )
    return _in_taxonomy(error, base_url)


_STATUS_ERRORS: tuple[tuple[type[openai.APIStatusError], type[openai.APIStatusError]], ...] = (
    (openai.RateLimitError, VLLMRateLimitError),
    (openai.InternalServerError, VLLMServerError),
    (openai.NotFoundError, VLLMNotFoundError),
)


def _in_taxonomy(error: Exception, base_url: str) -> Exception:
    """The remaining SDK errors as langchain-core's (timeouts, connection, 429, 5xx, 404)."""
    if isinstance(error, ModelError):
        return error
    if isinstance(error, openai.APITimeoutError) and isinstance(
        error.__cause__, httpx.ConnectTimeout
    ):
        return connection_error(base_url, error)  # never connected: the server is not there
    if isinstance(error, openai.APITimeoutError):
        return VLLMTimeoutError(request=error.request)
    if isinstance(error, openai.APIConnectionError):
        return connection_error(base_url, error)
    if isinstance(error, openai.APIStatusError):
        for sdk_class, ours in _STATUS_ERRORS:
            if isinstance(error, sdk_class):
                return ours(message=error.message, response=error.response, body=error.body)
    return error


def about_model(error: openai.NotFoundError) -> bool:
    """Whether a 404 is vLLM's "the model does not exist" (not a missing route)."""
    return "model" in error.message.lower()
