"""The model families the ``families`` server speaks, and how each one's model writes.

The launcher's ``families`` server (``scripts/vllm_local.py``) serves SmolLM2 with vLLM's own
parsers and templates for several model families at once; a request picks one with
``chat_template_kwargs={"family": name}`` (``scripts/server_venv/family_parsers.py``). With the
scripted model (``vllm_xargs={"script": text}``) its answer is exactly ``text``, so a test
writes what a capable model of that family would write and checks what vLLM's parsers and
ChatVLLM make of it. :class:`Family` writes those texts: tool calls, text before them,
reasoning, in the family's own markup.

Spelling scripts under a grammar: vLLM applies a request's grammar before the scripted model,
and a script token the grammar forbids ends the request with a 500 (see the module docstring
of ``scripts/server_venv/scripted_model.py``). :meth:`Family.calls` writes what strict tools
(ChatVLLM's default) allow with ``tool_choice="auto"``; :meth:`Family.forced_calls` what
``tool_choice="required"`` or a named tool allow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Call = tuple[str, dict[str, Any]]
"""A tool call to script: the tool's name and its arguments."""

FAMILY_KEY = "family"
"""The ``chat_template_kwargs`` key that picks a family on the families server."""

OPENAI_ID = r"chatcmpl-tool-[0-9a-f]{16}"
MISTRAL_ID = r"[A-Za-z0-9]{9}"

_DS_CALLS_BEGIN, _DS_CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"  # noqa: RUF001
_DS_CALL_BEGIN, _DS_CALL_END = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>"  # noqa: RUF001
_DS_SEP = "<｜tool▁sep｜>"  # noqa: RUF001


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _python(value: Any) -> str:
    """A Python literal (what Llama 4's pythonic calls hold)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, dict):
        items = ", ".join(f"{_json(key)}: {_python(item)}" for key, item in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python(item) for item in value) + "]"
    return _json(value)


def _hermes(calls: Sequence[Call]) -> str:
    return "\n".join(
        f'<tool_call>\n{{"name": "{name}", "arguments": {_json(args)}}}\n</tool_call>'
        for name, args in calls
    )


def _xml_value(value: Any) -> str:
    """A parameter value in Qwen's XML calls: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else _json(value)


def _qwen_xml(calls: Sequence[Call]) -> str:
    out = []
    for name, args in calls:
        params = "".join(
            f"<parameter={key}>\n{_xml_value(value)}\n</parameter>\n" for key, value in args.items()
        )
        # vLLM's grammar for a strict call without parameters wants a blank line here
        out.append(f"<tool_call>\n<function={name}>\n{params or chr(10)}</function>\n</tool_call>")
    return "\n".join(out)


def _llama3(calls: Sequence[Call]) -> str:
    return "; ".join(f'{{"name": "{name}", "parameters": {_json(args)}}}' for name, args in calls)


def _pythonic(calls: Sequence[Call]) -> str:
    def one(name: str, args: dict[str, Any]) -> str:
        return name + "(" + ", ".join(f"{k}={_python(v)}" for k, v in args.items()) + ")"

    return "[" + ", ".join(one(name, args) for name, args in calls) + "]"


def _mistral(calls: Sequence[Call]) -> str:
    return "".join(f"[TOOL_CALLS]{name}[ARGS]{_json(args)}" for name, args in calls)


def _deepseek_v31(calls: Sequence[Call]) -> str:
    body = "".join(
        f"{_DS_CALL_BEGIN}{name}{_DS_SEP}{_json(args)}{_DS_CALL_END}" for name, args in calls
    )
    return _DS_CALLS_BEGIN + body + _DS_CALLS_END


def _deepseek_v3(calls: Sequence[Call]) -> str:
    body = "\n".join(
        f"{_DS_CALL_BEGIN}function{_DS_SEP}{name}\n```json\n{_json(args)}\n```{_DS_CALL_END}"
        for name, args in calls
    )
    return _DS_CALLS_BEGIN + body + _DS_CALLS_END


def _harmony(calls: Sequence[Call]) -> str:
    """gpt-oss: one commentary message per call (vLLM ends the answer at its ``<|call|>``)."""
    return "<|start|>assistant".join(
        f"<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{_json(args)}"
        "<|call|>"
        for name, args in calls
    )


def _harmony_history(calls: Sequence[Call]) -> str:
    """How vLLM (openai_harmony) renders gpt-oss's earlier calls in a prompt."""
    return "".join(
        f"<|start|>assistant to=functions.{name}<|channel|>commentary json<|message|>"
        f"{_json(args)}<|call|>"
        for name, args in calls
    )


def _json_calls(calls: Sequence[Call]) -> str:
    """vLLM's own format for required/named calls: a compact JSON list of name+parameters."""
    listed = [{"name": name, "parameters": args} for name, args in calls]
    return json.dumps(listed, ensure_ascii=False, separators=(",", ":"))


def _think(thought: str) -> str:
    return f"<think>\n{thought}\n</think>"


