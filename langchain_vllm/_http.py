"""HTTP plumbing shared by every class: the httpx flavour, pooled clients, event-loop safety.

The ``openai`` SDK (which does HTTP, SSE and retries for us) is built on ``httpx`` before
version 3 and on its drop-in twin ``httpx2`` from version 3 on; transports handed to the SDK
must come from the same library, so ``httpx`` below is whichever one the installed SDK uses.

Connection pools are shared per base URL, so many model objects pointed at one server reuse
connections. The async pool is bound to the event loop that uses it: ``asyncio.run`` twice in a
row (notebooks, scripts, pytest's per-test loops) would otherwise reuse sockets that belong to a
closed loop and fail with "Event loop is closed". Both are bound to the process that uses them:
a worker forked from a process that already talked to the server (``multiprocessing``'s
default on Linux) opens connections of its own instead of reading answers off its parent's
sockets.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import re
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import openai
from pydantic import SecretStr

_FIRST_HTTPX2_SDK = 3  # openai>=3 speaks httpx2

if TYPE_CHECKING:  # type-checked against the SDK this project locks (openai 3, httpx2)
    from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Mapping

    import httpx2 as httpx
    from langchain_openai.chat_models.base import BaseChatOpenAI
else:
    _major = re.match(r"\D*(\d+)", openai.__version__)
    _sdk_major = int(_major.group(1)) if _major is not None else 0
    httpx = importlib.import_module("httpx2" if _sdk_major >= _FIRST_HTTPX2_SDK else "httpx")

__all__ = ["httpx"]

T = TypeVar("T")

# The SDK's own pool limits: enough headroom for vLLM's continuous batching.
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0)

# Environment variables the openai SDK reads on its own. vLLM clients must not pick them up:
# they belong to OpenAI accounts, and sending them to a vLLM host leaks them.
OPENAI_ENV_ATTRIBUTES = ("organization", "project", "admin_api_key", "webhook_secret")


class ProcessBoundTransport(httpx.BaseTransport):
    """A sync transport that keeps one connection pool per process.

    A forked child inherits its parent's pool, sockets included; two processes sending on
    one keep-alive socket read each other's answers. The child makes a pool of its own on its
    first request and leaves the inherited one alone (its sockets are the parent's).
    """

    def __init__(self, factory: Callable[[], httpx.BaseTransport]) -> None:
        """Create the transport; ``factory`` makes the real transport for each process."""
        self._factory = factory
        self._pid = os.getpid()
        self._pool = factory()

    def _current(self) -> httpx.BaseTransport:
        if self._pid != os.getpid():
            self._pool, self._pid = self._factory(), os.getpid()
        return self._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through this process's pool."""
        return self._current().handle_request(request)

    def close(self) -> None:
        """Close this process's pool (an inherited one is left to its owner)."""
        if self._pid == os.getpid():
            self._pool.close()


class LoopBoundAsyncTransport(httpx.AsyncBaseTransport):
    """An async transport that keeps one connection pool per running event loop.

    A pool is closed by its own loop when that loop shuts down: ``asyncio.run`` (and
    pytest-asyncio) finalize live async generators before closing a loop, and each pool
    is tied to such a generator. Pools of loops closed without that step are dropped the
    next time a new loop shows up.
    """

    def __init__(self, factory: Callable[[], httpx.AsyncBaseTransport]) -> None:
        """Create the transport; ``factory`` makes the real transport for each loop."""
        self._factory = factory
        self._pid = os.getpid()
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncBaseTransport, AsyncGenerator[None]]
        ] = weakref.WeakKeyDictionary()

    async def _pool(self) -> httpx.AsyncBaseTransport:
        loop = asyncio.get_running_loop()
        if self._pid != os.getpid():  # forked: the inherited pools are the parent's
            self._pools, self._pid = weakref.WeakKeyDictionary(), os.getpid()
        entry = self._pools.get(loop)
        if entry is not None:
            return entry[0]
        for dead in [other for other in self._pools if other.is_closed()]:
            del self._pools[dead]
        pool = self._factory()
        closer = self._close_at_shutdown(loop, pool)
        await anext(closer)  # registers it with the loop's async-generator finalizer
        self._pools[loop] = (pool, closer)
        return pool

    async def _close_at_shutdown(
        self, loop: asyncio.AbstractEventLoop, pool: httpx.AsyncBaseTransport
    ) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            self._pools.pop(loop, None)
            await pool.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool of the running loop."""
        pool = await self._pool()
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pool of the running loop."""
        entry = self._pools.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()


