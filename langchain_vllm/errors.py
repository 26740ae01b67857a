"""Errors raised by langchain-vllm.

Each one is also the matching ``openai`` SDK error (so existing ``except openai.…`` code keeps
working) and the matching ``langchain_core.exceptions`` class (so provider-neutral code can
catch ``ContextOverflowError``, ``ModelNotFoundError``, ``ModelConnectionError`` …). Messages
say what happened and what to do next.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import openai
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelTimeoutError,
    OutputParserException,
)
from openai import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)

from langchain_vllm import _flags
from langchain_vllm._http import ERROR_IN_OK, httpx

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from langchain_vllm._served import ServedModel


class VLLMModelNotFoundError(NotFoundError, ModelNotFoundError):
    """The server does not serve the requested model; ``served`` lists what it does serve."""

    served: tuple[str, ...] = ()


class VLLMConnectionError(APIConnectionError, ModelConnectionError):
    """The vLLM server could not be reached; ``base_url`` is the address that was tried."""

    base_url: str = ""


class VLLMModelSelectionError(ModelInvalidRequestError, ValueError):
    """No ``model`` was given and the server's model list does not single one out."""


class VLLMContextOverflowError(BadRequestError, ContextOverflowError):
    """The prompt (plus the requested output) does not fit the model's context window.

    Attributes:
        max_context_tokens: The server's context window (``max_model_len``), if stated.
        prompt_tokens: The prompt's size in tokens, if the server said (a lower bound when
            the message says "at least").
    """

    max_context_tokens: int | None = None
    prompt_tokens: int | None = None


class VLLMInvalidRequestError(BadRequestError, ModelInvalidRequestError):
    """The server rejected the request; the message says which setting or flag to change."""


class VLLMAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """The server was started with ``--api-key`` and the key sent does not match."""


class VLLMNotFoundError(NotFoundError, ModelNotFoundError):
    """404 for something other than the model (e.g. an endpoint the server does not have)."""


class VLLMRateLimitError(RateLimitError, ModelRateLimitError):
    """429: the server (or a router in front of it) is overloaded; retry later."""


class VLLMServerError(InternalServerError, ModelAPIError):
    """5xx: the server failed (an engine error, or a router with no healthy replica)."""


class VLLMTimeoutError(APITimeoutError, ModelTimeoutError):
    """The request timed out (raise ``timeout``, or ask for fewer tokens)."""


class VLLMStreamInterruptedError(APIConnectionError, ModelConnectionError):
    """A streamed answer broke off (server gone, connection dropped, engine error).

    ``partial`` holds what arrived before the break (an ``AIMessageChunk`` from ``ChatVLLM``,
    a ``GenerationChunk`` from ``VLLMCompletions``, or ``None`` when nothing did), so the text
    received is not lost: ``error.partial.text``.
    """

    partial: Any = None


class VLLMDeadlineError(VLLMTimeoutError):
    """A streamed answer ran past ``stream_deadline``.

    The stream was closed, so vLLM aborts the generation. ``partial`` holds what arrived in
    time.
    """

    partial: Any = None


class VLLMAnswerCutError(OutputParserException):
    """An answer stopped at its output limit before it was complete.

    Raised for a structured answer (``with_structured_output``) that was cut, and for a
    stream cut in the middle of a tool call. A ``langchain_core`` ``OutputParserException``,
    so ``include_raw=True`` reports it as ``parsing_error``, and ``with_retry``,
    ``with_fallbacks`` and the agent middleware for retries and fallbacks handle it.

    Attributes:
        partial: The answer as far as it got (an ``AIMessage``; a cut tool call is in its
            ``invalid_tool_calls``).
        llm_output: The partial text.
        finish_reason: What the server said: ``"length"`` (``max_tokens``),
            ``"repetition"`` (vLLM's ``repetition_detection``), or ``"max_output_tokens"``
            (the Responses API's ``incomplete_details.reason``).
        max_tokens: The ``max_tokens`` in force, when known.
    """

    partial: Any = None
    finish_reason: str | None = None
    max_tokens: int | None = None


class VLLMAbortedError(APIError, ModelAPIError):
    """vLLM aborted the answer before its end (``finish_reason="abort"``).

    The engine stops requests this way when it fails or when the request is cancelled or
    preempted on the server; sending the request again usually works. ``partial`` holds the
    answer as far as it got (an ``AIMessage``).
    """

    partial: Any = None


# ------------------------------------------------------------------ server answers as errors
# The one translation of what a vLLM server answers into the errors above: _server applies
# it around every request; the doctor and VLLMRerank ask it about 404s.