def _after_think(thought: str) -> str:
    """DeepSeek: the prompt already opened ``<think>``."""
    return f"{thought}\n</think>"


def _mistral_think(thought: str) -> str:
    return f"[THINK]{thought}[/THINK]"


def _harmony_think(thought: str) -> str:
    return f"<|channel|>analysis<|message|>{thought}<|end|>"


def _plain(text: str, *, json_schema: bool = False) -> str:  # noqa: ARG001 - same signature
    return text


def _harmony_answer(text: str, *, json_schema: bool = False) -> str:
    """gpt-oss writes its answer in the final channel (constrained JSON announces itself)."""
    return f"<|channel|>final{' <|constrain|>json' if json_schema else ''}<|message|>{text}"


def _harmony_text(text: str) -> str:
    """gpt-oss's preamble: text for the user before a call, in the commentary channel."""
    return f"<|channel|>commentary<|message|>{text}<|end|><|start|>assistant"


def _line(text: str) -> str:
    return f"{text}\n"


@dataclass(frozen=True)
class Family:
    """One model family as vLLM serves it: its parsers, and how its model writes.

    Attributes:
        name: The family's name on the families server (``chat_template_kwargs["family"]``),
            or the name of its own server.
        models: The models that write this way.
        tool_parser: ``--tool-call-parser``.
        reasoning_parser: ``--reasoning-parser`` (``None``: the family does not reason).
        write_calls: Tool calls in the family's markup, as the model writes them.
        write_reasoning: A reasoning block as the model writes it (``None``: no reasoning).
        after_reasoning: What the model writes between its reasoning and the rest.
        thinking: The ``chat_template_kwargs`` that turn thinking on (besides ``family``).
        always_thinks: The model always reasons first (DeepSeek R1): scripts start with
            reasoning.
        forced_json: ``tool_choice="required"`` or a named tool makes vLLM constrain the
            output to its own JSON call format (the parser has no grammar of its own format).
        text_before_calls: vLLM's parser keeps text written before a call as content (the
            ``llama3_json`` and ``llama4_pythonic`` parsers do not).
        id_pattern: What vLLM's tool-call ids look like for this family.
        reasoning_tokens: vLLM counts reasoning tokens in ``usage`` for this family's
            reasoning parser (the ``deepseek_r1`` parser reports 0).
        server: The launcher's server that speaks it (``families``, or its own).
        write_answer: An answer as the model writes it (``json_schema``: under a JSON schema).
        write_text_before: Text written before tool calls, as the model writes it.
        parallel_calls: Several calls in one answer (gpt-oss makes one call per turn).
        stop_markers: Script endings that stop the answer themselves (no end-of-sequence token
            follows them).
        forced_calls_parsed: vLLM parses the calls its grammar forces for
            ``tool_choice="required"`` or a named tool. vLLM 0.32's ``mistral`` parser with a
            Hugging Face tokenizer does not: the grammar forces a bare JSON list of calls
            (meant for pre-v11 tokenizers) and the parser, which waits for ``[TOOL_CALLS]``,
            returns it as content.
        thinking_prompts: How the generation prompt ends with thinking on and off, for a
            family whose template turns thinking on and off (``None``: it does not).
        thinks_by_default: With no ``chat_template_kwargs`` about thinking, the reasoning
            parser reads the answer as reasoning until the model ends it (Qwen3's parser
            assumes ``enable_thinking=true``), so the model writes reasoning first.
        write_history_calls: How the template renders earlier calls in a prompt, when not
            as the model writes them (``None``: the same).
    """

    name: str
    models: str
    tool_parser: str
    reasoning_parser: str | None
    write_calls: Callable[[Sequence[Call]], str]
    write_reasoning: Callable[[str], str] | None = None
    after_reasoning: str = "\n\n"
    thinking: dict[str, Any] | None = None
    always_thinks: bool = False
    forced_json: bool = False
    text_before_calls: bool = True
    id_pattern: str = OPENAI_ID
    reasoning_tokens: bool = True
    server: str = "families"
    write_answer: Callable[..., str] = _plain
    write_text_before: Callable[[str], str] = _line
    parallel_calls: bool = True
    stop_markers: tuple[str, ...] = ()
    forced_calls_parsed: bool = True
    thinking_prompts: tuple[str, str] | None = None
    thinks_by_default: bool = False
    write_history_calls: Callable[[Sequence[Call]], str] | None = None

    @property
    def template_kwargs(self) -> dict[str, Any]:
        """``chat_template_kwargs`` that pick this family (none on a server of its own)."""
        return {FAMILY_KEY: self.name} if self.server == "families" else {}

    def history_calls(self, *calls: Call) -> str:
        """Earlier calls as the family's template renders them in a prompt.

        Args:
            calls: The calls.

        Returns:
            Their markup.
        """
        return (self.write_history_calls or self.write_calls)(calls)

    def answer(self, text: str, *, json_schema: bool = False) -> str:
        """An answer (no tool call), as the model writes it.

        Args:
            text: The answer.
            json_schema: The answer is JSON under a ``response_format`` schema.

        Returns:
            The script.
        """
        return self.write_answer(text, json_schema=json_schema)

    def output_tokens(self, script_tokens: int, script: str) -> int:
        """The tokens vLLM counts as output for a script of ``script_tokens`` tokens.

        Args:
            script_tokens: The script's length in tokens.
            script: The script.

        Returns:
            The script, and the end-of-sequence token the scripted model adds unless the
            script ends with a marker that stops the answer itself.
        """
        return script_tokens + (0 if script.endswith(self.stop_markers or ("\0",)) else 1)

    @property
    def reasons(self) -> bool:
        """Whether the family's model reasons."""
        return self.write_reasoning is not None

    def calls(self, *calls: Call, text: str = "", thought: str = "I will call a tool.") -> str:
        """The model's tool calls (after ``text``), as strict tools allow them.

        Args:
            calls: The calls.
            text: Text the model writes before its calls.
            thought: The reasoning a model that always thinks writes first.

        Returns:
            The script.
        """
        script = (self.write_text_before(text) if text else "") + self.write_calls(calls)
        return self.reason(thought, script) if self.always_thinks else script

    def forced_calls(self, *calls: Call, thought: str | None = None) -> str:
        """The calls as vLLM's grammar for ``tool_choice="required"``/a named tool wants them.

        No text before the calls, and no blank line after reasoning (the grammar starts right
        after the end of reasoning and forbids it).

        Args:
            calls: The calls.
            thought: Reasoning first (always, for a model that always thinks).

        Returns:
            The script.
        """
        script = _json_calls(calls) if self.forced_json else self.write_calls(calls)
        if thought is None and self.always_thinks:
            thought = "I will call a tool."
        return script if thought is None else self.reason(thought, script, tight=True)

    def reason(self, thought: str, then: str, *, tight: bool = False) -> str:
        """Reasoning, then ``then`` (an answer or calls), as the model writes them.

        Args:
            thought: The reasoning.
            then: What follows it.
            tight: No blank line after the reasoning (a grammar that starts right after the
                reasoning forbids it).

        Returns:
            The script.

        Raises:
            ValueError: The family does not reason.
        """
        if self.write_reasoning is None:
            msg = f"{self.name} does not reason"
            raise ValueError(msg)
        separator = self.after_reasoning.strip() if tight else self.after_reasoning
        return self.write_reasoning(thought) + separator + then


