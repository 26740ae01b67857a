"""How a streamed answer ends early: a total deadline, and breaks that keep what arrived.

Shared by ChatVLLM (``/v1/chat/completions``) and VLLMCompletions (``/v1/completions``).
``stream_deadline`` bounds a whole streamed generation, not each read: the async path cancels
the read at the deadline; the sync path has a timer shut the socket down (a read blocked in
another thread only wakes up that way). Either way the HTTP stream is closed, which makes
vLLM abort the request. Whatever ends a stream early, the chunks received so far travel with
the error as ``error.partial`` (an ``AIMessageChunk`` for chat, a ``GenerationChunk`` for
completions); a malformed event (not JSON, or JSON not shaped like a chunk) ends it the same
way, as ``VLLMStreamInterruptedError``.

:func:`read_stream` and :func:`aread_stream` do all of that around a function that turns one
server event into a chunk; for chat, :class:`ChunkReader` is that function.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import openai
from langchain_core.messages import AIMessage, AIMessageChunk, message_chunk_to_message
from langchain_core.outputs import ChatGenerationChunk

from langchain_vllm import _tools, errors
from langchain_vllm._http import httpx
from langchain_vllm._tidy import StreamTidier
from langchain_vllm.errors import MALFORMED_EVENT, stream_broke_off

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence

    from langchain_core.messages import BaseMessageChunk
    from langchain_core.outputs import Generation

    from langchain_vllm._structured import AnswerShape

Chunk = TypeVar("Chunk", bound="Generation")
"""A ``ChatGenerationChunk`` or a ``GenerationChunk``."""


class EmptyStreamError(ValueError):
    """The server closed the stream without sending a single chunk."""

    def __init__(self) -> None:
        """An error for a stream that ended before its first chunk."""
        super().__init__("the stream ended before its first chunk")


class SyncDeadline:
    """A timer that shuts down the response's socket when ``seconds`` have passed."""

    def __init__(self, seconds: float | None, response: httpx.Response) -> None:
        """Arm for ``response`` (nothing happens when ``seconds`` is ``None``)."""
        self.seconds = seconds
        self.expired = False
        self._response = response
        self._timer: threading.Timer | None = None

    def _expire(self) -> None:
        self.expired = True
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with contextlib.suppress(OSError):
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the read blocked in the caller
            else:
                self._response.close()

    def __enter__(self) -> Self:
        """Start the timer."""
        if self.seconds is not None:
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()


def received_message(chunks: Sequence[Generation]) -> Any:
    """The chunks received so far as one chunk (``None`` when there are none).

    Chat chunks merge into one ``AIMessageChunk``, completion chunks into one
    ``GenerationChunk``; either way ``.text`` is the text received.
    """
    if not chunks:
        return None
    if isinstance(chunks[0], ChatGenerationChunk):
        merged = chunks[0].message
        for chunk in chunks[1:]:
            merged = merged + chunk.message  # type: ignore[attr-defined]
        return merged
    merged_text: Any = chunks[0]
    for chunk in chunks[1:]:
        merged_text = merged_text + chunk
    return merged_text


def _check_ended(received: Sequence[Generation], *, expired: bool) -> None:
    """Raise for a stream that ended at its deadline or before its first chunk."""
    if expired:
        raise TimeoutError
    if not received:
        raise EmptyStreamError


def _check_time(loop: asyncio.AbstractEventLoop, ends: float | None) -> None:
    """Raise ``TimeoutError`` when the deadline ``ends`` (loop time) has passed."""
    if ends is not None and loop.time() >= ends:
        raise TimeoutError


_BROKE_OFF = (httpx.HTTPError, openai.APIError, TimeoutError, *MALFORMED_EVENT)
"""What a stream raises when it broke off, was malformed, or passed its deadline."""


def _broke_off(
    error: BaseException,
    received: Sequence[Chunk],
    response: httpx.Response,
    deadline_passed: float | None,
) -> Exception:
    """The error to raise for a stream that broke off, with what it received before."""
    return stream_broke_off(
        error,
        received_message(received),
        len(received),
        response.request,
        deadline_passed=deadline_passed,
    )


def teller(
    run_manager: Any, *, with_logprobs: bool = False, empty: bool = True
) -> Callable[[Any], Any] | None:
    """What tells ``run_manager`` of each chunk (``tell`` of :func:`read_stream`).

    It calls ``on_llm_new_token(chunk.text, chunk=chunk)`` (plus the chunk's log
    probabilities ``with_logprobs``; for a chunk with text only, without ``empty``) and
    returns what that returns: a coroutine for an async manager. ``None`` without a manager.
    """
    if not run_manager:
        return None
    if with_logprobs:
        return lambda chunk: run_manager.on_llm_new_token(
            chunk.text, chunk=chunk, logprobs=logprobs(chunk)
        )
    if empty:
        return lambda chunk: run_manager.on_llm_new_token(chunk.text, chunk=chunk)
    return lambda chunk: (
        run_manager.on_llm_new_token(chunk.text, chunk=chunk) if chunk.text else None
    )


