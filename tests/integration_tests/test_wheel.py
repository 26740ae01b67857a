"""The package users get: the wheel and sdist built, installed alone, and run against the server.

``uv build`` makes the sdist and, from it, the wheel; the wheel goes into a fresh venv with its
declared dependencies only (from the index, through uv's cache), and is used there from outside
the source tree, so nothing of the checkout or its dev dependencies can stand in for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import langchain_vllm
from tests.integration_tests.conftest import ROOT, chat_base_url

if TYPE_CHECKING:
    from collections.abc import Sequence

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION: str = PROJECT["version"]
DIST = f"langchain_vllm-{VERSION}"


def _uv() -> list[str]:
    """The uv that runs this test (``uv run`` exports it as ``UV``), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _run(args: Sequence[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - our own build and the installed package
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "VIRTUAL_ENV": "", **env},
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, as ``uv build`` makes them (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    _run([*_uv(), "build", "--quiet", "--out-dir", out, ROOT], cwd=ROOT)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and its declared dependencies, nothing else."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    _run([*_uv(), "venv", "--quiet", "--python", sys.executable, where], cwd=where.parent)
    wheel = dist / f"{DIST}-py3-none-any.whl"
    _run(
        [*_uv(), "pip", "install", "--quiet", "--python", where / "bin" / "python", wheel],
        cwd=where.parent,
    )
    return where


def test_wheel_ships_the_licence_and_the_type_marker(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"{DIST}-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"{DIST}.dist-info/METADATA").decode()
        licence = wheel.read(f"{DIST}.dist-info/licenses/LICENSE").decode()
    assert "langchain_vllm/py.typed" in names
    assert "License-Expression: MIT" in metadata.splitlines()
    assert licence.startswith("MIT License")
    assert "langchain-vllm contributors" in licence
    assert not [n for n in names if n.startswith("tests/")]


def test_sdist_ships_the_licence_and_the_type_marker(dist: Path) -> None:
    with tarfile.open(dist / f"{DIST}.tar.gz") as sdist:
        names = set(sdist.getnames())
    assert f"{DIST}/LICENSE" in names
    assert f"{DIST}/langchain_vllm/py.typed" in names
    assert f"{DIST}/pyproject.toml" in names
    local_state = ("/.venv", "/.hypothesis/", "/__pycache__/", "/.mypy_cache/")
    assert not [n for n in names if any(part in n for part in local_state)]


def test_every_public_name_imports_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    probe = (
        "import json, langchain_vllm as m;"
        "print(json.dumps({'file': m.__file__, 'version': m.__version__,"
        " 'names': {n: type(getattr(m, n)).__name__ for n in m.__all__}}))"
    )
    done = _run([venv / "bin" / "python", "-c", probe], cwd=tmp_path)
    found: dict[str, Any] = json.loads(done.stdout)
    assert Path(found["file"]).is_relative_to(venv)  # the wheel, not the checkout
    assert found["version"] == VERSION
    assert sorted(found["names"]) == sorted(langchain_vllm.__all__)
    classes = {n for n, kind in found["names"].items() if n != "__version__"}
    assert all(found["names"][n] in {"type", "ModelMetaclass"} for n in classes), found


def test_console_script_help(venv: Path, tmp_path: Path) -> None:
    done = _run([venv / "bin" / "langchain-vllm", "doctor", "--help"], cwd=tmp_path)
    assert "--json" in done.stdout
    assert "--base-url" in done.stdout


def test_doctor_json_against_the_server(venv: Path, tmp_path: Path) -> None:
    url = chat_base_url()
    done = _run(
        [venv / "bin" / "python", "-m", "langchain_vllm", "doctor", "--json"],
        cwd=tmp_path,
        VLLM_BASE_URL=url,
    )
    report = json.loads(done.stdout)
    assert report["base_url"] == url.rstrip("/")
    assert report["reachable"] is True
    assert report["healthy"] is True
    assert report["capabilities"]["tool_choice"]["status"] == "ok"
