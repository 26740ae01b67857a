"""LangChain integration for vLLM's OpenAI-compatible server."""

from importlib import metadata

from langchain_vllm.chat_models import ChatVLLM
from langchain_vllm.embeddings import VLLMEmbeddings
from langchain_vllm.errors import (
    VLLMAbortedError,
    VLLMAnswerCutError,
    VLLMAuthenticationError,
    VLLMConnectionError,
    VLLMContextOverflowError,
    VLLMDeadlineError,
    VLLMInvalidRequestError,
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
    VLLMNotFoundError,
    VLLMRateLimitError,
    VLLMServerError,
    VLLMStreamInterruptedError,
    VLLMTimeoutError,
)
from langchain_vllm.llms import VLLMCompletions
from langchain_vllm.rerank import VLLMRerank
from langchain_vllm.sampling import VLLMSamplingParams

try:
    __version__ = metadata.version(__package__ or __name__)
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = ""

__all__ = [
    "ChatVLLM",
    "VLLMAbortedError",
    "VLLMAnswerCutError",
    "VLLMAuthenticationError",
    "VLLMCompletions",
    "VLLMConnectionError",
    "VLLMContextOverflowError",
    "VLLMDeadlineError",
    "VLLMEmbeddings",
    "VLLMInvalidRequestError",
    "VLLMModelNotFoundError",
    "VLLMModelSelectionError",
    "VLLMNotFoundError",
    "VLLMRateLimitError",
    "VLLMRerank",
    "VLLMSamplingParams",
    "VLLMServerError",
    "VLLMStreamInterruptedError",
    "VLLMTimeoutError",
    "__version__",
]
