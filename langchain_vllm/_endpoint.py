"""Connection settings shared by VLLMEmbeddings, VLLMRerank and VLLMCompletions.

The same defaults as ChatVLLM (``VLLM_API_KEY`` or ``"EMPTY"``, the model discovered from
``/v1/models``), the same pooled, ``OPENAI_*``-free SDK clients (``_http``), the same server
knowledge (``_server``) and the same explained errors. Nothing is fetched at construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, cast

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_vllm import _http, _portable, _server

if TYPE_CHECKING:
    from collections.abc import Callable

    import openai

DEFAULT_BASE_URL = "http://localhost:8000/v1"
"""Where ``vllm serve`` listens by default."""

DEFAULT_API_KEY = "EMPTY"
"""What vLLM accepts when it was started without ``--api-key``."""


def base_url_from_env(*names: str) -> Any:
    """A default factory reading the first set variable of ``names``, else localhost."""
    return from_env(list(names), default=DEFAULT_BASE_URL)


@_portable.travels(client_private=("_client", "_async_client"))
class VLLMEndpoint(BaseModel):
    """Where a vLLM server is and how to talk to it; the base of the companion classes.

    Holds the server as ``_vllm`` (a ``_server.Server``: served models, version, the model
    discovered when none was given and discovered again when the server changed, explained
    errors); the public methods below pass through to it. Pickles and deep copies
    (``_portable``): the SDK clients are rebuilt, not pickled.
    """

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
    _vllm: _server.Server = PrivateAttr()

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
        self._vllm = _server.Server(
            self._client, self.async_client, self.base_url, type(self).__name__
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
        return self.model or self._vllm.discovered

    def _rebuild_clients(self) -> None:
        cast("Callable[[], object]", self._build_clients)()  # a validator, run once more

    def served_models(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """Models the server serves (base models and LoRA adapters), cached per base URL."""
        return list(self._vllm.served_models(refresh=refresh))

    async def aserved_models(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """Async twin of :meth:`served_models`."""
        return list(await self._vllm.aserved_models(refresh=refresh))

    def server_version(self, *, refresh: bool = False) -> str | None:
        """The server's vLLM version (``GET /version``, cached per base URL).

        ``None`` when the server has no ``/version`` (e.g. a router); requests then use the
        newest wire format. ``refresh=True`` asks again (after an upgrade).
        """
        return self._vllm.version(refresh=refresh)

    async def aserver_version(self, *, refresh: bool = False) -> str | None:
        """Async twin of :meth:`server_version`."""
        return await self._vllm.aversion(refresh=refresh)
