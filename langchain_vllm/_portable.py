"""Model objects that travel: pickling and deep copies of ChatVLLM and the companions.

Ray tasks and Ray Data, Spark UDFs, Dask and ``multiprocessing`` send a model object to
worker processes by pickling it. The openai SDK clients a model object holds cannot travel:
their connection pools hold sockets and locks that belong to the process that opened them.
So a pickle leaves the clients behind, and unpickling builds new ones in the process that
unpickles (``_http``: pooled per base URL there, connecting on the first request, async
pools bound to that process's event loops). What was learned about the server (the
discovered model) stays behind too; the copy learns it again on first use.

The API key:

* taken from ``VLLM_API_KEY`` (or the ``"EMPTY"`` default, i.e. ``api_key`` not passed):
  not pickled. The pickle says where the key came from, and the copy reads ``VLLM_API_KEY``
  in the process that unpickles it (set it in the workers' environment, e.g. Ray's
  ``runtime_env={"env_vars": ...}``).
* passed as ``api_key=...``: pickled with the object, since the copy needs it to work.
  Pickles are not encrypted: whoever reads the pickle reads the key.

A deep copy (``copy.deepcopy``, ``model_copy(deep=True)``) stays in the process: it shares
the original's SDK and HTTP clients (they are made to be shared) and keeps its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, SecretStr


@dataclass(frozen=True)
class KeyFromEnvironment:
    """Stands in a pickle for an API key that the field's default read from the environment.

    Unpickling runs the field's default again (``VLLM_API_KEY``, else ``"EMPTY"``) in the
    process that unpickles.
    """


class Portable(BaseModel):
    """Pickle and deep-copy support for a pydantic model object that holds SDK clients.

    Subclasses name their client attributes and rebuild the clients in
    :meth:`_rebuild_clients` (see the module docstring for what travels).
    """

    _client_fields: ClassVar[tuple[str, ...]] = ()
    """Fields holding SDK clients built by the class: left out of pickles, rebuilt."""

    _client_private: ClassVar[tuple[str, ...]] = ()
    """Private attributes holding SDK clients built by the class."""

    _learned_private: ClassVar[tuple[str, ...]] = ("_discovered_model",)
    """Private attributes holding what was learned from the server: left out of pickles."""

    _user_client_fields: ClassVar[tuple[str, ...]] = ("http_client", "http_async_client")
    """Fields holding HTTP clients the user passed: they cannot travel."""

    _api_key_field: ClassVar[str] = "api_key"
    """The field holding the API key."""

    def _rebuild_clients(self) -> None:
        """Build the SDK clients again (after unpickling; no network call)."""
        raise NotImplementedError

    def __getstate__(self) -> dict[Any, Any]:
        """The pickled state: no clients, and no key that came from the environment.

        Raises:
            TypeError: The object holds an HTTP client of the user's, which cannot travel.
        """
        given = [name for name in self._user_client_fields if getattr(self, name) is not None]
        if given:
            name = type(self).__name__
            msg = (
                f"A {name} built with your own {' and '.join(given)} cannot be pickled: an "
                "HTTP client holds the open connections and locks of this process. Leave it "
                f"out (a pickled {name} builds pooled clients in the process that unpickles "
                "it; set timeout, proxy or default_headers instead), or build the model "
                "inside the worker."
            )
            raise TypeError(msg)
        state = super().__getstate__()
        fields = dict(state["__dict__"])
        for field in self._client_fields:
            fields[field] = None
        key_field = self._api_key_field
        if key_field not in self.model_fields_set and isinstance(fields.get(key_field), SecretStr):
            fields[key_field] = KeyFromEnvironment()
        private = dict(state.get("__pydantic_private__") or {})
        for attribute in (*self._client_private, *self._learned_private):
            if attribute in private:
                private[attribute] = None
        return {**state, "__dict__": fields, "__pydantic_private__": private}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Restore a pickled object: read an environment key here, build new clients."""
        fields = dict(state["__dict__"])
        key = fields.get(self._api_key_field)
        if isinstance(key, KeyFromEnvironment):
            default = type(self).model_fields[self._api_key_field]
            fields[self._api_key_field] = default.get_default(call_default_factory=True)
        super().__setstate__({**state, "__dict__": fields})
        self._rebuild_clients()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """A deep copy that shares the SDK and HTTP clients with the original."""
        memo = {} if memo is None else memo
        private = self.__pydantic_private__ or {}
        shared = [
            *(getattr(self, name) for name in (*self._client_fields, *self._user_client_fields)),
            *(private.get(name) for name in self._client_private),
        ]
        for client in shared:
            if client is not None:
                memo.setdefault(id(client), client)  # deepcopy returns memo hits as they are
        return super().__deepcopy__(memo)
