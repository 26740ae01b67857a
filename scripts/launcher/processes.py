"""The launcher's dealings with processes: running a step, probing a port, reading ``/proc``."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

from launcher.specs import HOST, LauncherError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from launcher.layout import Layout, Server


def run(command: Sequence[str | Path], *, env: dict[str, str] | None = None) -> None:
    """Run a setup step, echoing its command line (an inline ``-c`` script shortened).

    Args:
        command: The argv.
        env: The environment; this process's when None.

    Raises:
        LauncherError: When the command exits with a code other than 0.
    """
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


def offline_env() -> dict[str, str]:
    """This process's environment with the Hugging Face hub and usage statistics switched off.

    Returns:
        The environment for the server venv's programs and the servers.
    """
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


def http_get(port: int, path: str, timeout: float = 3.0) -> tuple[int, bytes] | None:
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
    answer = http_get(server.port, "/health")
    return answer is not None and answer[0] == HTTPStatus.OK


def served_models(server: Server) -> list[str]:
    """List the model names a server on the server's port serves.

    Args:
        server: The server.

    Returns:
        The ids from ``/v1/models``; empty when it does not answer properly.
    """
    answer = http_get(server.port, "/v1/models")
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


def last_lines(path: Path, count: int) -> list[str]:
    """Return the last non-blank lines of a log file (read from its last 256 KiB).

    Args:
        path: The log file.
        count: How many lines.

    Returns:
        The lines; empty when the file cannot be read.
    """
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