RETRYABLE_STATUSES = frozenset({429, 503})
"""Error answers worth sending the request again for: the server did not start on it."""


def _retry_policy(response: httpx.Response) -> httpx.Response:
    """Tell the openai SDK not to retry error answers other than 429 and 503.

    The SDK would also retry 408, 409 and every 5xx; for vLLM those mean the request reached
    the engine (or a router that may have forwarded it), so sending it again could run a
    long generation twice. The SDK obeys an ``x-should-retry: false`` header.
    """
    if response.status_code >= 400 and response.status_code not in RETRYABLE_STATUSES:  # noqa: PLR2004
        response.headers["x-should-retry"] = "false"
    return response


ERROR_IN_OK = "x-langchain-vllm-error-in-200"
"""Header on an answer read from ``200 OK`` with an error body as the status it names."""

_ANSWER_KEYS = ("choices", "output", "data")
"""Keys of a successful answer's body (chat/completions, Responses, embeddings/models)."""


def _named_status(response: httpx.Response) -> int | None:
    """The error status a read ``200 OK`` JSON answer carries in its body, else ``None``.

    Routers and proxies in front of vLLM answer failures with a 200 whose body has an
    ``error`` object and no answer (``{"choices": null, "error": {"message": ..., "code":
    503}}``); the status is the error's ``code`` (500 when it names none).
    """
    content = response.content
    if b'"error"' not in content:  # cheap: most answers carry no error key
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    if any(body.get(key) for key in _ANSWER_KEYS):
        return None
    code = body["error"].get("code")
    status = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else 0
    return status if 400 <= status <= 599 else 500  # noqa: PLR2004


def _reads_as_json_ok(response: httpx.Response) -> bool:
    """Whether ``response`` is a ``200 OK`` JSON answer (streams are never read here)."""
    content_type = response.headers.get("content-type", "")
    return response.status_code == 200 and "json" in content_type  # noqa: PLR2004


def _as_named_status(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    """A read ``200 OK`` answer with an error body as the status it names (else unchanged).

    The SDK then raises (and retries a 503) as for that status; ``ERROR_IN_OK`` tells
    ``errors.explain_error`` to say where the error came from.
    """
    status = _named_status(response)
    if status is None:
        return response
    dropped = ("content-length", "content-encoding", "transfer-encoding")
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in dropped]
    headers.append((ERROR_IN_OK, "1"))
    return httpx.Response(
        status,
        headers=headers,
        content=response.content,
        request=request,
        extensions=response.extensions,
    )


