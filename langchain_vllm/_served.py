"""What a vLLM server serves: one card of ``GET /v1/models`` (:class:`ServedModel`).

A leaf module, so that ``errors`` can name the cards without importing ``_server``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServedModel:
    """One card of ``GET /v1/models``.

    Attributes:
        id: The name to pass as ``model``.
        root: The weights the card was loaded from (a path or hub id).
        parent: For a LoRA adapter, the id of its base model; ``None`` for a base model.
        max_model_len: The context window the server was started with, when it says.
    """

    id: str
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = None

    @property
    def is_adapter(self) -> bool:
        """Whether this card is a LoRA adapter on top of a base model."""
        return self.parent is not None

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> ServedModel:
        """Build from one ``data`` item of ``/v1/models``."""
        max_len = card.get("max_model_len")
        return cls(
            id=str(card["id"]),
            root=card.get("root"),
            parent=card.get("parent"),
            max_model_len=int(max_len) if isinstance(max_len, int) else None,
        )
