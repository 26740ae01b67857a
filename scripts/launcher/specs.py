"""The server table: what each server of the launcher is, one ``ServerSpec`` line per server.

Every command (``setup``, ``start``, ``stop``, ``status``, ``env``) reads only :data:`SPECS`;
a server is added by adding a line. Also here: the names, flags and files the table refers to
(model names, the chat template, the server-venv programs folder), and the older vLLM's version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

HOST = "127.0.0.1"
SCRIPTS_DIR = Path(__file__).resolve().parents[1]  # scripts/, above this package
CHAT_TEMPLATE = SCRIPTS_DIR / "templates" / "smollm2_hermes.jinja"

CHAT_MODEL_NAME = "SmolLM2-135M-Instruct"
EMBED_MODEL_NAME = "all-MiniLM-L6-v2"
# The LoRA adapter the chat server serves next to its base model, and its folder.
CHAT_LORA_NAME = "SmolLM2-135M-Instruct-lora"
CHAT_GENERATION_DEFAULTS = {"temperature": 0.2, "top_p": 0.9, "max_new_tokens": 512}
CHAT_LORA_FOLDER = "SmolLM2-135M-Instruct-lora-identity"
# The reasoning server: the chat weights with <think>/</think> as single tokens.
REASON_MODEL_NAME = "SmolLM2-135M-Instruct-think"
REASON_FLAGS = (
    "--reasoning-parser",
    "qwen3",
    # thinking starts at the generation prompt (there is no <think> in SmolLM2's prompt)
    "--reasoning-config",
    json.dumps({"reasoning_start_str": "<|im_start|>assistant\n"}),
    # like Qwen3.5's template: a system message anywhere but first is refused (400)
    "--default-chat-template-kwargs",
    json.dumps({"system_first_only": True}),
)
# The families server: SmolLM2 speaking every family's tool-call and reasoning markup, the
# parsers and chat template picked per request (chat_template_kwargs={"family": ...}).
FAMILIES_MODEL_NAME = "SmolLM2-135M-Instruct-families"
FAMILIES_TEMPLATE_FILE = "families.jinja"  # all of them behind one switch, in the model folder
FAMILY_PARSERS_MODULE = "family_parsers"  # scripts/server_venv/family_parsers.py
# gpt-oss: a tiny random-weight gpt_oss model with the real Harmony tokenizer (vLLM's Harmony
# path needs model_type gpt_oss; answers are scripted, so the weights do not matter)
GPT_OSS_MODEL_NAME = "gpt-oss-tiny"
GPT_OSS_KV_CACHE_BYTES = 64 * 1024 * 1024  # 2 layers, 1 KV head: about 130,000 tokens
# Scripted answers are short: a small KV cache (256 MiB: about 11,000 tokens of SmolLM2) is
# plenty and leaves the memory to the other servers.
FAMILIES_KV_CACHE_BYTES = 256 * 1024 * 1024
# The reasoning server's flags that vLLM 0.16 knows (it has no --reasoning-config).
OLD_REASON_FLAGS = (
    "--reasoning-parser",
    "qwen3",
    "--default-chat-template-kwargs",
    json.dumps({"system_first_only": True}),
)
LORA_RANK = 8

# Programs run with the server venv's python (they need its torch, transformers, safetensors).
SERVER_VENV_PROGRAMS = SCRIPTS_DIR / "server_venv"
# The scripted model: a logits processor that makes a request's output the text in
# vllm_xargs={"script": ...}; loaded by every generative server from this folder.
SCRIPTED_MODEL_PROGRAM = SERVER_VENV_PROGRAMS / "scripted_model.py"
SCRIPTED_MODEL_PROCESSOR = "scripted_model:ScriptedModel"


# The older vLLM the version-sensitive tests also run against (``make integration_tests_old``).
# Its own venv, model copies and servers (the ``old_vllm`` rows of SPECS); nothing else
# changes when it is absent.
OLD_VLLM_VERSION = "0.16.0"
OLD_MINOR = ".".join(OLD_VLLM_VERSION.split(".")[:2])  # "0.16": names its servers and folders
_OLD_SUFFIX = OLD_MINOR.replace(".", "_")  # "0_16": in its port variables


class LauncherError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class ServerSpec:
    """What one kind of server is: every step (start, status, stop, env) reads only this.

    Attributes:
        name: The command-line name; names the log and pid files.
        port_variable: The environment variable that moves it to another port.
        default_port: Its port when that variable is unset.
        served_name: The model name clients send (``--served-model-name``).
        model_folder: The model's folder under ``models/`` (``None``: not a vLLM server).
        generative: Serves a generative model with the chat server's flags: Hermes tool
            calling and chat template, compact structured outputs, SmolLM2's sampling
            defaults, and the identity LoRA adapter.
        flags: Further ``vllm serve`` flags, after those.
        env: Further environment variables of the server process.
        adapters: LoRA adapters it serves (or, for the router, its workers serve) next to
            ``served_name``: a healthy server on the port must list them to be reused.
        url_variable: The variable ``env`` exports its base URL as (``None``: not exported).
        cpus: The CPUs its compute threads are bound to: ``"all_but_last"`` or ``"last"``
            (of those this process may use; all of them when there is only one).
        workers: For ``vllm-router``: the servers it routes to (empty: a vLLM server).
        served_name_variable: The environment variable that serves the model under
            another name (``None``: the name is fixed).
        tool_calling: For a generative server, how it calls tools and reasons: ``hermes``
            (the ``hermes`` parser, SmolLM2's template and the identity LoRA adapter),
            ``families`` (each request picks its model family with
            ``chat_template_kwargs={"family": ...}``: that family's tool-call and reasoning
            parsers and chat template) or ``harmony`` (gpt-oss: vLLM's Harmony path).
        kv_cache_bytes: The KV cache's size (``--kv-cache-memory-bytes``) instead of
            ``VLLM_CPU_KVCACHE_SPACE`` GiB, for servers whose answers are short scripts.
        old_vllm: Runs on the older vLLM (:data:`OLD_VLLM_VERSION`): its venv and its
            model copies (``venv-0.16``, ``models-0.16``). Such servers form the group
            ``0.16`` of the commands and are not part of ``all``.
    """

    name: str
    port_variable: str
    default_port: int
    served_name: str
    model_folder: str | None = None
    generative: bool = False
    flags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    adapters: tuple[str, ...] = ()
    url_variable: str | None = None
    cpus: Literal["all_but_last", "last"] = "last"
    workers: tuple[str, ...] = ()
    served_name_variable: str | None = None
    tool_calling: Literal["hermes", "families", "harmony"] = "hermes"
    kv_cache_bytes: int | None = None
    old_vllm: bool = False


OLD_SPECS: tuple[ServerSpec, ...] = (
    ServerSpec(
        f"chat-{OLD_MINOR}",
        f"VLLM_CHAT_{_OLD_SUFFIX}_PORT",
        8016,
        CHAT_MODEL_NAME,
        model_folder=CHAT_MODEL_NAME,
        generative=True,
        env=(("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True"),),
        adapters=(CHAT_LORA_NAME,),
        url_variable="VLLM_BASE_URL",
        cpus="all_but_last",
        old_vllm=True,
    ),
    ServerSpec(
        f"embed-{OLD_MINOR}",
        f"VLLM_EMBED_{_OLD_SUFFIX}_PORT",
        8017,
        EMBED_MODEL_NAME,
        model_folder=EMBED_MODEL_NAME,
        flags=("--runner", "pooling"),
        url_variable="VLLM_EMBEDDINGS_BASE_URL",
        old_vllm=True,
    ),
    ServerSpec(
        # Not one server for chat and reasoning: with a reasoning parser, vLLM 0.16 applies
        # a request's grammar only after "</think>", so constraints on answers without
        # reasoning would be ignored. 0.16 has no --reasoning-config: thinking starts at
        # "<think>" in the answer (a script writes it; SmolLM2 never does on its own).
        f"reason-{OLD_MINOR}",
        f"VLLM_REASON_{_OLD_SUFFIX}_PORT",
        8018,
        REASON_MODEL_NAME,
        model_folder=REASON_MODEL_NAME,
        generative=True,
        flags=OLD_REASON_FLAGS,
        adapters=(CHAT_LORA_NAME,),
        url_variable="VLLM_REASONING_BASE_URL",
        old_vllm=True,
    ),
)
"""The older vLLM's servers (:data:`OLD_VLLM_VERSION`): the group ``0.16`` of the commands.

Ports 8016, 8017, 8018 by default (``$VLLM_CHAT_0_16_PORT``, ``$VLLM_EMBED_0_16_PORT``,
``$VLLM_REASON_0_16_PORT``)."""

SPECS: tuple[ServerSpec, ...] = (
    ServerSpec(
        "chat",
        "VLLM_CHAT_PORT",
        8000,
        CHAT_MODEL_NAME,
        model_folder=CHAT_MODEL_NAME,
        generative=True,
        env=(
            # lets tests load/unload LoRA adapters at runtime (/v1/load_lora_adapter)
            ("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True"),
            # keeps Responses API answers (in memory) for previous_response_id and
            # background=True; Chat Completions are not affected
            ("VLLM_ENABLE_RESPONSES_API_STORE", "1"),
        ),
        adapters=(CHAT_LORA_NAME,),
        url_variable="VLLM_BASE_URL",
        cpus="all_but_last",
        served_name_variable="VLLM_CHAT_SERVED_NAME",
    ),
    ServerSpec(
        "embed",
        "VLLM_EMBED_PORT",
        8001,
        EMBED_MODEL_NAME,
        model_folder=EMBED_MODEL_NAME,
        flags=("--runner", "pooling"),
        url_variable="VLLM_EMBEDDINGS_BASE_URL",
    ),
    ServerSpec(
        # the reasoning server shares the last CPU with the (mostly idle) embedding server
        "reason",
        "VLLM_REASON_PORT",
        8002,
        REASON_MODEL_NAME,
        model_folder=REASON_MODEL_NAME,
        generative=True,
        flags=REASON_FLAGS,
        adapters=(CHAT_LORA_NAME,),
        url_variable="VLLM_REASONING_BASE_URL",
    ),
    ServerSpec(
        "replica",
        "VLLM_REPLICA_PORT",
        8004,
        CHAT_MODEL_NAME,
        model_folder=CHAT_MODEL_NAME,
        generative=True,
        # vllm-router drops tools' "strict"; this flag makes vLLM hold every tool's
        # arguments to its schema anyway (the chat server, also behind the router,
        # keeps vLLM's default, so the difference shows; see docs/scale.md).
        flags=("--tool-strict-level", "parameter"),
        adapters=(CHAT_LORA_NAME,),
    ),
    ServerSpec(
        # scripted answers only: short, so it shares the last CPU with embed and reason
        "families",
        "VLLM_FAMILIES_PORT",
        8003,
        FAMILIES_MODEL_NAME,
        model_folder=FAMILIES_MODEL_NAME,
        generative=True,
        tool_calling="families",
        kv_cache_bytes=FAMILIES_KV_CACHE_BYTES,
        adapters=(CHAT_LORA_NAME,),
        url_variable="VLLM_FAMILIES_BASE_URL",
    ),
    ServerSpec(
        "gpt_oss",
        "VLLM_GPT_OSS_PORT",
        8005,
        GPT_OSS_MODEL_NAME,
        model_folder=GPT_OSS_MODEL_NAME,
        generative=True,
        tool_calling="harmony",
        kv_cache_bytes=GPT_OSS_KV_CACHE_BYTES,
        url_variable="VLLM_GPT_OSS_BASE_URL",
    ),
    ServerSpec(
        # not a vLLM engine: its CPU binding is listed for completeness
        "router",
        "VLLM_ROUTER_PORT",
        8010,
        CHAT_MODEL_NAME,
        adapters=(CHAT_LORA_NAME,),
        url_variable="VLLM_ROUTER_BASE_URL",
        workers=("chat", "replica"),
    ),
    *OLD_SPECS,
)
"""The servers, in the order they start and are listed. Add a server by adding a line."""

SPECS_BY_NAME = {spec.name: spec for spec in SPECS}

OLD_GROUP = OLD_MINOR
"""The commands' name for the older vLLM's servers (``start 0.16``): not part of ``all``."""
