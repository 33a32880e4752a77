"""The layers of docs/architecture.md, enforced: every import of every module is checked.

Each module belongs to one layer (by its folder); a layer may import only the layers the
table below lists. On top of the table, the package graph must have no cycle. A test of
the checker itself feeds it a forbidden import, so a checker that sees nothing fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: What the server may use of the render engine: its pure probing/planning surface.
RENDER_SURFACE = frozenset(
    {
        "workers.render",
        "workers.render.errors",
        "workers.render.focus",
        "workers.render.plan",
        "workers.render.probe",
        "workers.render.spec",
        "workers.render.subtitles",
    }
)

#: layer → the layers it may import (itself always allowed). "render-surface" is
#: RENDER_SURFACE; "render" is all of workers.render.
ALLOWED: dict[str, frozenset[str]] = {
    "kernel": frozenset({"render-surface"}),
    "render": frozenset(),
    "adapters": frozenset({"kernel"}),
    "domain": frozenset({"kernel", "adapters", "render-surface"}),
    "migrations": frozenset({"kernel", "domain"}),
    "ops": frozenset({"kernel", "adapters", "domain"}),
    "http": frozenset({"kernel", "adapters", "domain", "render-surface"}),
    "api": frozenset({"kernel", "adapters", "domain", "http", "render-surface"}),
    "realtime": frozenset({"kernel", "adapters", "domain", "http"}),
    "workers": frozenset({"kernel", "adapters", "domain", "ops", "render", "render-surface"}),
    "composition": frozenset(
        {
            "kernel",
            "adapters",
            "domain",
            "migrations",
            "ops",
            "http",
            "api",
            "realtime",
            "workers",
            "render",
            "render-surface",
        }
    ),
}

_PACKAGE_LAYERS = {
    "server.api": "api",
    "server.http": "http",
    "server.realtime": "realtime",
    "server.domain": "domain",
    "server.adapters": "adapters",
    "server.ops": "ops",
    "server.commands": "composition",
    "server.migrations": "migrations",
    "workers.render": "render",
    "workers": "workers",
}
_COMPOSITION_MODULES = {"server.app", "server.cli"}


def layer_of(module: str) -> str | None:
    """The layer ``module`` belongs to; None for modules outside server/ and workers/."""
    if module in _COMPOSITION_MODULES:
        return "composition"
    for package, layer in sorted(_PACKAGE_LAYERS.items(), key=lambda kv: -len(kv[0])):
        if module == package or module.startswith(package + "."):
            return layer
    if module == "server" or module.startswith("server."):
        return "kernel"  # settings, errors, text, safe_json, clock: used by every layer
    return None


def target_layer(imported: str) -> str | None:
    if imported in RENDER_SURFACE:
        return "render-surface"
    return layer_of(imported)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    imported: str  # what it imports (a module, or a package)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every import (relative ones resolved), including those under TYPE_CHECKING."""
    package = module if is_package else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                named_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists()
                named_package = (ROOT / Path(*candidate.split("."))).is_dir()
                yield Import(
                    module, candidate if named_module or named_package else base, node.lineno
                )


def all_imports() -> list[Import]:
    found: list[Import] = []
    for top in ("server", "workers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = module_name(path)
            found.extend(
                i
                for i in imports_of(module, path.read_text(), is_package=path.stem == "__init__")
                if layer_of(i.imported) is not None
            )
    return found


def broken_rules(imports: Iterable[Import]) -> list[str]:
    problems = []
    for item in imports:
        source, target = layer_of(item.module), target_layer(item.imported)
        if source is None or target is None or source == target:
            continue
        if target == "render-surface" and source == "render":
            continue
        if target not in ALLOWED[source]:
            problems.append(
                f"{item.module}:{item.line} imports {item.imported} ({source} → {target})"
            )
    return problems


def package_of(module: str) -> str:
    """The package whose cycles matter: server.<sub>, workers.render, workers, or a
    kernel module on its own."""
    parts = module.split(".")
    if parts[0] == "workers":
        return "workers.render" if parts[1:2] == ["render"] else "workers"
    if len(parts) >= 2 and (ROOT / "server" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def package_cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for item in imports:
        a, b = package_of(item.module), package_of(item.imported)
        graph.setdefault(a, set())
        graph.setdefault(b, set())
        if a != b:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_import_follows_the_layer_rules() -> None:
    assert broken_rules(all_imports()) == []


def test_no_cycle_between_packages() -> None:
    assert package_cycles(all_imports()) == []


def test_every_module_has_a_layer() -> None:
    for top in ("server", "workers"):
        for path in (ROOT / top).rglob("*.py"):
            assert layer_of(module_name(path)) is not None, path


def test_the_checker_catches_a_forbidden_import_and_a_cycle() -> None:
    real = all_imports()
    wrong = [
        Import("server.realtime.ws", "server.api.exports", 1),
        Import("workers.render.video", "server.domain.models", 2),
        Import("server.domain.models", "server.http.services", 3),
    ]
    assert len(broken_rules([*real, *wrong])) == 3
    cycle = [Import("server.http.services", "server.api.routing", 4)]
    assert package_cycles([*real, *cycle]) != []


def test_relative_imports_are_resolved() -> None:
    found = list(imports_of("workers.render.engine", "from .plan import plan_render\n"))
    assert [i.imported for i in found] == ["workers.render.plan"]
