"""``ChatVLLM.profile``: what vLLM's API offers, plus what the server decides, asked lazily.

LangChain reads a chat model's ``profile`` to decide things before any request:
``SummarizationMiddleware(trigger=("fraction", 0.8))`` needs ``max_input_tokens``,
``create_agent`` looks at ``structured_output``, others at ``tool_calling``. A vLLM model is
whatever the server loaded and however it was started, so those keys are the server's to
answer. :class:`ServerProfile` is a ``dict`` holding what the API always offers; the first
time code reads a key the server decides, it asks the server that one question (cached per
base URL and model, so later objects for the same server ask nothing) and fills it in. Nothing
is asked at construction.

Server-decided keys and where their answers come from:

* ``max_input_tokens``: the model card's ``max_model_len`` (``GET /v1/models``; an adapter's
  base model's). vLLM counts the prompt *plus* the output against ``max_model_len``, so leave
  room for ``max_tokens``.
* ``tool_calling``, ``tool_choice``: whether the server takes ``tool_choice="auto"`` (started
  with ``--enable-auto-tool-choice --tool-call-parser ...``), asked as the doctor asks.
* ``reasoning_output``: whether the server runs a reasoning parser (``--reasoning-parser``).
* ``mid_conversation_system_messages``: whether a system message after the first is sent
  where it sits: never with ``system_messages="merge_first"``; with ``"auto"`` only when the
  server's chat template accepts it; with ``"as_given"`` always.

A key the server cannot answer (an old server, a router without ``/tokenize``) stays absent,
as LangChain's profiles leave unknown facts out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_vllm import _server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

STATIC: dict[str, Any] = {
    "text_inputs": True,
    "text_outputs": True,
    "tool_call_streaming": True,
    "structured_output": True,
}
"""What the vLLM API offers for every model (``structured_output``: constrained decoding)."""

GROUPS: dict[str, tuple[str, ...]] = {
    "context": ("max_input_tokens",),
    "tools": ("tool_calling", "tool_choice"),
    "reasoning": ("reasoning_output",),
    "system_messages": ("mid_conversation_system_messages",),
}
"""Server-decided keys, grouped by the one question to the server that answers them."""

SERVER_KEYS = frozenset(key for keys in GROUPS.values() for key in keys)

_GROUP_OF = {key: group for group, keys in GROUPS.items() for key in keys}


def cached(base_url: str, model: str, group: str) -> dict[str, Any] | None:
    """The cached answer of ``group`` for ``model`` at ``base_url`` (no network call)."""
    return _server.profiles.get((base_url, model, group))


def remember(base_url: str, model: str, group: str, answer: dict[str, Any]) -> dict[str, Any]:
    """Cache ``answer`` (the keys of ``group`` the server could answer) and return it."""
    with _server.lock:
        _server.profiles[(base_url, model, group)] = answer
    return answer


def answer(  # noqa: PLR0913 - the questions, each asked only when needed
    group: str,
    *,
    base_url: str,
    model: str,
    system_messages: str,
    template_accepts: Callable[[], bool],
    context_window: Callable[[], int | None],
    probe: Callable[[str], str],
) -> dict[str, Any]:
    """Answer one group of server-decided keys (cached per base URL, model and group).

    Args:
        group: A key of :data:`GROUPS`.
        base_url: The server's base URL.
        model: The model asked about.
        system_messages: ChatVLLM's ``system_messages`` policy.
        template_accepts: Asks whether the chat template takes mid-conversation system
            messages.
        context_window: Asks the model's ``max_model_len``.
        probe: Asks the doctor's probe for ``"tools"`` or ``"reasoning"``; its status.
    """
    if group == "system_messages":
        if system_messages == "merge_first":
            return {"mid_conversation_system_messages": False}
        accepted = system_messages == "as_given" or template_accepts()
        return {"mid_conversation_system_messages": accepted}
    if (known := cached(base_url, model, group)) is not None:
        return known
    found: dict[str, Any] = {}
    if group == "context":
        if max_len := context_window():
            found["max_input_tokens"] = max_len
    elif (status := probe(group)) in ("ok", "missing"):
        found = dict.fromkeys(GROUPS[group], status == "ok")
    return remember(base_url, model, group, found)


class ServerProfile(dict[str, Any]):
    """A model profile whose server-decided keys are asked of the server when first read.

    ``ask(group)`` returns the keys of that group the server answered (see :data:`GROUPS`).
    Reading one key asks one question; iterating, ``len``, ``repr`` or comparing asks all
    of them. Truthiness, pickling and copying ask nothing.
    """

    def __init__(
        self, static: dict[str, Any], ask: Callable[[str], dict[str, Any]] | None = None
    ) -> None:
        """Start from ``static``; ``ask`` answers one group of server-decided keys.

        Without ``ask`` the profile asks nothing until :meth:`answer_with` gives one.
        """
        super().__init__(static)
        self._ask: Callable[[str], dict[str, Any]] | None = ask
        self._asked: set[str] = set()

    def answer_with(self, ask: Callable[[str], dict[str, Any]]) -> None:
        """From now on, ask the server through ``ask`` when a server-decided key is read."""
        self._ask = ask

    def _fill(self, group: str) -> None:
        if self._ask is None or group in self._asked:
            return
        answer = self._ask(group)  # errors propagate; the group is asked again next time
        self._asked.add(group)
        for key, value in answer.items():
            super().setdefault(key, value)

    def _fill_key(self, key: object) -> None:
        if isinstance(key, str) and key in _GROUP_OF and not super().__contains__(key):
            self._fill(_GROUP_OF[key])

    def _fill_all(self) -> None:
        for group in GROUPS:
            self._fill(group)

    def __getitem__(self, key: str) -> Any:
        """The value of ``key``; a server-decided key is asked of the server first."""
        self._fill_key(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``profile.get(key)``, asking the server for a server-decided key first."""
        self._fill_key(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is known (a server-decided key is asked first)."""
        self._fill_key(key)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        """Every key, after asking the server every question."""
        self._fill_all()
        return super().__iter__()

    def __len__(self) -> int:
        """Number of keys, after asking the server every question."""
        self._fill_all()
        return super().__len__()

    def __bool__(self) -> bool:
        """Always true: the static keys are there (asks nothing)."""
        return True

    def keys(self) -> Any:
        """Every key, after asking the server every question."""
        self._fill_all()
        return super().keys()

    def items(self) -> Any:
        """Every item, after asking the server every question."""
        self._fill_all()
        return super().items()

    def values(self) -> Any:
        """Every value, after asking the server every question."""
        self._fill_all()
        return super().values()

    def copy(self) -> dict[str, Any]:
        """A plain ``dict`` of every key, after asking the server every question."""
        self._fill_all()
        return dict(super().items())

    def __eq__(self, other: object) -> bool:
        """Compare as a plain dict, after asking the server every question."""
        self._fill_all()
        return dict(super().items()) == other

    __hash__ = None

    def __repr__(self) -> str:
        """The known keys only (asks nothing, so logging a model stays offline)."""
        return f"ServerProfile({dict(super().items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy what is known and the way to ask (asks nothing)."""
        return (_rebuild, (dict(super().items()), self._ask, set(self._asked)))


def _rebuild(
    known: dict[str, Any], ask: Callable[[str], dict[str, Any]] | None, asked: set[str]
) -> ServerProfile:
    profile = ServerProfile(known, ask)
    profile._asked = asked  # noqa: SLF001 - restoring its own state
    return profile