def _answered(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    """What the SDK gets for ``response`` (a JSON ``200 OK`` read by the caller already)."""
    if _reads_as_json_ok(response):
        response = _as_named_status(response, request)
    return _retry_policy(response)


@contextmanager
def _read_timeout_is_final(request: httpx.Request) -> Iterator[None]:
    """Raise a read timeout as ``openai.APITimeoutError``, which the SDK does not resend."""
    try:
        yield
    except httpx.ReadTimeout as error:
        raise openai.APITimeoutError(request=request) from error


class RetryPolicyTransport(httpx.BaseTransport):
    """Retries for what is safe to repeat only: connection failures, 429 and 503.

    A ``200 OK`` whose body is an error and no answer counts as the status it names (see
    :func:`_as_named_status`).

    Connect errors and connect timeouts stay retried by the SDK (bounded, with backoff); a
    read timeout means the server has the request and may be generating, so it is raised
    as ``openai.APITimeoutError``, which the SDK passes on without sending it again.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        """Wrap ``inner``, the transport that does the HTTP."""
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; see the class docstring for what is retried."""
        with _read_timeout_is_final(request):
            response = self._inner.handle_request(request)
            if _reads_as_json_ok(response):
                response.read()
            return _answered(response, request)

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()


class AsyncRetryPolicyTransport(httpx.AsyncBaseTransport):
    """Async twin of :class:`RetryPolicyTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        """Wrap ``inner``, the transport that does the HTTP."""
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; see :class:`RetryPolicyTransport` for what is retried."""
        with _read_timeout_is_final(request):
            response = await self._inner.handle_async_request(request)
            if _reads_as_json_ok(response):
                await response.aread()
            return _answered(response, request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


def sync_http_client(base_url: str, timeout: Any, proxy: str | None = None) -> httpx.Client:
    """Return the pooled sync client for ``base_url`` (shared by every model object)."""
    key = _cache_key(timeout)
    if key is None:
        return _new_sync_client(base_url, timeout, proxy)
    return _cached_sync_client(base_url, key, proxy)


def async_http_client(base_url: str, timeout: Any, proxy: str | None = None) -> httpx.AsyncClient:
    """Return the pooled, event-loop-safe async client for ``base_url``."""
    key = _cache_key(timeout)
    if key is None:
        return _new_async_client(base_url, timeout, proxy)
    return _cached_async_client(base_url, key, proxy)


def _cache_key(timeout: Any) -> Any:
    """``timeout`` as a cache key, or ``None`` when it cannot be one (no caching then)."""
    if timeout is None:
        return ("default",)
    try:
        hash(timeout)
    except TypeError:
        return None
    return ("given", timeout)


def _timeout(key: Any) -> Any:
    return openai.DEFAULT_TIMEOUT if key == ("default",) else key[1]


def _new_sync_client(base_url: str, timeout: Any, proxy: str | None) -> httpx.Client:
    del base_url  # one pool per server: the URL is part of the cache key only
    if timeout is None:
        timeout = openai.DEFAULT_TIMEOUT
    transport = RetryPolicyTransport(
        ProcessBoundTransport(lambda: httpx.HTTPTransport(limits=_LIMITS, proxy=proxy))
    )
    client = openai.DefaultHttpxClient(timeout=timeout, limits=_LIMITS, transport=transport)
    # Close the pool's sockets when the client goes away, at the latest when the
    # interpreter exits (else Python reports them as unclosed: a ResourceWarning).
    weakref.finalize(client, transport.close)
    return client


def _new_async_client(base_url: str, timeout: Any, proxy: str | None) -> httpx.AsyncClient:
    del base_url
    if timeout is None:
        timeout = openai.DEFAULT_TIMEOUT
    transport = AsyncRetryPolicyTransport(
        LoopBoundAsyncTransport(lambda: httpx.AsyncHTTPTransport(limits=_LIMITS, proxy=proxy))
    )
    return openai.DefaultAsyncHttpxClient(timeout=timeout, limits=_LIMITS, transport=transport)


@lru_cache(maxsize=64)
def _cached_sync_client(base_url: str, key: Any, proxy: str | None) -> httpx.Client:
    return _new_sync_client(base_url, _timeout(key), proxy)


@lru_cache(maxsize=64)
def _cached_async_client(base_url: str, key: Any, proxy: str | None) -> httpx.AsyncClient:
    return _new_async_client(base_url, _timeout(key), proxy)


def forget_openai_environment(
    client: openai.OpenAI | openai.AsyncOpenAI, default_headers: Mapping[str, str] | None
) -> None:
    """Undo what the openai SDK read from ``OPENAI_*`` variables when it built ``client``.

    The SDK fills organization, project, admin key, webhook secret and extra headers
    (``OPENAI_CUSTOM_HEADERS``, which may carry an Authorization header) from the environment.
    Those are OpenAI account settings; a vLLM client sends only what it was given.
    """
    for attribute in OPENAI_ENV_ATTRIBUTES:
        if hasattr(client, attribute):
            setattr(client, attribute, None)
    if os.environ.get("OPENAI_CUSTOM_HEADERS") is not None:
        client._custom_headers = dict(default_headers or {})  # noqa: SLF001 - the SDK has no public setter
    if hasattr(client, "_ambient_authorizations"):
        client._ambient_authorizations = frozenset()  # noqa: SLF001


def build_clients(  # noqa: PLR0913 - the SDK client options, keyword-only
    *,
    base_url: str,
    api_key: Any,
    timeout: Any = None,
    max_retries: int | None = None,
    default_headers: Mapping[str, str] | None = None,
    default_query: Mapping[str, object] | None = None,
    proxy: str | None = None,
    http_client: Any = None,
    http_async_client: Any = None,
) -> tuple[openai.OpenAI | None, openai.AsyncOpenAI]:
    """The openai SDK clients every vLLM class talks through (no network call).

    Args:
        base_url: Server URL with ``/v1``.
        api_key: A ``SecretStr``, or a callable returning the key (sync or async).
        timeout: Request timeout (seconds or an ``httpx.Timeout``).
        max_retries: The SDK's retries (connection errors, 408/409/429/5xx).
        default_headers: Headers for every request.
        default_query: Query parameters for every request.
        proxy: Explicit proxy URL (``OPENAI_PROXY`` and friends are not read).
        http_client: Your own ``httpx.Client`` (then ``proxy`` must be ``None``).
        http_async_client: Your own ``httpx.AsyncClient``.

    Returns:
        The sync client (``None`` when the key is an async-only callable) and the async one.

    Raises:
        ValueError: ``proxy`` given together with an HTTP client.
    """
    if proxy and (http_client or http_async_client):
        msg = "Pass either openai_proxy or http_client/http_async_client, not both."
        raise ValueError(msg)
    sync_key, async_key = split_api_key(api_key)
    params: dict[str, Any] = {
        "base_url": base_url,
        "timeout": timeout,
        "default_headers": default_headers,
        "default_query": default_query,
    }
    if max_retries is not None:
        params["max_retries"] = max_retries
    sync_client = None
    if sync_key is not None:
        sync_client = openai.OpenAI(
            **params,
            api_key=sync_key,
            http_client=http_client or sync_http_client(base_url, timeout, proxy),
        )
        forget_openai_environment(sync_client, default_headers)
    async_client = openai.AsyncOpenAI(
        **params,
        api_key=async_key,
        http_client=http_async_client or async_http_client(base_url, timeout, proxy),
    )
    forget_openai_environment(async_client, default_headers)
    return sync_client, async_client


def attach_chat_clients(model: BaseChatOpenAI, *, proxy: str | None) -> None:
    """Give a ChatOpenAI-shaped ``model`` the SDK clients of :func:`build_clients`.

    Sets ``root_client``/``client`` and ``root_async_client``/``async_client`` (the chat
    completions resources) where the user did not pass their own; ``proxy`` is ChatVLLM's
    ``openai_proxy``.
    """
    if model.client and model.async_client:
        return
    sync_client, async_client = build_clients(
        base_url=str(model.openai_api_base),
        api_key=model.openai_api_key,
        timeout=model.request_timeout,
        max_retries=model.max_retries,
        default_headers=model.default_headers,
        default_query=model.default_query,
        proxy=proxy,
        http_client=model.http_client,
        http_async_client=model.http_async_client,
    )
    if not model.client and sync_client is not None:
        model.root_client = sync_client
        model.client = sync_client.chat.completions
    if not model.async_client:
        model.root_async_client = async_client
        model.async_client = async_client.chat.completions


def split_api_key(key: Any) -> tuple[Any, Any]:
    """The API key in the forms the sync and async SDK clients accept.

    A ``SecretStr`` serves both; a sync callable is wrapped for the async client; an async
    callable serves only the async client (the sync form is ``None``).
    """
    if isinstance(key, SecretStr):
        value = key.get_secret_value()
        return value, value
    if inspect.iscoroutinefunction(key):
        return None, key
    sync_key = key

    async def async_key() -> str:
        return str(sync_key())

    return sync_key, async_key


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` to completion from sync code, on an event loop of its own.

    In a helper thread when the caller already runs an event loop (which cannot be blocked
    on from inside).
    """

    def run() -> T:
        return asyncio.run(make())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(max_workers=1) as helper:
        return helper.submit(run).result()
