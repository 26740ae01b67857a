"""Structured output for ChatVLLM: vLLM's constraints and the parsers of their answers.

``method="json_schema"`` sends a JSON schema and parses ``content`` itself; vLLM's own
``choice``/``regex``/``grammar`` constraints become a ``structured_outputs`` body field
(translated per server version by ``_versions``) and their answers are parsed back here.
"""

from __future__ import annotations

import enum
import re
import typing
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.messages import AIMessageChunk, message_chunk_to_message
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import (
    RunnableGenerator,
    RunnableLambda,
    RunnableMap,
    RunnablePassthrough,
)
from langchain_core.utils.function_calling import (
    convert_to_openai_function,
    convert_to_openai_tool,
)
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel as _PydanticModel

from langchain_vllm import _tools, errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.runnables import Runnable
    from pydantic import BaseModel


class _CutCheck:
    """Passes an answer (or its streamed chunks) on, then raises if it was cut.

    A structured answer stopped at its output limit is incomplete JSON (or an incomplete
    match of a regex or grammar): parsing it would fail with a JSON error that does not
    say why, or, for a constraint, succeed on a partial text. ``max_tokens`` is the limit
    set on the model, named in the error when the answer stopped there.
    """

    def __init__(self, max_tokens: int | None) -> None:
        self.max_tokens = max_tokens

    def _check(self, merged: BaseMessage | None) -> None:
        if merged is None:
            return
        reason = errors.cut_reason(merged.response_metadata)
        if reason is None:
            return
        message = message_chunk_to_message(merged)
        usage = getattr(message, "usage_metadata", None) or {}
        output_tokens = usage.get("output_tokens")
        limit = self.max_tokens if output_tokens == self.max_tokens else None
        cause = errors.cut_cause(reason, limit, output_tokens)
        raise errors.answer_cut(message, reason, cause, what="structured answer", max_tokens=limit)

    @staticmethod
    def _merge(merged: BaseMessage | None, message: BaseMessage) -> BaseMessage:
        if merged is None or not isinstance(message, AIMessageChunk):
            return message
        return cast("BaseMessage", merged + message)

    def check(self, messages: Iterator[BaseMessage]) -> Iterator[BaseMessage]:
        merged = None
        for message in messages:
            merged = self._merge(merged, message)
            yield message
        self._check(merged)

    async def acheck(self, messages: AsyncIterator[BaseMessage]) -> AsyncIterator[BaseMessage]:
        merged = None
        async for message in messages:
            merged = self._merge(merged, message)
            yield message
        self._check(merged)


def with_parser(
    llm: Runnable[Any, Any],
    parser: Runnable[Any, Any],
    *,
    include_raw: bool,
    max_tokens: int | None = None,
) -> Runnable[Any, Any]:
    """``llm | parser``, or with ``include_raw`` a dict of raw, parsed and parsing_error.

    An answer cut at its output limit raises ``VLLMAnswerCutError`` before it is parsed
    (``parsing_error`` with ``include_raw``); ``max_tokens`` is the model's limit.
    """
    cut = _CutCheck(max_tokens)
    parser = RunnableGenerator(cut.check, cut.acheck) | parser
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=lambda x: parser.invoke(x["raw"]), parsing_error=lambda _: None
    ).with_fallbacks(
        [RunnablePassthrough.assign(parsed=lambda _: None)],
        exception_key="parsing_error",
    )
    return RunnableMap(raw=llm) | parse


def constraint(method: str, schema: Any) -> tuple[dict[str, Any], Callable[[AIMessage], Any]]:
    """The ``structured_outputs`` constraint and the answer parser for choice/regex/grammar.

    Raises:
        ValueError: ``schema`` is not what ``method`` takes.
    """
    if method == "choice":
        choices, convert = choice_values(schema)
        return {"choice": choices}, lambda message: convert(message.text)
    if not isinstance(schema, str) or not schema:
        what = "a regular expression" if method == "regex" else "a grammar"
        msg = f"method={method!r} takes {what} (a non-empty string) as schema, got {schema!r}."
        raise ValueError(msg)
    if method == "regex":
        re.compile(schema)
    return {method: schema}, lambda message: message.text


