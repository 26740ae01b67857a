"""``_content.py``: LangChain image, video and audio blocks as the content parts vLLM reads."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from tests.unit_tests.fake_vllm import FakeVLLM, make, recorded_model

PNG = "iVBORw0KGgo="


@pytest.mark.parametrize(
    ("block", "part"),
    [
        (
            {"type": "image", "url": "https://x/cat.png"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
        ),
        (
            {"type": "image", "base64": PNG, "mime_type": "image/png"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ),
        (
            {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/png"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ),
        (
            {"type": "video", "url": "https://x/clip.mp4"},
            {"type": "video_url", "video_url": {"url": "https://x/clip.mp4"}},
        ),
        (
            {"type": "video", "base64": "AAAA", "mime_type": "video/mp4"},
            {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}},
        ),
        (
            {"type": "audio", "url": "https://x/a.ogg"},
            {"type": "audio_url", "audio_url": {"url": "https://x/a.ogg"}},
        ),
        (
            {"type": "audio", "base64": "UklG", "mime_type": "audio/wav"},
            {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        ),
        (
            {"type": "audio", "base64": "T2dn", "mime_type": "audio/ogg"},
            {"type": "audio_url", "audio_url": {"url": "data:audio/ogg;base64,T2dn"}},
        ),
    ],
)
def test_media_blocks_become_vllm_content_parts(
    fake: FakeVLLM, block: dict[str, Any], part: dict[str, Any]
) -> None:
    llm = make(fake, model=recorded_model())
    llm.invoke([HumanMessage([{"type": "text", "text": "Describe this."}, block])])
    content = fake.chat_bodies()[-1]["messages"][0]["content"]
    assert content == [{"type": "text", "text": "Describe this."}, part]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "image", "file_id": "file-123"}, "File ids are not supported"),
        ({"type": "video", "base64": "AAAA"}, "needs a mime_type"),
    ],
)
def test_media_blocks_vllm_cannot_read_fail_early(
    fake: FakeVLLM, block: dict[str, Any], message: str
) -> None:
    llm = make(fake, model=recorded_model())
    with pytest.raises(ValueError, match=message):
        llm.invoke([HumanMessage([block])])
    assert fake.chat_bodies() == []
