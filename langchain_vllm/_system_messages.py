"""System messages where a model's chat template refuses them (``ChatVLLM(system_messages=...)``).

Agents and middleware add system messages mid-conversation, or several at once (a summary, a
reminder, a fallback instruction). Many chat templates only allow one system message, first:
Qwen3.5 raises "System message must be at the beginning", Gemma and Mistral raise "roles must
alternate", Llama-3.x drops or misplaces them. vLLM turns the template's exception into a
bare 400. ChatVLLM rewrites the messages before sending, according to ``system_messages``:

* ``"auto"`` (default): as given, unless the conversation has a system message after the
  first message or more than one, *and* the server's chat template refuses that. ChatVLLM
  asks the server once per base URL and model (the chat form of ``POST /tokenize``, which
  renders the template without generating) and merges only then.
* ``"as_given"``: never rewritten (a refusal raises an error that names this setting).
* ``"merge_first"``: every system message's text is joined, in order, into one leading
  system message.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import openai

from langchain_vllm import _server, errors

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SystemMessages = Literal["auto", "as_given", "merge_first"]
POLICIES: tuple[str, ...] = ("auto", "as_given", "merge_first")

# [system, user, assistant, system, user]: alternates once the second system message is
# gone, so a template that refuses it refuses it for the system message alone.
_PROBE = (
    {"role": "system", "content": "a"},
    {"role": "user", "content": "b"},
    {"role": "assistant", "content": "c"},
    {"role": "system", "content": "d"},
    {"role": "user", "content": "e"},
)


def check_policy(policy: object) -> None:
    """Raise ``ValueError`` for a ``system_messages`` value that is not a policy."""
    if policy not in POLICIES:
        msg = f"system_messages must be one of {', '.join(map(repr, POLICIES))}; got {policy!r}."
        raise ValueError(msg)


def needs_rewrite(messages: list[dict[str, Any]]) -> bool:
    """Whether ``messages`` have a system message after the first, or more than one."""
    positions = [i for i, message in enumerate(messages) if message.get("role") == "system"]
    return len(positions) > 1 or (bool(positions) and positions[0] != 0)


def merge_first(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One leading system message holding every system message's text, in order."""
    texts = [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    texts = [text for text in texts if text]
    return [{"role": "system", "content": "\n\n".join(texts)}, *rest] if texts else rest


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
        ]
        return "\n".join(part for part in parts if part)
    return "" if content is None else str(content)


def known(base_url: str, model: str) -> bool | None:
    """What was learned about ``model``'s template at ``base_url`` (no network call).

    ``True``: it accepts mid-conversation system messages; ``False``: it refuses them;
    ``None``: not asked yet.
    """
    return _server.templates.get((base_url, model))


def question(roles: list[str], policy: str, base_url: str, model: str | None) -> str | None:
    """The model to ask about its chat template before a request, if the request depends on it.

    Only with ``"auto"``, for a conversation that would need a rewrite, and when it was not
    asked yet.
    """
    if policy != "auto" or model is None:
        return None
    if not needs_rewrite([{"role": role} for role in roles]):
        return None
    return model if known(base_url, model) is None else None


def learn(
    client: Callable[[], openai.OpenAI],
    base_url: str,
    roles: list[str],
    policy: str,
    model: str | None,
) -> None:
    """Ask (once, through ``client()``) whether the template takes these system messages."""
    if (asked := question(roles, policy, base_url, model)) is not None:
        accepts(client(), base_url, asked)


async def alearn(
    client: openai.AsyncOpenAI, base_url: str, roles: list[str], policy: str, model: str | None
) -> None:
    """Async twin of :func:`learn`."""
    if (asked := question(roles, policy, base_url, model)) is not None:
        await aaccepts(client, base_url, asked)


def _remember(base_url: str, model: str, *, accepts: bool) -> bool:
    with _server.lock:
        _server.templates[(base_url, model)] = accepts
    return accepts


def _probe_body(model: str) -> dict[str, Any]:
    return {"model": model, "messages": list(_PROBE), "add_generation_prompt": True}


def _probe_url(base_url: str) -> str:
    return f"{base_url.removesuffix('/v1')}/tokenize"


@dataclass
class _Verdict:
    accepts: bool = True


@contextmanager
def _probing(base_url: str, model: str) -> Iterator[_Verdict]:
    """Read the probe sent in the block: accepted or refused (remembered), or no conclusion.

    A refusal is a 400 naming the template or system messages; any other error status
    concludes nothing (``accepts`` stays ``True``, not remembered).
    """
    verdict = _Verdict()
    try:
        yield verdict
    except openai.APIStatusError as error:
        text = str(error.message) + str(error.body)
        if error.status_code == 400 and (errors.template_refusal(text) or "system" in text.lower()):  # noqa: PLR2004
            verdict.accepts = _remember(base_url, model, accepts=False)
    else:
        verdict.accepts = _remember(base_url, model, accepts=True)


def accepts(client: openai.OpenAI, base_url: str, model: str) -> bool:
    """Whether ``model``'s chat template accepts mid-conversation system messages.

    Asked once per base URL and model; ``True`` when the server cannot tell (e.g. a router
    without ``/tokenize``).
    """
    if (cached := known(base_url, model)) is not None:
        return cached
    with _probing(base_url, model) as verdict:
        client.post(_probe_url(base_url), body=_probe_body(model), cast_to=object)
    return verdict.accepts


async def aaccepts(client: openai.AsyncOpenAI, base_url: str, model: str) -> bool:
    """Async twin of :func:`accepts`."""
    if (cached := known(base_url, model)) is not None:
        return cached
    with _probing(base_url, model) as verdict:
        await client.post(_probe_url(base_url), body=_probe_body(model), cast_to=object)
    return verdict.accepts


def apply(
    messages: list[dict[str, Any]], policy: str, accepted: Callable[[], bool]
) -> list[dict[str, Any]]:
    """The messages to send under ``policy``.

    ``accepted`` says whether the template takes them as given (consulted for ``"auto"``
    only, and only when the messages have system messages a strict template would refuse).
    """
    if policy == "as_given" or not needs_rewrite(messages):
        return messages
    if policy == "merge_first" or not accepted():
        return merge_first(messages)
    return messages
