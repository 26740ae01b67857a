"""Unit-test fixtures: a fake vLLM built from recorded traffic, and a clean environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from langchain_vllm import _server
from tests.unit_tests.fake_vllm import RECORDED_VERSIONS, FakeVLLM

if TYPE_CHECKING:
    from collections.abc import Iterator

_ENV = (
    "VLLM_BASE_URL",
    "VLLM_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
    "OPENAI_PROXY",
)


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no vLLM/OpenAI variables and nothing learned about servers."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    _server.forget()
    yield
    _server.forget()


@pytest.fixture
def fake() -> FakeVLLM:
    """A fake vLLM server answering with recorded bodies."""
    return FakeVLLM()


@pytest.fixture(params=RECORDED_VERSIONS)
def recorded(request: pytest.FixtureRequest) -> FakeVLLM:
    """A fake server answering with the bodies of each real vLLM recorded (0.32, 0.16)."""
    return FakeVLLM(version=request.param)
