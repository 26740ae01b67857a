# ruff: noqa: RUF002 - DeepSeek's markers are spelled with fullwidth bars
r"""A vLLM logits processor that makes the served model say a text given per request.

Loaded by the launcher's generative servers (``scripts/vllm_local.py``) with::

    --logits-processors scripted_model:ScriptedModel   (this folder on PYTHONPATH)

A request that carries ``vllm_xargs={"script": "<text>"}`` (``extra_body={"vllm_xargs": ...}``
in the openai SDK; ``ChatVLLM(...).invoke(..., vllm_xargs={...})``) gets ``<text>`` as its
output, token by token, then the end-of-sequence token: at each step every logit of the
request's row is masked but the next token of the text (tokenized with the model's own
tokenizer, added tokens such as ``<think>`` or ``[TOOL_CALLS]`` as single tokens). Requests
without a script sample as before, so one server serves scripted and free requests at once.

Everything but the choice of tokens stays vLLM's own: the chat template that rendered the
prompt, the tool-call and reasoning parsers reading the output, streaming deltas, finish
reasons (a script longer than ``max_tokens`` ends with ``"length"``), usage, stop strings.

Grammars: vLLM applies a request's grammar (``response_format``, strict tools, ``tool_choice``
``required`` or named, ``structured_outputs``) *before* custom logits processors. A script
token the grammar forbids is still forced (this processor re-enables it), the grammar then
rejects it and vLLM ends the request with an error (a 500, or an error event in a stream).
The processor logs a warning naming the position and the token, so the server log says which
character of the script disagreed with the grammar. Scripts under a grammar must therefore be
spelled exactly as the grammar allows. Measured on vLLM 0.32 (xgrammar, server started with
``--structured-outputs-config '{"disable_any_whitespace": true}'``, as the launcher does):

* ``response_format`` ``json_schema``: no whitespace at all: ``{"a":"x","b":1}``
  (``json.dumps(value, separators=(",", ":"))``); ``{"a": "x"}`` is refused.
* ``response_format`` ``json_object``: a space after each comma and none after colons:
  ``{"a":"b", "c":"d"}`` (``separators=(", ", ":")``); ``{"a":"b","c":"d"}`` is refused.
* Strict tools (ChatVLLM's default), ``tool_choice`` ``auto``, ``required`` or named, hermes
  parser: the structural tag fixes the call's head exactly as ``json.dumps`` writes it,
  ``<tool_call>{"name": "f", "arguments": `` (the newline after ``<tool_call>`` optional;
  ``{"name":"f",...`` is refused); the arguments themselves may use any spacing.
  Other parsers' tags follow their own formats (tests/integration_tests/test_families.py).

Where scripts and grammars disagree (measured on vLLM 0.32 CPU, xgrammar, with the launcher's
``disable_any_whitespace``; ``tests/families.py`` writes scripts that pass):

- Strict tools (ChatVLLM's default) with ``tool_choice="auto"``: the grammar is a structural
  tag in the call format of the server's parser, and text outside calls is free. A call must
  be spelled as the tag's ``begin`` is: hermes ``<tool_call>\n{"name": "NAME", "arguments": ``
  (or without the newlines); qwen3_coder/qwen3_xml ``<tool_call>\n<function=NAME>\n``, and a
  call without parameters needs an empty line, ``<function=NAME>\n\n</function>`` (the
  Qwen3-Coder template writes one newline); llama3_json ``{"name": "NAME", "parameters": ``;
  deepseek_v31 ``<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>``; deepseek_v3
  ``<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n``; gpt-oss
  ``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>`` (its model's own
  spacing; the spelling without the space is refused). Arguments inside a tag may carry
  whitespace. llama4_pythonic and mistral have no structural tag: no grammar under auto.
- ``tool_choice="required"`` or a named tool: tags only, no text before or between them. Parsers
  without a format of their own in vLLM (llama4_pythonic) get vLLM's JSON grammar instead: the
  compact list ``[{"name":"NAME","parameters":{...}}]`` (named: the arguments object alone).
  mistral with a Hugging Face tokenizer gets the pre-v11 grammar, a bare JSON list of
  ``{"name", "arguments"}`` objects, which the parser then returns as content (a vLLM 0.32 bug).
- ``response_format`` (and every JSON grammar): compact JSON, no whitespace at all.
- Reasoning: the grammar starts right after the reasoning parser sees its end marker, so under
  required/named/response_format the blank line Qwen3 and DeepSeek write after ``</think>``
  is refused: write ``</think>`` then the call or JSON. gpt-oss's JSON answer is announced:
  ``<|channel|>final <|constrain|>json<|message|>{...}``. When an earlier assistant turn in
  the prompt already closed ``</think>`` (DeepSeek V3.1 after a tool result), the grammar
  starts at the first output token and a new ``</think>`` is refused.

The interface is ``vllm_xargs={"script": <str>}``; anything else under ``script`` is refused
with a 400 before the request runs. Needs the V1 model runner's logits-processor interface
(``VLLM_USE_V2_MODEL_RUNNER=0`` on GPU builds, the default on CPU).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoTokenizer
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

if TYPE_CHECKING:
    from collections.abc import Callable

    from vllm import SamplingParams
    from vllm.config import VllmConfig

logger = logging.getLogger("vllm.scripted_model")

SCRIPT_KEY = "script"
"""The ``vllm_xargs`` key that carries the text."""


def _script(params: SamplingParams) -> str | None:
    extra: dict[str, Any] = params.extra_args or {}
    script = extra.get(SCRIPT_KEY)
    if script is None:
        return None
    if not isinstance(script, str):
        msg = f"vllm_xargs[{SCRIPT_KEY!r}] must be a string, not {type(script).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - vLLM turns ValueError into a 400
    return script


class ScriptedModel(AdapterLogitsProcessor):
    """Forces each scripted request's output to its script, then EOS."""

    def __init__(self, vllm_config: VllmConfig, device: torch.device, is_pin_memory: bool) -> None:  # noqa: FBT001 - vLLM's signature
        """Load the model's tokenizer (the one vLLM serves with).

        Args:
            vllm_config: The engine's configuration.
            device: The device logits live on.
            is_pin_memory: Whether pinned memory is used.
        """
        super().__init__(vllm_config, device, is_pin_memory)
        model_config = vllm_config.model_config
        self._tokenizer = AutoTokenizer.from_pretrained(
            model_config.tokenizer, trust_remote_code=model_config.trust_remote_code
        )
        eos = self._tokenizer.eos_token_id
        if eos is None:
            eos = model_config.hf_config.eos_token_id
        self._eos = int(eos[0] if isinstance(eos, list) else eos)
        self._encode = lru_cache(maxsize=256)(self._encode_uncached)

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        """Refuse a ``script`` that is not a string (a 400 naming the key).

        Args:
            sampling_params: The request's sampling parameters.
        """
        _script(sampling_params)

    def is_argmax_invariant(self) -> bool:
        """It changes the argmax: greedy requests must be forced too.

        Returns:
            False.
        """
        return False

    def _encode_uncached(self, script: str) -> tuple[int, ...]:
        ids = self._tokenizer.encode(script, add_special_tokens=False)
        return (*ids, self._eos)

    def new_req_logits_processor(
        self, params: SamplingParams
    ) -> Callable[[list[int], torch.Tensor], torch.Tensor] | None:
        """The per-request processor of a scripted request (None: sample as usual).

        Args:
            params: The request's sampling parameters.

        Returns:
            A function of (output ids so far, the row's logits) forcing the next token.
        """
        script = _script(params)
        if script is None:
            return None
        tokens = self._encode(script)
        tokenizer = self._tokenizer

        def force(output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
            position = len(output_ids)
            token = tokens[min(position, len(tokens) - 1)]
            if torch.isneginf(logits[token]):
                logger.warning(
                    "scripted_model: the request's grammar forbids script token %d (%r) at "
                    "output position %d; vLLM will end the request with an error. Spell the "
                    "script as the grammar allows.",
                    token,
                    tokenizer.decode([token]),
                    position,
                )
            forced = torch.full_like(logits, float("-inf"))
            forced[token] = 0.0
            return forced

        return force
