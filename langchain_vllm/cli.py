"""The ``langchain-vllm`` command line: argument parsing for :mod:`langchain_vllm.doctor`.

``langchain-vllm doctor [--base-url URL] [--api-key KEY] [--timeout SECONDS] [--json]``, also
``python -m langchain_vllm doctor ...``; the doctor's module docstring is its manual.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from langchain_vllm import doctor
from langchain_vllm._endpoint import DEFAULT_BASE_URL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="langchain-vllm", description="Tools for langchain-vllm.")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor_command = commands.add_parser(
        "doctor",
        help="probe a vLLM server and report what it can do",
        description=(
            "Probe a vLLM server (reachability, version, models, tool calling, structured "
            "outputs, reasoning parser, embeddings, rerank) and say which `vllm serve` flag "
            "turns on what is missing. Exit code 0 when the server is reachable, 2 otherwise."
        ),
    )
    doctor_command.add_argument(
        "--base-url",
        default=os.environ.get("VLLM_BASE_URL") or DEFAULT_BASE_URL,
        help=f"server URL including /v1 (default: $VLLM_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    doctor_command.add_argument(
        "--api-key",
        default=None,
        help="the server's --api-key (default: $VLLM_API_KEY, else EMPTY); never printed",
    )
    doctor_command.add_argument(
        "--timeout",
        type=float,
        default=doctor.DEFAULT_TIMEOUT,
        help="seconds each request may take (default: %(default)s)",
    )
    doctor_command.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``langchain-vllm`` command line; returns the exit code.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``), e.g. ``["doctor", "--json"]``.
    """
    args = _parser().parse_args(argv)
    report = doctor.diagnose(args.base_url, args.api_key, args.timeout)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(doctor.render(report))
    return report.exit_code