def choice_values(schema: Any) -> tuple[list[str], Callable[[str], Any]]:
    """Strings to choose from, and how to turn the chosen one into the caller's type."""
    if isinstance(schema, type) and issubclass(schema, enum.Enum):
        members = {str(member.value): member for member in schema}
        if not all(isinstance(member.value, str) for member in schema):
            msg = f"method='choice' needs an Enum of string values; {schema.__name__} has others."
            raise ValueError(msg)
        return list(members), members.__getitem__
    if typing.get_origin(schema) is Literal:
        schema = list(typing.get_args(schema))
    if (
        isinstance(schema, list | tuple)
        and schema
        and all(isinstance(choice, str) for choice in schema)
    ):
        return list(schema), str
    msg = (
        "method='choice' takes a list of strings, an Enum with string values or a "
        f"Literal['a', 'b', ...] as schema, got {schema!r}."
    )
    raise ValueError(msg)


def json_schema_format(
    schema: Any, *, strict: bool | None, as_dict: bool = False
) -> tuple[Any, Runnable[Any, Any]]:
    """Response format and output parser for ``method="json_schema"``."""
    if not as_dict and isinstance(schema, type) and is_basemodel_subclass(schema):
        model_class = cast("type[BaseModel]", schema)

        def parse_model(message: AIMessage) -> Any:
            if message.tool_calls:
                return None
            return model_class.model_validate_json(message.text)

        # Sent as a plain JSON schema and parsed here (not by the SDK's parse(), which
        # raises inside the model call), so include_raw=True reports a bad answer as
        # parsing_error. Only ``content`` is parsed: reasoning text never reaches it.
        response_format, _ = json_schema_format(
            model_class, strict=True if strict is None else strict, as_dict=True
        )
        return response_format, RunnableLambda(parse_model)
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


# ---------------------------------------------------------------- tools and an answer schema
#
# vLLM applies a ``response_format`` JSON schema to the whole output, so a request that carries
# tools *and* an answer schema can never produce a tool call (the grammar forbids the tool-call
# syntax). LangChain agents send exactly that (``create_agent(tools=..., response_format=...)``
# with a model whose profile says ``structured_output``). ChatVLLM sends such a request as tools
# only: the answer schema becomes one more strict tool, and ``tool_choice="required"`` makes
# vLLM constrain the output to "one of these tool calls, arguments per schema" (a grammar vLLM
# builds itself, independent of the model's tool-call format and parser). A call of the answer
# tool comes back as the answer's JSON in ``content``, as if the schema had been applied; a
# call of a real tool comes back as that tool call. Measured on vLLM 0.32 (see docs/agents.md).


def route_answer(payload: dict[str, Any]) -> str | None:
    """Rewrite a request with tools and a JSON-schema answer so that tools stay callable.

    Returns the name of the answer tool added to ``payload["tools"]`` (its calls are turned
    back into content by :func:`answer_from_tool` / :class:`AnswerChunks`), or ``None`` when
    no answer tool is needed: no tools, no JSON-schema ``response_format``,
    ``tool_choice="none"`` (the schema applies to the answer), ``tool_choice`` naming the
    answer schema ("answer now": the tools are left out and the schema alone is sent), or
    ``tool_choice`` naming a tool (a forced call of that tool, for which the answer schema is
    dropped: vLLM cannot apply both constraints).

    Raises:
        ValueError: The answer schema is not a JSON object schema, or its name is also the
            name of one of the tools.
    """
    response_format = payload.get("response_format")
    tools = payload.get("tools")
    if (
        not tools
        or not isinstance(response_format, dict)
        or response_format.get("type") != "json_schema"
    ):
        return None
    tool_choice = payload.get("tool_choice")
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or {}
    name = str(spec.get("name") or "final_answer")
    if tool_choice == "none":
        return None
    if name in (tool_choice, _chosen_name(tool_choice)):
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            payload.pop(key, None)  # "answer now": the schema alone
        return None
    if tool_choice not in (None, "auto", "required"):
        del payload["response_format"]
        return None
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        msg = (
            f"The answer schema {name!r} must describe a JSON object to be combined with "
            "tools (vLLM sends it as one more tool); wrap it in an object with one field."
        )
        raise ValueError(msg)
    names = {(tool.get("function") or {}).get("name") for tool in tools if isinstance(tool, dict)}
    if name in names:
        msg = (
            f"The answer schema and a tool are both named {name!r}; rename one of them "
            "(the answer schema is sent to vLLM as a tool of that name)."
        )
        raise ValueError(msg)
    description = spec.get("description") or (
        f"Give the final answer to the user as a {name}. Call this when no other tool "
        "is needed any more."
    )
    answer_tool = {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": schema,
            "strict": True,
        },
    }
    payload["tools"] = [*tools, answer_tool]
    payload["tool_choice"] = "required"
    del payload["response_format"]
    return name


