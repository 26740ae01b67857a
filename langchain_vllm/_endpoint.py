"""Connection settings shared by VLLMEmbeddings, VLLMRerank and VLLMCompletions.

The same defaults as ChatVLLM (``VLLM_API_KEY`` or ``"EMPTY"``, the model discovered from
``/v1/models``), the same pooled, ``OPENAI_*``-free SDK clients (``_http``), the same server
knowledge (``_server``) and the same explained errors. Nothing is fetched at construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, cast

from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_vllm import _http, _server, _versions
from langchain_vllm._portable import Portable

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager, AbstractContextManager

    import openai

DEFAULT_BASE_URL = "http://localhost:8000/v1"
"""Where ``vllm serve`` listens by default."""

DEFAULT_API_KEY = "EMPTY"
"""What vLLM accepts when it was started without ``--api-key``."""


def base_url_from_env(*names: str) -> Any:
    """A default factory reading the first set variable of ``names``, else localhost."""
    return from_env(list(names), default=DEFAULT_BASE_URL)


class VLLMServer(_server.Relearning):
    """What every vLLM model class knows about its server, asked lazily and cached per URL.

    The served models (base models and LoRA adapters), the server's version and wire
    format, the model discovered when none was given (and discovered again when the server
    changed: ``_server.Relearning``), and SDK errors explained. A class using it gives its
    SDK clients (``_server_clients``), its base URL (``_base_url``) and a ``model_id``; its
    ``_discovered_model`` holds the model found on the server. ChatVLLM adds
    :class:`LoraAdapters`.
    """

    def _server_clients(self) -> tuple[openai.OpenAI | None, openai.AsyncOpenAI]:
        """The sync (``None`` when only async is possible) and async SDK clients."""
        raise NotImplementedError

    def _base_url(self) -> str:
        """The server URL with ``/v1``, without a trailing slash."""
        raise NotImplementedError

    def _sync_sdk_client(self) -> openai.OpenAI:
        """The sync SDK client.

        Raises:
            ValueError: There is none (the API key is an async callable).
        """
        client = self._server_clients()[0]
        if client is None:
            msg = (
                f"This {type(self).__name__} has no sync client: its api_key is an async "
                "callable. Use the async methods (ainvoke, astream, …) or pass a string or a "
                "sync callable."
            )
            raise ValueError(msg)
        return client

    def _async_sdk_client(self) -> openai.AsyncOpenAI:
        """The async SDK client."""
        return self._server_clients()[1]

    # ------------------------------------------------------------------ served models

    def _served_models(self, *, refresh: bool = False) -> tuple[_server.ServedModel, ...]:
        return _server.served_models(self._sync_sdk_client(), refresh=refresh)

    async def _aserved_models(self, *, refresh: bool = False) -> tuple[_server.ServedModel, ...]:
        return await _server.aserved_models(self._async_sdk_client(), refresh=refresh)

    def served_models(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """Models the server serves (base models and LoRA adapters), cached per base URL."""
        return list(self._served_models(refresh=refresh))

    async def aserved_models(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """Async twin of :meth:`served_models`."""
        return list(await self._aserved_models(refresh=refresh))

    def server_version(self, *, refresh: bool = False) -> str | None:
        """The server's vLLM version (``GET /version``, cached per base URL).

        ``None`` when the server has no ``/version`` (e.g. a router); requests then use the
        newest wire format. ``refresh=True`` asks again (after an upgrade).
        """
        return _server.server_version(self._sync_sdk_client(), refresh=refresh)

    async def aserver_version(self, *, refresh: bool = False) -> str | None:
        """Async twin of :meth:`server_version`."""
        return await _server.aserver_version(self._async_sdk_client(), refresh=refresh)

    def _wire_format(self) -> _versions.WireFormat:
        """The server's wire format (the newest until its version is known)."""
        known, version = _server.cached_version(self._async_sdk_client())
        return _versions.wire_format(version) if known else _versions.NEWEST

    # ------------------------------------------------------------------ discovery

    def _pick_model_from(self, models: tuple[_server.ServedModel, ...]) -> None:
        """Pick the model from ``models`` (the only base model) unless one is known."""
        if self.model_id is None:
            self._discovered_model = _server.default_model(models, self._base_url())

    def _pick_model(self) -> str:
        """``model``, or the server's only base model (``/v1/models``, asked once per URL)."""
        if self.model_id is None:
            self._pick_model_from(self._served_models())
        return str(self.model_id)

    async def _apick_model(self) -> str:
        """Async twin of :meth:`_pick_model`."""
        if self.model_id is None:
            self._pick_model_from(await self._aserved_models())
        return str(self.model_id)

    def _discover_model(self) -> str:
        """The model to use (:meth:`_pick_model`), with the server's version learned."""
        model = self._pick_model()
        _server.server_version(self._sync_sdk_client())
        return model

    async def _adiscover_model(self) -> str:
        """Async twin of :meth:`_discover_model`."""
        model = await self._apick_model()
        await _server.aserver_version(self._async_sdk_client())
        return model

    # ------------------------------------------------------------------ errors

    def _explained_errors(self) -> AbstractContextManager[None]:
        """SDK errors re-raised as errors that say what to do (``_server.explain_error``).

        Unknown model (lists the served ids), prompt too long (``ContextOverflowError``),
        missing tool or reasoning parser (names the flag), wrong API key, unreachable
        server (names the URL).
        """
        return _server.explained_errors(self._server_clients()[0], self._base_url())

    def _aexplained_errors(self) -> AbstractAsyncContextManager[None]:
        """Async twin of :meth:`_explained_errors`."""
        return _server.aexplained_errors(self._async_sdk_client(), self._base_url())


