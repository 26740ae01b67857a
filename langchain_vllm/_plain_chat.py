"""Chat Completions read as plain dicts, for ChatVLLM's requests and streams.

The openai SDK still does HTTP, SSE, retries and errors, but building its pydantic response
objects (which ChatOpenAI turns straight back into dicts) cost more client CPU than the rest
of a call (measured in ``scripts/bench.py``). So the body and each stream event are read as
JSON, tidied (``_tidy``: the whitespace parsers leave around reasoning and tool calls) and
handed to ChatOpenAI's own converters (``_create_chat_result``,
``_convert_chunk_to_generation_chunk``); streams go through ``_streams`` (deadline, partial
text). Each answer says how it ended (``errors``: aborted, cut mid tool call, cut structured
answer, no choices). The Responses API goes through ``_responses``; an API gateway through
ChatOpenAI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage
from langchain_openai.chat_models.base import BaseChatOpenAI

from langchain_vllm import _responses, _streams, _structured, _tidy, _tools, _upstream, errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult


class PlainChatCompletions(BaseChatOpenAI):
    """``_generate``/``_agenerate``/``_stream``/``_astream`` over plain-dict Chat Completions.

    The class using it has a ``stream_deadline`` (seconds a whole streamed answer may take).
    """

    if TYPE_CHECKING:
        stream_deadline: float | None

        def _base_url(self) -> str: ...

    def _route(self, kwargs: dict[str, Any]) -> str:
        """Which path a call takes.

        ``"chat"`` (read here), ``"responses"`` (``_responses``) or ``"openai"``
        (ChatOpenAI's own path, for a LangSmith gateway).
        """
        if _upstream.uses_gateway(self):
            return "openai"
        return "responses" if self._use_responses_api(kwargs) else "chat"

    def _wants_stream_usage(self, kwargs: dict[str, Any]) -> bool:
        """Whether to ask for usage on the last chunk; pops ``stream_usage`` from ``kwargs``.

        The first of these that is set wins (as in ChatOpenAI): the call's ``stream_usage``,
        the call's ``stream_options``, ``model_kwargs``' ``stream_options``, the field.
        """
        for source in (
            kwargs.pop("stream_usage", None),
            (kwargs.get("stream_options") or {}).get("include_usage"),
            (self.model_kwargs.get("stream_options") or {}).get("include_usage"),
            self.stream_usage,
        ):
            if isinstance(source, bool):
                return source
        return False

    def _generation_info(self, raw: Any) -> dict[str, Any]:
        return {"headers": dict(raw.headers)} if self.include_response_headers else {}

    def _chat_result(
        self, raw: Any, shape: _structured.AnswerShape, calls: _tools.CallsAsked
    ) -> ChatResult:
        """The answer as LangChain messages, each saying how it ended.

        Raises:
            VLLMServerError: A 200 answer without choices.
            VLLMAbortedError: vLLM aborted the answer (``finish_reason="abort"``).
            VLLMAnswerCutError: An answer asked as a Pydantic class was cut.
        """
        body = raw.http_response.json()
        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices:
            raise errors.no_choices(body, self._base_url(), raw.http_response)
        for choice in choices:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                _tidy.tidy_message(choice["message"])
        shape.read_body(body)
        result = self._create_chat_result(body, self._generation_info(raw))
        for generation, choice in zip(result.generations, choices, strict=True):
            message = generation.message
            if choice.get("finish_reason") == errors.ABORT_FINISH_REASON:
                raise errors.aborted(message, self._base_url(), raw.http_response.request)
            reason = errors.cut_reason(choice)
            if not isinstance(message, AIMessage):
                continue
            _tools.mark_cut(message, calls, reason)
            tool_calls = bool(message.tool_calls or message.invalid_tool_calls)
            if reason is not None and shape.schema is not None and not tool_calls:
                cause = errors.cut_cause(reason, calls.max_tokens)
                raise errors.answer_cut(
                    message, reason, cause, what="structured answer", max_tokens=calls.max_tokens
                )
            if (parsed := shape.parsed(message.text, tool_calls=tool_calls)) is not None:
                message.additional_kwargs["parsed"] = parsed
        return result

    def _stream_payload(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        stream_usage = self._wants_stream_usage(kwargs)
        kwargs["stream"] = True
        if stream_usage:
            kwargs["stream_options"] = {"include_usage": True}
        return self._get_request_payload(messages, stop=stop, **kwargs)

    def _chunk_reader(
        self, raw: Any, shape: _structured.AnswerShape, calls: _tools.CallsAsked
    ) -> _streams.ChunkReader:
        info = self._generation_info(raw)
        return _streams.ChunkReader(
            self._convert_chunk_to_generation_chunk,
            info,
            shape,
            calls,
            v1=self.output_version == "v1",
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        route = self._route(kwargs)
        if route == "responses":
            return _responses.generate(self, messages, stop, kwargs)
        if route == "openai":
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        shape = _structured.AnswerShape(payload)
        calls = _tools.CallsAsked.of(payload, shape.answer_tool)
        raw = self.client.with_raw_response.create(**payload)
        return self._chat_result(raw, shape, calls)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        route = self._route(kwargs)
        if route == "responses":
            return await _responses.agenerate(self, messages, stop, kwargs)
        if route == "openai":
            return await super()._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        shape = _structured.AnswerShape(payload)
        calls = _tools.CallsAsked.of(payload, shape.answer_tool)
        raw = await self.async_client.with_raw_response.create(**payload)
        return self._chat_result(raw, shape, calls)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        route = self._route(kwargs)
        if route == "responses":
            yield from _responses.stream(self, messages, stop, run_manager, kwargs)
            return
        if route == "openai":
            yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            return
        payload = self._stream_payload(messages, stop, kwargs)
        shape = _structured.AnswerShape(payload)
        calls = _tools.CallsAsked.of(payload, shape.answer_tool)
        raw = self.client.with_raw_response.create(**payload)
        reader = self._chunk_reader(raw, shape, calls)
        for chunk in _streams.read_stream(
            raw.http_response, self.root_client, reader.read, deadline=self.stream_deadline
        ):
            if run_manager:
                run_manager.on_llm_new_token(
                    chunk.text, chunk=chunk, logprobs=_streams.logprobs(chunk)
                )
            yield chunk
        if error := reader.ending_error(self._base_url(), raw.http_response.request):
            raise error
        if (parsed := reader.parsed_chunk()) is not None:
            yield parsed

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        route = self._route(kwargs)
        if route == "responses":
            async for chunk in _responses.astream(self, messages, stop, run_manager, kwargs):
                yield chunk
            return
        if route == "openai":
            async for passed in super()._astream(
                messages, stop=stop, run_manager=run_manager, **kwargs
            ):
                yield passed
            return
        payload = self._stream_payload(messages, stop, kwargs)
        shape = _structured.AnswerShape(payload)
        calls = _tools.CallsAsked.of(payload, shape.answer_tool)
        raw = await self.async_client.with_raw_response.create(**payload)
        reader = self._chunk_reader(raw, shape, calls)
        async for chunk in _streams.aread_stream(
            raw.http_response, self.root_async_client, reader.read, deadline=self.stream_deadline
        ):
            if run_manager:
                await run_manager.on_llm_new_token(
                    chunk.text, chunk=chunk, logprobs=_streams.logprobs(chunk)
                )
            yield chunk
        if error := reader.ending_error(self._base_url(), raw.http_response.request):
            raise error
        if (parsed := reader.parsed_chunk()) is not None:
            yield parsed
