"""VLLMCompletions: a LangChain text-completion LLM over a vLLM server's ``/v1/completions``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import model_validator

from langchain_vllm import _request, _server, _streams
from langchain_vllm._endpoint import VLLMEndpoint
from langchain_vllm._request import VLLMSamplingParams, check_sampling

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models.base import LangSmithParams

_PROVIDER = "vllm"

_OPENAI_FIELDS = _request.OPENAI_FIELDS["completions"]
"""Completions-API fields the openai SDK sends as they are (``max_tokens`` first)."""


class VLLMCompletions(VLLMEndpoint, VLLMSamplingParams, BaseLLM):
    r"""Text completion (no chat template) with a vLLM server's ``/v1/completions``.

    The successor of the retired community ``VLLMOpenAI``: the same defaults as
    :class:`~langchain_vllm.ChatVLLM` (``VLLM_BASE_URL``, ``VLLM_API_KEY`` or ``"EMPTY"``, the
    model discovered from ``/v1/models``), vLLM's typed sampling fields, streaming with
    usage, async, and the prompts of one ``batch``/``generate`` call sent as one request for
    vLLM to batch.

    Setup:
        .. code-block:: bash

            vllm serve HuggingFaceTB/SmolLM2-135M
            pip install -U langchain-vllm

    Key init args — completion params:
        model: str | None
            Served model id; discovered when omitted.
        max_tokens: int | None
            Tokens to generate (vLLM's default: 16).
        temperature, top_p, frequency_penalty, presence_penalty, seed, n, logprobs, echo
            OpenAI's completion fields.
        top_k, min_p, repetition_penalty, min_tokens, stop_token_ids, ignore_eos, …
            vLLM's sampling fields (see :class:`~langchain_vllm.sampling.VLLMSamplingParams`),
            range-checked before any request; also accepted per call.
        structured_outputs: dict | None
            A vLLM constraint (``{"choice": [...]}``, ``{"regex": ...}``, ``{"json": ...}``).

    Key init args — client params:
        base_url, api_key, timeout, max_retries, default_headers, proxy
            As for ``ChatVLLM``.
        stream_deadline: float | None
            Seconds a whole streamed completion may take (``VLLMDeadlineError`` after).

    Instantiate:
        .. code-block:: python

            from langchain_vllm import VLLMCompletions

            llm = VLLMCompletions(max_tokens=32, temperature=0)

    Invoke:
        .. code-block:: python

            llm.invoke("The capital of France is")
            llm.invoke("Pick a color:", structured_outputs={"choice": ["red", "blue"]})

    Stream:
        .. code-block:: python

            for text in llm.stream("Once upon a time"):
                print(text, end="")

        With ``stream_deadline`` the whole stream is bounded; what arrived in time is kept:

        .. code-block:: python

            from langchain_vllm import VLLMDeadlineError

            llm = VLLMCompletions(max_tokens=2000, stream_deadline=2.0)
            try:
                for text in llm.stream("Once upon a time"):
                    print(text, end="")
            except VLLMDeadlineError as error:
                print(error.partial.text)  # the text received before the deadline

    Async and batch:
        .. code-block:: python

            await llm.ainvoke("The capital of France is")
            llm.batch(["1 + 1 =", "2 + 2 ="])  # one request, batched by vLLM

    Token usage:
        .. code-block:: python

            result = llm.generate(["The capital of France is"])
            result.llm_output["token_usage"]
            # {'prompt_tokens': 5, 'completion_tokens': 32, 'total_tokens': 37}

    Worker processes:
        Pickles (Ray, Dask, ``multiprocessing``) and deep copies work as for
        :class:`~langchain_vllm.ChatVLLM`; its "Worker processes" section says how
        (connections, the API key, ``http_client``, a model discovered again).
    """

    max_tokens: int | None = None
    """How many tokens to generate (the server's default when ``None``)."""

    temperature: float | None = None
    """Sampling temperature."""

    top_p: float | None = None
    """Nucleus sampling."""

    frequency_penalty: float | None = None
    """Penalty for tokens by how often they were generated (-2 to 2)."""

    presence_penalty: float | None = None
    """Penalty for tokens already generated (-2 to 2)."""

    seed: int | None = None
    """Seed for repeatable sampling."""

    n: int | None = None
    """Completions per prompt."""

    logprobs: int | None = None
    """Log probabilities of this many top tokens per position (in ``generation_info``)."""

    echo: bool | None = None
    """Return the prompt in front of the completion."""

    stop: list[str] | None = None
    """Stop strings (per call: ``stop=[...]``)."""

    structured_outputs: dict[str, Any] | None = None
    """A vLLM constraint for every request (``{"choice": [...]}``, ``{"regex": ...}``, …)."""

    streaming: bool = False
    """Stream internally in ``invoke``/``generate`` too (callbacks see each token)."""

    stream_usage: bool = True
    """Ask for usage on the last streamed chunk (in its ``generation_info``)."""

    extra_body: dict[str, Any] | None = None
    """Any other body fields, sent as given (they win over the typed fields)."""

    stream_deadline: float | None = None
    """Seconds a whole streamed completion may take (not each chunk), as for ``ChatVLLM``.

    When it passes, the stream is closed, so vLLM aborts the generation, and
    ``VLLMDeadlineError`` (a ``ModelTimeoutError``) is raised; ``error.partial`` is a
    ``GenerationChunk`` whose ``text`` is what arrived in time. A stream that breaks off
    (server gone, connection dropped, malformed event) raises
    ``VLLMStreamInterruptedError`` with the same ``partial``."""

    @model_validator(mode="after")
    def _check_values(self) -> Self:
        check_sampling({name: getattr(self, name) for name in _OPENAI_FIELDS})
        if self.structured_outputs is not None:
            _request.check_structured_outputs(self.structured_outputs)
        if self.n is not None and self.n > 1 and self.streaming:
            msg = "n must be 1 when streaming."
            raise ValueError(msg)
        return self

    # ------------------------------------------------------------------ identity

    @property
    def _llm_type(self) -> str:
        return "vllm-completions"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """VLLMCompletions can be serialized (the key as a reference to ``VLLM_API_KEY``)."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_vllm", "llms"]``."""
        return ["langchain_vllm", "llms"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The API key is read from ``VLLM_API_KEY`` when deserializing."""
        return {"api_key": "VLLM_API_KEY"}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model_id, "base_url": self.base_url, **self._body_fields({})}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = _PROVIDER
        params["ls_model_name"] = self.model_id or ""
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        return params

    # ------------------------------------------------------------------ requests

    def _body_fields(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """OpenAI fields (typed, then per call) that are set."""
        fields = {name: getattr(self, name) for name in _OPENAI_FIELDS}
        fields.update({k: kwargs.pop(k) for k in _OPENAI_FIELDS if k in kwargs})
        return {name: value for name, value in fields.items() if value is not None}

    def _payload(
        self, model: str, prompts: list[str], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The ``/v1/completions`` body for ``prompts`` (vLLM batches a list of prompts)."""
        kwargs = dict(kwargs)
        call = _request.pop_call_fields(kwargs, "completions")
        fields = self._body_fields(kwargs)
        check_sampling({**fields, **call})
        vllm_fields = {**self._vllm_fields(), **call}
        if self.structured_outputs is not None:
            vllm_fields.setdefault("structured_outputs", self.structured_outputs)
        if vllm_fields.get("structured_outputs") is not None:
            _request.check_structured_outputs(vllm_fields["structured_outputs"])
        payload: dict[str, Any] = {
            "prompt": prompts if len(prompts) > 1 else prompts[0],
            **fields,
            **kwargs,
        }
        stop = stop if stop is not None else self.stop
        if stop:
            payload["stop"] = stop
        if self.extra_body or "extra_body" in kwargs:
            payload["extra_body"] = {**(self.extra_body or {}), **(kwargs.get("extra_body") or {})}
        return _request.finish_payload(
            payload,
            model=model,
            wire=self._vllm.wire_format(),
            vllm_fields=vllm_fields,
            endpoint="completions",
        )

    def _result(self, response: Any, prompts: list[str]) -> LLMResult:
        body = response.model_dump(warnings=False)
        per_prompt = len(body["choices"]) // max(len(prompts), 1) or 1
        generations: list[list[Generation]] = [[] for _ in prompts]
        for choice in sorted(body["choices"], key=lambda c: c["index"]):
            generations[choice["index"] // per_prompt].append(
                Generation(text=choice["text"], generation_info=_choice_info(choice))
            )
        usage = body.get("usage") or {}
        return LLMResult(
            generations=generations,
            llm_output={
                "token_usage": {k: v for k, v in usage.items() if isinstance(v, int)},
                "model_name": body.get("model"),
                "model_provider": _PROVIDER,
                "system_fingerprint": body.get("system_fingerprint"),
            },
        )

    @_server.resend_if_server_changed
    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        model = self._vllm.discover(self.model)
        if self.streaming:
            return _streamed([list(self._stream(p, stop, run_manager, **kwargs)) for p in prompts])
        payload = self._payload(model, prompts, stop, kwargs)
        with self._vllm.explained_errors():
            response = self.client.completions.create(**payload)
        return self._result(response, prompts)

    @_server.resend_if_server_changed
    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        model = await self._vllm.adiscover(self.model)
        if self.streaming:
            return _streamed(
                [[c async for c in self._astream(p, stop, run_manager, **kwargs)] for p in prompts]
            )
        payload = self._payload(model, prompts, stop, kwargs)
        async with self._vllm.aexplained_errors():
            response = await self.async_client.completions.create(**payload)
        return self._result(response, prompts)

    def _stream_payload(
        self, model: str, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        payload = self._payload(model, [prompt], stop, kwargs)
        payload["stream"] = True
        if self.stream_usage:
            payload["stream_options"] = {"include_usage": True}
        return payload

    @_server.resend_if_server_changed
    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        payload = self._stream_payload(self._vllm.discover(self.model), prompt, stop, kwargs)
        with self._vllm.explained_errors():
            raw = self.client.completions.with_raw_response.create(**payload)
            yield from _streams.read_stream(
                raw.http_response,
                self.client,
                _chunk,
                deadline=self.stream_deadline,
                tell=_streams.teller(run_manager, empty=False),
            )

    @_server.resend_if_server_changed
    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        payload = self._stream_payload(await self._vllm.adiscover(self.model), prompt, stop, kwargs)
        async with self._vllm.aexplained_errors():
            raw = await self.async_client.completions.with_raw_response.create(**payload)
            async for chunk in _streams.aread_stream(
                raw.http_response,
                self.async_client,
                _chunk,
                deadline=self.stream_deadline,
                tell=_streams.teller(run_manager, empty=False),
            ):
                yield chunk


def _streamed(streams: list[list[GenerationChunk]]) -> LLMResult:
    """The result of streaming each prompt: one generation per prompt, its chunks joined."""
    generations = []
    for chunks in streams:
        text, info = "", {}
        for chunk in chunks:
            text += chunk.text
            info.update(chunk.generation_info or {})
        generations.append([Generation(text=text, generation_info=info)])
    return LLMResult(generations=generations, llm_output={"model_provider": _PROVIDER})


def _choice_info(choice: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"finish_reason": choice.get("finish_reason")}
    for name in ("stop_reason", "logprobs", "token_ids", "prompt_token_ids"):
        if choice.get(name) is not None:
            info[name] = choice[name]
    return info


def _chunk(event: dict[str, Any]) -> GenerationChunk | None:
    """One streamed event as a chunk; the usage-only last event carries ``usage``."""
    choices = event.get("choices") or []
    usage = event.get("usage")
    if not choices and not usage:
        return None
    info: dict[str, Any] = {}
    text = ""
    if choices:
        text = choices[0].get("text") or ""
        if choices[0].get("finish_reason") is not None:
            info.update(_choice_info(choices[0]))
    if usage:
        info["usage"] = {k: v for k, v in usage.items() if isinstance(v, int)}
        info["model_name"] = event.get("model")
    return GenerationChunk(text=text, generation_info=info or None)
