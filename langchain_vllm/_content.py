"""Multimodal content: LangChain image, video and audio blocks as vLLM's content parts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}


def _source_url(block: dict[str, Any]) -> str | None:
    """The URL of a LangChain data block: its ``url``, or a data URL of its base64 data."""
    url = block.get("url")
    if block.get("source_type") == "url":
        url = url or block.get("data")
    if isinstance(url, str):
        return url
    data = block.get("base64") or (
        block.get("data") if block.get("source_type") == "base64" else None
    )
    if isinstance(data, str):
        mime = block.get("mime_type")
        if not mime:
            msg = f"A base64 {block.get('type')} block needs a mime_type (e.g. 'image/png')."
            raise ValueError(msg)
        return f"data:{mime};base64,{data}"
    return None


def content_part(block: Any) -> Any:
    """Turn one LangChain image/video/audio block into vLLM's content part.

    Other parts are returned unchanged. vLLM reads ``image_url``, ``video_url``,
    ``audio_url`` (URL or data URL) and ``input_audio`` (base64 WAV/MP3).

    Raises:
        ValueError: A media block has neither a URL nor base64 data (e.g. a file id,
            which vLLM cannot resolve).
    """
    if not isinstance(block, dict) or block.get("type") not in ("image", "video", "audio"):
        return block
    kind = block["type"]
    base64_data = block.get("base64") or (
        block.get("data") if block.get("source_type") == "base64" else None
    )
    mime = block.get("mime_type")
    if kind == "audio" and isinstance(base64_data, str) and mime in _AUDIO_FORMATS:
        return {
            "type": "input_audio",
            "input_audio": {"data": base64_data, "format": _AUDIO_FORMATS[mime]},
        }
    url = _source_url(block)
    if url is None:
        msg = (
            f"vLLM needs {kind} content as a URL or base64 data (with mime_type); got "
            f"{sorted(block)}. File ids are not supported by vLLM."
        )
        raise ValueError(msg)
    part_type = f"{kind}_url"
    part: dict[str, Any] = {"url": url}
    if kind == "image" and (detail := block.get("detail")):
        part["detail"] = detail
    return {"type": part_type, part_type: part}


def vllm_content(message: BaseMessage) -> BaseMessage:
    """The message with LangChain image/video/audio blocks in vLLM's content-part form."""
    if not isinstance(message.content, list):
        return message
    parts = [content_part(block) for block in message.content]
    if all(new is old for new, old in zip(parts, message.content, strict=True)):
        return message
    return message.model_copy(update={"content": parts})
