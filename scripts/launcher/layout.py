"""Where everything lives: the home's folders (``Layout``), each server on its port (``Server``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from launcher.specs import (
    CHAT_LORA_FOLDER,
    CHAT_MODEL_NAME,
    EMBED_MODEL_NAME,
    FAMILIES_MODEL_NAME,
    GPT_OSS_MODEL_NAME,
    HOST,
    OLD_GROUP,
    OLD_MINOR,
    REASON_MODEL_NAME,
    SPECS,
    LauncherError,
    ServerSpec,
)


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
        return self.home / f"venv-{OLD_MINOR}"

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
        return self.home / f"models-{OLD_MINOR}"

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
