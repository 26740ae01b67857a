"""Run a command and report the lowest memory available while it ran.

Usage: ``python3 scripts/lowest_memory.py LABEL -- COMMAND ...``. Samples ``MemAvailable``
(``/proc/meminfo``) every 5 seconds, prints ``== LABEL: N s, lowest available memory M MiB``
when the command ends, and exits with the command's exit code. ``make check`` wraps its
real-server passes in it, so every run shows the memory budget (at least 6 GiB available with
the servers up) and the time each pass took.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def available_mib() -> int | None:
    """``MemAvailable`` in MiB (``None`` where ``/proc/meminfo`` is missing)."""
    try:
        text = MEMINFO.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return None


def main(argv: list[str]) -> int:
    """Run ``argv`` (``LABEL -- COMMAND ...``) and report; returns the command's exit code."""
    if len(argv) < 3 or argv[1] != "--":  # noqa: PLR2004 - LABEL, --, COMMAND
        print(__doc__, file=sys.stderr)
        return 2
    label, command = argv[0], argv[2:]
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            if (value := available_mib()) is not None:
                samples.append(value)
            done.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    code = subprocess.call(command)
    done.set()
    sampler.join()
    lowest = f"{min(samples)} MiB" if samples else "unknown"
    print(f"== {label}: {time.monotonic() - started:.0f} s, lowest available memory {lowest}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
