"""LangChain integration for vLLM's OpenAI-compatible server."""

from importlib import metadata

from langchain_vllm.chat_models import ChatVLLM
from langchain_vllm.errors import (
    VLLMAuthenticationError,
    VLLMConnectionError,
    VLLMContextOverflowError,
    VLLMInvalidRequestError,
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
)
from langchain_vllm.sampling import VLLMSamplingParams

try:
    __version__ = metadata.version(__package__ or __name__)
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = ""

__all__ = [
    "ChatVLLM",
    "VLLMAuthenticationError",
    "VLLMConnectionError",
    "VLLMContextOverflowError",
    "VLLMInvalidRequestError",
    "VLLMModelNotFoundError",
    "VLLMModelSelectionError",
    "VLLMSamplingParams",
    "__version__",
]