def describe(models: Iterable[ServedModel]) -> str:
    """List served ids the way error messages show them: base models, then LoRA adapters."""
    models = tuple(models)
    bases = [m.id for m in models if not m.is_adapter]
    adapters = [f"{m.id} (LoRA on {m.parent})" for m in models if m.is_adapter]
    parts = [f"base models: {', '.join(bases) or 'none'}"]
    if adapters:
        parts.append(f"LoRA adapters: {', '.join(adapters)}")
    return "; ".join(parts)


def missing(error: openai.APIStatusError) -> Literal["route", "model"] | None:
    """What a 404 says is missing: ``"route"``, ``"model"``, or ``None`` (not a 404 of either).

    The one reading of vLLM's 404s. FastAPI's own ``{"detail": "Not Found"}`` means the server
    did not mount the endpoint (no such route: the doctor, the LoRA calls and VLLMRerank's
    fallback paths ask this); vLLM's "The model ... does not exist" means the model is not
    served (the request's ``model`` is rediscovered or listed in the error).
    """
    if error.status_code != 404:  # noqa: PLR2004
        return None
    body = error.body if isinstance(error.body, dict) else {}
    if body.get("detail") == "Not Found":
        return "route"
    return "model" if "model" in error.message.lower() else None


_LORA_HINT = f"Runtime LoRA updates need a server started with {_flags.LORA_RUNTIME_SETUP}."


def lora_error(error: openai.APIStatusError, action: str) -> Exception:
    """A refused runtime LoRA update: a missing route says how to allow them."""
    if missing(error) == "route":
        return RuntimeError(f"The server has no /v1/{action} endpoint. {_LORA_HINT}")
    return error


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


# How each vLLM release words "the prompt does not fit the context window": (the releases
# that say it, the wording with the window as `context` and, when stated, the prompt's
# tokens as `prompt`). Read in this order; the last line catches any other wording that
# names the window. 0.16 and 0.32 were seen for real; the ranges come from the releases'
# source.
_CONTEXT_OVERFLOW: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "0.18 to 0.32, prompt tokens",
        re.compile(
            r"maximum context length is (?P<context>\d+) tokens\. However, your prompt "
            r"contains (?:at least )?(?P<prompt>\d+) input tokens"
        ),
    ),
    (
        "0.16 to 0.17, prompt tokens",
        re.compile(
            r"You passed (?P<prompt>\d+) input tokens and requested \d+ output tokens\. "
            r"However, the model's context length is only (?P<context>\d+) tokens"
        ),
    ),
    (
        "0.16 to 0.17, prompt text longer than the window could hold in any tokenization",
        re.compile(
            r"You passed \d+ input characters and requested \d+ output tokens\. "
            r"However, the model's context length is only (?P<context>\d+) tokens"
        ),
    ),
    (
        "0.18 and earlier: the prompt, or prompt plus max_tokens",
        re.compile(
            r"maximum context length is (?P<context>\d+) tokens(?:\. However,| and) your "
            r"request has (?P<prompt>\d+) input tokens"
        ),
    ),
    (
        "0.18 and earlier: embeddings, score, classification",
        re.compile(
            r"maximum context length is (?P<context>\d+) tokens\. However, you requested "
            r"(?P<prompt>\d+) tokens in the input"
        ),
    ),
    (
        "older releases: prompt plus completion",
        re.compile(
            r"maximum context length is (?P<context>\d+) tokens\. However, you requested "
            r"\d+ tokens \((?P<prompt>\d+) in the messages"
        ),
    ),
    ("any other wording", re.compile(r"maximum context length is (?P<context>\d+) tokens")),
)

# max_tokens above the context window, as each release words it (`limit`: max_model_len).
_OUTPUT_TOO_LONG: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "0.32",
        re.compile(r"max_\w*tokens=\d+ cannot be greater than max_model_len=(?P<limit>\d+)"),
    ),
    (
        # an f-string slip: "max_completion_tokens=1000000cannot be greater than
        # max_model_len=max_total_tokens=4096"
        "0.16 to 0.19",
        re.compile(
            r"max_\w*tokens=\d+ ?cannot be greater than "
            r"max_model_len=max_total_tokens=(?P<limit>\d+)"
        ),
    ),
)


# vLLM before 0.20 parses the answer to tool_choice="required" (a JSON list of calls with no
# end) itself; cut off by max_tokens, the JSON does not parse and the server answers 400 with
# pydantic's text (seen on 0.16: "Invalid JSON: EOF while parsing an object at line 1 ...").
_CUT_TOOL_CALLS = re.compile(r"Invalid JSON: EOF while parsing")