def _chosen_name(tool_choice: Any) -> Any:
    """The function name a dict ``tool_choice`` forces (``None`` for anything else)."""
    if isinstance(tool_choice, dict):
        return (tool_choice.get("function") or {}).get("name")
    return None


def _call_name(call: Any) -> Any:
    return (call.get("function") or {}).get("name") if isinstance(call, dict) else None


def answer_from_tool(body: dict[str, Any], answer_tool: str) -> None:
    """Turn a (non-streamed) call of the answer tool back into the answer's JSON content.

    A choice whose only tool call is the answer tool gets its arguments as ``content``, no
    tool calls and ``finish_reason="stop"``; a choice that also calls real tools keeps those
    (the agent runs them and asks again) and loses the premature answer.
    """
    for choice in body.get("choices") or []:
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        answers = [call for call in calls if _call_name(call) == answer_tool]
        if not answers:
            continue
        others = [call for call in calls if _call_name(call) != answer_tool]
        if others:
            message["tool_calls"] = others
            continue
        message["tool_calls"] = None
        message["content"] = (answers[0].get("function") or {}).get("arguments") or ""
        if choice.get("finish_reason") == "tool_calls":
            choice["finish_reason"] = "stop"


class AnswerChunks:
    """Turns streamed deltas of the answer tool's call into content deltas.

    Tool-call deltas carry the function name only in the first delta of each ``index``;
    the indexes of the answer tool are remembered, and their argument fragments become
    ``content``. A stream whose only calls were the answer tool ends with
    ``finish_reason="stop"``.
    """

    def __init__(self, answer_tool: str) -> None:
        """Watch for calls of ``answer_tool``."""
        self._name = answer_tool
        self._answer_indexes: set[int] = set()
        self._other_calls = False

    def rewrite(self, event: dict[str, Any]) -> None:
        """Rewrite one stream event (a chat completion chunk as a dict) in place."""
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            calls = delta.get("tool_calls")
            if calls:
                kept: list[Any] = []
                text: list[str] = []
                for call in calls:
                    index = call.get("index", 0) if isinstance(call, dict) else 0
                    if _call_name(call) == self._name:
                        self._answer_indexes.add(index)
                    if index in self._answer_indexes:
                        text.append((call.get("function") or {}).get("arguments") or "")
                    else:
                        self._other_calls = True
                        kept.append(call)
                delta["tool_calls"] = kept or None
                if text:
                    delta["content"] = (delta.get("content") or "") + "".join(text)
            if (
                choice.get("finish_reason") == "tool_calls"
                and self._answer_indexes
                and not self._other_calls
            ):
                choice["finish_reason"] = "stop"


class AnswerShape:
    """How one chat request's answer is shaped, for a request with an answer schema.

    Built from the request payload, which it rewrites in place: a Pydantic class as
    ``response_format`` (``bind_tools(response_format=Model)``; ChatOpenAI would send it
    through the SDK's ``parse()``) becomes its strict JSON schema, and tools with a schema
    go through :func:`route_answer`. The answer is then read back through :meth:`read_body`
    or :meth:`read_event`, and :meth:`parsed` gives the Pydantic object that ChatOpenAI puts
    in ``additional_kwargs["parsed"]``.
    """

    def __init__(self, payload: dict[str, Any]) -> None:
        """Rewrite ``payload`` (see the class docstring) and remember what to undo."""
        response_format = payload.get("response_format")
        self.schema: type[BaseModel] | None = None
        if isinstance(response_format, type) and is_basemodel_subclass(response_format):
            self.schema = cast("type[BaseModel]", response_format)
            payload["response_format"], _ = json_schema_format(
                self.schema, strict=True, as_dict=True
            )
        self.answer_tool = route_answer(payload)
        self._chunks = None if self.answer_tool is None else AnswerChunks(self.answer_tool)

    def read_body(self, body: dict[str, Any]) -> None:
        """Rewrite a non-streamed answer (a dict) in place."""
        if self.answer_tool is not None:
            answer_from_tool(body, self.answer_tool)

    def read_event(self, event: object) -> None:
        """Rewrite one streamed event (a dict) in place."""
        if self._chunks is not None and isinstance(event, dict):
            self._chunks.rewrite(event)

    def parsed(self, text: str, *, tool_calls: bool) -> BaseModel | None:
        """The answer as the Pydantic class it was asked as (``None`` for a tool call).

        Raises:
            pydantic.ValidationError: The answer does not fit the class (as the SDK's
                ``parse()`` raises for ChatOpenAI).
        """
        if self.schema is None or tool_calls or not text:
            return None
        return self.schema.model_validate_json(text)


