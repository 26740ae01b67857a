"""Counting tokens with the server's own tokenizer (``POST /tokenize``), never tiktoken.

Text is counted without special tokens; a chat request is counted in the chat form of
``/tokenize`` (chat template, generation prompt and tool definitions included), so the
count equals the ``input_tokens`` of sending the same request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_vllm import _server, _tools
from langchain_vllm._endpoint import VLLMServer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.tools import BaseTool


def chat_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The chat-form ``/tokenize`` body for a chat request ``payload`` (as it would be sent)."""
    body: dict[str, Any] = {
        "model": payload["model"],
        "messages": payload["messages"],
        "add_generation_prompt": True,
    }
    if payload.get("tools"):
        body["tools"] = payload["tools"]
    template_kwargs = (payload.get("extra_body") or {}).get("chat_template_kwargs")
    if template_kwargs:
        body["chat_template_kwargs"] = template_kwargs
    return body


class ServerTokenCounts(VLLMServer):
    """LangChain's token-counting methods, answered by the server's tokenizer.

    The class using it builds its chat requests with ``_get_request_payload`` (as
    ``ChatOpenAI`` does).
    """

    if TYPE_CHECKING:

        def _get_request_payload(
            self, input_: LanguageModelInput, *, stop: list[str] | None = None, **kwargs: Any
        ) -> dict[str, Any]: ...

    def _tokenize_text_body(self, text: str) -> dict[str, Any]:
        return {"model": self.model_id, "prompt": text, "add_special_tokens": False}

    def _tokenize_chat_body(
        self, messages: Sequence[BaseMessage], tools: Sequence[Any] | None
    ) -> dict[str, Any]:
        """The chat-form ``/tokenize`` body: what a chat request with ``messages`` would send."""
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"] = [_tools.format_tool(tool, strict=None) for tool in tools]
        return chat_body(self._get_request_payload(list(messages), **extra))

    @_server.resend_if_server_changed
    def get_token_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` from the server's own tokenizer (``POST /tokenize``)."""
        self._discover_model()
        answer = _server.tokenize(self._sync_sdk_client(), self._tokenize_text_body(text))
        return [int(t) for t in answer["tokens"]]

    @_server.resend_if_server_changed
    async def aget_token_ids(self, text: str) -> list[int]:
        """Async twin of :meth:`get_token_ids`."""
        await self._adiscover_model()
        answer = await _server.atokenize(self._async_sdk_client(), self._tokenize_text_body(text))
        return [int(t) for t in answer["tokens"]]

    def get_num_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` by the server's tokenizer (no special tokens added)."""
        return len(self.get_token_ids(text))

    async def aget_num_tokens(self, text: str) -> int:
        """Async twin of :meth:`get_num_tokens`."""
        return len(await self.aget_token_ids(text))

    @_server.resend_if_server_changed
    def get_num_tokens_from_messages(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
        **kwargs: Any,
    ) -> int:
        """Prompt tokens of a chat request with ``messages`` (and ``tools``), by the server.

        Uses the chat form of ``POST /tokenize``, so the model's chat template, the generation
        prompt and the tool definitions are counted exactly as the server will count them:
        the result equals ``usage_metadata["input_tokens"]`` of invoking the same messages.

        Args:
            messages: The conversation.
            tools: Tools as passed to :meth:`bind_tools` (their definitions cost tokens).
            kwargs: Ignored by vLLM's tokenizer (accepted for ``BaseChatModel`` callers).
        """
        del kwargs
        self._discover_model()
        body = self._tokenize_chat_body(messages, tools)
        return int(_server.tokenize(self._sync_sdk_client(), body)["count"])

    @_server.resend_if_server_changed
    async def aget_num_tokens_from_messages(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
    ) -> int:
        """Async twin of :meth:`get_num_tokens_from_messages`."""
        await self._adiscover_model()
        body = self._tokenize_chat_body(messages, tools)
        return int((await _server.atokenize(self._async_sdk_client(), body))["count"])
