"""Structured output for ChatVLLM: vLLM's constraints and the parsers of their answers.

``method="json_schema"`` sends a JSON schema and parses ``content`` itself; vLLM's own
``choice``/``regex``/``grammar`` constraints become a ``structured_outputs`` body field
(translated per server version by ``_wire``) and their answers are parsed back here.
"""

from __future__ import annotations

import enum
import re
import typing
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.output_parsers import JsonOutputParser
from langchain_core.runnables import RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_function
from langchain_core.utils.pydantic import is_basemodel_subclass

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.messages import AIMessage
    from langchain_core.runnables import Runnable
    from pydantic import BaseModel


def with_parser(
    llm: Runnable[Any, Any], parser: Runnable[Any, Any], *, include_raw: bool
) -> Runnable[Any, Any]:
    """``llm | parser``, or with ``include_raw`` a dict of raw, parsed and parsing_error."""
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