def structured_output(  # noqa: PLR0913 - with_structured_output's own arguments
    llm: BaseChatModel,
    schema: Any,
    *,
    method: str,
    include_raw: bool,
    strict: bool | None,
    tools: list[Any] | None,
    fallback: Callable[..., Runnable[Any, Any]],
    **kwargs: Any,
) -> Runnable[Any, Any]:
    """ChatVLLM's ``with_structured_output``; ``fallback`` (ChatOpenAI's) where it does the job.

    ``choice``/``regex``/``grammar`` bind a ``structured_outputs`` constraint; ``json_schema``
    with a schema binds a JSON-schema ``response_format`` whatever the model's name
    (ChatOpenAI silently switches to function calling for names starting with
    ``gpt-3``/``gpt-4-``; vLLM serves any model under any name). ``fallback`` for
    ``function_calling``, ``json_mode``, no schema, or a pydantic v1 class (which goes to
    function calling as in ChatOpenAI).
    """
    max_tokens = kwargs.get("max_tokens", getattr(llm, "max_tokens", None))
    if method in ("choice", "regex", "grammar"):
        constraint_, parse = constraint(method, schema)
        bound = llm.bind(
            structured_outputs=constraint_,
            ls_structured_output_format={"kwargs": {"method": method}, "schema": constraint_},
            **kwargs,
        )
        return with_parser(
            bound, RunnableLambda(parse), include_raw=include_raw, max_tokens=max_tokens
        )
    is_model = isinstance(schema, type) and is_basemodel_subclass(schema)
    if method in ("function_calling", "json_mode") and (
        schema is not None or method == "json_mode"
    ):
        tool_or_json, parser = _tool_or_json_mode(llm, schema, method, strict=strict, **kwargs)
        return with_parser(tool_or_json, parser, include_raw=include_raw, max_tokens=max_tokens)
    if (
        method != "json_schema"
        or schema is None
        or (is_model and not issubclass(schema, _PydanticModel))
    ):
        return fallback(
            schema, method=method, include_raw=include_raw, strict=strict, tools=tools, **kwargs
        )
    response_format, parser = json_schema_format(schema, strict=strict)
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
    return with_parser(
        llm.bind(**bind_kwargs), parser, include_raw=include_raw, max_tokens=max_tokens
    )


def _tool_or_json_mode(
    llm: BaseChatModel, schema: Any, method: str, *, strict: bool | None, **kwargs: Any
) -> tuple[Runnable[Any, Any], Runnable[Any, Any]]:
    """The bound model and parser for ``function_calling`` and ``json_mode``.

    As ChatOpenAI makes them; its own chain has no place for the check of a cut answer.
    """
    is_model = isinstance(schema, type) and is_basemodel_subclass(schema)
    output_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    if method == "function_calling":
        tool_name = convert_to_openai_tool(schema)["function"]["name"]
        bound = llm.bind_tools(
            [schema],
            tool_choice=tool_name,
            parallel_tool_calls=False,
            strict=strict,
            ls_structured_output_format=output_format,
            **kwargs,
        )
        parser: Runnable[Any, Any] = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if is_model
            else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
        )
        return bound, parser
    bound = llm.bind(
        response_format={"type": "json_object"},
        ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
        **kwargs,
    )
    parser = PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
    return bound, parser
