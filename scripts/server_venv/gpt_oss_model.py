"""Write a tiny gpt-oss model: the real Harmony tokenizer, random weights (server venv program).

Usage (run by ``scripts/vllm_local.py`` with the server venv's python)::

    gpt_oss_model.py TARGET

vLLM serves gpt-oss through its Harmony path (prompts rendered and answers parsed by
``openai_harmony``, the ``openai`` tool-call and ``openai_gptoss`` reasoning parsers) only when
the model's ``model_type`` is ``gpt_oss``. No gpt-oss weights ship in a registry package, but the
served answers are scripted (``scripted_model.py``), so the weights do not matter: this writes
a two-layer ``GptOssForCausalLM`` (hidden size 128, 4 experts, about 52 M parameters, mostly the
embeddings) with random weights, and gpt-oss's generation config (an answer ends at
``<|return|>`` or ``<|call|>``: one tool call a turn).

The tokenizer must be gpt-oss's own (``o200k_harmony``): Harmony renders prompts and parses
answers as token ids. ``openai_harmony`` carries that encoding (no network), so the BPE ranks
are read from it token by token, converted with transformers' ``TikTokenConverter`` and the
special tokens (``<|channel|>``, ``<|call|>``, ...) added at their own ids; a sample text is
checked to tokenize as ``openai_harmony`` does. About 30 s.
"""

from __future__ import annotations

import base64
import inspect
import re
import sys
import tempfile
from pathlib import Path

import openai_harmony
import tiktoken_ext.openai_public
import torch
from tokenizers import AddedToken
from transformers import GptOssConfig, GptOssForCausalLM, PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import TikTokenConverter

SAMPLE = 'Hi wörld, 東京 <|channel|>analysis<|message|>Let\'s see.  \n\n{"a": 1}<|end|><|call|>'
RETURN, END_OF_TEXT, START_OF_TEXT, CALL = 200002, 199999, 199998, 200012


def _pattern() -> str:
    """The pre-tokenizer pattern of o200k (the same for o200k_harmony)."""
    source = inspect.getsource(tiktoken_ext.openai_public.o200k_base)
    return "|".join(re.findall(r'r"""(.*?)"""', source, re.DOTALL))


def tokenizer(encoding: openai_harmony.HarmonyEncoding) -> PreTrainedTokenizerFast:
    """The Hugging Face tokenizer of a Harmony encoding.

    Args:
        encoding: gpt-oss's encoding.

    Returns:
        The tokenizer, ids as in the encoding.
    """
    specials = {
        encoding.encode(s, allowed_special="all")[0]: s for s in encoding.special_tokens_set
    }
    with tempfile.TemporaryDirectory() as folder:
        ranks = Path(folder) / "o200k_harmony.tiktoken"
        with ranks.open("w", encoding="ascii") as handle:
            for token_id in range(min(specials)):
                data = bytes(encoding._inner.decode_bytes([token_id]))  # noqa: SLF001
                handle.write(f"{base64.b64encode(data).decode()} {token_id}\n")
        backend = TikTokenConverter(vocab_file=str(ranks), pattern=_pattern()).converted()
    backend.add_special_tokens(
        [AddedToken(specials[i], special=True, normalized=False) for i in sorted(specials)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|startoftext|>",  # noqa: S106 - tokens, not passwords
        eos_token="<|return|>",  # noqa: S106
        pad_token="<|endoftext|>",  # noqa: S106
    )


def model() -> GptOssForCausalLM:
    """A two-layer gpt-oss with random (seeded) bf16 weights."""
    config = GptOssConfig(
        vocab_size=201152,
        hidden_size=128,
        intermediate_size=128,
        head_dim=64,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_hidden_layers=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        sliding_window=128,
        max_position_embeddings=4096,
        layer_types=["sliding_attention", "full_attention"],
        bos_token_id=START_OF_TEXT,
        eos_token_id=RETURN,
        pad_token_id=END_OF_TEXT,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = GptOssForCausalLM(config).to(torch.bfloat16)
    # as gpt-oss's own generation config: an answer also ends at <|call|> (one call a turn)
    model.generation_config.eos_token_id = [RETURN, END_OF_TEXT, CALL]
    return model


def main(argv: list[str]) -> int:
    """Write the model folder.

    Args:
        argv: The target folder.

    Returns:
        The exit code.
    """
    if len(argv) != 1:
        print("usage: gpt_oss_model.py TARGET", file=sys.stderr)
        return 2
    target = Path(argv[0])
    name = openai_harmony.HarmonyEncodingName.HARMONY_GPT_OSS
    encoding = openai_harmony.load_harmony_encoding(name)
    fast = tokenizer(encoding)
    ours = fast.encode(SAMPLE, add_special_tokens=False)
    theirs = encoding.encode(SAMPLE, allowed_special="all")
    if ours != theirs:
        print(f"the tokenizer differs from openai_harmony: {ours} != {theirs}", file=sys.stderr)
        return 1
    model().save_pretrained(target)
    fast.save_pretrained(target)
    print(f"gpt-oss model written to {target}: vocabulary {len(fast)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
