"""The one place that asks a vLLM server about itself (outside chat and embedding calls).

What a server serves is learned lazily, once per base URL, and shared by every model object
pointed at that server: constructing a model makes no network call, and after the first
request no lookup is repeated. ``forget`` drops what was learned (e.g. after a LoRA adapter
was loaded or the server was restarted with another model).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai

from langchain_vllm.errors import (
    VLLMConnectionError,
    VLLMModelNotFoundError,
    VLLMModelSelectionError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable


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


_models: dict[str, tuple[ServedModel, ...]] = {}
_lock = threading.Lock()


def cache_key(client: openai.OpenAI | openai.AsyncOpenAI) -> str:
    """The key under which facts about ``client``'s server are cached: its base URL."""
    return str(client.base_url).rstrip("/")


def forget(base_url: str | None = None) -> None:
    """Drop what was learned about the server at ``base_url`` (about every server if ``None``)."""
    with _lock:
        if base_url is None:
            _models.clear()
        else:
            _models.pop(base_url.rstrip("/"), None)


def _parse(page: Iterable[Any]) -> tuple[ServedModel, ...]:
    return tuple(ServedModel.from_card(card.model_dump()) for card in page)


def served_models(client: openai.OpenAI, *, refresh: bool = False) -> tuple[ServedModel, ...]:
    """Return the models served at ``client``'s base URL (cached after the first call).

    Raises:
        VLLMConnectionError: The server could not be reached.
    """
    key = cache_key(client)
    if not refresh and (known := _models.get(key)) is not None:
        return known
    try:
        models = _parse(client.models.list())
    except openai.APIConnectionError as error:
        raise connection_error(key, error) from error
    with _lock:
        _models[key] = models
    return models


async def aserved_models(
    client: openai.AsyncOpenAI, *, refresh: bool = False
) -> tuple[ServedModel, ...]:
    """Async twin of :func:`served_models`."""
    key = cache_key(client)
    if not refresh and (known := _models.get(key)) is not None:
        return known
    try:
        models = _parse([card async for card in client.models.list()])
    except openai.APIConnectionError as error:
        raise connection_error(key, error) from error
    with _lock:
        _models[key] = models
    return models


def describe(models: Iterable[ServedModel]) -> str:
    """List served ids the way error messages show them: base models, then LoRA adapters."""
    models = tuple(models)
    bases = [m.id for m in models if not m.is_adapter]
    adapters = [f"{m.id} (LoRA on {m.parent})" for m in models if m.is_adapter]
    parts = [f"base models: {', '.join(bases) or 'none'}"]
    if adapters:
        parts.append(f"LoRA adapters: {', '.join(adapters)}")
    return "; ".join(parts)


def default_model(models: tuple[ServedModel, ...], base_url: str) -> str:
    """Pick the model to use when none was given: the server's only base model.

    Raises:
        VLLMModelSelectionError: The server serves no model, or several base models.
    """
    bases = [m for m in models if not m.is_adapter]
    if len(bases) == 1:
        return bases[0].id
    if not bases:
        msg = f"The vLLM server at {base_url} serves no model ({describe(models)})."
    else:
        msg = (
            f"The vLLM server at {base_url} serves several models ({describe(models)}); "
            "pass the one to use as model=..."
        )
    raise VLLMModelSelectionError(msg)


def connection_error(base_url: str, error: openai.APIConnectionError) -> VLLMConnectionError:
    """Wrap an SDK connection error into one that names the URL tried and what to do."""
    failure = VLLMConnectionError(
        message=(
            f"Could not connect to the vLLM server at {base_url} ({error.__cause__ or error}). "
            "Check that it is running (`vllm serve <model>`) and that base_url / VLLM_BASE_URL "
            "points at it, including the /v1 suffix."
        ),
        request=error.request,
    )
    failure.base_url = base_url
    return failure


def explain_error(error: Exception, base_url: str, served: Iterable[ServedModel] = ()) -> Exception:
    """Turn an SDK error into one that says what to do, or return ``error`` unchanged.

    - 404 for the model → :class:`VLLMModelNotFoundError` listing ``served``.
    - Connection failure (not a timeout) → :class:`VLLMConnectionError` naming ``base_url``.
    """
    served = tuple(served)
    if isinstance(error, openai.NotFoundError) and served:
        failure = VLLMModelNotFoundError(
            message=(
                f"{error.message} The vLLM server at {base_url} serves {describe(served)}. "
                "Pass one of these as model=..."
            ),
            response=error.response,
            body=error.body,
        )
        failure.served = tuple(m.id for m in served)
        return failure
    if isinstance(error, openai.APIConnectionError) and not isinstance(
        error, openai.APITimeoutError
    ):
        return connection_error(base_url, error)
    return error
