"""A server restarted under another model name, behind the same URL, against real vLLM.

The test starts a chat server of its own (the launcher's ``chat`` on port 8021, served as
``model-a``), stops it and starts it again served as ``model-b``: one restart, 1 to 5
minutes on two cores. The shared servers are never touched.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from langchain_vllm import ChatVLLM, VLLMCompletions, VLLMModelNotFoundError
from tests.integration_tests.conftest import ROOT, uses_local_server

if TYPE_CHECKING:
    from collections.abc import Iterator

PORT = 8021
URL = f"http://127.0.0.1:{PORT}/v1"


def launcher(command: str, served_name: str) -> None:
    """Run the launcher's ``command`` for the chat server on ``PORT`` named ``served_name``."""
    env = {**os.environ, "VLLM_CHAT_PORT": str(PORT), "VLLM_CHAT_SERVED_NAME": served_name}
    script = ROOT / "scripts" / "vllm_local.py"
    subprocess.run([sys.executable, str(script), command, "chat"], env=env, check=True)  # noqa: S603


@pytest.fixture(scope="module")
def restartable() -> Iterator[str]:
    """A chat server of this test's own, serving ``model-a``; stopped at the end."""
    if not uses_local_server():
        pytest.skip(
            "needs a vLLM server this test can stop and restart under another "
            "--served-model-name: the local launcher's (unset VLLM_BASE_URL)"
        )
    launcher("start", "model-a")
    try:
        yield URL
    finally:
        launcher("stop", "model-b")


async def astreamed(llm: ChatVLLM, prompt: str) -> str:
    return "".join([chunk.text async for chunk in llm.astream(prompt)])


def test_discovered_models_follow_a_restart_under_another_name(restartable: str) -> None:
    chat = ChatVLLM(base_url=restartable, temperature=0, max_tokens=8)
    streaming = ChatVLLM(base_url=restartable, temperature=0, max_tokens=8)
    completions = VLLMCompletions(base_url=restartable, temperature=0, max_tokens=4)
    named = ChatVLLM(base_url=restartable, model="model-a", max_tokens=8)
    assert chat.invoke("What is the capital of France?").response_metadata["model_name"] == (
        "model-a"
    )
    assert asyncio.run(astreamed(streaming, "Hi"))
    assert completions.invoke("The capital of France is")
    assert named.invoke("Hi").text

    launcher("stop", "model-a")
    launcher("start", "model-b")

    # The same objects: each is refused once (404, before any generation), learns the
    # server again and sends its request once more.
    message = chat.invoke("What is the capital of France?")
    assert message.response_metadata["model_name"] == "model-b"
    assert message.text
    assert asyncio.run(astreamed(streaming, "Hi"))
    assert streaming.model_id == "model-b"
    assert completions.invoke("The capital of France is")
    assert completions.model_id == "model-b"
    # A model the user named is not swapped for another one.
    with pytest.raises(VLLMModelNotFoundError, match="serves base models: model-b"):
        named.invoke("Hi")
