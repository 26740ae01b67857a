"""The commands' steps: set up, start and wait until healthy, stop, report status, print env."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from launcher.command_line import server_command, server_env
from launcher.models import (
    prepare_chat_lora,
    prepare_chat_model,
    prepare_embed_model,
    prepare_families_model,
    prepare_gpt_oss_model,
    prepare_old_model,
    prepare_reason_model,
)
from launcher.processes import (
    group_members,
    is_healthy,
    last_lines,
    process_age,
    process_alive,
    read_pid,
    served_models,
)
from launcher.specs import CHAT_TEMPLATE, OLD_GROUP
from launcher.venv import install_old_venv, install_venv, setup_lock

if TYPE_CHECKING:
    from collections.abc import Iterable

    from launcher.layout import Layout, Server
    from launcher.specs import ServerSpec

DEFAULT_TIMEOUT = 900.0
PROGRESS_EVERY = 10.0
POLL_EVERY = 1.0
STOP_GRACE = 20.0
LOG_TAIL_LINES = 60

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_NOT_HEALTHY = 3
EXIT_INTERRUPTED = 130


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
            f"# {time.strftime('%Y-%m-%d %H:%M:%S')} started by vllm_local.py\n"
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
    for line in last_lines(log_file, LOG_TAIL_LINES):
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
                last = last_lines(item.server.log_file(layout), 1)
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
