"""vLLM parser plugins that serve several model families from one server (server venv program).

The launcher's ``families`` server (``scripts/vllm_local.py``) loads this file with::

    --tool-parser-plugin family_parsers.py --tool-call-parser family
    --reasoning-parser-plugin family_parsers.py --reasoning-parser family

and a request picks its family with ``chat_template_kwargs={"family": "<name>"}`` (the same
variable picks the family's markup in the server's chat template). Each family is the pair of
parsers its vLLM recipe uses (:data:`FAMILIES`); a request without ``family`` is ``hermes``.

How: vLLM builds a fresh parser pair for every request (one for ``adjust_request``, one per
choice for parsing; ``vllm/parser/abstract_parser.py``), passing ``chat_template_kwargs`` to the
reasoning parser and to tool parsers that are engine adapters. The two classes here are such
placeholders: their ``__new__`` returns an instance of the family's own parser class, built as
vLLM would build it. Everything after that is the real parser: its class attributes
(``engine_based_streaming``: the engine-based ``qwen3_coder``/``mistral``/``qwen3`` see delta
text, the others cumulative text; ``structural_tag_model``; ``supports_required_and_named``),
the structural tag strict tools get, streaming, ids. The engine core builds its own reasoning
parser for structured outputs from the same ``chat_template_kwargs``, through the same class.

What differs from a server started with ``--tool-call-parser X --reasoning-parser Y``:
- a family without a reasoning parser gets vLLM's identity reasoning parser (all content), so
  usage carries ``completion_tokens_details.reasoning_tokens: 0``;
- the serving layer's class-level checks see these placeholders: ``is_mistral_tool_parser`` is
  false, which matters only with ``--tokenizer-mode mistral`` (not used here).
"""

from __future__ import annotations

from typing import Any

from vllm.parser.engine.adapters import ParserEngineToolAdapter
from vllm.reasoning import ReasoningParser, ReasoningParserManager
from vllm.reasoning.identity_reasoning_parser import IdentityReasoningParser
from vllm.tool_parsers import ToolParserManager

FAMILY_KEY = "family"
"""The ``chat_template_kwargs`` key that names the family."""

DEFAULT_FAMILY = "hermes"

FAMILIES: dict[str, tuple[str, str | None]] = {
    "hermes": ("hermes", None),  # Qwen2.5, Hermes
    "qwen3": ("hermes", "qwen3"),  # Qwen3 (thinking)
    "qwen3_coder": ("qwen3_coder", "qwen3"),  # Qwen3-Coder, Qwen3.5 (XML calls)
    "llama3_json": ("llama3_json", None),  # Llama 3.1-3.3
    "llama4_pythonic": ("llama4_pythonic", None),  # Llama 4
    "mistral": ("mistral", "mistral"),  # Mistral, Devstral, Magistral
    "deepseek_v31": ("deepseek_v31", "deepseek_v3"),  # DeepSeek V3.1
    "deepseek_r1": ("deepseek_v3", "deepseek_r1"),  # DeepSeek R1 (0528)
}
"""Family name: (``--tool-call-parser``, ``--reasoning-parser`` or None), as vLLM 0.32
names them."""


def family_parsers(kwargs: dict[str, Any]) -> tuple[str, str | None]:
    """The parser names of the family a request's ``chat_template_kwargs`` name.

    Args:
        kwargs: The keyword arguments vLLM builds a parser with.

    Returns:
        The tool-call and reasoning parser names.

    Raises:
        ValueError: The family is unknown (vLLM answers 400).
    """
    template_kwargs = kwargs.get("chat_template_kwargs") or {}
    family = template_kwargs.get(FAMILY_KEY) or DEFAULT_FAMILY
    if family not in FAMILIES:
        msg = (
            f"chat_template_kwargs[{FAMILY_KEY!r}]={family!r} is not a family of this server; "
            f"use one of {', '.join(FAMILIES)}"
        )
        raise ValueError(msg)
    return FAMILIES[family]


@ToolParserManager.register_module("family")
class FamilyToolParser(ParserEngineToolAdapter):
    """Stands for the tool-call parser of the request's family.

    An engine adapter only so that vLLM passes it ``chat_template_kwargs``; ``__new__`` returns
    the family's parser, so no instance of this class is ever made.
    """

    def __new__(cls, tokenizer: Any, tools: Any = None, **kwargs: Any) -> Any:  # noqa: D102
        parser_cls = ToolParserManager.get_tool_parser(family_parsers(kwargs)[0])
        if issubclass(parser_cls, ParserEngineToolAdapter):
            return parser_cls(tokenizer, tools, **kwargs)
        return parser_cls(tokenizer, tools)


@ReasoningParserManager.register_module("family")
class FamilyReasoningParser(ReasoningParser):
    """Stands for the reasoning parser of the request's family (identity when it has none)."""

    def __new__(cls, tokenizer: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        name = family_parsers(kwargs)[1]
        if name is None:
            return IdentityReasoningParser(tokenizer, *args, **kwargs)
        return ReasoningParserManager.get_reasoning_parser(name)(tokenizer, *args, **kwargs)
