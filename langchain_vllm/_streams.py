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
server event into a chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any, Self, TypeVar

import openai
from langchain_core.outputs import ChatGenerationChunk

from langchain_vllm._http import httpx
from langchain_vllm.errors import VLLMDeadlineError, VLLMStreamInterruptedError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from langchain_core.outputs import Generation

Chunk = TypeVar("Chunk", bound="Generation")
"""A ``ChatGenerationChunk`` or a ``GenerationChunk``."""


class EmptyStreamError(ValueError):
    """The server closed the stream without sending a single chunk."""

    def __init__(self) -> None:
        """An error for a stream that ended before its first chunk."""
        super().__init__("the stream ended before its first chunk")


MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What reading a malformed event raises (bad JSON, or JSON not shaped like a chunk)."""


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


def _event_kind(request: httpx.Request) -> str:
    """What a well-formed event of the request's stream is."""
    chat = request.url.path.rstrip("/").endswith("/chat/completions")
    return "chat completion chunk" if chat else "completion chunk"


def ended_early(
    error: BaseException,
    chunks: Sequence[Generation],
    request: httpx.Request,
    *,
    deadline: float | None,
    expired: bool,
) -> Exception:
    """The error to raise for a stream that ended before its last chunk.

    Args:
        error: What ended the stream.
        chunks: The chunks received before.
        request: The streaming request.
        deadline: The ``stream_deadline`` in seconds.
        expired: Whether the deadline passed (then a ``VLLMDeadlineError``).

    Returns:
        A ``VLLMDeadlineError`` or ``VLLMStreamInterruptedError`` whose ``partial`` holds
        the chunks received, merged.
    """
    partial = received_message(chunks)
    kept = f"{len(chunks)} chunks received before are in error.partial"
    if expired:
        failure: VLLMDeadlineError | VLLMStreamInterruptedError = VLLMDeadlineError(request=request)
        text = (
            f"The streamed answer passed its stream_deadline of {deadline} s; the stream was "
            f"closed (vLLM aborts the generation). {kept}."
        )
        failure.message, failure.args = text, (text,)
    else:
        why = (
            f"it sent an event that is not a {_event_kind(request)}"
            if isinstance(error, MALFORMED)
            else "the server stopped, failed, or the connection dropped"
        )
        failure = VLLMStreamInterruptedError(
            message=f"The stream from the vLLM server broke off ({error!r}): {why}. {kept}.",
            request=request,
        )
    failure.partial = partial
    return failure


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


def read_stream(
    response: httpx.Response,
    client: openai.OpenAI,
    read: Callable[[Any], Chunk | None],
    *,
    deadline: float | None,
) -> Iterator[Chunk]:
    """The chunks of a streamed answer, within ``deadline`` seconds from now.

    Args:
        response: The streaming HTTP response (headers received, body not read).
        client: The SDK client that sent the request (for the SDK's event reader).
        read: Turns one event (parsed JSON) into a chunk, or ``None`` for an event without one.
        deadline: Seconds the rest of the stream may take (``None``: no limit).

    Yields:
        Each chunk as it arrives.

    Raises:
        VLLMDeadlineError: The deadline passed (the stream is closed: vLLM aborts).
        VLLMStreamInterruptedError: The stream broke off, was malformed, or ended before
            its first chunk.
    """
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
    except (httpx.HTTPError, openai.APIError, TimeoutError, *MALFORMED) as error:
        raise ended_early(
            error,
            received,
            response.request,
            deadline=deadline,
            expired=timer.expired,
        ) from error


async def aread_stream(
    response: httpx.Response,
    client: openai.AsyncOpenAI,
    read: Callable[[Any], Chunk | None],
    *,
    deadline: float | None,
) -> AsyncIterator[Chunk]:
    """Async twin of :func:`read_stream`.

    The deadline cancels only the read from the server (never the caller's own awaits
    between two chunks); a read that starts after the deadline fails at once.

    Args:
        response: The streaming HTTP response (headers received, body not read).
        client: The SDK client that sent the request (for the SDK's event reader).
        read: Turns one event (parsed JSON) into a chunk, or ``None`` for an event without one.
        deadline: Seconds the rest of the stream may take (``None``: no limit).

    Yields:
        Each chunk as it arrives.

    Raises:
        VLLMDeadlineError: The deadline passed (the stream is closed: vLLM aborts).
        VLLMStreamInterruptedError: The stream broke off, was malformed, or ended before
            its first chunk.
    """
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
    except (httpx.HTTPError, openai.APIError, TimeoutError, *MALFORMED) as error:
        raise ended_early(
            error,
            received,
            response.request,
            deadline=deadline,
            expired=isinstance(error, TimeoutError),
        ) from error