CUT_TOOL_CALLS_HINT = (
    "The server could not parse the tool calls it generated: the answer was cut off "
    "(max_tokens) before its JSON ended. vLLM before 0.20 writes tool_choice='required' as a "
    "JSON list of calls with no end, which a model may keep extending. Raise max_tokens, "
    "name the tool in tool_choice (one bound tool is named for you), or upgrade vLLM."
)


def context_overflow(message: str) -> tuple[int, int | None] | None:
    """Read a server's "prompt too long" message, in any vLLM release's wording.

    Returns:
        The context window and the prompt's tokens (``None`` when the message does not say,
        e.g. a prompt refused by its length in characters), or ``None`` when the message is
        not about the context window.
    """
    for _, wording in _CONTEXT_OVERFLOW:
        if match := wording.search(message):
            prompt = match.groupdict().get("prompt")
            return int(match["context"]), int(prompt) if prompt is not None else None
    return None


def output_limit(message: str) -> int | None:
    """The ``max_model_len`` a "max_tokens too large" message names (any wording), if any."""
    for _, wording in _OUTPUT_TOO_LONG:
        if match := wording.search(message):
            return int(match["limit"])
    return None


SYSTEM_MESSAGES_HINT = (
    "The server's chat template refused the conversation's system messages (it allows one "
    "system message, at the beginning). Pass system_messages='merge_first' to ChatVLLM to "
    "merge them into one leading system message, or leave the default "
    "system_messages='auto', which does that when the server's template refuses them."
)

# Wordings of chat templates that refuse system messages after the first (Qwen3.5, Gemma,
# Mistral, Llama-3.x community templates, the probe below).
_TEMPLATE_REFUSALS = (
    "system message must be at the beginning",
    "system message must be first",
    "system messages must be at the beginning",
    "system role not supported",
    "system role is not supported",
    "roles must alternate",
    "only the first message can be a system message",
)


def template_refusal(text: str) -> bool:
    """Whether a server error text is a chat template refusing system messages."""
    lowered = text.lower()
    return any(wording in lowered for wording in _TEMPLATE_REFUSALS)


def _explain_bad_request(error: openai.BadRequestError, base_url: str) -> Exception:
    message = error.message
    if overflow_numbers := context_overflow(message):
        overflow = VLLMContextOverflowError(
            message=(
                f"{message} (server {base_url}). Shorten the input (chat: trim or summarize "
                "earlier messages, lower max_tokens; embeddings and rerank: set "
                f"truncate_prompt_tokens), or serve the model with a larger {_flags.MAX_MODEL_LEN}."
            ),
            response=error.response,
            body=error.body,
        )
        overflow.max_context_tokens, overflow.prompt_tokens = overflow_numbers
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
    if template_refusal(message):
        return VLLMInvalidRequestError(
            message=f"{message} ({base_url}). {SYSTEM_MESSAGES_HINT}",
            response=error.response,
            body=error.body,
        )
    if (limit := output_limit(message)) is not None:
        message = (
            f"{message} Pass max_tokens <= {limit} (the server's max_model_len), "
            "including room for the prompt."
        )
    elif _CUT_TOOL_CALLS.search(message):
        message = f"{message} ({base_url}). {CUT_TOOL_CALLS_HINT}"
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
    - A 200 answer with an error and no choices (routers, proxies) → the error for the
      status it names, saying so with ``base_url`` and the server's message.
    """
    explained = _explain(error, base_url, tuple(served))
    if not isinstance(error, openai.APIStatusError) or not isinstance(explained, openai.APIError):
        return explained
    said = _error_in_ok(error, base_url, explained.message)
    if said is not None:
        explained.message = said
        explained.args = (said,)
    return explained


def _explain(error: Exception, base_url: str, served: tuple[ServedModel, ...]) -> Exception:
    if isinstance(error, openai.NotFoundError) and served and missing(error) == "model":
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
        message = error.message
        if error.status_code == 404 and _STORED_RESPONSE.search(message):  # noqa: PLR2004
            message = f"{message} {_STORE_HINT}"
        for sdk_class, ours in _STATUS_ERRORS:
            if isinstance(error, sdk_class):
                return ours(message=message, response=error.response, body=error.body)
    return error


_STORED_RESPONSE = re.compile(r"Response with id '[^']*' not found", re.IGNORECASE)
_STORE_HINT = (
    "vLLM keeps Responses API answers (for previous_response_id and background=True) only "
    f"when the server runs with the environment variable {_flags.RESPONSES_STORE}=1, in "
    "memory, until it restarts. Without it, send the whole conversation instead of "
    "previous_response_id."
)


# ------------------------------------------------------------------ streams that end early

MALFORMED_EVENT = (ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What reading a malformed stream event raises (bad JSON, or JSON not shaped like a chunk)."""


