"""A capable model's answers, played by the real vLLM server's scripted model.

The test servers run a 135M model: it cannot choose a tool on its own or follow a JSON shape
described in prose. The launcher's generative servers load the scripted model
(``scripts/server_venv/scripted_model.py``): a request carrying ``vllm_xargs={"script":
text}`` outputs exactly ``text``. :class:`CapableChatVLLM` is a ``ChatVLLM`` whose every
request carries, as its script, what a capable model would answer to that request —
decided by :func:`decide` from the request itself (messages, tools, ``tool_choice``,
``response_format``) and written in a model family's output format (:data:`FORMATS`).

Only the model's choice of tokens is scripted. The chat template that renders the prompt,
the tool-call parser that reads the output, the grammar of strict tools and response
formats, streaming deltas, finish reasons and usage are the real server's, and everything
ChatVLLM does with them is under test.

How the capable model decides (first rule that applies):

1. ``tool_choice`` names a tool: call it.
2. A JSON-schema ``response_format`` and tools, after a tool result: call the answer tool
   (ChatVLLM sends the schema as one more tool, named like the schema).
3. Tools offered, no tool result yet, ``tool_choice`` not ``"none"``, and either
   ``"required"`` or a tool that fits the question (its name or a word of its description
   in the last user message): call that tool, once per tool named in the question.
4. A JSON-schema ``response_format``: an instance of the schema.
5. ``response_format`` ``json_object``: a JSON object with the keys the prompt quotes.
6. Otherwise text: about the tool's result if there is one, else a short greeting-like
   answer.

Arguments are read from the question: ``name(3)`` gives the first parameter 3; a quoted
``'...'`` string or ``in <Place>`` fills string parameters; numbers fill numeric ones; the
rest comes from the schema (its first enum value, ``{}``/``[]`` for nested shapes).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_vllm import ChatVLLM
from tests.families import BY_NAME, Family

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import LanguageModelInput


@dataclass(frozen=True)
class Call:
    """One tool call: the tool's name and its arguments."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """What the model writes: reasoning (optional), text, tool calls."""

    text: str = ""
    calls: tuple[Call, ...] = ()
    reasoning: str | None = None
    forced: bool = False
    """The calls are forced by ``tool_choice`` (``"required"`` or a named tool)."""
    json_schema: bool = False
    """The text is JSON under a ``response_format`` schema."""
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ output formats


def written(family: Family, answer: Answer) -> str:
    """``answer`` as a model of ``family`` writes it, in the markup of ``tests/families.py``.

    Calls forced by ``tool_choice`` (``"required"`` or a named tool) are written as vLLM's
    grammar for them wants (:meth:`Family.forced_calls`), other calls after the answer's text
    (:meth:`Family.calls`); reasoning, if any, comes first (:meth:`Family.reason`).

    Args:
        family: The model family.
        answer: What the model answers.

    Returns:
        The script.
    """
    calls = [(call.name, call.arguments) for call in answer.calls]
    if calls and answer.forced:
        return family.forced_calls(*calls, thought=answer.reasoning)
    if calls:
        body = family.calls(*calls, text=answer.text)
    else:
        body = family.answer(answer.text, json_schema=answer.json_schema)
    return body if answer.reasoning is None else family.reason(answer.reasoning, body)


SCRIPTED_FAMILIES = ("hermes", "qwen3_coder")
"""The families whose models :class:`CapableChatVLLM` plays (LangChain's standard suite runs
scripted for each, ``tests/integration_tests/test_chat_models_scripted.py``)."""

FORMATS: dict[str, Callable[[Answer], str]] = {
    name: partial(written, BY_NAME[name]) for name in SCRIPTED_FAMILIES
}
"""Each scripted family's output format, by the family's name in ``tests/families.py``."""


# ------------------------------------------------------------------ deciding


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""


def _last(messages: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    return next((m for m in reversed(messages) if m.get("role") == role), None)


_QUOTED = re.compile(r"'([^']+)'")
_PLACE = re.compile(r"\bin ([A-Z][\w]*(?: [A-Z][\w]*)*)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_KNOWN_STRINGS = {
    "answer_style": "pirate",
    "setup": "Why did the cat sit on the computer?",
    "punchline": "To keep an eye on the mouse.",
    "conditions": "sunny",
}


def _value(name: str, schema: dict[str, Any], question: str, numbers: list[str]) -> Any:  # noqa: C901, PLR0911 - one rule per JSON type
    """A value for one schema property, taken from the question where it says one."""
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _value(name, options[0] if options else {}, question, numbers)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number"):
        if numbers:
            number = numbers.pop(0)
            return int(float(number)) if kind == "integer" else float(number)
        return 21
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(name, schema.get("items") or {}, question, numbers)]
    if kind == "object":
        return _instance(schema, question)
    if name in _KNOWN_STRINGS:
        return _KNOWN_STRINGS[name]
    if quoted := _QUOTED.findall(question):
        return quoted[0]
    if place := _PLACE.search(question):
        return place.group(1)
    return "example"


