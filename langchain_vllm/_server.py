"""The one place that asks a vLLM server about itself (outside chat and embedding calls).

Endpoints: ``GET /v1/models``, ``GET /version``, ``POST /tokenize``, ``GET /health`` and the
runtime LoRA endpoints. What a server serves and its version are learned lazily, once per
base URL, and shared by every model object pointed at that server: constructing a model makes
no network call, and after the first request no lookup is repeated. ``forget`` drops what was
learned (e.g. after a LoRA adapter was loaded or the server was restarted with another model).
A server without ``/version`` (e.g. behind a router) is taken to speak the newest format.

When a refusal shows that the server changed under a model object (restarted serving another
model, upgraded or downgraded), :class:`Relearning` learns it again and the request is sent
once more (``resend_if_server_changed``).
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import openai

from langchain_vllm import _profile, _system_messages, _versions
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


@dataclass(frozen=True)
class ServedModel:
    """One card of ``GET /v1/models``.

    Attributes:
        id: The name to pass as ``model``.
        root: The weights the card was loaded from (a path or hub id).
        parent: For a LoRA adapter, the id of its base model; ``None`` for a base model.
        max_model_len: The context window the server was started with, when it says.
    """

    id: str
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = None

    @property
    def is_adapter(self) -> bool:
        """Whether this card is a LoRA adapter on top of a base model."""
        return self.parent is not None

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> ServedModel:
        """Build from one ``data`` item of ``/v1/models``."""
        max_len = card.get("max_model_len")
        return cls(
            id=str(card["id"]),
            root=card.get("root"),
            parent=card.get("parent"),
            max_model_len=int(max_len) if isinstance(max_len, int) else None,
        )


_models: dict[str, tuple[ServedModel, ...]] = {}
_version_cache: dict[str, str | None] = {}
_routers: dict[str, bool] = {}
_warned_strict: set[str] = set()
_warned_strict_ignored: set[str] = set()
_lock = threading.Lock()


def cache_key(client: openai.OpenAI | openai.AsyncOpenAI) -> str:
    """The key under which facts about ``client``'s server are cached: its base URL."""
    return str(client.base_url).rstrip("/")


def forget(base_url: str | None = None) -> None:
    """Drop what was learned about the server at ``base_url`` (about every server if ``None``).

    What was learned about models' profiles and chat templates is dropped for every server.
    """
    _profile.forget()
    _system_messages.forget()
    with _lock:
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


def _version_of(body: object) -> str | None:
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version is not None else None


def server_version(client: openai.OpenAI, *, refresh: bool = False) -> str | None:
    """The server's vLLM version from ``GET /version`` (cached); ``None`` if it has none.

    Raises:
        VLLMConnectionError: The server could not be reached.
    """
    key = cache_key(client)
    if not refresh and key in _version_cache:
        return _version_cache[key]
    try:
        version = _version_of(client.get(f"{root_url(client)}/version", cast_to=object))
    except openai.NotFoundError:
        version = None  # a router or proxy without /version: assume the newest server
    except (openai.APIConnectionError, openai.APIStatusError) as error:
        raise explain_error(error, key) from error
    return _learned_version(key, version)


def _learned_version(key: str, version: str | None) -> str | None:
    """Cache a server's version; warn when it is older than the oldest one supported."""
    with _lock:
        _version_cache[key] = version
    if _versions.unsupported(version):
        warnings.warn(unsupported_version(key, version), UserWarning, stacklevel=4)
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


async def aserver_version(client: openai.AsyncOpenAI, *, refresh: bool = False) -> str | None:
    """Async twin of :func:`server_version`."""
    key = cache_key(client)
    if not refresh and key in _version_cache:
        return _version_cache[key]
    try:
        body = await client.get(f"{root_url(client)}/version", cast_to=object)
        version = _version_of(body)
    except openai.NotFoundError:
        version = None
    except (openai.APIConnectionError, openai.APIStatusError) as error:
        raise explain_error(error, key) from error
    return _learned_version(key, version)


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


def warn_router_drops_strict(base_url: str) -> None:
    """Warn (once per base URL) that strict tools lose their ``strict`` at a vllm-router."""
    with _lock:
        if base_url in _warned_strict:
            return
        _warned_strict.add(base_url)
    warnings.warn(router_drops_strict(base_url), UserWarning, stacklevel=4)


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
    warnings.warn(strict_ignored(base_url, version), UserWarning, stacklevel=4)


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


def _parse(page: Iterable[Any]) -> tuple[ServedModel, ...]:
    return tuple(ServedModel.from_card(card.model_dump()) for card in page)


def served_models(client: openai.OpenAI, *, refresh: bool = False) -> tuple[ServedModel, ...]:
    """Return the models served at ``client``'s base URL (cached after the first call).

    Raises:
        VLLMConnectionError: The server could not be reached.
    """
    key = cache_key(client)
    if not refresh and (known := _models.get(key)) is not None:
        return known
    try:
        models = _parse(client.models.list())
    except (openai.APIConnectionError, openai.APIStatusError) as error:
        raise explain_error(error, key) from error
    with _lock:
        _models[key] = models
    return models


async def aserved_models(
    client: openai.AsyncOpenAI, *, refresh: bool = False
) -> tuple[ServedModel, ...]:
    """Async twin of :func:`served_models`."""
    key = cache_key(client)
    if not refresh and (known := _models.get(key)) is not None:
        return known
    try:
        models = _parse([card async for card in client.models.list()])
    except (openai.APIConnectionError, openai.APIStatusError) as error:
        raise explain_error(error, key) from error
    with _lock:
        _models[key] = models
    return models


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