def stream_broke_off(
    error: BaseException,
    partial: Any,
    received: int,
    request: httpx.Request,
    *,
    deadline_passed: float | None,
) -> VLLMDeadlineError | VLLMStreamInterruptedError:
    """The error for a stream that ended before its last chunk (``_streams`` raises it).

    Args:
        error: What ended the stream.
        partial: The chunks received before, merged (``None`` when none arrived).
        received: How many chunks arrived.
        request: The streaming request.
        deadline_passed: The ``stream_deadline`` (seconds) when it passed, which gives a
            ``VLLMDeadlineError``; ``None`` when something else ended the stream.

    Returns:
        A ``VLLMDeadlineError`` or ``VLLMStreamInterruptedError`` carrying ``partial``.
    """
    kept = f"{received} chunks received before are in error.partial"
    if deadline_passed is not None:
        failure: VLLMDeadlineError | VLLMStreamInterruptedError = VLLMDeadlineError(request=request)
        text = (
            f"The streamed answer passed its stream_deadline of {deadline_passed} s; the "
            f"stream was closed (vLLM aborts the generation). {kept}."
        )
        failure.message, failure.args = text, (text,)
    else:
        chat = request.url.path.rstrip("/").endswith("/chat/completions")
        kind = "chat completion chunk" if chat else "completion chunk"
        why = (
            f"it sent an event that is not a {kind}"
            if isinstance(error, MALFORMED_EVENT)
            else "the server stopped, failed, or the connection dropped"
        )
        failure = VLLMStreamInterruptedError(
            message=f"The stream from the vLLM server broke off ({error!r}): {why}. {kept}.",
            request=request,
        )
    failure.partial = partial
    return failure


# ------------------------------------------------------------------ answers that end early
# vLLM ends an answer with finish_reason "stop" (the model's end, or a stop string/token),
# "length" (max_tokens, or the end of the context window), "repetition" (the request's
# repetition_detection) or "abort" (the engine dropped it); "error" becomes a 500. The
# Responses API says "incomplete" with a reason instead.

CUT_FINISH_REASONS = ("length", "repetition")
"""Finish reasons of an answer the server stopped before the model ended it."""

ABORT_FINISH_REASON = "abort"
"""The finish reason of an answer vLLM's engine dropped."""


def cut_reason(metadata: Mapping[str, Any]) -> str | None:
    """Why an answer was cut, from its ``response_metadata`` (or a choice).

    ``"length"``, ``"repetition"``, the Responses API's ``"max_output_tokens"``; ``None`` for
    an answer the model ended itself.
    """
    reason = metadata.get("finish_reason")
    if reason in CUT_FINISH_REASONS:
        return str(reason)
    if metadata.get("status") == "incomplete":
        details = metadata.get("incomplete_details") or {}
        return str(details.get("reason") or "incomplete")
    return None


def cut_cause(reason: str, max_tokens: int | None, output_tokens: int | None = None) -> str:
    """Why an answer was cut, in words: the limit it reached and what the server said."""
    if reason == "repetition":
        return (
            "vLLM stopped it as a repeating output (finish_reason='repetition', from the "
            "request's repetition_detection)"
        )
    said = (
        "finish_reason='length'"
        if reason == "length"
        else f"status='incomplete', reason={reason!r}"
    )
    if max_tokens is not None:
        limit = f"max_tokens={max_tokens}"
    elif output_tokens is not None:
        limit = (
            f"its output limit after {output_tokens} tokens (max_tokens, or the end of "
            "the context window)"
        )
    else:
        limit = "its output limit (max_tokens, or the end of the context window)"
    return f"it reached {limit} ({said})"


_MORE_ROOM = (
    "Give the model more room (a higher max_tokens: ChatVLLM(max_tokens=...) or "
    ".bind(max_tokens=...)) and ask again"
)


def cut_tool_call(cause: str) -> str:
    """The ``error`` of an invalid tool call the answer was cut in the middle of."""
    return (
        f"The answer was cut in the middle of this tool call: {cause}. Its arguments are "
        f"incomplete, so it was not called. {_MORE_ROOM}."
    )


