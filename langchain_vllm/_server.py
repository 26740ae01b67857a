"""The one place that asks a vLLM server about itself (outside chat and embedding calls).

Endpoints: ``GET /v1/models``, ``GET /version``, ``POST /tokenize``, ``GET /health`` and the
runtime LoRA endpoints. What a server serves and its version are learned lazily, once per
base URL, and shared by every model object pointed at that server: constructing a model makes
no network call, and after the first request no lookup is repeated. ``forget`` drops what was
learned (e.g. after a LoRA adapter was loaded or the server was restarted with another model).
A server without ``/version`` (e.g. behind a router) is taken to speak the newest format.

:class:`Server` is "this vLLM server at this URL" as a model object holds it (its ``_vllm``):
the served models, version and wire format, the model discovered when none was given, LoRA
adapters, ``/tokenize``, explained errors, and learning it all again when a refusal shows that
the server changed under the object (restarted serving another model, upgraded or
downgraded; ``resend_if_server_changed`` then sends the request once more). Every cache of
what a server said lives here, keyed by base URL.
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import openai

from langchain_vllm import _probes, _served, _tools, _versions
from langchain_vllm.errors import (
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
    describe,
    explain_error,
    lora_error,
    missing,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
    from contextlib import AbstractAsyncContextManager, AbstractContextManager


ServedModel = _served.ServedModel
"""One card of ``GET /v1/models`` (defined in ``_served``, which ``errors`` can import)."""

_models: dict[str, tuple[ServedModel, ...]] = {}
_version_cache: dict[str, str | None] = {}
_routers: dict[str, bool] = {}
_warned_strict: set[str] = set()
_warned_strict_ignored: set[str] = set()
templates: dict[tuple[str, str], bool] = {}
"""Whether a model's chat template takes mid-conversation system messages (``_system_messages``)."""
profiles: dict[tuple[str, str, str], dict[str, Any]] = {}
"""The answers of ``profile``'s server-decided groups per URL, model and group (``_profile``)."""
lock = threading.Lock()
"""Held while any of the caches above is written."""
_lock = lock


def cache_key(client: openai.OpenAI | openai.AsyncOpenAI) -> str:
    """The key under which facts about ``client``'s server are cached: its base URL."""
    return str(client.base_url).rstrip("/")


def forget(base_url: str | None = None) -> None:
    """Drop what was learned about the server at ``base_url`` (about every server if ``None``).

    What was learned about models' profiles and chat templates is dropped for every server.
    """
    with _lock:
        templates.clear()
        profiles.clear()
        if base_url is None:
            _models.clear()
            _version_cache.clear()
            _routers.clear()
            _warned_strict.clear()
            _warned_strict_ignored.clear()
        else:
            _models.pop(base_url.rstrip("/"), None)
            _version_cache.pop(base_url.rstrip("/"), None)
            _routers.pop(base_url.rstrip("/"), None)
            _warned_strict.discard(base_url.rstrip("/"))
            _warned_strict_ignored.discard(base_url.rstrip("/"))


def root_url(client: openai.OpenAI | openai.AsyncOpenAI) -> str:
    """The server root (``/version``, ``/tokenize`` live there): the base URL minus ``/v1``."""
    base = cache_key(client)
    return base.removesuffix("/v1")


def cached_models(client: openai.OpenAI | openai.AsyncOpenAI) -> tuple[ServedModel, ...] | None:
    """The served models already learned for ``client``'s server (no network call)."""
    return _models.get(cache_key(client))


def cached_version(client: openai.OpenAI | openai.AsyncOpenAI) -> tuple[bool, str | None]:
    """``(known, version)`` from the cache, without a network call."""
    key = cache_key(client)
    return key in _version_cache, _version_cache.get(key)


@dataclass
class _Answer:
    """What a request answered (``None`` until it did, or when it was a 404)."""

    body: object = None


@contextmanager
def _asking(key: str, *, missing_is_none: bool = True) -> Iterator[_Answer]:
    """Around one question to the server at ``key``, for the sync and async askers alike.

    A 404 leaves the answer ``None`` (``missing_is_none``: a router or proxy without
    ``/version``, taken to be the newest server); an unreachable server or another refusal
    is raised as :func:`explain_error` explains it.
    """
    answer = _Answer()
    try:
        yield answer
    except openai.NotFoundError as error:
        if not missing_is_none:
            raise explain_error(error, key) from error
    except (openai.APIConnectionError, openai.APIStatusError) as error:
        raise explain_error(error, key) from error


