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
import re
import threading
import warnings
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import openai
from langchain_core.exceptions import ModelError

from langchain_vllm import _flags, _profile, _system_messages, _versions
from langchain_vllm._http import httpx
from langchain_vllm.errors import (
    VLLMAuthenticationError,
    VLLMConnectionError,
    VLLMContextOverflowError,
    VLLMInvalidRequestError,
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
    VLLMNotFoundError,
    VLLMRateLimitError,
    VLLMServerError,
    VLLMTimeoutError,
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
        else:
            _models.pop(base_url.rstrip("/"), None)
            _version_cache.pop(base_url.rstrip("/"), None)
            _routers.pop(base_url.rstrip("/"), None)
            _warned_strict.discard(base_url.rstrip("/"))


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
    with _lock:
        _version_cache[key] = version
    return version


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
    with _lock:
        _version_cache[key] = version
    return version


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


_LORA_HINT = f"Runtime LoRA updates need a server started with {_flags.LORA_RUNTIME_SETUP}."


def _lora_error(error: openai.APIStatusError, action: str) -> Exception:
    body = error.body if isinstance(error.body, dict) else {}
    if isinstance(error, openai.NotFoundError) and body.get("detail") == "Not Found":
        return RuntimeError(f"The server has no /v1/{action} endpoint. {_LORA_HINT}")
    return error


def load_lora_adapter(client: openai.OpenAI, name: str, path: str) -> None:
    """``POST /v1/load_lora_adapter``, then forget the cached model list.

    Raises:
        RuntimeError: The server does not allow runtime LoRA updates (says how to enable).
    """
    body = {"lora_name": name, "lora_path": path}
    try:
        client.post("/load_lora_adapter", body=body, cast_to=object)
    except openai.APIStatusError as error:
        raise _lora_error(error, "load_lora_adapter") from error
    forget(cache_key(client))


async def aload_lora_adapter(client: openai.AsyncOpenAI, name: str, path: str) -> None:
    """Async twin of :func:`load_lora_adapter`."""
    body = {"lora_name": name, "lora_path": path}
    try:
        await client.post("/load_lora_adapter", body=body, cast_to=object)
    except openai.APIStatusError as error:
        raise _lora_error(error, "load_lora_adapter") from error
    forget(cache_key(client))


def unload_lora_adapter(client: openai.OpenAI, name: str) -> None:
    """``POST /v1/unload_lora_adapter``, then forget the cached model list."""
    try:
        client.post("/unload_lora_adapter", body={"lora_name": name}, cast_to=object)
    except openai.APIStatusError as error:
        raise _lora_error(error, "unload_lora_adapter") from error
    forget(cache_key(client))


async def aunload_lora_adapter(client: openai.AsyncOpenAI, name: str) -> None:
    """Async twin of :func:`unload_lora_adapter`."""
    try:
        await client.post("/unload_lora_adapter", body={"lora_name": name}, cast_to=object)
    except openai.APIStatusError as error:
        raise _lora_error(error, "unload_lora_adapter") from error
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


def describe(models: Iterable[ServedModel]) -> str:
    """List served ids the way error messages show them: base models, then LoRA adapters."""
    models = tuple(models)
    bases = [m.id for m in models if not m.is_adapter]
    adapters = [f"{m.id} (LoRA on {m.parent})" for m in models if m.is_adapter]
    parts = [f"base models: {', '.join(bases) or 'none'}"]
    if adapters:
        parts.append(f"LoRA adapters: {', '.join(adapters)}")
    return "; ".join(parts)


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


def connection_error(base_url: str, error: openai.APIConnectionError) -> VLLMConnectionError:
    """Wrap an SDK connection error into one that names the URL tried and what to do."""
    failure = VLLMConnectionError(
        message=(
            f"Could not connect to the vLLM server at {base_url} ({error.__cause__ or error}). "
            "Check that it is running (`vllm serve <model>`) and that base_url / VLLM_BASE_URL "
            "points at it, including the /v1 suffix."
        ),
        request=error.request,
    )
    failure.base_url = base_url
    return failure


_CONTEXT = re.compile(r"maximum context length is (\d+) tokens")
_PROMPT_TOKENS = (
    re.compile(r"prompt contains (?:at least )?(\d+) input tokens"),
    re.compile(r"request has (\d+) input tokens"),
    re.compile(r"\((\d+) in the messages"),
)
_OUTPUT_TOO_LONG = re.compile(r"(max_\w*tokens)=(\d+) cannot be greater than max_model_len=(\d+)")


def _first_int(patterns: Iterable[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        if match := pattern.search(text):
            return int(match.group(1))
    return None


def _explain_bad_request(error: openai.BadRequestError, base_url: str) -> Exception:
    message = error.message
    if context := _CONTEXT.search(message):
        overflow = VLLMContextOverflowError(
            message=(
                f"{message} (server {base_url}). Shorten the input (chat: trim or summarize "
                "earlier messages, lower max_tokens; embeddings and rerank: set "
                f"truncate_prompt_tokens), or serve the model with a larger {_flags.MAX_MODEL_LEN}."
            ),
            response=error.response,
            body=error.body,
        )
        overflow.max_context_tokens = int(context.group(1))
        overflow.prompt_tokens = _first_int(_PROMPT_TOKENS, message)
        return overflow
    if any(flag in message for flag in _flags.TOOL_FLAGS):
        return VLLMInvalidRequestError(
            message=(
                f"{message}. The vLLM server at {base_url} was started without a tool-call "
                f"parser: restart it with `{_flags.TOOL_SETUP}` (the parser matching the "
                f"model's chat template, e.g. {_flags.examples(_flags.TOOL_PARSERS)}), or use "
                "with_structured_output(...) with method='json_schema', which needs no parser."
            ),
            response=error.response,
            body=error.body,
        )
    if _flags.REASONING_PARSER in message:
        return VLLMInvalidRequestError(
            message=(
                f"{message} The vLLM server at {base_url} runs without a reasoning parser: "
                f"restart it with `{_flags.REASONING_SETUP}` for the model (e.g. "
                f"{_flags.examples(_flags.REASONING_PARSERS)}), or leave out "
                "thinking_token_budget."
            ),
            response=error.response,
            body=error.body,
        )
    if _system_messages.is_refusal(message):
        return VLLMInvalidRequestError(
            message=f"{message} ({base_url}). {_system_messages.SETTING_HINT}",
            response=error.response,
            body=error.body,
        )
    if too_long := _OUTPUT_TOO_LONG.search(message):
        message = (
            f"{message} Pass max_tokens <= {too_long.group(3)} (the server's max_model_len), "
            "including room for the prompt."
        )
    elif "matryoshka" in message.lower():
        message = (
            f"{message} Leave dimensions unset for this model, or serve a Matryoshka "
            "embedding model to get shorter vectors."
        )
    elif isinstance(error, ModelError):
        return error  # already in langchain-core's taxonomy (langchain-openai wrapped it)
    return VLLMInvalidRequestError(message=message, response=error.response, body=error.body)


def explain_error(error: Exception, base_url: str, served: Iterable[ServedModel] = ()) -> Exception:
    """Turn an SDK error into one that says what to do, or return ``error`` unchanged.

    - 404 for the model → :class:`VLLMModelNotFoundError` listing ``served``.
    - Prompt too long (every vLLM wording of "maximum context length is N tokens") →
      :class:`VLLMContextOverflowError` with the server's numbers.
    - Tools asked of a server without a tool-call parser, or a reasoning field of one
      without a reasoning parser → :class:`VLLMInvalidRequestError` naming the flag to add.
    - 401 → :class:`VLLMAuthenticationError` saying where the key comes from.
    - Connection failure (not a timeout) → :class:`VLLMConnectionError` naming ``base_url``.
    """
    served = tuple(served)
    if isinstance(error, openai.NotFoundError) and served and _about_model(error):
        failure = VLLMModelNotFoundError(
            message=(
                f"{error.message} The vLLM server at {base_url} serves {describe(served)}. "
                "Pass one of these as model=..."
            ),
            response=error.response,
            body=error.body,
        )
        failure.served = tuple(m.id for m in served)
        return failure
    if isinstance(error, openai.BadRequestError):
        return _explain_bad_request(error, base_url)
    if isinstance(error, openai.AuthenticationError):
        return VLLMAuthenticationError(
            message=(
                f"The vLLM server at {base_url} rejected the API key ({error.message}). It "
                "was started with --api-key: set VLLM_API_KEY or pass api_key=... with that "
                "key (OPENAI_API_KEY is never used)."
            ),
            response=error.response,
            body=error.body,
        )
    return _in_taxonomy(error, base_url)


_STATUS_ERRORS: tuple[tuple[type[openai.APIStatusError], type[openai.APIStatusError]], ...] = (
    (openai.RateLimitError, VLLMRateLimitError),
    (openai.InternalServerError, VLLMServerError),
    (openai.NotFoundError, VLLMNotFoundError),
)


def _in_taxonomy(error: Exception, base_url: str) -> Exception:
    """The remaining SDK errors as langchain-core's (timeouts, connection, 429, 5xx, 404)."""
    if isinstance(error, ModelError):
        return error
    if isinstance(error, openai.APITimeoutError) and isinstance(
        error.__cause__, httpx.ConnectTimeout
    ):
        return connection_error(base_url, error)  # never connected: the server is not there
    if isinstance(error, openai.APITimeoutError):
        return VLLMTimeoutError(request=error.request)
    if isinstance(error, openai.APIConnectionError):
        return connection_error(base_url, error)
    if isinstance(error, openai.APIStatusError):
        for sdk_class, ours in _STATUS_ERRORS:
            if isinstance(error, sdk_class):
                return ours(message=error.message, response=error.response, body=error.body)
    return error


def _about_model(error: openai.NotFoundError) -> bool:
    """Whether a 404 is vLLM's "the model does not exist" (not a missing route)."""
    return "model" in error.message.lower()


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
        def _learned(self, models: tuple[ServedModel, ...]) -> None: ...

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
                self._learned(models)
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
        if isinstance(error, openai.NotFoundError) and client is not None and _about_model(error):
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
        if isinstance(error, openai.NotFoundError) and _about_model(error):
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