class Relearning:
    """Learning the server again when a refusal shows it changed (mixed into every class).

    Two refusals come before any generation, so sending the request once more is safe:

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

    if TYPE_CHECKING:
        _discovered_model: str | None

        @property
        def model_id(self) -> str | None: ...
        def _wire_format(self) -> _versions.WireFormat: ...
        def _server_clients(self) -> tuple[openai.OpenAI | None, openai.AsyncOpenAI]: ...
        def _pick_model_from(self, models: tuple[ServedModel, ...]) -> None: ...

    def _discovered(self, call: Mapping[str, Any]) -> bool:
        """Whether the request went to a model the server was asked for, not one named."""
        return (
            call.get("model") is None
            and self._discovered_model is not None
            and self.model_id == self._discovered_model
        )

    def _stale(self, error: Exception, call: Mapping[str, Any]) -> bool:
        if isinstance(error, VLLMModelNotFoundError):
            return self._discovered(call)
        return isinstance(error, openai.BadRequestError) and _versions.names_versioned_field(
            error.message
        )

    def _changed(
        self,
        before: tuple[str | None, _versions.WireFormat],
        models: tuple[ServedModel, ...] | None,
    ) -> bool:
        if models is not None:
            self._discovered_model = None
            try:
                self._pick_model_from(models)
            except VLLMModelSelectionError:
                return False  # several models now: the next call says so, listing them
        return (self.model_id, self._wire_format()) != before

    def _relearn(self, error: Exception, call: Mapping[str, Any]) -> bool:
        """After ``error``, learn the server again; whether to send the request once more."""
        client = self._server_clients()[0]
        if client is None or not self._stale(error, call):
            return False
        before = (self.model_id, self._wire_format())
        models = served_models(client, refresh=True) if self._discovered(call) else None
        server_version(client, refresh=True)
        return self._changed(before, models)

    async def _arelearn(self, error: Exception, call: Mapping[str, Any]) -> bool:
        """Async twin of :meth:`_relearn`."""
        if not self._stale(error, call):
            return False
        client = self._server_clients()[1]
        before = (self.model_id, self._wire_format())
        models = await aserved_models(client, refresh=True) if self._discovered(call) else None
        await aserver_version(client, refresh=True)
        return self._changed(before, models)


_Method = TypeVar("_Method", bound="Callable[..., Any]")


def resend_if_server_changed(method: _Method) -> _Method:  # noqa: C901 - four call shapes
    """Decorate a request method of a :class:`Relearning` class: resend once on a change.

    Works for plain and async methods and for sync and async generators (streams); a stream
    is resent only when it failed before its first chunk. The method's keyword arguments
    are the call's (a ``model`` among them means the user named the model).
    """
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def astream(self: Relearning, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            started = False
            try:
                async for item in method(self, *args, **kwargs):
                    started = True
                    yield item
            except Exception as error:
                if started or not await self._arelearn(error, kwargs):
                    raise
            else:
                return
            async for item in method(self, *args, **kwargs):
                yield item

        return cast("_Method", astream)
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(self: Relearning, *args: Any, **kwargs: Any) -> Iterator[Any]:
            started = False
            try:
                for item in method(self, *args, **kwargs):
                    started = True
                    yield item
            except Exception as error:
                if started or not self._relearn(error, kwargs):
                    raise
            else:
                return
            yield from method(self, *args, **kwargs)

        return cast("_Method", stream)
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def acall(self: Relearning, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as error:
                if not await self._arelearn(error, kwargs):
                    raise
            return await method(self, *args, **kwargs)

        return cast("_Method", acall)

    @functools.wraps(method)
    def call(self: Relearning, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            if not self._relearn(error, kwargs):
                raise
        return method(self, *args, **kwargs)

    return cast("_Method", call)


@contextmanager
def explained_errors(client: openai.OpenAI | None, base_url: str) -> Iterator[None]:
    """Re-raise SDK errors from the block as the errors :func:`explain_error` makes.

    For an unknown model the served models are fetched again (through ``client``) so the
    error lists what the server serves now.
    """
    try:
        yield
    except (openai.APIStatusError, openai.APIConnectionError) as error:
        served: tuple[ServedModel, ...] = ()
        if (
            isinstance(error, openai.NotFoundError)
            and client is not None
            and missing(error) == "model"
        ):
            served = served_models(client, refresh=True)
        explained = explain_error(error, base_url, served)
        if explained is error:
            raise
        raise explained from error


@asynccontextmanager
async def aexplained_errors(client: openai.AsyncOpenAI, base_url: str) -> AsyncIterator[None]:
    """Async twin of :func:`explained_errors`."""
    try:
        yield
    except (openai.APIStatusError, openai.APIConnectionError) as error:
        served: tuple[ServedModel, ...] = ()
        if isinstance(error, openai.NotFoundError) and missing(error) == "model":
            served = await aserved_models(client, refresh=True)
        explained = explain_error(error, base_url, served)
        if explained is error:
            raise
        raise explained from error


def context_window(models: Iterable[ServedModel], model: str) -> int | None:
    """``max_model_len`` of ``model``'s card, or of its base model's for a LoRA adapter."""
    models = tuple(models)
    card = next((m for m in models if m.id == model), None)
    base = next((m for m in models if card is not None and m.id == card.parent), None)
    return (card and card.max_model_len) or (base and base.max_model_len) or None
