"""LangChain integration for vLLM's OpenAI-compatible server."""

from importlib import metadata

from langchain_vllm.chat_models import ChatVLLM
from langchain_vllm.errors import (
    VLLMConnectionError,
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
)

try:
    __version__ = metadata.version(__package__ or __name__)
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = ""

__all__ = [
    "ChatVLLM",
    "VLLMConnectionError",
    "VLLMModelNotFoundError",
    "VLLMModelSelectionError",
    "__version__",
]
