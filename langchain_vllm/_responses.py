"""vLLM's Responses API (``/v1/responses``), for ``ChatVLLM(use_responses_api=True)``.

ChatVLLM sends the request ChatOpenAI builds and reads the answer with langchain-openai's own
converters (``_upstream`` names them), adding what vLLM's Responses API does differently from
OpenAI's (measured on vLLM 0.32):

- Reasoning text comes as the reasoning item's ``content`` (``reasoning_text``), streamed as
  ``response.reasoning_text.delta`` events; langchain-openai reads only ``summary``, so the
  text is also put there (and streamed as summary deltas): ``content_blocks`` then shows it.
  vLLM reads ``content`` first when the item is sent back.
- A stream ends with ``response.completed`` even when the answer was cut (its status is
  ``incomplete``); a cut tool call comes back as the parser's markup in the text, or,
  streamed, as a call whose arguments stop mid JSON. Both are said the way Chat Completions
  says them (``_tools.mark_cut``, ``_tools.stream_cut``).
- ``background=True`` answers at once with a queued response; ChatVLLM polls
  ``GET /v1/responses/{id}`` until it is done (vLLM keeps background responses only when
  started with ``VLLM_ENABLE_RESPONSES_API_STORE=1``; otherwise it answers 400, saying so).
- Error events (``error``, ``response.failed``) end the stream as an interrupted stream
  naming the server's message, keeping what arrived.
- ``logprobs=True`` is asked as ``include=["message.output_text.logprobs"]`` (``_request``);
  vLLM's logprobs of the answer's text go to ``response_metadata["logprobs"]`` as in chat.
- A Pydantic answer class is sent as its JSON schema and parsed here (ChatOpenAI would use
  the SDK's ``responses.parse``, whose JSON error for a cut answer says nothing of the cut).

Streams go through ``_streams`` (``stream_deadline``, the partial answer kept in errors).
The SDK's ``construct_type`` builds its typed events from the plain JSON, as its own stream
reader does: langchain-openai's converter reads them by attribute.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

import openai
from langchain_core.messages import AIMessage
from langchain_core.utils.pydantic import is_basemodel_subclass
from openai._models import construct_type
from openai.types.responses import ResponseReasoningSummaryTextDeltaEvent, ResponseStreamEvent
from openai.types.responses.response_reasoning_item import Summary

from langchain_vllm import _streams, _structured, _tools, _upstream, errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from openai.types.responses import Response

_PENDING = ("queued", "in_progress")
"""Statuses of a background response that is not done yet."""

_POLL_SECONDS = (0.05, 1.0)
"""First and longest wait between two polls of a background response."""


class ResponsesModel(Protocol):
    """What the Responses API path needs of the chat model (ChatVLLM)."""

    root_client: openai.OpenAI
    root_async_client: openai.AsyncOpenAI
    output_version: str | None
    stream_deadline: float | None
    include_response_headers: bool

    def _get_request_payload(
        self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]: ...

    def _base_url(self) -> str: ...


def _schema(kwargs: dict[str, Any]) -> Any:
    """A Pydantic ``response_format`` (LangChain parses the answer into it), else ``None``."""
    schema = kwargs.get("response_format")
    return schema if isinstance(schema, type) and is_basemodel_subclass(schema) else None


def with_reasoning_summary(response: Response) -> Response:
    """Put each reasoning item's text (vLLM sends it as ``content``) into its ``summary``."""
    for item in response.output:
        if item.type != "reasoning" or item.summary or not item.content:
            continue
        text = "".join(part.text for part in item.content)
        item.summary = [Summary(text=text, type="summary_text")]
    return response


def _logprobs(response: Any) -> list[Any]:
    """The token logprobs of an answer's text, as plain dicts.

    (Sent for ``include=["message.output_text.logprobs"]``, which ``logprobs=True`` asks
    for.)
    """
    output = response.get("output") if isinstance(response, dict) else response.output
    found: list[Any] = []
    for item in output or []:
        item_dict = item if isinstance(item, dict) else item.model_dump(mode="json")
        for part in item_dict.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "output_text":
                found.extend(part.get("logprobs") or [])
    return found


