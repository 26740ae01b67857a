"""Errors raised by langchain-vllm.

Each one is also the matching ``openai`` SDK error (so existing ``except openai.…`` code keeps
working) and the matching ``langchain_core.exceptions`` class (so provider-neutral code can
catch ``ModelNotFoundError``, ``ModelConnectionError`` …). Messages say what to do next.
"""

from __future__ import annotations

from langchain_core.exceptions import (
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelNotFoundError,
)
from openai import APIConnectionError, NotFoundError


class VLLMModelNotFoundError(NotFoundError, ModelNotFoundError):
    """The server does not serve the requested model; ``served`` lists what it does serve."""

    served: tuple[str, ...] = ()


class VLLMConnectionError(APIConnectionError, ModelConnectionError):
    """The vLLM server could not be reached; ``base_url`` is the address that was tried."""

    base_url: str = ""


class VLLMModelSelectionError(ModelInvalidRequestError, ValueError):
    """No ``model`` was given and the server's model list does not single one out."""