def _version_of(body: object) -> str | None:
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version is not None else None


def server_version(
    client: openai.OpenAI, *, refresh: bool = False, stacklevel: int = 4
) -> str | None:
    """The server's vLLM version from ``GET /version`` (cached); ``None`` if it has none.

    Raises:
        VLLMConnectionError: The server could not be reached.
    """
    key = cache_key(client)
    if not refresh and key in _version_cache:
        return _version_cache[key]
    with _asking(key) as answer:
        answer.body = client.get(f"{root_url(client)}/version", cast_to=object)
    return _learned_version(key, _version_of(answer.body), stacklevel)


def _learned_version(key: str, version: str | None, stacklevel: int) -> str | None:
    """Cache a server's version; warn when it is older than the oldest one supported.

    ``stacklevel`` counts from the caller of :func:`server_version` (4: its caller's caller).
    """
    with _lock:
        _version_cache[key] = version
    if _versions.unsupported(version):
        warnings.warn(unsupported_version(key, version), UserWarning, stacklevel=stacklevel)
    return version


def unsupported_version(base_url: str, version: str | None) -> str:
    """What to tell a user whose server is older than :data:`_versions.OLDEST_SUPPORTED`."""
    oldest = ".".join(map(str, _versions.OLDEST_SUPPORTED))
    return (
        f"The vLLM server at {base_url} runs {version}, older than the oldest vLLM "
        f"langchain-vllm supports and tests ({oldest}). Requests are adapted to older "
        "servers (max_tokens, guided_* constraints, reasoning_content), but what such a "
        "server lacks may be ignored without an error. Upgrade vLLM to "
        f"{oldest} or later."
    )


async def aserver_version(
    client: openai.AsyncOpenAI, *, refresh: bool = False, stacklevel: int = 4
) -> str | None:
    """Async twin of :func:`server_version`."""
    key = cache_key(client)
    if not refresh and key in _version_cache:
        return _version_cache[key]
    with _asking(key) as answer:
        answer.body = await client.get(f"{root_url(client)}/version", cast_to=object)
    return _learned_version(key, _version_of(answer.body), stacklevel)