def _instance(schema: dict[str, Any], question: str) -> dict[str, Any]:
    """An object of ``schema`` (every property, so strict schemas are met), from the question."""
    properties: dict[str, Any] = schema.get("properties") or {}
    numbers = _NUMBER.findall(question)
    return {name: _value(name, prop, question, numbers) for name, prop in properties.items()}


def _arguments(tool: dict[str, Any], question: str) -> dict[str, Any]:
    parameters: dict[str, Any] = tool.get("parameters") or {}
    properties = list((parameters.get("properties") or {}).items())
    written = re.search(rf"\b{re.escape(tool['name'])}\(([^)]*)\)", question)
    if written and properties:
        try:
            values = ast.literal_eval(f"[{written.group(1)}]")
        except (SyntaxError, ValueError):
            values = []
        if values:
            return {name: value for (name, _), value in zip(properties, values, strict=False)}
    return _instance(parameters, question)


def _fits(tool: dict[str, Any], question: str) -> bool:
    """Whether a capable model would call ``tool`` for ``question``."""
    lowered = question.lower()
    if tool["name"].lower() in lowered:
        return True
    words = re.findall(r"[a-z]{5,}", str(tool.get("description", "")).lower())
    name_words = [w for w in tool["name"].lower().split("_") if len(w) > 3]
    return any(word in lowered for word in [*words, *name_words])


def decide(payload: dict[str, Any]) -> Answer:  # noqa: C901, PLR0911 - the rules of the module docstring, in order
    """What a capable model answers to the Chat Completions request ``payload``."""
    messages: list[dict[str, Any]] = payload.get("messages") or []
    user = _last(messages, "user")
    question = _text(user["content"]) if user else ""
    tools = [t["function"] for t in payload.get("tools") or [] if t.get("type") == "function"]
    by_name = {tool["name"]: tool for tool in tools}
    choice = payload.get("tool_choice")
    response_format = payload.get("response_format") or {}
    if isinstance(response_format, type):  # bind_tools(response_format=PydanticClass)
        schema = response_format.model_json_schema()  # type: ignore[attr-defined]
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": response_format.__name__, "schema": schema},
        }
    schema_format = (
        response_format.get("json_schema") if response_format.get("type") == "json_schema" else None
    )
    after_tool = bool(messages) and messages[-1].get("role") == "tool"
    tool_result = _text(messages[-1].get("content")) if after_tool else ""

    if isinstance(choice, dict):
        name = choice["function"]["name"]
        if name in by_name:
            return Answer(calls=(Call(name, _arguments(by_name[name], question)),), forced=True)
    if schema_format is not None and tools and after_tool and choice != "none":
        schema = schema_format.get("schema") or {}
        name = str(schema_format.get("name") or "final_answer")
        call = Call(name, _instance(schema, f"{tool_result} {question}"))
        return Answer(calls=(call,), forced=choice is not None and choice != "auto")
    if tools and choice != "none" and not after_tool:
        wanted = [tool for tool in tools if _fits(tool, question)]
        if not wanted and choice == "required":
            wanted = tools[:1]
        if wanted:
            calls = tuple(Call(t["name"], _arguments(t, question)) for t in wanted)
            return Answer(calls=calls, forced=choice == "required")
    if schema_format is not None:
        instance = _instance(schema_format.get("schema") or {}, f"{tool_result} {question}")
        # a json_schema grammar with whitespace off allows no space at all
        text = json.dumps(instance, ensure_ascii=False, separators=(",", ":"))
        return Answer(text=text, json_schema=True)
    if response_format.get("type") == "json_object":
        keys = _QUOTED.findall(question) or ["answer"]
        values = {key: _KNOWN_STRINGS.get(key, "example") for key in keys}
        # vLLM 0.32's json_object grammar (xgrammar, whitespace off) wants ", " between items
        return Answer(text=json.dumps(values, ensure_ascii=False, separators=(", ", ":")))
    if after_tool:
        return Answer(text=f"The tool says: {tool_result}")
    return Answer(text="Hello! I am doing well, thank you. How can I help you today?")


class CapableChatVLLM(ChatVLLM):
    """A ``ChatVLLM`` whose requests carry, as the scripted model's script, what a capable
    model of the family ``script_format`` would answer (see the module docstring).

    A request that already carries a script (``vllm_xargs={"script": ...}``) keeps it.
    """

    script_format: str = "hermes"
    """The family whose markup the model writes (a key of :data:`FORMATS`); the server's
    parsers must be that family's (on the families server, pick it with
    ``chat_template_kwargs={"family": ...}``)."""

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        extra = payload.setdefault("extra_body", {})
        xargs = dict(extra.get("vllm_xargs") or {})
        if "script" not in xargs:
            xargs["script"] = FORMATS[self.script_format](decide(payload))
            extra["vllm_xargs"] = xargs
        return payload
