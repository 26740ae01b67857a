"""Each server's command line and environment, built from its ``ServerSpec``.

vLLM servers run ``python -m vllm.entrypoints.openai.api_server`` from their venv; the
``router`` runs ``vllm-router`` in front of its workers (``ServerSpec.workers``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from launcher.layout import servers_from_env
from launcher.processes import offline_env
from launcher.specs import (
    CHAT_GENERATION_DEFAULTS,
    CHAT_LORA_NAME,
    CHAT_TEMPLATE,
    FAMILIES_TEMPLATE_FILE,
    FAMILY_PARSERS_MODULE,
    HOST,
    LORA_RANK,
    SCRIPTED_MODEL_PROCESSOR,
    SERVER_VENV_PROGRAMS,
    SPECS,
    LauncherError,
)

if TYPE_CHECKING:
    from launcher.layout import Layout, Server


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
    env = offline_env()
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
