"""Write an identity LoRA adapter (PEFT format) for a Llama-style model folder.

Run by ``scripts/vllm_local.py setup`` in the *server* venv's python (it needs torch and
safetensors, which the project venv does not have)::

    <venv>/bin/python scripts/server_venv/identity_lora.py <base model folder> <output> <rank>

The adapter targets ``q_proj`` and ``v_proj`` of every layer; its ``lora_A`` matrices are small
and random (seeded), its ``lora_B`` matrices zero, so the adapter's outputs equal the base
model's. Writes ``adapter_model.safetensors`` and ``adapter_config.json`` (alpha = 2 x rank).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file


def lora_tensors(config: dict[str, Any], rank: int) -> dict[str, Any]:
    """The adapter's tensors for a model with the given ``config.json`` contents.

    Args:
        config: The base model's config.
        rank: The LoRA rank.

    Returns:
        ``lora_A`` (random, seeded) and ``lora_B`` (zero) weights by PEFT name.
    """
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // config["num_attention_heads"]
    outputs = {
        "q_proj": config["num_attention_heads"] * head_dim,
        "v_proj": config["num_key_value_heads"] * head_dim,
    }
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for layer in range(config["num_hidden_layers"]):
        for module, size in outputs.items():
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            a = torch.randn(rank, hidden, generator=generator) * 0.01
            tensors[f"{prefix}.lora_A.weight"] = a
            tensors[f"{prefix}.lora_B.weight"] = torch.zeros(size, rank)
    return tensors


def adapter_config(base: Path, rank: int) -> dict[str, Any]:
    """The PEFT ``adapter_config.json`` contents.

    Args:
        base: The base model folder.
        rank: The LoRA rank.

    Returns:
        The config.
    """
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(base),
        "r": rank,
        "lora_alpha": 2 * rank,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj", "v_proj"],
        "bias": "none",
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "inference_mode": True,
        "modules_to_save": None,
        "use_dora": False,
        "use_rslora": False,
    }


def main() -> None:
    """Write the adapter for ``sys.argv[1]`` into ``sys.argv[2]`` with rank ``sys.argv[3]``."""
    base, out, rank = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    tensors = lora_tensors(config, rank)
    out.mkdir(parents=True)
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    text = json.dumps(adapter_config(base, rank), indent=2) + "\n"
    (out / "adapter_config.json").write_text(text, encoding="utf-8")
    print(f"saved {len(tensors)} LoRA tensors (rank {rank}, identity) to {out}")


if __name__ == "__main__":
    main()
