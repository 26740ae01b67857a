"""The command line: ``setup``, ``start``, ``stop``, ``status``, ``env`` (see ``vllm_local.py``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from launcher.layout import Layout, select, servers_from_env
from launcher.specs import OLD_GROUP, SPECS, SPECS_BY_NAME, LauncherError
from launcher.steps import (
    DEFAULT_TIMEOUT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    print_env,
    setup,
    setup_old,
    start,
    status,
    stop_server,
)
from launcher.venv import setup_lock

if TYPE_CHECKING:
    from collections.abc import Sequence

    from launcher.layout import Server


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
