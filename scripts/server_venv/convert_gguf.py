"""Convert a GGUF model file into a bf16 Hugging Face folder.

Run by ``scripts/vllm_local.py setup`` in the *server* venv's python (it needs torch and
transformers, which the project venv does not have)::

    <venv>/bin/python scripts/server_venv/convert_gguf.py <file.gguf> <output folder>

transformers dequantizes the GGUF weights on load; ``save_pretrained`` then refuses ("quantized
with GGUF, not serializable") until the model no longer says it is quantized, so the quantizer
and ``quantization_config`` are removed before saving.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def convert(gguf: Path, out: Path) -> int:
    """Save the model and tokenizer of ``gguf`` as a bf16 Hugging Face folder ``out``.

    Args:
        gguf: The GGUF file.
        out: The folder to write.

    Returns:
        The number of parameters saved.
    """
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16
    )
    # The weights are dequantized on load; only the GGUF marks stop save_pretrained.
    model.hf_quantizer = None
    for obj in (model.config, getattr(model, "generation_config", None)):
        if obj is not None and hasattr(obj, "quantization_config"):
            delattr(obj, "quantization_config")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return int(sum(p.numel() for p in model.parameters()))


def main() -> None:
    """Convert ``sys.argv[1]`` (GGUF file) into ``sys.argv[2]`` (folder)."""
    gguf, out = Path(sys.argv[1]), Path(sys.argv[2])
    print(f"saved {convert(gguf, out)} parameters to {out}")


if __name__ == "__main__":
    main()
