"""How the package's source reads: sync/async twins share their logic, only the I/O is twice.

Every method or function with an async twin (``invoke``/``ainvoke``, ``_stream``/``_astream``,
``__enter__``/``__aenter__``, or an ``async def`` next to a ``def`` of the same name) is compared
with it after :class:`Unasync` rewrote the async body into the sync one it should mirror. A
pair whose bodies are then the same differs only in ``await``/``async for``/``async with`` and
the client: such a pair may hold at most :data:`MAX_OWN_LINES` lines each; anything longer
belongs in one shared plain function, generator or reader object that both call (the pattern
of openai-python's ``_base_client.py``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import langchain_vllm
from langchain_vllm import ChatVLLM
from tests.unit_tests.fake_vllm import BASE_URL, FakeVLLM, recorded_model

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

MAX_OWN_LINES = 6
"""The longest body (statements after the docstring, as ``ast.unparse`` lays them out) that a
pair of exact twins may each have."""

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _identifiers(tree: ast.AST) -> set[str]:
    """Every name, attribute, argument and keyword name used in ``tree``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.arg | ast.keyword) and node.arg is not None:
            names.add(node.arg)
        elif isinstance(node, _Function):
            names.add(node.name)
    return names


def sync_name(name: str, known: set[str]) -> str:
    """The sync spelling of ``name`` if ``known`` (the sync twin's names) holds it, else ``name``.

    ``aname``/``_aname``/``__aname__`` → ``name``/``_name``/``__name__``; ``AsyncX`` → ``X``;
    ``async_client``/``root_async_client`` → ``client``/``root_client``. A spelling the sync
    twin does not use is kept, so ``apply`` never turns into ``pply``.
    """
    candidates = [
        name.removeprefix("a"),
        "_" + name.removeprefix("_a") if name.startswith("_a") else name,
        "__" + name.removeprefix("__a") if name.startswith("__a") else name,
        name.replace("Async", ""),
        name.replace("async_", ""),
    ]
    return next((c for c in candidates if c != name and c in known), name)


class Unasync(ast.NodeTransformer):
    """Rewrites an async function's tree into the sync twin it mirrors.

    ``await x`` → ``x``; ``async for``/``async with``/``async def`` → their plain forms; async
    comprehensions → plain ones; ``async for x in it: yield x`` → ``yield from it``; names as
    :func:`sync_name` maps them (``known``: the names the sync twin uses).
    """

    def __init__(self, known: set[str]) -> None:
        """Map names to those of a sync twin using ``known``."""
        self.known = known

    def visit_Await(self, node: ast.Await) -> Any:
        """``await x`` → ``x``."""
        return self.visit(node.value)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> Any:
        """``async for`` → ``for`` (``yield from`` when it only passes items on)."""
        plain = ast.For(**{f: getattr(node, f) for f in node._fields})
        loop = self.generic_visit(ast.copy_location(plain, node))
        assert isinstance(loop, ast.For)
        only = loop.body[0] if len(loop.body) == 1 and not loop.orelse else None
        if (
            isinstance(only, ast.Expr)
            and isinstance(only.value, ast.Yield)
            and isinstance(only.value.value, ast.Name)
            and isinstance(loop.target, ast.Name)
            and only.value.value.id == loop.target.id
        ):
            return ast.copy_location(ast.Expr(ast.YieldFrom(loop.iter)), node)
        return loop

    def visit_AsyncWith(self, node: ast.AsyncWith) -> Any:
        """``async with`` → ``with``."""
        plain = ast.With(**{f: getattr(node, f) for f in node._fields})
        return self.generic_visit(ast.copy_location(plain, node))

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> Any:
        """A nested ``async def`` → ``def``."""
        plain = ast.FunctionDef(**{f: getattr(node, f) for f in node._fields})
        return self.visit_FunctionDef(ast.copy_location(plain, node))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        """A nested function, renamed."""
        node.name = sync_name(node.name, self.known)
        return self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> Any:
        """``async for`` in a comprehension → ``for``."""
        node.is_async = 0
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> Any:
        """A name, in its sync spelling."""
        node.id = sync_name(node.id, self.known)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        """An attribute, in its sync spelling."""
        node.attr = sync_name(node.attr, self.known)
        return self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> Any:
        """A keyword argument, in its sync spelling."""
        if node.arg is not None:
            node.arg = sync_name(node.arg, self.known)
        return self.generic_visit(node)


def body_lines(function: _Function) -> list[str]:
    """``function``'s body without its docstring, laid out by ``ast.unparse`` (no comments)."""
    body = function.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    return ast.unparse(ast.Module(body=body, type_ignores=[])).splitlines()