def _result(
    model: ResponsesModel,
    response: Response,
    schema: Any,
    calls: _tools.CallsAsked,
    info: dict[str, Any],
) -> ChatResult:
    result = _upstream.responses_result(
        with_reasoning_summary(response),
        schema=None,
        metadata=info,
        output_version=model.output_version,
    )
    for generation in result.generations:
        message = generation.message
        if not isinstance(message, AIMessage):
            continue
        _tools.mark_cut(message, calls, errors.cut_reason(message.response_metadata))
        if logprobs := _logprobs(response):
            message.response_metadata["logprobs"] = {"content": logprobs}
        if schema is not None:
            _parsed(message, schema, calls)
    return result


def _payload(
    model: ResponsesModel, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any
) -> tuple[dict[str, Any], _tools.CallsAsked]:
    payload = model._get_request_payload(messages, stop=stop, **kwargs)  # noqa: SLF001
    return payload, _tools.CallsAsked.of(payload)


def _json_schema_text(payload: dict[str, Any]) -> Any:
    """Send a Pydantic answer class as its JSON schema; return the class (else ``None``).

    ChatOpenAI leaves it as ``text_format`` for the SDK's ``responses.parse``, which raises a
    JSON error inside the model call for a cut answer; it is parsed here instead (see
    :func:`_parsed`), as ChatVLLM does for Chat Completions.
    """
    schema = payload.pop("text_format", None)
    if schema is None:
        return None
    response_format, _ = _structured.json_schema_format(schema, strict=True, as_dict=True)
    text = dict(payload.get("text") or {})
    text["format"] = {"type": "json_schema", **response_format["json_schema"]}
    payload["text"] = text
    return schema


def _parsed(message: AIMessage, schema: Any, calls: _tools.CallsAsked) -> None:
    """Put the answer, parsed into ``schema``, in ``additional_kwargs["parsed"]``.

    Raises:
        VLLMAnswerCutError: The answer was cut before it was complete.
    """
    if message.tool_calls or message.invalid_tool_calls:
        return
    reason = errors.cut_reason(message.response_metadata)
    if reason is not None:
        cause = errors.cut_cause(reason, calls.max_tokens)
        raise errors.answer_cut(
            message, reason, cause, what="structured answer", max_tokens=calls.max_tokens
        )
    message.additional_kwargs["parsed"] = schema.model_validate_json(message.text)


def _info(model: ResponsesModel, raw: Any) -> dict[str, Any]:
    return {"headers": dict(raw.headers)} if model.include_response_headers else {}


def _answer_payload(
    model: ResponsesModel, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any
) -> tuple[dict[str, Any], Any, _tools.CallsAsked]:
    """The body of a request answered at once, its JSON schema text, and the calls asked."""
    payload, calls = _payload(model, messages, stop, kwargs)
    payload.pop("stream", None)
    return payload, _json_schema_text(payload), calls


class _Polled:
    """A response answered at once, asked about again while it runs in the background."""

    def __init__(
        self, model: ResponsesModel, schema: Any, calls: _tools.CallsAsked, raw: Any
    ) -> None:
        """Read the first answer from ``raw`` (the raw ``create`` response)."""
        self._model, self._schema, self._calls, self._raw = model, schema, calls, raw
        self.response: Response = raw.parse()

    def waits(self) -> Iterator[float]:
        """The pauses before asking again, while :attr:`response` is pending (doubling)."""
        wait = _POLL_SECONDS[0]
        while self.response.status in _PENDING:
            yield wait
            wait = min(wait * 2, _POLL_SECONDS[1])

    def result(self) -> ChatResult:
        """The finished response as a chat result."""
        info = _info(self._model, self._raw)
        return _result(self._model, self.response, self._schema, self._calls, info)