def tokenize(client: openai.OpenAI, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /tokenize`` (``prompt`` or chat ``messages`` form); returns the server's answer.

    Raises:
        VLLMConnectionError: The server could not be reached.
        VLLMModelNotFoundError: The server does not serve the body's model (lists what it
            serves).
    """
    with explained_errors(client, cache_key(client)):
        answer = client.post(f"{root_url(client)}/tokenize", body=body, cast_to=object)
    return _checked_tokens(answer)


async def atokenize(client: openai.AsyncOpenAI, body: dict[str, Any]) -> dict[str, Any]:
    """Async twin of :func:`tokenize`."""
    async with aexplained_errors(client, cache_key(client)):
        answer = await client.post(f"{root_url(client)}/tokenize", body=body, cast_to=object)
    return _checked_tokens(answer)


def _checked_tokens(answer: object) -> dict[str, Any]:
    if not isinstance(answer, dict) or not isinstance(answer.get("tokens"), list):
        msg = f"/tokenize answered without a token list: {answer!r}"
        raise TypeError(msg)
    return answer


def health_answer(client: openai.OpenAI) -> object | None:
    """What ``GET /health`` answered with 200 (vLLM: ``""``), or ``None`` for no 200."""
    try:
        answer: object = client.get(f"{root_url(client)}/health", cast_to=object)
    except openai.APIError:
        return None
    return answer


async def ahealth_answer(client: openai.AsyncOpenAI) -> object | None:
    """Async twin of :func:`health_answer`."""
    try:
        answer: object = await client.get(f"{root_url(client)}/health", cast_to=object)
    except openai.APIError:
        return None
    return answer


def health(client: openai.OpenAI) -> bool:
    """Whether ``GET /health`` answers 200 (the engine is up)."""
    return health_answer(client) is not None


async def ahealth(client: openai.AsyncOpenAI) -> bool:
    """Async twin of :func:`health`."""
    return await ahealth_answer(client) is not None


ROUTER_HEALTH = "All servers healthy"
"""What ``GET /health`` of vllm-router says (vLLM's own answers an empty 200)."""

STRICT_LEVEL_FLAG = "--tool-strict-level parameter"
"""vLLM's server flag that holds every tool's arguments to its schema, ``strict`` or not."""


def is_router_answer(answer: object) -> bool:
    """Whether a ``GET /health`` answer is vllm-router's."""
    return isinstance(answer, str) and answer.strip() == ROUTER_HEALTH


def is_vllm_router(client: openai.OpenAI) -> bool:
    """Whether ``client``'s base URL is a vllm-router (cached; ``False`` if it can't tell)."""
    key = cache_key(client)
    if key not in _routers:
        router = is_router_answer(health_answer(client))
        with _lock:
            _routers[key] = router
    return _routers[key]


async def ais_vllm_router(client: openai.AsyncOpenAI) -> bool:
    """Async twin of :func:`is_vllm_router`."""
    key = cache_key(client)
    if key not in _routers:
        router = is_router_answer(await ahealth_answer(client))
        with _lock:
            _routers[key] = router
    return _routers[key]


def router_drops_strict(base_url: str) -> str:
    """What to tell a user who sends strict tools through vllm-router at ``base_url``."""
    return (
        f'{base_url} is a vllm-router, which drops the "strict" flag of tools before '
        "passing requests on (vllm-router 0.1.17), so vLLM does not hold tool-call "
        "arguments to their schema there. Start every vLLM replica behind it with "
        f"{STRICT_LEVEL_FLAG} (vLLM then treats every tool as strict; pass strict=False "
        "to bind_tools to silence this warning), or use with_structured_output(schema), "
        "whose JSON schema the router passes on."
    )


def warn_router_drops_strict(base_url: str, stacklevel: int = 5) -> None:
    """Warn (once per base URL) that strict tools lose their ``strict`` at a vllm-router."""
    with _lock:
        if base_url in _warned_strict:
            return
        _warned_strict.add(base_url)
    # 5 from Server.discover_chat: the frame of ChatVLLM's entry point
    warnings.warn(router_drops_strict(base_url), UserWarning, stacklevel=stacklevel)


def strict_ignored(base_url: str, version: str | None) -> str:
    """What to tell a user who sends strict tools under ``tool_choice="auto"`` to vLLM < 0.24."""
    return (
        f"The vLLM server at {base_url} runs {version}, which holds tool-call arguments to "
        "a strict tool's schema only with tool_choice='required' or a named tool; with "
        "tool_choice='auto' (the default) it ignores \"strict\" and the model may answer "
        "with arguments that do not follow the schema (vLLM enforces strict tools under any "
        "tool_choice from 0.24). Pass tool_choice='required' or the tool's name to "
        "bind_tools, pass strict=False to silence this warning, or upgrade vLLM."
    )


def warn_strict_ignored(base_url: str, version: str | None) -> None:
    """Warn (once per base URL) that an older server ignores ``strict`` under "auto"."""
    with _lock:
        if base_url in _warned_strict_ignored:
            return
        _warned_strict_ignored.add(base_url)
    # 5: the frame of ChatVLLM's entry point, above Server.discover_chat
    warnings.warn(strict_ignored(base_url, version), UserWarning, stacklevel=5)


def load_lora_adapter(client: openai.OpenAI, name: str, path: str) -> None:
    """``POST /v1/load_lora_adapter``, then forget the cached model list.

    Raises:
        RuntimeError: The server does not allow runtime LoRA updates (says how to enable).
    """
    body = {"lora_name": name, "lora_path": path}
    try:
        client.post("/load_lora_adapter", body=body, cast_to=object)
    except openai.APIStatusError as error:
        raise lora_error(error, "load_lora_adapter") from error
    forget(cache_key(client))


async def aload_lora_adapter(client: openai.AsyncOpenAI, name: str, path: str) -> None:
    """Async twin of :func:`load_lora_adapter`."""
    body = {"lora_name": name, "lora_path": path}
    try:
        await client.post("/load_lora_adapter", body=body, cast_to=object)
    except openai.APIStatusError as error:
        raise lora_error(error, "load_lora_adapter") from error
    forget(cache_key(client))


def unload_lora_adapter(client: openai.OpenAI, name: str) -> None:
    """``POST /v1/unload_lora_adapter``, then forget the cached model list."""
    try:
        client.post("/unload_lora_adapter", body={"lora_name": name}, cast_to=object)
    except openai.APIStatusError as error:
        raise lora_error(error, "unload_lora_adapter") from error
    forget(cache_key(client))


async def aunload_lora_adapter(client: openai.AsyncOpenAI, name: str) -> None:
    """Async twin of :func:`unload_lora_adapter`."""
    try:
        await client.post("/unload_lora_adapter", body={"lora_name": name}, cast_to=object)
    except openai.APIStatusError as error:
        raise lora_error(error, "unload_lora_adapter") from error
    forget(cache_key(client))


def _learned_models(key: str, page: object) -> tuple[ServedModel, ...]:
    """Cache the served models of a ``/v1/models`` page (its cards) and return them."""
    models = tuple(ServedModel.from_card(card.model_dump()) for card in cast("list[Any]", page))
    with _lock:
        _models[key] = models
    return models


def served_models(client: openai.OpenAI, *, refresh: bool = False) -> tuple[ServedModel, ...]:
    """Return the models served at ``client``'s base URL (cached after the first call).

    Raises:
        VLLMConnectionError: The server could not be reached.
    """
    key = cache_key(client)
    if not refresh and (known := _models.get(key)) is not None:
        return known
    with _asking(key, missing_is_none=False) as answer:
        answer.body = list(client.models.list())
    return _learned_models(key, answer.body)


async def aserved_models(
    client: openai.AsyncOpenAI, *, refresh: bool = False
) -> tuple[ServedModel, ...]:
    """Async twin of :func:`served_models`."""
    key = cache_key(client)
    if not refresh and (known := _models.get(key)) is not None:
        return known
    with _asking(key, missing_is_none=False) as answer:
        answer.body = [card async for card in client.models.list()]
    return _learned_models(key, answer.body)


def default_model(models: tuple[ServedModel, ...], base_url: str) -> str:
    """Pick the model to use when none was given: the server's only base model.

    Raises:
        VLLMModelSelectionError: The server serves no model, or several base models.
    """
    bases = [m for m in models if not m.is_adapter]
    if len(bases) == 1:
        return bases[0].id
    if not bases:
        msg = f"The vLLM server at {base_url} serves no model ({describe(models)})."
    else:
        msg = (
            f"The vLLM server at {base_url} serves several models ({describe(models)}); "
            "pass the one to use as model=..."
        )
    raise VLLMModelSelectionError(msg)


# ------------------------------------------------------------------ a server that changed

_Method = TypeVar("_Method", bound="Callable[..., Any]")


class _Holder(Protocol):
    """A model object holding its :class:`Server` (``_vllm``) and naming its ``model_id``."""

    _vllm: Server

    @property
    def model_id(self) -> str | None: ...


def resend_if_server_changed(method: _Method) -> _Method:  # noqa: C901 - four call shapes
    """Decorate a request method of a model object: resend once when the server changed.

    The object holds its :class:`Server` as ``_vllm`` (see :meth:`Server.relearn`). Works for
    plain and async methods and for sync and async generators (streams); a stream is resent
    only when it failed before its first chunk. The method's keyword arguments are the
    call's (a ``model`` among them means the user named the model).
    """
    if inspect.isasyncgenfunction(method):
        astart = _started(method, _afirst)

        @functools.wraps(method)
        async def astream(self: _Holder, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            items, first = await _aresent(astart, self, args, kwargs)
            if first is not _END:
                yield first
                async for item in items:
                    yield item

        return cast("_Method", astream)
    if inspect.isgeneratorfunction(method):
        start = _started(method, _first)

        @functools.wraps(method)
        def stream(self: _Holder, *args: Any, **kwargs: Any) -> Iterator[Any]:
            items, first = _resent(start, self, args, kwargs)
            if first is not _END:
                yield first
                yield from items

        return cast("_Method", stream)
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def acall(self: _Holder, *args: Any, **kwargs: Any) -> Any:
            return await _aresent(method, self, args, kwargs)

        return cast("_Method", acall)

    @functools.wraps(method)
    def call(self: _Holder, *args: Any, **kwargs: Any) -> Any:
        return _resent(method, self, args, kwargs)

    return cast("_Method", call)


_END = object()
"""The first item of a stream that has none."""


def _started(method: Callable[..., Any], first: Callable[[Any], Any]) -> Callable[..., Any]:
    """``method`` (a generator function) as a call returning its stream and first item.

    A stream is resent only when it failed before its first item: the resend wraps this call.
    """
    return lambda *args, **kwargs: first(method(*args, **kwargs))


def _first(items: Iterator[Any]) -> tuple[Iterator[Any], Any]:
    """``items`` and its first item (:data:`_END` if none)."""
    return items, next(items, _END)


async def _afirst(items: AsyncIterator[Any]) -> tuple[AsyncIterator[Any], Any]:
    """Async twin of :func:`_first`."""
    return items, await anext(items, _END)


def _resent(
    method: Callable[..., Any], holder: _Holder, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``method(holder, *args, **kwargs)``, once more if its error shows the server changed."""
    try:
        return method(holder, *args, **kwargs)
    except Exception as error:
        if not holder._vllm.relearn(error, kwargs, lambda: holder.model_id):  # noqa: SLF001
            raise
    return method(holder, *args, **kwargs)


async def _aresent(
    method: Callable[..., Any], holder: _Holder, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Async twin of :func:`_resent`."""
    try:
        return await method(holder, *args, **kwargs)
    except Exception as error:
        if not await holder._vllm.arelearn(error, kwargs, lambda: holder.model_id):  # noqa: SLF001
            raise
    return await method(holder, *args, **kwargs)


# ------------------------------------------------------------------ learning the server first


class _ChatHolder(_Holder, Protocol):
    """A chat model object: its server (``_vllm``) and the model the user named, if any."""

    model_name: str | None


def _learn(holder: _ChatHolder, kwargs: dict[str, Any]) -> None:
    # One frame, as ChatVLLM's own discovery method was: the router and strict warnings
    # count their stack level from here to the caller of the public method.
    holder._vllm.discover_chat(holder.model_name, kwargs)  # noqa: SLF001 - the holder's own


async def _alearn(holder: _ChatHolder, kwargs: dict[str, Any]) -> None:
    await holder._vllm.adiscover_chat(holder.model_name, kwargs)  # noqa: SLF001


def _learning_first(method: _Method) -> _Method:
    """A public entry point of a chat model, learning the model and server (once) first.

    LangChain's ``BaseChatModel`` names the model in the LangSmith params before it calls
    ``_generate``/``_stream``, so the model and the server's version are learned at the
    public entry points (``generate``, ``agenerate``, ``stream``, ``astream``: every other
    call goes through one of them); a call with strict tools also learns whether the server
    is a vllm-router (see :meth:`Server.discover_chat`). The wrapper keeps the inherited
    method's name and is typed ``(self, *args, **kwargs)``, as the overrides it replaces.
    """
    if inspect.isasyncgenfunction(method):

        async def astream(self: _ChatHolder, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            await _alearn(self, kwargs)
            async for chunk in method(self, *args, **kwargs):
                yield chunk

        wrapper: Callable[..., Any] = astream
    elif inspect.isgeneratorfunction(method):

        def stream(self: _ChatHolder, *args: Any, **kwargs: Any) -> Iterator[Any]:
            _learn(self, kwargs)
            yield from method(self, *args, **kwargs)

        wrapper = stream
    elif inspect.iscoroutinefunction(method):

        async def agenerate(self: _ChatHolder, *args: Any, **kwargs: Any) -> Any:
            await _alearn(self, kwargs)
            return await method(self, *args, **kwargs)

        wrapper = agenerate
    else:

        def generate(self: _ChatHolder, *args: Any, **kwargs: Any) -> Any:
            _learn(self, kwargs)
            return method(self, *args, **kwargs)

        wrapper = generate
    verb = method.__name__.removeprefix("a")
    wrapper.__name__ = wrapper.__qualname__ = method.__name__
    wrapper.__doc__ = f"Learn the model and server version (once), then {verb} as ChatOpenAI does."
    wrapper.__annotations__ = {
        "args": "Any",
        "kwargs": "Any",
        "return": method.__annotations__.get("return", "Any"),
    }
    return cast("_Method", wrapper)


_Class = TypeVar("_Class", bound=type)


def learns_the_server_first(cls: _Class) -> _Class:
    """Decorate a chat model class: its public entry points learn the model and server first.

    ``generate``, ``agenerate``, ``stream`` and ``astream`` (every other call goes through
    one of them) become the inherited ones behind :func:`_learning_first`.
    """
    for name in ("generate", "agenerate", "stream", "astream"):
        method = _learning_first(getattr(cls, name))
        method.__module__, method.__qualname__ = cls.__module__, f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls


@contextmanager
def explained_errors(client: openai.OpenAI | None, base_url: str) -> Iterator[None]:
    """Re-raise SDK errors from the block as the errors :func:`explain_error` makes.

    For an unknown model the served models are fetched again (through ``client``) so the
    error lists what the server serves now.
    """
    try:
        yield
    except (openai.APIStatusError, openai.APIConnectionError) as error:
        served = (
            served_models(client, refresh=True)
            if client is not None and _unknown_model(error)
            else ()
        )
        if (explained := explain_error(error, base_url, served)) is error:
            raise
        raise explained from error


def _unknown_model(error: Exception) -> bool:
    """Whether ``error`` says the model does not exist (its error then lists the served)."""
    return isinstance(error, openai.NotFoundError) and missing(error) == "model"


@asynccontextmanager
async def aexplained_errors(client: openai.AsyncOpenAI, base_url: str) -> AsyncIterator[None]:
    """Async twin of :func:`explained_errors`."""
    try:
        yield
    except (openai.APIStatusError, openai.APIConnectionError) as error:
        served = await aserved_models(client, refresh=True) if _unknown_model(error) else ()
        if (explained := explain_error(error, base_url, served)) is error:
            raise
        raise explained from error


def context_window(models: Iterable[ServedModel], model: str) -> int | None:
    """``max_model_len`` of ``model``'s card, or of its base model's for a LoRA adapter."""
    models = tuple(models)
    card = next((m for m in models if m.id == model), None)
    base = next((m for m in models if card is not None and m.id == card.parent), None)
    return (card and card.max_model_len) or (base and base.max_model_len) or None


class Server:
    """This vLLM server at this URL, as one model object holds it (its ``_vllm``).

    Built with the object's SDK clients (rebuilt with them after unpickling); what the
    server said is cached per base URL in this module and shared by every object pointed at
    it. The object's own knowledge is the model it discovered (:attr:`discovered`), which a
    pickle leaves behind. Methods taking ``given`` take the model the user named (``None``:
    discover the server's only base model).

    Learning again when the server changed (:meth:`relearn`): two refusals come before any
    generation, so sending the request once more is safe:

    - 404 "the model does not exist" for a model the object *discovered* (``model`` was
      given neither to the object nor to the call): the server behind the URL now serves
      another model (restarted, or a router whose replicas changed). The served models are
      fetched again and the only base model is discovered again.
    - 400 naming a field whose spelling depends on the server's version
      (``_versions.VERSIONED_FIELDS``, e.g. ``max_completion_tokens`` refused by an older
      server): the version is fetched again.

    The request is resent only if what was learned changed (another model, another wire
    format); otherwise, and for a model the user named, the error is raised as it is.
    """

    def __init__(
        self,
        client: openai.OpenAI | None,
        async_client: openai.AsyncOpenAI,
        base_url: str,
        owner: str,
    ) -> None:
        """Hold ``owner``'s (a class name, for messages) clients of the server at ``base_url``.

        ``client`` is ``None`` when only async calls are possible (an async API key).
        """
        self.clients = (client, async_client)
        self.base_url = base_url.rstrip("/")
        self.owner = owner
        self.discovered: str | None = None

    @property
    def client(self) -> openai.OpenAI:
        """The sync SDK client.

        Raises:
            ValueError: There is none (the API key is an async callable).
        """
        client = self.clients[0]
        if client is None:
            msg = (
                f"This {self.owner} has no sync client: its api_key is an async "
                "callable. Use the async methods (ainvoke, astream, …) or pass a string or a "
                "sync callable."
            )
            raise ValueError(msg)
        return client

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        """The async SDK client."""
        return self.clients[1]

    # ------------------------------------------------------------------ served models

    def served_models(self, *, refresh: bool = False) -> tuple[ServedModel, ...]:
        """The served models (base models and LoRA adapters), cached per base URL."""
        return served_models(self.client, refresh=refresh)

    async def aserved_models(self, *, refresh: bool = False) -> tuple[ServedModel, ...]:
        """Async twin of :meth:`served_models`."""
        return await aserved_models(self.async_client, refresh=refresh)

    def lora_adapters(self, *, refresh: bool = False) -> list[ServedModel]:
        """The served LoRA adapters."""
        return [m for m in self.served_models(refresh=refresh) if m.is_adapter]

    def context_window(self, model: str) -> int | None:
        """``max_model_len`` of ``model`` (of its base model for an adapter), if the server says."""
        return context_window(self.served_models(), model)

    def version(self, *, refresh: bool = False) -> str | None:
        """The server's vLLM version (``GET /version``, cached per base URL)."""
        return server_version(self.client, refresh=refresh, stacklevel=5)  # above this frame

    async def aversion(self, *, refresh: bool = False) -> str | None:
        """Async twin of :meth:`version`."""
        return await aserver_version(self.async_client, refresh=refresh, stacklevel=5)

    def wire_format(self) -> _versions.WireFormat:
        """The server's wire format (the newest until its version is known)."""
        known, version = cached_version(self.async_client)
        return _versions.wire_format(version) if known else _versions.NEWEST

    # ------------------------------------------------------------------ discovery

    def model_id(self, given: str | None) -> str | None:
        """The model requests go to: ``given``, else the discovered one (if known)."""
        return given or self.discovered

    def _pick_from(self, given: str | None, models: tuple[ServedModel, ...]) -> None:
        if self.model_id(given) is None:
            self.discovered = default_model(models, self.base_url)

    def pick_model(self, given: str | None) -> str:
        """``given``, or the server's only base model (``/v1/models``, asked once per URL)."""
        if self.model_id(given) is None:
            self._pick_from(given, self.served_models())
        return str(self.model_id(given))

    async def apick_model(self, given: str | None) -> str:
        """Async twin of :meth:`pick_model`."""
        if self.model_id(given) is None:
            self._pick_from(given, await self.aserved_models())
        return str(self.model_id(given))

    def discover(self, given: str | None) -> str:
        """The model to use (:meth:`pick_model`), with the server's version learned."""
        model = self.pick_model(given)
        self.version()
        return model

    async def adiscover(self, given: str | None) -> str:
        """Async twin of :meth:`discover`."""
        model = await self.apick_model(given)
        await self.aversion()
        return model

    def discover_chat(self, given: str | None, call: Mapping[str, Any]) -> str:
        """As :meth:`discover`, plus the served models always (``profile`` reads them).

        A ``call`` with strict tools also learns whether the server is a vllm-router, which
        drops ``strict``, and warns once if so; and warns once when the server's version
        ignores ``strict`` under ``tool_choice="auto"``.
        """
        self.served_models()
        model = self.pick_model(given)
        server_version(self.client)  # (not self.version(): a warning names the caller's frame)
        router = _tools.any_strict(call.get("tools")) and is_vllm_router(self.client)
        self._warn_about_strict(call, router=router)
        return model

    async def adiscover_chat(self, given: str | None, call: Mapping[str, Any]) -> str:
        """Async twin of :meth:`discover_chat`."""
        await self.aserved_models()
        model = await self.apick_model(given)
        await aserver_version(self.async_client)
        router = _tools.any_strict(call.get("tools")) and await ais_vllm_router(self.async_client)
        self._warn_about_strict(call, router=router)
        return model

    def _warn_about_strict(self, call: Mapping[str, Any], *, router: bool) -> None:
        """Warn once each: a ``router`` drops ``strict``; the version ignores it under "auto".

        ``router``: the call has strict tools and the server is a vllm-router.
        """
        if router:
            warn_router_drops_strict(self.base_url, stacklevel=6)  # one frame below discover_chat
        wire = self.wire_format()
        if _tools.any_strict(call.get("tools")) and _versions.strict_ignored(
            wire, call.get("tool_choice")
        ):
            warn_strict_ignored(self.base_url, wire.version)

    # ------------------------------------------------------------------ errors

    def explained_errors(self) -> AbstractContextManager[None]:
        """SDK errors re-raised as errors that say what to do (:func:`explain_error`).

        Unknown model (lists the served ids), prompt too long (``ContextOverflowError``),
        missing tool or reasoning parser (names the flag), wrong API key, unreachable
        server (names the URL).
        """
        return explained_errors(self.clients[0], self.base_url)

    def aexplained_errors(self) -> AbstractAsyncContextManager[None]:
        """Async twin of :meth:`explained_errors`."""
        return aexplained_errors(self.async_client, self.base_url)

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /tokenize`` (:func:`tokenize`)."""
        return tokenize(self.client, body)

    async def atokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        """Async twin of :meth:`tokenize`."""
        return await atokenize(self.async_client, body)

    def probe_status(self, model: str, group: str) -> str:
        """The status of the doctor's ``"tools"`` or ``"reasoning"`` probe (``_probes``)."""
        return _probes.probe_status(self.client, model, self.wire_format(), group)

    # ------------------------------------------------------------------ LoRA adapters

    def load_lora_adapter(self, name: str, path: str) -> None:
        """Load a LoRA adapter (:func:`load_lora_adapter`)."""
        load_lora_adapter(self.client, name, path)

    async def aload_lora_adapter(self, name: str, path: str) -> None:
        """Async twin of :meth:`load_lora_adapter`."""
        await aload_lora_adapter(self.async_client, name, path)

    def unload_lora_adapter(self, name: str) -> None:
        """Unload a runtime-loaded LoRA adapter (:func:`unload_lora_adapter`)."""
        unload_lora_adapter(self.client, name)

    async def aunload_lora_adapter(self, name: str) -> None:
        """Async twin of :meth:`unload_lora_adapter`."""
        await aunload_lora_adapter(self.async_client, name)

    # ------------------------------------------------------------------ a server that changed

    def _discovered_for(self, call: Mapping[str, Any], model_id: Callable[[], str | None]) -> bool:
        """Whether the request went to a model the server was asked for, not one named."""
        return (
            call.get("model") is None
            and self.discovered is not None
            and model_id() == self.discovered
        )

    def _stale(
        self, error: Exception, call: Mapping[str, Any], model_id: Callable[[], str | None]
    ) -> bool:
        if isinstance(error, VLLMModelNotFoundError):
            return self._discovered_for(call, model_id)
        return isinstance(error, openai.BadRequestError) and _versions.names_versioned_field(
            error.message
        )

    def _changed(
        self,
        before: tuple[str | None, _versions.WireFormat],
        models: tuple[ServedModel, ...] | None,
        model_id: Callable[[], str | None],
    ) -> bool:
        if models is not None:
            self.discovered = None
            if model_id() is None:
                try:
                    self.discovered = default_model(models, self.base_url)
                except VLLMModelSelectionError:
                    return False  # several models now: the next call says so, listing them
        return (model_id(), self.wire_format()) != before

    def relearn(
        self, error: Exception, call: Mapping[str, Any], model_id: Callable[[], str | None]
    ) -> bool:
        """After ``error``, learn the server again; whether to send the request once more.

        ``model_id`` reads the holder's model (the one named, else :attr:`discovered`).
        """
        client = self.clients[0]
        if client is None or not self._stale(error, call, model_id):
            return False
        before = (model_id(), self.wire_format())
        refetch = self._discovered_for(call, model_id)
        models = served_models(client, refresh=True) if refetch else None
        server_version(client, refresh=True)
        return self._changed(before, models, model_id)

    async def arelearn(
        self, error: Exception, call: Mapping[str, Any], model_id: Callable[[], str | None]
    ) -> bool:
        """Async twin of :meth:`relearn`."""
        if not self._stale(error, call, model_id):
            return False
        client = self.async_client
        before = (model_id(), self.wire_format())
        refetch = self._discovered_for(call, model_id)
        models = await aserved_models(client, refresh=True) if refetch else None
        await aserver_version(client, refresh=True)
        return self._changed(before, models, model_id)