def answer_cut(
    partial: Any, reason: str, cause: str, *, what: str, max_tokens: int | None = None
) -> VLLMAnswerCutError:
    """The error for an answer cut where it had to be complete.

    Args:
        partial: The answer as far as it got (an ``AIMessage``).
        reason: The finish reason (or the Responses API's incomplete reason).
        cause: :func:`cut_cause`'s words.
        what: What was cut: ``"structured answer"`` or ``"tool call"``.
        max_tokens: The ``max_tokens`` in force, when known.
    """
    text = str(getattr(partial, "text", "") or "")
    kept = (
        "the cut call in its invalid_tool_calls"
        if what.startswith("tool call")
        else f"its text ({len(text)} characters) in error.llm_output"
    )
    failure = VLLMAnswerCutError(
        f"The {what} was cut before it was complete: {cause}. What arrived is in "
        f"error.partial, {kept}. {_MORE_ROOM}, or ask for a shorter answer.",
        llm_output=text,
    )
    failure.partial, failure.finish_reason, failure.max_tokens = partial, reason, max_tokens
    return failure


def aborted(partial: Any, base_url: str, request: httpx.Request) -> VLLMAbortedError:
    """The error for an answer vLLM aborted (``finish_reason="abort"``)."""
    text = str(getattr(partial, "text", "") or "")
    failure = VLLMAbortedError(
        f"The vLLM server at {base_url} aborted the answer before its end "
        "(finish_reason='abort'): its engine dropped the request (an engine failure, or "
        "the request was cancelled or preempted on the server). What arrived is in "
        f"error.partial ({len(text)} characters of text). Send the request again; if it "
        "keeps happening, read the server's log.",
        request,
        body=None,
    )
    failure.partial = partial
    return failure


def no_choices(body: object, base_url: str, response: httpx.Response) -> VLLMServerError:
    """The error for a 200 answer without choices and without an error in it."""
    return VLLMServerError(
        message=(
            f"The server at {base_url} answered 200 OK with no choices and no error "
            f"(body: {str(body)[:300]}). It is not answering like vLLM; check what runs "
            "behind base_url."
        ),
        response=response,
        body=body,
    )


def _error_in_ok(error: openai.APIStatusError, base_url: str, explained: str) -> str | None:
    """The message for an error a server sent inside a 200 answer, else ``None``.

    ``explained`` is the message already made for the status (kept when it says more than
    the server's own text).
    """
    if not error.response.headers.get(ERROR_IN_OK):
        return None
    text = server_text(error)
    return (
        f"The server at {base_url} answered 200 OK with no answer in it but an error, read "
        f"as status {error.status_code}: {text if explained == error.message else explained}"
    )


# ------------------------------------------------------------------ the doctor's problems


def server_text(error: openai.APIStatusError) -> str:
    """The server's own message (vLLM's ``{"error": {"message": ...}}``), else the SDK's."""
    body = error.body
    if isinstance(body, str) and body:  # e.g. vLLM's 401 {"error": "Unauthorized"}
        return body
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail") or body.get("error")
        if isinstance(message, str) and message:
            return message
    return error.message


def no_answer(error: openai.APIConnectionError, timeout: float) -> str:
    """What the doctor reports for a probe that got no answer."""
    if isinstance(error, openai.APITimeoutError):
        return f"no answer within {timeout:g} s (the server may be busy; raise --timeout)"
    return f"the request failed: {error.__cause__ or error}"


def answered(error: openai.APIStatusError, what: str) -> str:
    """What the doctor reports for a probe (``what``: e.g. ``"POST /rerank"``) refused."""
    return f"{what} answered {error.status_code}: {server_text(error)}"


def unreachable_problem(error: Exception, base_url: str) -> str:
    """What the doctor reports when ``GET /models`` fails, and what to do about it."""
    check = (
        f"Check that it is running (`vllm serve <model>`) and that --base-url / VLLM_BASE_URL "
        f"points at it, including the /v1 suffix (tried {base_url})."
    )
    if isinstance(error, openai.AuthenticationError):
        return (
            f"The vLLM server at {base_url} rejected the API key ({server_text(error)}): it "
            "was started with --api-key; pass the same key with --api-key or VLLM_API_KEY."
        )
    if isinstance(error, openai.APIStatusError):
        answered = f"GET {base_url}/models answered {error.status_code} ({server_text(error)})"
        if error.status_code == 404 and not base_url.endswith("/v1"):  # noqa: PLR2004
            return (
                f"{answered}: the base URL must include the /v1 suffix; try --base-url "
                f"{base_url}/v1 (or set VLLM_BASE_URL to it)."
            )
        return f"{answered}. {check}"
    if isinstance(error, VLLMConnectionError):  # names the URL and what to check
        return error.message
    if isinstance(error, openai.APIConnectionError):
        return connection_error(base_url, error).message
    return f"{error} {check}"