def _twin_name(function: _Function, sync_names: set[str]) -> str | None:
    """The name of ``function``'s sync twin, if it is the async side of a pair."""
    name = function.name
    if isinstance(function, ast.AsyncFunctionDef) and name in sync_names:
        return name
    twin = sync_name(name, sync_names)
    return twin if twin != name else None


def _defined_in(node: ast.AST) -> Iterator[_Function | ast.ClassDef]:
    """The functions and classes ``node``'s own body defines (under ``if``/``try`` too)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _Function | ast.ClassDef):
            yield child
        else:
            yield from _defined_in(child)


def _functions(node: ast.AST) -> list[_Function]:
    return [child for child in _defined_in(node) if isinstance(child, _Function)]


def _scopes(tree: ast.AST) -> Iterator[tuple[list[_Function], list[_Function]]]:
    """Where twins are looked for: (sync side, async side) functions.

    Each module, class and function with itself, and each pair of twin classes
    (``AsyncRetryPolicyTransport`` and ``RetryPolicyTransport``) with each other.
    """
    for scope in ast.walk(tree):
        if not isinstance(scope, ast.Module | ast.ClassDef | _Function):
            continue
        yield _functions(scope), _functions(scope)
        classes = {c.name: c for c in _defined_in(scope) if isinstance(c, ast.ClassDef)}
        for name, cls in classes.items():
            if (twin := sync_name(name, set(classes))) != name:
                yield _functions(classes[twin]), _functions(cls)


def twins(source: str) -> Iterator[tuple[ast.FunctionDef, _Function]]:
    """Each (sync, async) pair of functions in ``source``, matched by name in one scope."""
    for sync_side, async_side in _scopes(ast.parse(source)):
        plain = {node.name: node for node in sync_side if isinstance(node, ast.FunctionDef)}
        for function in async_side:
            name = _twin_name(function, set(plain))
            if name is not None and plain[name] is not function:
                yield plain[name], function


def exact_twins(source: str) -> Iterator[tuple[ast.FunctionDef, _Function, int]]:
    """Pairs whose async body, unasynced, is the sync body; with its length in lines."""
    for sync, other in twins(source):
        rewritten = Unasync(_identifiers(sync)).visit(ast.parse(ast.unparse(other)).body[0])
        lines = body_lines(sync)
        if lines == body_lines(rewritten):
            yield sync, other, len(lines)


def _long_twins(source: str) -> list[str]:
    return [
        f"{sync.name} (line {sync.lineno}) / {other.name} (line {other.lineno}): {length} lines"
        for sync, other, length in exact_twins(source)
        if length > MAX_OWN_LINES
    ]


def test_no_long_sync_async_twins() -> None:
    package = Path(langchain_vllm.__file__).parent
    found = {
        str(path.relative_to(package)): long
        for path in sorted(package.rglob("*.py"))
        if (long := _long_twins(path.read_text(encoding="utf-8")))
    }
    assert found == {}, (
        "these sync/async pairs differ only in await/async and the client: move what they "
        f"share into one plain function both call (see {__name__}'s docstring): {found}"
    )


_LINES = "\n".join(f"        step{n}(x)" for n in range(MAX_OWN_LINES))
_INNER = _LINES.replace("\n", "\n    ").replace("        step0", "            step0")
_SOURCE = f'''
class Model:
    def run(self, x):
        """Doc."""
        with self.client.session() as s:
{_INNER}
        return s.read(x)

    async def arun(self, x):
        """Async twin."""
        async with self.async_client.session() as s:
{_INNER}
        return await s.aread(x)

    def short(self, x):
{_LINES}

    async def ashort(self, x):
{_LINES}

    def differs(self, x):
{_LINES}
        return x

    async def adiffers(self, x):
{_LINES}
        return await asyncio.sleep(x)

    def passes_on(self, x):
        yield from self.client.stream(x)

    async def apasses_on(self, x):
        async for chunk in self.async_client.astream(x):
            yield chunk


class Transport:
    def handle_request(self, x):
{_LINES}
        return self.inner.handle_request(x)


class AsyncTransport:
    async def handle_async_request(self, x):
{_LINES}
        return await self.inner.handle_async_request(x)
'''


def test_the_finder_reports_a_long_exact_twin_only() -> None:
    found = sorted((s.name, a.name, n) for s, a, n in exact_twins(_SOURCE))
    assert found == sorted(
        [
            ("run", "arun", MAX_OWN_LINES + 2),
            ("short", "ashort", MAX_OWN_LINES),
            ("passes_on", "apasses_on", 1),
            ("handle_request", "handle_async_request", MAX_OWN_LINES + 1),
        ]
    )
    assert sorted(_long_twins(_SOURCE)) == [
        "handle_request (line 68) / handle_async_request (line 79): 7 lines",
        "run (line 3) / arun (line 14): 8 lines",
    ]


def test_sync_name_keeps_names_the_sync_twin_lacks() -> None:
    known = {"client", "root_client", "_stream", "__enter__", "Stream", "next"}
    assert sync_name("async_client", known) == "client"
    assert sync_name("root_async_client", known) == "root_client"
    assert sync_name("_astream", known) == "_stream"
    assert sync_name("__aenter__", known) == "__enter__"
    assert sync_name("AsyncStream", known) == "Stream"
    assert sync_name("anext", known) == "next"
    assert sync_name("apply", known) == "apply"


# ------------------------------------------------------------------ how the package is joined

_PACKAGE = Path(langchain_vllm.__file__).parent


def _imports(path: Path) -> set[str]:
    """The package's modules ``path`` imports at run time (``TYPE_CHECKING`` blocks left out)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # drop the bodies of `if TYPE_CHECKING:`
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("langchain_vllm"):
            if node.module == "langchain_vllm":
                found.update(f"langchain_vllm.{alias.name}" for alias in node.names)
            else:
                found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("langchain_vllm."))
    modules = {f"langchain_vllm.{p.stem}" for p in _PACKAGE.glob("*.py")}
    return found & modules


