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

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class KeyFromEnvironment:
    """Stands in a pickle for an API key that the field's default read from the environment.

    Unpickling runs the field's default again (``VLLM_API_KEY``, else ``"EMPTY"``) in the
    process that unpickles.
    """


@dataclass(frozen=True)
class _Travel:
    """What of a model object travels (the arguments of :func:`travels`)."""

    client_fields: tuple[str, ...]
    client_private: tuple[str, ...]
    held_private: tuple[str, ...]
    user_client_fields: tuple[str, ...]
    api_key_field: str

    def pickled(self, model: BaseModel, state: dict[Any, Any]) -> dict[Any, Any]:
        """The pickled state: no clients, and no key that came from the environment.

        Raises:
            TypeError: The object holds an HTTP client of the user's, which cannot travel.
        """
        given = [name for name in self.user_client_fields if getattr(model, name) is not None]
        if given:
            name = type(model).__name__
            msg = (
                f"A {name} built with your own {' and '.join(given)} cannot be pickled: an "
                "HTTP client holds the open connections and locks of this process. Leave it "
                f"out (a pickled {name} builds pooled clients in the process that unpickles "
                "it; set timeout, proxy or default_headers instead), or build the model "
                "inside the worker."
            )
            raise TypeError(msg)
        fields = dict(state["__dict__"])
        for field in self.client_fields:
            fields[field] = None
        key_field = self.api_key_field
        if key_field not in model.model_fields_set and isinstance(fields.get(key_field), SecretStr):
            fields[key_field] = KeyFromEnvironment()
        private = dict(state.get("__pydantic_private__") or {})
        for attribute in (*self.client_private, *self.held_private):
            if attribute in private:
                private[attribute] = None
        return {**state, "__dict__": fields, "__pydantic_private__": private}

    def unpickled(self, model: BaseModel, state: dict[Any, Any]) -> dict[Any, Any]:
        """A pickled state with an environment key read here."""
        fields = dict(state["__dict__"])
        if isinstance(fields.get(self.api_key_field), KeyFromEnvironment):
            default = type(model).model_fields[self.api_key_field]
            fields[self.api_key_field] = default.get_default(call_default_factory=True)
        return {**state, "__dict__": fields}

    def shared(self, model: BaseModel, memo: dict[int, Any] | None) -> dict[int, Any]:
        """A deep copy's ``memo`` holding the clients, so that the copy shares them."""
        memo = {} if memo is None else memo
        private = model.__pydantic_private__ or {}
        shared = [
            *(getattr(model, name) for name in (*self.client_fields, *self.user_client_fields)),
            *(private.get(name) for name in self.client_private),
        ]
        for client in shared:
            if client is not None:
                memo.setdefault(id(client), client)  # deepcopy returns memo hits as they are
        return memo

    def own_held(self, copied: BaseModel) -> None:
        """Give a shallow copy its own held objects (what it learns later is its own)."""
        private = copied.__pydantic_private__
        for name in self.held_private:
            if private is not None and private.get(name) is not None:
                private[name] = copy.copy(private[name])


_Model = TypeVar("_Model", bound=type[BaseModel])


def travels(
    *,
    client_fields: tuple[str, ...] = (),
    client_private: tuple[str, ...] = (),
    held_private: tuple[str, ...] = ("_vllm",),
    user_client_fields: tuple[str, ...] = ("http_client", "http_async_client"),
    api_key_field: str = "api_key",
) -> Callable[[_Model], _Model]:
    """Make a pydantic model class that holds SDK clients travel (see the module docstring).

    The class rebuilds its clients in ``_rebuild_clients`` (after unpickling; no network
    call). A class decorator rather than a base class, so that it is not one more class in
    the model classes' MRO.

    Args:
        client_fields: Fields holding SDK clients built by the class: left out of pickles,
            rebuilt.
        client_private: Private attributes holding SDK clients built by the class.
        held_private: Private attributes holding objects built around those clients (the
            ``_server.Server``): left out of pickles (with what they learned from the
            server) and rebuilt with the clients; a shallow copy gets its own copy.
        user_client_fields: Fields holding HTTP clients the user passed: they cannot travel.
        api_key_field: The field holding the API key.
    """
    travel = _Travel(client_fields, client_private, held_private, user_client_fields, api_key_field)

    def decorate(cls: _Model) -> _Model:
        own: type[BaseModel] = cls  # where super() starts looking

        def __getstate__(self: Any) -> dict[Any, Any]:  # noqa: N807
            return travel.pickled(self, super(own, self).__getstate__())

        def __setstate__(self: Any, state: dict[Any, Any]) -> None:  # noqa: N807
            super(own, self).__setstate__(travel.unpickled(self, state))
            self._rebuild_clients()

        def __deepcopy__(self: Any, memo: dict[int, Any] | None = None) -> Any:  # noqa: N807
            return super(own, self).__deepcopy__(travel.shared(self, memo))

        def __copy__(self: Any) -> Any:  # noqa: N807
            copied = super(own, self).__copy__()
            travel.own_held(copied)
            return copied

        __getstate__.__doc__ = _Travel.pickled.__doc__
        __setstate__.__doc__ = (
            "Restore a pickled object: read an environment key here, build new clients."
        )
        __deepcopy__.__doc__ = "A deep copy that shares the SDK and HTTP clients with the original."
        __copy__.__doc__ = "A shallow copy; what it learns from the server later is its own."
        for method in (__getstate__, __setstate__, __deepcopy__, __copy__):
            method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
            setattr(cls, method.__name__, method)
        return cls

    return decorate