def generate(
    model: ResponsesModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> ChatResult:
    """One answer from ``/v1/responses`` (a background one is waited for)."""
    payload, schema, calls = _answer_payload(model, messages, stop, kwargs)
    raw = model.root_client.responses.with_raw_response.create(**payload)
    polled = _Polled(model, schema, calls, raw)
    for wait in polled.waits():
        time.sleep(wait)
        polled.response = model.root_client.responses.retrieve(polled.response.id)
    return polled.result()


async def agenerate(
    model: ResponsesModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> ChatResult:
    """Async twin of :func:`generate`."""
    payload, schema, calls = _answer_payload(model, messages, stop, kwargs)
    raw = await model.root_async_client.responses.with_raw_response.create(**payload)
    polled = _Polled(model, schema, calls, raw)
    for wait in polled.waits():
        await asyncio.sleep(wait)
        polled.response = await model.root_async_client.responses.retrieve(polled.response.id)
    return polled.result()


class EventReader:
    """Turns Responses stream events (plain dicts) into chunks, as ChatOpenAI's loop does.

    Keeps langchain-openai's converter's running indexes; turns vLLM's reasoning-text deltas
    into the summary deltas that converter reads; raises on the server's error events.
    """

    def __init__(self, output_version: str | None, schema: Any, info: dict[str, Any]) -> None:
        """Read for ``output_version``; ``info`` goes on the first chunk."""
        self._output_version = output_version
        self._schema = schema
        self._info = info
        self._indexes = (-1, -1, -1)
        self._has_reasoning = False
        self._item_output_indices: dict[str, int] = {}
        self.received: list[ChatGenerationChunk] = []

    def read(self, event: object) -> ChatGenerationChunk | None:
        """The chunk for one event, or ``None`` for an event that carries none.

        Raises:
            openai.APIError: The server sent an error event (the stream is interrupted).
        """
        if not isinstance(event, dict):
            msg = f"not a Responses stream event: {event!r}"
            raise TypeError(msg)
        kind = event.get("type")
        if kind in ("error", "response.failed"):
            failed = (event.get("response") or {}).get("error") or event
            text = f"the server sent {kind!r}: {failed.get('message') or failed}"
            raise openai.APIError(text, request=None, body=event)  # type: ignore[arg-type]
        if kind == "response.reasoning_text.delta":
            typed: Any = ResponseReasoningSummaryTextDeltaEvent(
                type="response.reasoning_summary_text.delta",
                item_id=event.get("item_id", ""),
                output_index=event.get("output_index", 0),
                summary_index=0,
                delta=event.get("delta", ""),
                sequence_number=event.get("sequence_number", 0),
            )
        else:
            typed = construct_type(type_=ResponseStreamEvent, value=event)
        *indexes, chunk = _upstream.responses_chunk(
            typed,
            *self._indexes,
            schema=self._schema,
            metadata=self._info if not self.received else {},
            has_reasoning=self._has_reasoning,
            output_version=self._output_version,
            item_output_indices=self._item_output_indices,
        )
        self._indexes = (indexes[0], indexes[1], indexes[2])
        last = kind in ("response.completed", "response.incomplete")
        if chunk is not None and last and (logprobs := _logprobs(event.get("response") or {})):
            chunk.message.response_metadata["logprobs"] = {"content": logprobs}
        if chunk is not None:
            if "reasoning" in chunk.message.additional_kwargs:
                self._has_reasoning = True
            self.received.append(chunk)
        return chunk

    def ending_error(self, calls: _tools.CallsAsked) -> Exception | None:
        """The error for a stream cut mid tool call (see ``_tools.stream_cut``), if any."""
        merged = _streams.received_message(self.received)
        if merged is None:
            return None
        return _tools.stream_cut(merged, calls, errors.cut_reason(merged.response_metadata))


def _stream_setup(
    model: ResponsesModel, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any
) -> tuple[dict[str, Any], _tools.CallsAsked]:
    kwargs["stream"] = True
    return _payload(model, messages, stop, kwargs)


def stream(
    model: ResponsesModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: Any,
    kwargs: dict[str, Any],
) -> Iterator[ChatGenerationChunk]:
    """The chunks of a streamed answer from ``/v1/responses``.

    Raises:
        VLLMAnswerCutError: The answer was cut in the middle of a tool call.
    """
    payload, calls = _stream_setup(model, messages, stop, kwargs)
    raw = model.root_client.responses.with_raw_response.create(**payload)
    reader = EventReader(model.output_version, _schema(kwargs), _info(model, raw))
    yield from _streams.read_stream(
        raw.http_response,
        model.root_client,
        reader.read,
        deadline=model.stream_deadline,
        tell=_streams.teller(run_manager),
    )
    if error := reader.ending_error(calls):
        raise error


async def astream(
    model: ResponsesModel,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: Any,
    kwargs: dict[str, Any],
) -> AsyncIterator[ChatGenerationChunk]:
    """Async twin of :func:`stream`."""
    payload, calls = _stream_setup(model, messages, stop, kwargs)
    raw = await model.root_async_client.responses.with_raw_response.create(**payload)
    reader = EventReader(model.output_version, _schema(kwargs), _info(model, raw))
    async for chunk in _streams.aread_stream(
        raw.http_response,
        model.root_async_client,
        reader.read,
        deadline=model.stream_deadline,
        tell=_streams.teller(run_manager),
    ):
        yield chunk
    if error := reader.ending_error(calls):
        raise error