def _graph() -> dict[str, set[str]]:
    return {
        f"langchain_vllm.{path.stem}": _imports(path)
        for path in _PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }


def test_no_import_circle_in_the_package() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import circle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_only_the_cli_imports_the_doctor() -> None:
    importers = sorted(m for m, imported in _graph().items() if "langchain_vllm.doctor" in imported)
    assert importers == ["langchain_vllm.cli"]


def test_each_model_class_holds_at_most_three_of_the_package_classes() -> None:
    for cls in (
        langchain_vllm.ChatVLLM,
        langchain_vllm.VLLMCompletions,
        langchain_vllm.VLLMEmbeddings,
        langchain_vllm.VLLMRerank,
    ):
        own = [k.__name__ for k in cls.__mro__ if k.__module__.startswith("langchain_vllm")]
        assert len(own) <= 3, f"{cls.__name__}: {own}"


def _frames_carrying(value: int, call: Callable[[], object]) -> list[tuple[str, str]]:
    """The package's frames (module, function) whose locals hold ``value`` as ``top_k``."""

    def carries(local: object) -> bool:
        if type(local) is int:
            return local == value
        if type(local) is dict:
            extra = local.get("extra_body")
            return local.get("top_k") == value or (
                type(extra) is dict and extra.get("top_k") == value
            )
        return False

    frames: list[tuple[str, str]] = []

    def tracer(frame: FrameType, event: str, _arg: object) -> None:
        module = str(frame.f_globals.get("__name__", ""))
        if (
            event == "call"
            and module.startswith("langchain_vllm")
            and any(carries(local) for local in frame.f_locals.values())
        ):
            frames.append((module, frame.f_code.co_name))

    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
    return frames


def test_a_per_call_field_reaches_the_body_through_three_modules() -> None:
    """``invoke(msgs, top_k=...)``: the frames that carry the value until the body is sent.

    LangChain also hands the call's keyword arguments to the tracing hook ``_get_ls_params``
    (ChatVLLM's only sets ``ls_provider``): a side call, not the way to the body.
    """
    fake = FakeVLLM()
    llm = ChatVLLM(base_url=BASE_URL, model=recorded_model(), **fake.clients())
    llm.invoke("Hi")  # the server learned first: only the call's own path is traced below
    frames = _frames_carrying(987654, lambda: llm.invoke("Hi", top_k=987654))
    assert fake.chat_bodies()[-1]["top_k"] == 987654
    sent = next(i for i, (module, _) in enumerate(frames) if module == "langchain_vllm._plain_chat")
    to_body = [frame for frame in frames[:sent] if frame[1] != "_get_ls_params"]
    assert ("langchain_vllm._request", "finish_payload") in to_body
    modules = [module for module, _ in to_body]
    assert set(modules) == {
        "langchain_vllm._server",
        "langchain_vllm.chat_models",
        "langchain_vllm._request",
    }, to_body
    entries = [m for i, m in enumerate(modules) if i == 0 or modules[i - 1] != m]
    assert entries.count("langchain_vllm.chat_models") == 1, to_body
