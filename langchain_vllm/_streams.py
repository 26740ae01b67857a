"""How a streamed answer ends early: a total deadline, and breaks that keep what arrived.

``stream_deadline`` bounds a whole streamed generation, not each read: the async path cancels
the read at the deadline; the sync path has a timer shut the socket down (a read blocked in
another thread only wakes up that way). Either way the HTTP stream is closed, which makes
vLLM abort the request. Whatever ends a stream early, the chunks received so far travel with
the error as ``error.partial``; a malformed event (not JSON, or JSON not shaped like a chunk)
ends it the same way, as ``VLLMStreamInterruptedError``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any, Self

from langchain_vllm.errors import VLLMDeadlineError, VLLMStreamInterruptedError

if TYPE_CHECKING:
    from langchain_core.outputs import ChatGenerationChunk

    from langchain_vllm._http import httpx


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


def received_message(chunks: list[ChatGenerationChunk]) -> Any:
    """The chunks received so far as one ``AIMessageChunk`` (``None`` when there are none)."""
    if not chunks:
        return None
    merged = chunks[0].message
    for chunk in chunks[1:]:
        merged = merged + chunk.message
    return merged


def ended_early(
    error: BaseException,
    chunks: list[ChatGenerationChunk],
    request: httpx.Request,
    *,
    deadline: float | None,
    expired: bool,
) -> Exception:
    """The error to raise for a stream that ended before its last chunk."""
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
            "it sent an event that is not a chat completion chunk"
            if isinstance(error, MALFORMED)
            else "the server stopped, failed, or the connection dropped"
        )
        failure = VLLMStreamInterruptedError(
            message=f"The stream from the vLLM server broke off ({error!r}): {why}. {kept}.",
            request=request,
        )
    failure.partial = partial
    return failure