GPT_OSS = Family(
    "gpt_oss",
    "gpt-oss",
    "openai",
    "openai_gptoss",
    _harmony,
    _harmony_think,
    after_reasoning="<|start|>assistant",
    thinking={},
    server="gpt_oss",
    write_answer=_harmony_answer,
    write_text_before=_harmony_text,
    parallel_calls=False,
    stop_markers=("<|call|>",),
    write_history_calls=_harmony_history,
)

FAMILIES = (
    Family("hermes", "Qwen2.5, Hermes", "hermes", None, _hermes),
    Family(
        "qwen3",
        "Qwen3 (thinking)",
        "hermes",
        "qwen3",
        _hermes,
        _think,
        thinking={"enable_thinking": True},
        thinking_prompts=("<|im_start|>assistant\n", "<think>\n\n</think>\n\n"),
        thinks_by_default=True,
    ),
    Family(
        "qwen3_coder",
        "Qwen3-Coder, Qwen3.5",
        "qwen3_coder",
        "qwen3",
        _qwen_xml,
        _think,
        thinking={"enable_thinking": True},
        thinking_prompts=("<|im_start|>assistant\n", "<think>\n\n</think>\n\n"),
        thinks_by_default=True,
    ),
    Family("llama3_json", "Llama 3.1-3.3", "llama3_json", None, _llama3, text_before_calls=False),
    Family(
        "llama4_pythonic",
        "Llama 4",
        "llama4_pythonic",
        None,
        _pythonic,
        forced_json=True,
        text_before_calls=False,
    ),
    Family(
        "mistral",
        "Mistral, Devstral, Magistral",
        "mistral",
        "mistral",
        _mistral,
        _mistral_think,
        after_reasoning="",
        thinking={},
        id_pattern=MISTRAL_ID,
        forced_calls_parsed=False,
    ),
    Family(
        "deepseek_v31",
        "DeepSeek V3.1",
        "deepseek_v31",
        "deepseek_v3",
        _deepseek_v31,
        _after_think,
        thinking={"thinking": True},
        reasoning_tokens=False,
        thinking_prompts=("<｜Assistant｜><think>", "<｜Assistant｜></think>"),  # noqa: RUF001
    ),
    Family(
        "deepseek_r1",
        "DeepSeek R1",
        "deepseek_v3",
        "deepseek_r1",
        _deepseek_v3,
        _after_think,
        thinking={},
        always_thinks=True,
        thinks_by_default=True,
        reasoning_tokens=False,
    ),
    GPT_OSS,
)
"""The families, in the order of the docs' table."""

BY_NAME = {family.name: family for family in FAMILIES}
