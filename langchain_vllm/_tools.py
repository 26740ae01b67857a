r"""Tools: how ChatVLLM sends them, and what it reads back from an answer cut mid call.

Sending: strict by default, because vLLM only enforces strict schemas. Measured on vLLM 0.32
with a small model: without ``"strict": true`` the server lets the model answer with any JSON
as arguments (e.g. the schema itself); with it, arguments follow the schema.

Reading: when the server stops an answer at its output limit in the middle of a tool call,
vLLM's tool parser cannot parse the call, and the text it had (``<tool_call>\n{"name": ...``)
comes back as ``content`` (measured: Chat Completions and the Responses API, hermes, with
``tool_choice`` auto, required and named alike), or, streamed, as a call whose arguments
stop mid JSON (which LangChain would complete into a valid-looking call). :data:`MARKUPS` is
the one table of how each family of vLLM tool parsers opens a call in the text;
:func:`mark_cut` turns what a cut answer left of a call into an invalid tool call that says
why, and :func:`stream_cut` makes the error for a stream cut that way.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage
from langchain_core.messages.tool import invalid_tool_call as make_invalid
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_vllm import errors

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk

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


# ---------------------------------------------------------------- answers cut mid tool call

_JSON_CALL = re.compile(
    r'\s*\[?\s*\{\s*"name"\s*:\s*"(?P<name>[^"]+)"\s*,\s*"(?:arguments|parameters)"\s*:\s*'
)
"""A JSON call: ``{"name": "f", "arguments": {...`` (``parameters`` for Llama 3)."""

_PYTHON_CALL = re.compile(r"\s*\[?\s*(?P<name>[A-Za-z_][\w.]*)\(")
"""A pythonic call: ``[f(a=1, ...`` or ``f(a=1, ...``."""


@dataclass(frozen=True)
class CallMarkup:
    """How one family of vLLM tool parsers opens a tool call in the model's text.

    Attributes:
        parsers: The ``--tool-call-parser`` names reading calls this way.
        opening: Where a call starts (searched in the text).
        calls: The start of one call after the opening, with its tool's ``name`` as a
            group; the arguments follow the match.
        literal: The parser's opening token, when it has one (an answer cut inside it ends
            with a prefix of it); ``None`` for openings that are no fixed text.
        needs_known_name: The opening is common outside tool calls (a JSON object, a Python
            list): it counts only when a bound tool's name follows.
    """

    parsers: tuple[str, ...]
    opening: re.Pattern[str]
    calls: tuple[re.Pattern[str], ...]
    literal: str | None
    needs_known_name: bool = False


def _tag(literal: str) -> re.Pattern[str]:
    return re.compile(re.escape(literal))


# DeepSeek's markers, spelled with a fullwidth bar (U+FF5C) and U+2581 for spaces.
_DS_CALLS = "<\uff5ctool\u2581calls\u2581begin\uff5c>"
_DS_CALL = "<\uff5ctool\u2581call\u2581begin\uff5c>"
_DS_SEP = "<\uff5ctool\u2581sep\uff5c>"


MARKUPS: tuple[CallMarkup, ...] = (
    CallMarkup(
        (
            "hermes",
            "qwen3_json",
            "qwen3_xml",
            "qwen3_coder",
            "granite4",
            "ernie45",
            "poolside_v1",
            "hy_v4",
            "glm45",
            "glm47",
        ),
        _tag("<tool_call>"),
        (
            _JSON_CALL,  # hermes: <tool_call>\n{"name": "f", "arguments": {...}}
            re.compile(r"\s*<function=(?P<name>[^>\s]+)>\s*"),  # qwen3_xml/coder
            # glm: <tool_call>f<arg_key>k</arg_key>... (or f\n<arg_key>)
            re.compile(r"\s*(?P<name>[A-Za-z_][\w.\-]*)\s*(?=<arg_key>|\n)"),
        ),
        "<tool_call>",
    ),
    CallMarkup(
        ("llama3_json", "llama4_json"),  # <|python_tag|>{"name": ...} or a built-in tool
        _tag("<|python_tag|>"),
        (_JSON_CALL, _PYTHON_CALL),
        "<|python_tag|>",
    ),
    CallMarkup(
        ("llama3_json", "llama4_json"),
        re.compile(r'^\s*(?=\{\s*"name"\s*:)'),  # a bare {"name": "f", "parameters": {...
        (_JSON_CALL,),
        None,
        needs_known_name=True,
    ),
    CallMarkup(
        ("mistral", "xlam"),
        _tag("[TOOL_CALLS]"),
        (
            re.compile(r"\s*(?P<name>[A-Za-z_][\w.\-]*)\s*\[ARGS\]"),  # [TOOL_CALLS]f[ARGS]{...
            _JSON_CALL,  # older: [TOOL_CALLS][{"name": "f", "arguments": {...
        ),
        "[TOOL_CALLS]",
    ),
    CallMarkup(
        ("pythonic", "llama4_pythonic", "olmo3"),
        # [f(a=1), g(...)], or olmo3's calls one per line without the brackets
        re.compile(r"^\s*(?=\[?\s*[A-Za-z_][\w.]*\()"),
        (_PYTHON_CALL,),
        None,
        needs_known_name=True,
    ),
    CallMarkup(
        ("llama4_pythonic",),
        _tag("<|python_start|>"),
        (_PYTHON_CALL,),
        "<|python_start|>",
    ),
    CallMarkup(
        ("deepseek_v3", "deepseek_v31"),
        _tag(_DS_CALLS),
        (
            # v3: <calls begin><call begin>function<sep>f\n```json\n{...
            re.compile(rf"\s*{_DS_CALL}function{_DS_SEP}(?P<name>[^\n<]+)\n```json\n"),
            # v3.1: <calls begin><call begin>f<sep>{...
            re.compile(rf"\s*{_DS_CALL}(?P<name>[^\n<]+){_DS_SEP}"),
        ),
        _DS_CALLS,
    ),
    CallMarkup(("granite-20b-fc",), _tag("<function_call>"), (_JSON_CALL,), "<function_call>"),
    CallMarkup(("jamba", "hunyuan_a13b"), _tag("<tool_calls>"), (_JSON_CALL,), "<tool_calls>"),
    CallMarkup(("lfm2",), _tag("<|tool_call_start|>"), (_PYTHON_CALL,), "<|tool_call_start|>"),
    CallMarkup(
        ("functiongemma",),
        _tag("<start_function_call>"),
        (re.compile(r"\s*call:(?P<name>[\w.\-]+)\{"),),  # call:f{a:<escape>1<escape>}
        "<start_function_call>",
    ),
    CallMarkup(("phi4_mini_json",), _tag("functools["), (_JSON_CALL,), "functools"),
    CallMarkup(
        ("internlm",),
        _tag("<|action_start|>"),
        (re.compile(_JSON_CALL.pattern.replace(r"\s*\[?", r"\s*<\|plugin\|>\s*", 1)),),
        "<|action_start|>",
    ),
)
"""How each family of vLLM tool parsers opens a call in the text (vLLM 0.32's parsers).

The server's parser is not visible to a client, so a cut answer is checked against every
family; openings that also start ordinary answers (a JSON object, a Python list) count only
when one of the request's tools is named right after them.
"""


@dataclass(frozen=True)
class FoundCall:
    """The start of a tool call in a text.

    Where it starts, which tool (if it got that far), and the arguments written so far.
    """

    start: int
    name: str | None
    arguments: str


_SHORTEST_PREFIX = 2
"""An answer cut inside an opening counts from this many of its characters (``<t``), for
openings that start with a sign (``<``, ``[``), not a letter."""


def find_call(text: str, names: frozenset[str] = frozenset()) -> FoundCall | None:
    """The first tool call opened in ``text`` (by any family of :data:`MARKUPS`), if any.

    Args:
        text: The model's text.
        names: The request's tool names (what openings that need a known name look for).

    Returns:
        The call found, or ``None``. A text that ends inside an opening (``<tool_cal``)
        counts as a call with no name and no arguments yet.
    """
    found: list[FoundCall] = []
    for markup in MARKUPS:
        opening = markup.opening.search(text)
        if opening is None:
            continue
        rest = text[opening.end() :]
        call = next((m for m in (p.match(rest) for p in markup.calls) if m is not None), None)
        name = call.group("name").strip() if call is not None else None
        if markup.needs_known_name and name not in names:
            continue
        arguments = rest[call.end() :] if call is not None else rest.strip()
        found.append(FoundCall(opening.start(), name, arguments))
    if found:
        return min(found, key=lambda call: call.start)
    for markup in MARKUPS:
        literal = markup.literal
        if literal is None or literal[0].isalnum():  # "functools[": "fu" ends words too
            continue
        for size in range(len(literal) - 1, _SHORTEST_PREFIX - 1, -1):
            if text.endswith(literal[:size]):
                return FoundCall(len(text) - size, None, "")
    return None


@dataclass(frozen=True)
class CallsAsked:
    """What a request asked of tools, for reading an answer cut mid call.

    Attributes:
        names: The request's function tool names (empty: no tools, or ``tool_choice="none"``).
        forced: ``tool_choice`` required or named: the answer is a call, whatever its text.
        forced_name: The tool a named ``tool_choice`` forces.
        max_tokens: The output limit sent (``max_tokens``, ``max_completion_tokens`` or the
            Responses API's ``max_output_tokens``), if any.
        answer_tool: The tool that carries a response format (see ``_structured``): a cut
            call of it is a cut answer, left as text.
    """

    names: frozenset[str] = frozenset()
    forced: bool = False
    forced_name: str | None = None
    max_tokens: int | None = None
    answer_tool: str | None = None

    @classmethod
    def of(cls, payload: dict[str, Any], answer_tool: str | None = None) -> CallsAsked:
        """Read a Chat Completions or Responses request body."""
        limit = next(
            (
                payload[key]
                for key in ("max_completion_tokens", "max_tokens", "max_output_tokens")
                if isinstance(payload.get(key), int)
            ),
            None,
        )
        choice = payload.get("tool_choice")
        tools = payload.get("tools") or []
        if choice == "none" or not tools:
            return cls(max_tokens=limit)
        names = frozenset(
            str(name)
            for tool in tools
            if isinstance(tool, dict)
            and (name := (tool.get("function") or tool).get("name")) is not None
        )
        forced_name = None
        if isinstance(choice, dict):
            forced_name = (choice.get("function") or choice).get("name")
        forced = choice == "required" or forced_name is not None
        return cls(names, forced, forced_name, limit, answer_tool)


def _output_tokens(message: AIMessage) -> int | None:
    usage = message.usage_metadata
    return usage.get("output_tokens") if usage else None


def _keep_text(message: AIMessage, end: int) -> None:
    """Cut ``message``'s text at ``end`` (its text blocks, for list content)."""
    if isinstance(message.content, str):
        message.content = message.content[:end].rstrip()
        return
    kept: list[Any] = []
    seen = 0
    for block in message.content:  # the blocks ``message.text`` reads: strings, "text"
        if isinstance(block, str):
            text = block
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            text = block["text"]
        else:
            kept.append(block)
            continue
        if seen + len(text) <= end:
            kept.append(block)
        elif seen < end:
            cut = text[: end - seen].rstrip()
            kept.append(cut if isinstance(block, str) else {**block, "text": cut})
        seen += len(text)
    message.content = kept


def mark_cut(message: AIMessage, calls: CallsAsked, reason: str | None) -> bool:
    """Turn what a cut answer left of a tool call into an invalid tool call that says why.

    A call is found in the message's invalid tool calls (arguments that are no JSON), in
    the text (a parser's opening markup, :data:`MARKUPS`), or, when ``tool_choice`` forced
    a call and none came back, in the whole text. The text keeps what came before the call;
    the invalid tool call has the tool's name (when it got that far, or the forced one;
    else ``""``: vLLM refuses a conversation sent back with a nameless call), the partial
    arguments, an id (agents answer it with an error ``ToolMessage``) and an error naming
    the limit reached.

    Args:
        message: A complete answer (changed in place).
        calls: What the request asked of tools.
        reason: Why the answer ended early (:func:`errors.cut_reason`), or ``None``.

    Returns:
        Whether the answer was cut mid tool call.
    """
    if reason is None or not calls.names:
        return False
    error = errors.cut_tool_call(
        errors.cut_cause(reason, calls.max_tokens, _output_tokens(message))
    )
    for invalid in message.invalid_tool_calls:
        invalid["error"] = error
    found = find_call(message.text, calls.names)
    if found is not None and found.name is not None and found.name == calls.answer_tool:
        message.content = found.arguments  # the response format's answer, cut: text
        return bool(message.invalid_tool_calls)
    if (
        found is None
        and calls.forced
        and calls.answer_tool is None
        and not message.tool_calls
        and not message.invalid_tool_calls
    ):
        found = FoundCall(0, None, message.text)
    if found is not None:
        _keep_text(message, found.start)
        message.invalid_tool_calls.append(
            make_invalid(
                name=found.name or calls.forced_name or "",
                args=found.arguments,
                id=f"call_cut_{uuid.uuid4().hex[:16]}",
                error=error,
            )
        )
    return bool(message.invalid_tool_calls)


def stream_cut(
    merged: AIMessageChunk, calls: CallsAsked, reason: str | None
) -> errors.VLLMAnswerCutError | None:
    """The error for a streamed answer cut mid tool call, or ``None``.

    LangChain completes a streamed call's partial arguments (``{"city": "Pa``) into a valid
    call when chunks are merged, and keeps no error text on merged chunks; so a stream cut
    mid call ends with this error instead. Its ``partial`` is the answer as
    :func:`mark_cut` makes it: complete calls in ``tool_calls``, the cut one in
    ``invalid_tool_calls``. A cut stream that showed nothing at all (the server's tool
    parser holds a call's opening back) counts as cut mid call.

    Args:
        merged: The chunks received, merged.
        calls: What the request asked of tools.
        reason: Why the answer ended early, or ``None``.
    """
    if reason is None or not calls.names:
        return None
    complete, cut = [], []
    for chunk in merged.tool_call_chunks:
        arguments = chunk.get("args") or ""
        try:
            parsed = json.loads(arguments, strict=False) if arguments else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            complete.append(
                {"name": chunk.get("name") or "", "args": parsed, "id": chunk.get("id")}
            )
        else:
            cut.append(
                make_invalid(name=chunk.get("name"), args=arguments, id=chunk.get("id"), error=None)
            )
    partial = AIMessage(
        content=merged.content,
        additional_kwargs=merged.additional_kwargs,
        response_metadata=merged.response_metadata,
        usage_metadata=merged.usage_metadata,
        id=merged.id,
        tool_calls=complete,
        invalid_tool_calls=cut,
    )
    shown = partial.text or partial.additional_kwargs.get("reasoning_content") or complete
    if not mark_cut(partial, calls, reason):
        if shown or calls.answer_tool is not None:
            return None
        partial.invalid_tool_calls.append(
            make_invalid(
                name=calls.forced_name or "",
                args="",
                id=f"call_cut_{uuid.uuid4().hex[:16]}",
                error=errors.cut_tool_call(
                    errors.cut_cause(reason, calls.max_tokens, _output_tokens(partial))
                    + " before the server's tool parser let any of it through"
                ),
            )
        )
    cut_call = partial.invalid_tool_calls[-1]
    what = f"tool call {cut_call['name']!r}" if cut_call.get("name") else "tool call"
    cause = errors.cut_cause(reason, calls.max_tokens, _output_tokens(partial))
    return errors.answer_cut(partial, reason, cause, what=what, max_tokens=calls.max_tokens)
