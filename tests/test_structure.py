"""The structure of the source (docs/architecture.md section 2): no import cycle among the modules of one
package, and the domain packages depend on none of the layers above or beside them.

The graph is static: every ``import`` / ``from ... import`` statement anywhere in a file counts, including
those inside functions and under ``if TYPE_CHECKING:`` (a cycle hidden there is still a cycle in the design).
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Package directories (relative to src/) whose modules must not import each other in a cycle: all of them.
PACKAGES = sorted(
    str(init.parent.relative_to(SRC)) for init in SRC.rglob("__init__.py") if "migrations" not in init.parts
)

#: The domain packages and what they must never import (directly or through another domain).
DOMAINS = [
    "tenants", "inventory", "binaries", "identity", "operations", "telemetry", "registration", "credentials",
    "fleets", "rules",
]  # fmt: skip
ABOVE = (
    "tether.api",
    "tether.adapters",
    "tether.broker",
    "tether.storage",
    "tether.bootstrap",
    "tether.server",
)


@functools.cache
def _source_graph() -> tuple[dict[str, Path], dict[str, set[str]]]:
    """The modules of src/ and their imports, parsed once per test run."""
    modules = _modules()
    return modules, _imports(modules)


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of src/ it imports (a name imported from a package counts as the submodule
    when there is one)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package[: len(package) - (node.level - 1)]
                    base = ".".join([*parent, base] if base else parent)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                found = resolve(target)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def _cycles(graph: dict[str, set[str]], members: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module among ``members`` (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in members:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(members):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_within_a_package(package: str) -> None:
    modules, graph = _source_graph()
    directory = SRC / package
    members = {name for name, path in modules.items() if path.parent == directory}
    assert members, f"no modules in {directory}"
    assert _cycles(graph, members) == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_imports_no_layer_above_it(domain: str) -> None:
    """Everything a domain package reaches, transitively, is core/, domain packages and the MQTT topic
    syntax; never an API, an adapter, the broker, a concrete store or the composition root."""
    modules, graph = _source_graph()
    seen: set[str] = set()
    frontier = [name for name in modules if name.startswith(f"tether.{domain}")]
    while frontier:
        name = frontier.pop()
        if name not in seen:
            seen.add(name)
            frontier.extend(graph.get(name, ()))
    assert sorted(m for m in seen if m.startswith(ABOVE)) == []


def test_hidden_imports_make_a_cycle(tmp_path: Path) -> None:
    """A function-local import and one under TYPE_CHECKING count: a -> b (in a function) -> c (type only)
    -> a is a cycle; d imports a and is outside it."""
    package = tmp_path / "p"
    package.mkdir()
    sources = {
        "__init__": "",
        "a": "def f():\n    from . import b\n",
        "b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n",
        "c": "from p.a import f\nclass C: ...\n",
        "d": "from .a import f\n",
    }
    for name, text in sources.items():
        (package / f"{name}.py").write_text(text)
    modules = {("p" if name == "__init__" else f"p.{name}"): package / f"{name}.py" for name in sources}
    members = {name for name, path in modules.items() if path.parent == package}
    assert _cycles(_imports(modules), members) == [["p.a", "p.b", "p.c"]]


#: Modules the rule language (tether/rules, free of I/O like the MQTT core) must not import.
_IO_MODULES = {
    "asyncio", "socket", "ssl", "select", "selectors", "subprocess", "threading", "httpx", "sqlalchemy",
}  # fmt: skip


def test_the_rule_language_is_free_of_io() -> None:
    """The rule language (tether.rules but its service and store) reaches, of Tether, only itself and the MQTT
    topic syntax; the whole package imports no I/O module."""
    modules, graph = _source_graph()
    package = {name for name in modules if name.startswith("tether.rules")}
    domain = {
        "tether.rules.service", "tether.rules.store", "tether.rules.models", "tether.rules.metrics",
        "tether.rules.connectors", "tether.rules.connector_service", "tether.rules.connector_store",
    }  # fmt: skip
    rules = package - domain
    reached = {target for name in rules for target in graph.get(name, ())}
    assert sorted(reached - rules) == ["tether.mqtt.topics"]
    for name in package:
        for node in ast.walk(ast.parse(modules[name].read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = {(node.module or "").partition(".")[0]}
            else:
                continue
            assert not roots & _IO_MODULES, f"{name} imports {roots & _IO_MODULES}"
