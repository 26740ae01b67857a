"""The one place that names what ChatVLLM takes from langchain-openai beyond its public API.

``ChatVLLM`` subclasses ``ChatOpenAI``. Private members of a base class can change in any
release without notice, so every one ChatVLLM still calls, overrides or replaces is listed
here, and ``tests/unit_tests/test_upstream.py`` checks each against the installed
langchain-openai: when one disappears or changes shape, that test fails naming the member and
the version, instead of a user's call failing with an ``AttributeError``.

Members ChatVLLM no longer needs (``_convert_input``, ``_should_stream_usage``,
``_ensure_sync_client_available``) are done with public langchain-core API or in
ChatVLLM itself.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

from langchain_openai.chat_models import base as _openai_base

if TYPE_CHECKING:
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from langchain_openai.chat_models.base import BaseChatOpenAI

LANGCHAIN_OPENAI_VERSION = metadata.version("langchain-openai")
"""The installed langchain-openai, named in every message about a changed member."""


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.7.4"`` → ``(1, 7, 4)``; pre-release suffixes are ignored."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+", maxsplit=1)[0])[:3])


@dataclass(frozen=True)
class Member:
    """A private member of langchain-openai (or of langchain-core's ``BaseChatModel``).

    Attributes:
        owner: Dotted path of the class that defines it, e.g. ``"BaseChatOpenAI"``, or
            ``"base"`` for a function of ``langchain_openai.chat_models.base``.
        name: The member's name.
        parameters: Its parameter names after ``self`` (``None``: a property); for a
            function, all of them.
        why: What ChatVLLM does with it, for the failure message.
        since: The first langchain-openai release that has it; older ones lack it and
            ChatVLLM copes without it.
        exact: The parameters must be exactly these (an override's); ``False``: these must
            be among them (a function ChatVLLM calls with keywords).
    """

    owner: str
    name: str
    parameters: tuple[str, ...] | None
    why: str
    since: str = "1.0.0"
    exact: bool = True

    def expected(self) -> bool:
        """Whether the installed langchain-openai should have this member."""
        return version_tuple(LANGCHAIN_OPENAI_VERSION) >= version_tuple(self.since)


CALLED = (
    Member(
        "BaseChatOpenAI",
        "_get_request_payload",
        ("input_", "stop", "kwargs"),
        "ChatVLLM builds the Chat Completions body with it, past ChatOpenAI's override "
        "(which renames the system role to 'developer' for model names like 'o3-…')",
    ),
    Member(
        "base",
        "_construct_lc_result_from_responses_api",
        ("response", "schema", "metadata", "output_version"),
        "ChatVLLM reads a Responses API answer into a message with it",
        exact=False,
    ),
    Member(
        "base",
        "_convert_responses_chunk_to_generation_chunk",
        (
            "chunk",
            "current_index",
            "current_output_index",
            "current_sub_index",
            "schema",
            "metadata",
            "has_reasoning",
            "output_version",
        ),
        "ChatVLLM reads each Responses API stream event into a chunk with it",
        exact=False,
    ),
    Member(
        "BaseChatOpenAI",
        "_uses_gateway",
        None,
        "ChatVLLM hands calls with a LangSmith gateway key to ChatOpenAI's own path "
        "(read with a default of False: releases before 1.6.0 have no gateway)",
        since="1.6.0",
    ),
)
"""Private members ChatVLLM calls or reads."""

OVERRIDDEN = (
    Member(
        "BaseChatOpenAI",
        "_create_chat_result",
        ("response", "generation_info"),
        "adds vLLM's reasoning, stop_reason and token ids to each message",
    ),
    Member(
        "BaseChatOpenAI",
        "_convert_chunk_to_generation_chunk",
        ("chunk", "default_chunk_class", "base_generation_info"),
        "adds vLLM's reasoning delta, stop_reason and token ids to each streamed chunk",
    ),
    Member(
        "BaseChatOpenAI",
        "_use_responses_api",
        ("payload",),
        "keeps vLLM on Chat Completions unless use_responses_api=True",
    ),
    Member(
        "ChatOpenAI",
        "_get_request_payload",
        ("input_", "stop", "kwargs"),
        "turns ChatOpenAI's request body into vLLM's (sampling fields, wire format)",
    ),
    Member(
        "ChatOpenAI",
        "_default_params",
        None,
        "names the discovered model in the request parameters",
    ),
    Member(
        "BaseChatOpenAI",
        "_get_ls_params",
        ("stop", "kwargs"),
        "reports ls_provider='vllm' to LangSmith",
    ),
    *(
        Member(
            "BaseChatModel",
            name,
            ("messages", "stop", "run_manager", "kwargs"),
            "sends Chat Completions itself and reads the server's JSON as plain dicts",
        )
        for name in ("_generate", "_agenerate", "_stream", "_astream")
    ),
    Member("BaseChatModel", "_llm_type", None, "names the model type 'vllm-chat'"),
    Member(
        "BaseChatModel",
        "_resolve_model_profile",
        (),
        "states what any vLLM chat model offers instead of OpenAI's per-model table",
    ),
)
"""Private hooks ChatVLLM overrides: renamed upstream, ChatVLLM's version would never run."""

REPLACED_VALIDATORS = {
    "validate_temperature": "1.0.0",
    "_infer_use_responses_api": "1.7.0",
    "validate_environment": "1.0.0",
}
"""ChatOpenAI's model validators that ChatVLLM replaces (pydantic runs the subclass's method
of the same name instead), with the first langchain-openai release that has each.

``validate_temperature`` drops or forces temperature for OpenAI model names (``o1``,
``gpt-5``); ``_infer_use_responses_api`` routes OpenAI model names to the Responses API;
``validate_environment`` reads ``OPENAI_*`` variables. None of that applies to a vLLM server.
"""

INHERITED_VALIDATORS = frozenset(
    {
        "build_extra",
        "_set_openai_chat_version",
        "_set_model_profile",
        "_check_profile_keys",
        "_validate_stream_chunk_timeout",
        "set_verbose",
    }
)
"""ChatOpenAI's (and BaseChatModel's) validators that also run for ChatVLLM, on purpose:
``build_extra`` (unknown keyword arguments go to ``model_kwargs``), the version metadata,
the profile (``_set_model_profile`` calls ChatVLLM's ``_resolve_model_profile``), and checks
of fields ChatVLLM keeps as they are. A validator upstream adds later is not in this set, and
the test of this module asks for a decision."""


def uses_gateway(model: BaseChatOpenAI) -> bool:
    """Whether ChatOpenAI would route ``model``'s calls through the LangSmith gateway.

    ``False`` when the installed langchain-openai has no such flag (before 1.6.0) or it is no
    longer a plain boolean property (then ``test_upstream`` fails, naming the release).
    """
    return getattr(model, "_uses_gateway", False) is True


def responses_result(
    response: Any, *, schema: Any, metadata: dict[str, Any], output_version: str | None
) -> ChatResult:
    """langchain-openai's message for a Responses API answer (an SDK ``Response``)."""
    return _openai_base._construct_lc_result_from_responses_api(  # noqa: SLF001
        response, schema=schema, metadata=metadata, output_version=output_version
    )


@cache
def _takes(function: Any, parameter: str) -> bool:
    return parameter in inspect.signature(function).parameters


def responses_chunk(  # noqa: PLR0913 - langchain-openai's converter's arguments
    event: Any,
    current_index: int,
    current_output_index: int,
    current_sub_index: int,
    *,
    schema: Any,
    metadata: dict[str, Any],
    has_reasoning: bool,
    output_version: str | None,
    item_output_indices: dict[str, int],
) -> tuple[int, int, int, ChatGenerationChunk | None]:
    """langchain-openai's chunk for one Responses API stream event, with its running indexes.

    ``item_output_indices`` is passed to releases that take it (1.7+).
    """
    convert = _openai_base._convert_responses_chunk_to_generation_chunk  # noqa: SLF001
    extra: dict[str, Any] = {}
    if _takes(convert, "item_output_indices"):
        extra["item_output_indices"] = item_output_indices
    return convert(
        event,
        current_index,
        current_output_index,
        current_sub_index,
        schema=schema,
        metadata=metadata,
        has_reasoning=has_reasoning,
        output_version=output_version,
        **extra,
    )
