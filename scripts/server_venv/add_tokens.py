"""Copy a Hugging Face model folder with more tokens in its vocabulary (server venv program).

Usage (run by ``scripts/vllm_local.py`` with the server venv's python)::

    add_tokens.py SOURCE TARGET '["<think>", "[TOOL_CALLS]", ...]'

The tokens become *plain* added tokens (``special=False``): vLLM's tool-call and reasoning
parsers find them in the vocabulary as single tokens, and they survive detokenization with
``skip_special_tokens=True`` (several parsers, e.g. ``llama3_json`` and ``deepseek_v3``, would
never see a special token). The embedding matrix (tied to the output layer) grows to the new
vocabulary, padded to a multiple of 64; the new rows are the mean of the old ones, so the model
loads and answers as before. The weights hardly matter: the family server's answers are
scripted (``scripted_model.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.tokenization_utils_base import AddedToken

USAGE = "usage: add_tokens.py SOURCE TARGET TOKENS_JSON"
ARGUMENTS = 3
PAD_TO = 64


def main(argv: list[str]) -> int:
    """Write TARGET: SOURCE's model and tokenizer with the tokens added.

    Args:
        argv: SOURCE, TARGET and a JSON list of token strings.

    Returns:
        The exit code.
    """
    if len(argv) != ARGUMENTS:
        print(USAGE, file=sys.stderr)
        return 2
    source, target, tokens = Path(argv[0]), Path(argv[1]), json.loads(argv[2])
    tokenizer = AutoTokenizer.from_pretrained(source)
    known = tokenizer.get_vocab()
    new = [AddedToken(token, special=False, normalized=False) for token in tokens]
    added = tokenizer.add_tokens([token for token in new if token.content not in known])
    model = AutoModelForCausalLM.from_pretrained(source, dtype="auto")
    model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=PAD_TO)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    for token in tokens:  # each one must be one token, else a parser cannot find it
        ids = tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1:
            print(f"{token!r} is not a single token: {ids}", file=sys.stderr)
            return 1
    print(f"added {added} tokens; vocabulary {len(tokenizer)}, embeddings {model.vocab_size}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
