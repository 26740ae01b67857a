"""Print the public surface of ``langchain_vllm`` as stable text, to compare across changes.

Every public module of the package (no leading underscore), every public name it holds
(re-exported functions included; imported modules, third-party names and the private
modules' classes imported for use left out), and for each public
class: its public methods and properties (inherited ones included) with their signatures,
and its pydantic fields with their types, defaults and aliases. Where a name is *defined*
is left out on purpose: moving code between private modules does not change the surface.

Usage::

    python3 -m uv run --frozen python scripts/public_surface.py > after.txt
    git stash && python3 -m uv run --frozen python scripts/public_surface.py > before.txt
    diff before.txt after.txt
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from typing import Any

import langchain_vllm

_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _stable(text: str) -> str:
    """``text`` without memory addresses (they differ from run to run)."""
    return _ADDRESS.sub("", text)


def _signature(obj: Any) -> str:
    try:
        return _stable(str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return "(?)"


def _ours(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith("langchain_vllm")


def _public_class(cls: type, name: str, module: Any) -> bool:
    """A class of the surface: defined in a public module, or exported by its ``__all__``.

    A private module's class imported into a public module (a base class, say) is an
    implementation detail, not a name users are told about, unless the public module lists
    it in ``__all__``.
    """
    private = any(part.startswith("_") for part in cls.__module__.split("."))
    return _ours(cls) and (not private or name in getattr(module, "__all__", ()))


def _member_line(name: str, member: Any) -> str:
    if isinstance(member, property):
        return f"    property {name}"
    if isinstance(member, classmethod | staticmethod):
        kind = type(member).__name__
        return f"    {kind} {name}{_signature(member.__func__)}"
    if inspect.isfunction(member):
        prefix = "async def" if inspect.iscoroutinefunction(member) else "def"
        if inspect.isasyncgenfunction(member):
            prefix = "async def (generator)"
        return f"    {prefix} {name}{_signature(member)}"
    return f"    attribute {name}: {type(member).__name__}"


def _class_lines(cls: type) -> list[str]:
    lines = [f"  class {cls.__name__}{_signature(cls)}"]
    members: dict[str, Any] = {
        name: member
        for klass in reversed(cls.__mro__)
        for name, member in vars(klass).items()
        if not name.startswith("_")
    }
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict):
        for name in sorted(fields):
            field = fields[name]
            default = (
                f"factory {getattr(field.default_factory, '__qualname__', '?')}"
                if field.default_factory is not None
                else repr(field.default)
            )
            lines.append(
                f"    field {name}: {_stable(repr(field.annotation))} = {_stable(default)}"
                f" alias={field.alias!r} exclude={field.exclude!r}"
            )
            members.pop(name, None)
    lines.extend(
        _member_line(name, members[name])
        for name in sorted(members)
        if name not in {"model_fields", "model_computed_fields", "model_config"}
    )
    return lines


def _module_lines(module: Any) -> list[str]:
    lines = [f"module {module.__name__}"]
    for name in sorted(vars(module)):
        if name.startswith("_") and name != "__version__":
            continue
        obj = vars(module)[name]
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            if _public_class(obj, name, module):
                lines.extend(_class_lines(obj))
        elif inspect.isfunction(obj):
            if _ours(obj):
                lines.append(f"  def {name}{_signature(obj)}")
        elif not callable(obj) and (name.isupper() or name == "__version__"):
            lines.append(f"  {name} = {_stable(repr(obj))}")
    return lines


def surface() -> list[str]:
    """The public surface, one line per name."""
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(langchain_vllm.__path__)
        if not info.name.startswith("_")
    )
    lines = [f"__all__ = {sorted(langchain_vllm.__all__)!r}"]
    lines.extend(_module_lines(langchain_vllm))
    for name in names:
        lines.extend(_module_lines(importlib.import_module(f"langchain_vllm.{name}")))
    return lines


if __name__ == "__main__":
    sys.stdout.write("\n".join(surface()) + "\n")
