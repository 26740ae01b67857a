"""How ChatVLLM sends tools: strict by default, because vLLM only enforces strict schemas.

Measured on vLLM 0.32 with a small model: without ``"strict": true`` the server lets the model
answer with any JSON as arguments (e.g. the schema itself); with it, arguments follow the schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.output_parsers.openai_tools import make_invalid_tool_call
from langchain_core.utils.function_calling import convert_to_openai_tool

# OpenAI's "any"/True mean "call some tool"; vLLM, like OpenAI, spells that "required".
_REQUIRED_ALIASES = ("any", "required")


def normalize_tool_choice(tool_choice: Any) -> Any:
    """Map LangChain's tool_choice spellings onto the ones vLLM accepts.

    ``True`` and ``"any"`` become ``"required"``; ``False`` means no preference (``None``);
    everything else (``"auto"``, ``"none"``, a tool name, an OpenAI dict) is passed on.
    """
    if tool_choice is True or tool_choice in _REQUIRED_ALIASES:
        return "required"
    if tool_choice is False:
        return None
    return tool_choice


def format_tool(tool: Any, *, strict: bool | None) -> Any:
    """Convert one tool-like object to an OpenAI function tool, strict unless told otherwise.

    ``strict=None`` means the package default (strict). A function tool given as an OpenAI
    dict keeps an explicit ``"strict"`` it already carries. Non-function dicts (built-in
    OpenAI tools) are passed through untouched; the server decides whether it knows them.
    """
    if isinstance(tool, dict) and tool.get("type", "function") != "function":
        return tool
    explicit = _explicit_strict(tool)
    wanted = strict if strict is not None else (explicit if explicit is not None else True)
    formatted = convert_to_openai_tool(tool, strict=wanted)
    function = formatted.get("function")
    if isinstance(function, dict) and function.get("strict") is not wanted:
        formatted = {**formatted, "function": {**function, "strict": wanted}}
    check_function(formatted.get("function"))
    return formatted


_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def check_function(function: Any) -> None:
    """Refuse a function tool vLLM (or the model's chat template) cannot use.

    Raises:
        ValueError: No valid name (letters, digits, ``_`` and ``-``, at most 64), or
            parameters that are not a JSON schema of an object.
    """
    if not isinstance(function, dict):
        msg = f"A function tool needs a 'function' object; got {function!r}."
        raise ValueError(msg)  # noqa: TRY004 - a malformed tool is a bad value
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        msg = (
            f"Tool name {name!r} is not valid: use 1 to 64 letters, digits, '_' or '-' "
            "(the name the model writes in its tool call)."
        )
        raise ValueError(msg)
    parameters = function.get("parameters", {"type": "object"})
    properties = parameters.get("properties", {}) if isinstance(parameters, dict) else None
    if (
        not isinstance(parameters, dict)
        or parameters.get("type", "object") != "object"
        or not isinstance(properties, dict)
    ):
        msg = (
            f"Tool {name!r}: parameters must be a JSON schema of an object "
            f'({{"type": "object", "properties": {{...}}}}); got {parameters!r}.'
        )
        raise ValueError(msg)


def any_strict(tools: Any) -> bool:
    """Whether any of the (formatted) ``tools`` of a request is ``strict``."""
    return isinstance(tools, list) and any(_explicit_strict(tool) is True for tool in tools)


def _explicit_strict(tool: Any) -> bool | None:
    if not isinstance(tool, dict):
        return None
    function = tool.get("function", tool)
    value = function.get("strict") if isinstance(function, dict) else None
    return value if isinstance(value, bool) else None


def pop_non_object_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Take out of ``message`` the tool calls whose arguments are JSON but not an object.

    (``"1"`` or ``"[]"`` parse, yet tool arguments must be an object; LangChain's parser
    would let them through and the message would fail validation.) The caller reports them
    as invalid tool calls.
    """
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return []
    kept: list[Any] = []
    odd: list[Any] = []
    for call in calls:
        arguments = (
            (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
        )
        try:
            parsed = json.loads(arguments, strict=False) if isinstance(arguments, str) else {}
        except ValueError:
            parsed = {}  # not JSON at all: LangChain reports it as invalid already
        (kept if isinstance(parsed, dict) or not arguments else odd).append(call)
    message["tool_calls"] = kept or None
    return odd


def invalid_call(call: dict[str, Any]) -> Any:
    """An ``InvalidToolCall`` for a call whose arguments are not a JSON object."""
    function = call.get("function") or {}
    return make_invalid_tool_call(
        {"function": function, "id": call.get("id")},
        "Tool call arguments are JSON but not a JSON object.",
    )