def read_stream(
    response: httpx.Response,
    client: openai.OpenAI,
    read: Callable[[Any], Chunk | None],
    *,
    deadline: float | None,
    tell: Callable[[Chunk], object] | None = None,
) -> Iterator[Chunk]:
    """The chunks of a streamed answer, within ``deadline`` seconds from now.

    Args:
        response: The streaming HTTP response (headers received, body not read).
        client: The SDK client that sent the request (for the SDK's event reader).
        read: Turns one event (parsed JSON) into a chunk, or ``None`` for an event without one.
        deadline: Seconds the rest of the stream may take (``None``: no limit).
        tell: Called with each chunk before it is passed on (:func:`teller`); what it
            raises passes through unchanged.

    Returns:
        An iterator of the chunks as they arrive.

    Raises:
        VLLMDeadlineError: The deadline passed (the stream is closed: vLLM aborts).
        VLLMStreamInterruptedError: The stream broke off, was malformed, or ended before
            its first chunk.
    """
    chunks = _read_events(response, client, read, deadline)
    return chunks if tell is None else _told(chunks, tell)


def _told(chunks: Iterator[Chunk], tell: Callable[[Chunk], object]) -> Iterator[Chunk]:
    for chunk in chunks:
        tell(chunk)
        yield chunk


def _read_events(
    response: httpx.Response,
    client: openai.OpenAI,
    read: Callable[[Any], Chunk | None],
    deadline: float | None,
) -> Iterator[Chunk]:
    received: list[Chunk] = []
    timer = SyncDeadline(deadline, response)
    try:
        with timer, openai.Stream(cast_to=object, response=response, client=client) as events:
            for event in events:
                if (chunk := read(event)) is not None:
                    received.append(chunk)
                    yield chunk
        # a socket shut down at the deadline can read as a clean end (no chunked encoding)
        _check_ended(received, expired=timer.expired)
    except _BROKE_OFF as error:
        raise _broke_off(error, received, response, deadline if timer.expired else None) from error


def aread_stream(
    response: httpx.Response,
    client: openai.AsyncOpenAI,
    read: Callable[[Any], Chunk | None],
    *,
    deadline: float | None,
    tell: Callable[[Chunk], Awaitable[object] | None] | None = None,
) -> AsyncIterator[Chunk]:
    """Async twin of :func:`read_stream` (the same arguments, chunks and errors).

    What ``tell`` returns is awaited (unless ``None``). The deadline cancels only the read
    from the server (never the caller's own awaits between two chunks, nor ``tell``'s); a
    read that starts after the deadline fails at once.
    """
    chunks = _aread_events(response, client, read, deadline)
    return chunks if tell is None else _atold(chunks, tell)


async def _atold(
    chunks: AsyncIterator[Chunk], tell: Callable[[Chunk], Awaitable[object] | None]
) -> AsyncIterator[Chunk]:
    async for chunk in chunks:
        if (told := tell(chunk)) is not None:
            await told
        yield chunk


async def _aread_events(
    response: httpx.Response,
    client: openai.AsyncOpenAI,
    read: Callable[[Any], Chunk | None],
    deadline: float | None,
) -> AsyncIterator[Chunk]:
    received: list[Chunk] = []
    loop = asyncio.get_running_loop()
    ends = None if deadline is None else loop.time() + deadline
    try:
        async with openai.AsyncStream(cast_to=object, response=response, client=client) as events:
            iterator = events.__aiter__()
            while True:
                _check_time(loop, ends)
                try:
                    async with asyncio.timeout_at(ends):
                        event = await anext(iterator)
                except StopAsyncIteration:
                    break
                if (chunk := read(event)) is not None:
                    received.append(chunk)
                    yield chunk
        _check_ended(received, expired=False)
    except _BROKE_OFF as error:
        passed = deadline if isinstance(error, TimeoutError) else None
        raise _broke_off(error, received, response, passed) from error


