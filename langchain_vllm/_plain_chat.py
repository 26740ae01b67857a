"""Chat Completions read as plain dicts, for ChatModel's requests and streams.

The openai SDK still does HTTP, SSE, retries and errors, but building its pydantic response
objects (which ChatOpenAI turns straight back into dicts) cost more client CPU than the rest
of a call (measured in ``scripts/bench.py``). So the body and each stream event are read as
JSON, tidied (``_tidy``: the whitespace parsers leave around reasoning and tool calls) and
handed to ChatOpenAI's own converters (``_create_chat_result``,
``_convert_chunk_to_generation_chunk``); streams go through ``_streams`` (deadline, partial
text). Each answer says how it ended (``errors``: aborted, cut mid tool call, cut structured
answer, no choices). The Responses API goes through ``_responses``; an API gateway through
ChatOpenAI (``ChatVLLM._route`` says which).

ChatModel's request hooks (``chat_models.py``) build the payload, then call :func:`generate`
or :func:`stream` here with it: the send and the reading. What a sync and an async request
share is written once (:class:`Sent`); only the I/O is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.messages import AIMessage

from langchain_vllm import _streams, _structured, _tidy, _tools, errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from langchain_core.outputs import ChatGenerationChunk, ChatResult


class ChatModel(Protocol):
    """What reading Chat Completions needs of the chat model (ChatVLLM)."""

    client: Any
    async_client: Any
    root_client: Any
    root_async_client: Any
    model_kwargs: dict[str, Any]
    stream_usage: bool | None
    stream_deadline: float | None
    include_response_headers: bool
    output_version: str | None

    def _create_chat_result(
        self, response: dict[str, Any], generation_info: dict[str, Any] | None = None
    ) -> ChatResult: ...

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None: ...

    def _base_url(self) -> str: ...


def wants_stream_usage(llm: ChatModel, kwargs: dict[str, Any]) -> bool:
    """Whether to ask for usage on the last chunk; pops ``stream_usage`` from ``kwargs``.

    The first of these that is set wins (as in ChatOpenAI): the call's ``stream_usage``,
    the call's ``stream_options``, ``model_kwargs``' ``stream_options``, the field.
    """
    for source in (
        kwargs.pop("stream_usage", None),
        (kwargs.get("stream_options") or {}).get("include_usage"),
        (llm.model_kwargs.get("stream_options") or {}).get("include_usage"),
        llm.stream_usage,
    ):
        if isinstance(source, bool):
            return source
    return False


def stream_kwargs(llm: ChatModel, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's keyword arguments for a streamed request (``stream``, ``stream_options``)."""
    stream_usage = wants_stream_usage(llm, kwargs)
    kwargs["stream"] = True
    if stream_usage:
        kwargs["stream_options"] = {"include_usage": True}
    return kwargs


@dataclass
class Sent:
    """One Chat Completions request: its payload, and how its answer is read.

    Everything but the I/O, shared by :func:`generate`/:func:`agenerate` and
    :func:`stream`/:func:`astream`.
    """

    llm: ChatModel
    payload: dict[str, Any]
    shape: _structured.AnswerShape = field(init=False)
    calls: _tools.CallsAsked = field(init=False)

    def __post_init__(self) -> None:
        """Read what the payload asks for (a schema, tools, ``max_tokens``)."""
        self.shape = _structured.AnswerShape(self.payload)
        self.calls = _tools.CallsAsked.of(self.payload, self.shape.answer_tool)

    def _generation_info(self, raw: Any) -> dict[str, Any]:
        return {"headers": dict(raw.headers)} if self.llm.include_response_headers else {}

    def result(self, raw: Any) -> ChatResult:
        """The answer as LangChain messages, each saying how it ended.

        Raises:
            VLLMServerError: A 200 answer without choices.
            VLLMAbortedError: vLLM aborted the answer (``finish_reason="abort"``).
            VLLMAnswerCutError: An answer asked as a Pydantic class was cut.
        """
        shape, calls, base_url = self.shape, self.calls, self.llm._base_url()  # noqa: SLF001
        body = raw.http_response.json()
        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices:
            raise errors.no_choices(body, base_url, raw.http_response)
        for choice in choices:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                _tidy.tidy_message(choice["message"])
        shape.read_body(body)
        result = self.llm._create_chat_result(body, self._generation_info(raw))  # noqa: SLF001
        for generation, choice in zip(result.generations, choices, strict=True):
            message = generation.message
            if choice.get("finish_reason") == errors.ABORT_FINISH_REASON:
                raise errors.aborted(message, base_url, raw.http_response.request)
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

    def reader(self, raw: Any) -> _streams.ChunkReader:
        """What reads the stream's events into chunks."""
        return _streams.ChunkReader(
            self.llm._convert_chunk_to_generation_chunk,  # noqa: SLF001
            self._generation_info(raw),
            self.shape,
            self.calls,
            v1=self.llm.output_version == "v1",
        )

    def ending(self, reader: _streams.ChunkReader, raw: Any) -> ChatGenerationChunk | None:
        """After the last event: raise how the stream ended badly, or the parsed chunk.

        Raises:
            VLLMAbortedError: vLLM aborted the answer.
            VLLMAnswerCutError: An answer asked as a Pydantic class was cut.
        """
        base_url = self.llm._base_url()  # noqa: SLF001
        if error := reader.ending_error(base_url, raw.http_response.request):
            raise error
        return reader.parsed_chunk()


def generate(llm: ChatModel, payload: dict[str, Any]) -> ChatResult:
    """Send ``payload`` to ``/v1/chat/completions`` and read the answer."""
    sent = Sent(llm, payload)
    return sent.result(llm.client.with_raw_response.create(**payload))


async def agenerate(llm: ChatModel, payload: dict[str, Any]) -> ChatResult:
    """Async twin of :func:`generate`."""
    sent = Sent(llm, payload)
    return sent.result(await llm.async_client.with_raw_response.create(**payload))


def stream(
    llm: ChatModel, payload: dict[str, Any], run_manager: Any
) -> Iterator[ChatGenerationChunk]:
    """Send the streamed ``payload`` and yield its chunks (each told to ``run_manager``)."""
    sent = Sent(llm, payload)
    raw = llm.client.with_raw_response.create(**payload)
    reader = sent.reader(raw)
    yield from _streams.read_stream(
        raw.http_response,
        llm.root_client,
        reader.read,
        deadline=llm.stream_deadline,
        tell=_streams.teller(run_manager, with_logprobs=True),
    )
    if (parsed := sent.ending(reader, raw)) is not None:
        yield parsed


async def astream(
    llm: ChatModel, payload: dict[str, Any], run_manager: Any
) -> AsyncIterator[ChatGenerationChunk]:
    """Async twin of :func:`stream`."""
    sent = Sent(llm, payload)
    raw = await llm.async_client.with_raw_response.create(**payload)
    reader = sent.reader(raw)
    async for chunk in _streams.aread_stream(
        raw.http_response,
        llm.root_async_client,
        reader.read,
        deadline=llm.stream_deadline,
        tell=_streams.teller(run_manager, with_logprobs=True),
    ):
        yield chunk
    if (parsed := sent.ending(reader, raw)) is not None:
        yield parsed