class LoraAdapters(VLLMServer):
    """ChatVLLM's LoRA adapter management: list, load and unload adapters on the server."""

    def lora_adapters(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """The served LoRA adapters; each one's ``parent`` is its base model.

        Pass an adapter's ``id`` as ``model`` to generate with it.
        """
        return [m for m in self._served_models(refresh=refresh) if m.is_adapter]

    def load_lora_adapter(self, name: str, path: str) -> None:
        """Load a LoRA adapter into the running server under ``name`` (``path`` on the server).

        Needs a server started with ``--enable-lora`` and
        ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``; afterwards ``model=name`` uses it. The
        cached model list is refreshed.
        """
        _server.load_lora_adapter(self._sync_sdk_client(), name, path)

    async def aload_lora_adapter(self, name: str, path: str) -> None:
        """Async twin of :meth:`load_lora_adapter`."""
        await _server.aload_lora_adapter(self._async_sdk_client(), name, path)

    def unload_lora_adapter(self, name: str) -> None:
        """Unload the runtime-loaded LoRA adapter ``name`` (see :meth:`load_lora_adapter`)."""
        _server.unload_lora_adapter(self._sync_sdk_client(), name)

    async def aunload_lora_adapter(self, name: str) -> None:
        """Async twin of :meth:`unload_lora_adapter`."""
        await _server.aunload_lora_adapter(self._async_sdk_client(), name)


class VLLMEndpoint(Portable, VLLMServer):
    """Where a vLLM server is and how to talk to it; the base of the companion classes.

    Pickles and deep copies (``_portable``): the SDK clients are rebuilt, not pickled. A
    discovered model the server no longer serves is discovered again
    (``_server.Relearning``).
    """

    _client_private = ("_client", "_async_client")

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    model: str | None = None
    """Served model id; discovered from ``/v1/models`` on first use when omitted (the
    server's only base model)."""

    base_url: str = Field(default_factory=base_url_from_env("VLLM_BASE_URL"))
    """Server URL including ``/v1``."""

    api_key: SecretStr = Field(
        default_factory=secret_from_env("VLLM_API_KEY", default=DEFAULT_API_KEY)
    )
    """``--api-key`` of the server; default from ``VLLM_API_KEY``, else ``"EMPTY"``."""

    timeout: float | None = None
    """Request timeout in seconds (the openai SDK's default when ``None``)."""

    max_retries: int = 2
    """Retries on connection errors and 408/409/429/5xx answers."""

    default_headers: dict[str, str] | None = None
    """Headers sent with every request (e.g. a routing or session header)."""

    proxy: str | None = None
    """Explicit HTTP proxy (``OPENAI_PROXY`` is not read)."""

    http_client: Any = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` (of the library the openai SDK uses)."""

    http_async_client: Any = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient``."""

    _client: openai.OpenAI | None = PrivateAttr(default=None)
    _async_client: openai.AsyncOpenAI | None = PrivateAttr(default=None)
    _discovered_model: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_clients(self) -> Self:
        self._client, self._async_client = _http.build_clients(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            default_headers=self.default_headers,
            proxy=self.proxy,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )
        return self

    @property
    def client(self) -> openai.OpenAI:
        """The sync openai SDK client for the server."""
        if self._client is None:  # pragma: no cover - keys are always SecretStr here
            msg = "No sync client."
            raise RuntimeError(msg)
        return self._client

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        """The async openai SDK client for the server."""
        if self._async_client is None:  # pragma: no cover - built by the validator
            msg = "No async client."
            raise RuntimeError(msg)
        return self._async_client

    @property
    def model_id(self) -> str | None:
        """The model requests go to: ``model`` if given, else the discovered one (if known)."""
        return self.model or self._discovered_model

    def _rebuild_clients(self) -> None:
        cast("Callable[[], object]", self._build_clients)()  # a validator, run once more

    def _server_clients(self) -> tuple[openai.OpenAI | None, openai.AsyncOpenAI]:
        return self.client, self.async_client

    def _base_url(self) -> str:
        return self.base_url.rstrip("/")