class V1Blocks:
    """Content blocks of ``output_version="v1"`` stream chunks, numbered so they add up right.

    LangChain merges streamed blocks that share an ``index``. It numbers blocks that have
    none (reasoning 0, then text 1, ...), but a tool-call chunk keeps the index of its call in
    the response (0 for the first call), so the reasoning or text before a call and the call
    were merged into one broken block. Here every block gets its own number: one per run of
    reasoning or text, one per tool call.
    """

    def __init__(self) -> None:
        """Start numbering at 0."""
        self._next = 0
        self._run: tuple[str, int] | None = None
        self._calls: dict[Any, int] = {}

    def _new(self) -> int:
        self._next += 1
        return self._next - 1

    def number(self, message: BaseMessageChunk) -> BaseMessageChunk:
        """``message`` with its content as numbered v1 blocks."""
        blocks = [dict(block) for block in message.content_blocks]
        for block in blocks:
            kind = str(block.get("type"))
            if kind == "tool_call_chunk":
                call = block.get("index", 0)
                block["index"] = self._calls.setdefault(call, self._new())
                self._run = None
                continue
            if self._run is None or self._run[0] != kind:
                self._run = (kind, self._new())
            block["index"] = self._run[1]
        metadata = {**message.response_metadata, "output_version": "v1"}
        return message.model_copy(update={"content": blocks, "response_metadata": metadata})


class ChunkReader:
    """Turns a stream's events (plain dicts) into chunks, as ChatOpenAI's stream loop does.

    The first chunk carries the generation info (response headers); each chunk is built as
    the class of the one before (LangChain's rule for chunk merging); ``received`` keeps
    them for an early end, and the finish reason is kept for :meth:`ending_error`. Events are
    tidied first (``_tidy``); with ``v1`` the chunks' content is numbered v1 blocks
    (:class:`V1Blocks`).
    """

    def __init__(
        self,
        convert: Callable[[dict[str, Any], type, dict[str, Any]], ChatGenerationChunk | None],
        info: dict[str, Any],
        shape: AnswerShape,
        calls: _tools.CallsAsked,
        *,
        v1: bool = False,
    ) -> None:
        """Read with ``convert`` (ChatOpenAI's ``_convert_chunk_to_generation_chunk``).

        ``calls`` is what the request asked of tools.
        """
        self._convert = convert
        self._info: dict[str, Any] = info
        self._chunk_class: type = AIMessageChunk
        self._shape = shape
        self._calls = calls
        self.finish_reason: str | None = None
        self._tidier = StreamTidier()
        self._v1 = V1Blocks() if v1 else None
        self.received: list[ChatGenerationChunk] = []

    def read(self, event: object) -> ChatGenerationChunk | None:
        """The chunk for ``event``, or ``None`` for an event that carries none."""
        self._tidier.read_event(event)
        self._shape.read_event(event)
        for choice in (event.get("choices") if isinstance(event, dict) else None) or []:
            if isinstance(choice, dict) and choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        chunk = self._convert(cast("dict[str, Any]", event), self._chunk_class, self._info)
        if chunk is not None:
            if self._v1 is not None:
                chunk.message = self._v1.number(chunk.message)
            self._info, self._chunk_class = {}, chunk.message.__class__
            self.received.append(chunk)
        return chunk

    def ending_error(self, base_url: str, request: httpx.Request) -> Exception | None:
        """The error for how the stream ended, if it did not end whole.

        ``finish_reason="abort"`` gives ``VLLMAbortedError``; an answer cut at its limit in
        the middle of a tool call gives ``VLLMAnswerCutError`` (see ``_tools.stream_cut``);
        each carries the answer as far as it got in ``partial``.
        """
        merged = received_message(self.received)
        if self.finish_reason == errors.ABORT_FINISH_REASON:
            partial = message_chunk_to_message(merged) if merged is not None else AIMessage("")
            return errors.aborted(partial, base_url, request)
        if merged is None:
            return None
        return _tools.stream_cut(
            merged, self._calls, errors.cut_reason({"finish_reason": self.finish_reason})
        )

    def parsed_chunk(self) -> ChatGenerationChunk | None:
        """A last chunk carrying ``additional_kwargs["parsed"]``, for a Pydantic answer class.

        (ChatOpenAI's streams end the same way when ``response_format`` is a class.)

        Raises:
            VLLMAnswerCutError: The answer was cut before it was complete.
        """
        text = "".join(chunk.text for chunk in self.received)
        tool_calls = any(
            isinstance(chunk.message, AIMessageChunk) and chunk.message.tool_call_chunks
            for chunk in self.received
        )
        reason = errors.cut_reason({"finish_reason": self.finish_reason})
        if reason is not None and self._shape.schema is not None and not tool_calls:
            merged = received_message(self.received)
            raise errors.answer_cut(
                message_chunk_to_message(merged),
                reason,
                errors.cut_cause(reason, self._calls.max_tokens),
                what="structured answer",
                max_tokens=self._calls.max_tokens,
            )
        parsed = self._shape.parsed(text, tool_calls=tool_calls)
        if parsed is None:
            return None
        message = AIMessageChunk(content="", additional_kwargs={"parsed": parsed})
        return ChatGenerationChunk(message=message)


def logprobs(chunk: ChatGenerationChunk) -> Any:
    """The log probabilities a chat chunk carries (for ``on_llm_new_token``)."""
    return (chunk.generation_info or {}).get("logprobs")
