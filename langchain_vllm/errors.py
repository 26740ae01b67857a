"""Errors raised by langchain-vllm.

Each one is also the matching ``openai`` SDK error (so existing ``except openai.…`` code keeps
working) and the matching ``langchain_core.exceptions`` class (so provider-neutral code can
catch ``ContextOverflowError``, ``ModelNotFoundError``, ``ModelConnectionError`` …). Messages
say what happened and what to do next.
"""

from __future__ import annotations

from typing import Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
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
