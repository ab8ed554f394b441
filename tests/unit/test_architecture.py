"""The rooms of the code and the rule between them, checked on every run.

docs/ARCHITECTURE.md states the rule: the package is a stack of rooms, and a
module imports only from its own room or from rooms below it (``avatar``,
``backends`` and ``store`` are siblings and do not import each other). Every import counts,
also those inside functions and under ``TYPE_CHECKING``: a cycle hidden in a
lazy import is still a cycle for the person reading the code. No two modules
may import each other, directly or around a loop.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import aiway

PACKAGE = Path(aiway.__file__).parent

# Bottom to top. A module belongs to the first room whose prefix it matches
# (most specific first, see room_of); rooms on one line are siblings.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("aiway.actors.errors", "aiway.actors.untrusted"),
    ("aiway.config",),
    ("aiway.actors.runtime",),
    ("aiway.actors.protocol",),
    ("aiway.actors.runtime.thespian",),
    ("aiway.actors.avatar", "aiway.actors.backends", "aiway.actors.store"),
    ("aiway.actors",),
    ("aiway.actors.app",),
    ("aiway.actors.daemon",),
    ("aiway.ui",),
    ("aiway.__main__", "aiway"),
)
LEVEL = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}


def room_of(module: str) -> str:
    """The most specific room whose name is ``module`` or a prefix of it."""
    best = ""
    for room in LEVEL:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    assert best, f"{module} is in no room: add it to LAYERS and docs/ARCHITECTURE.md"
    return best


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory, _, files in os.walk(PACKAGE, followlinks=True):
        for name in files:
            if name.endswith(".py"):
                path = Path(directory) / name
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
                dotted = ".".join(parts).removesuffix(".__init__")
                found[dotted] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every aiway module ``path`` imports, with the line of the import."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                yield (name if name in known else node.module), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {
        module: {
            target: line
            for target, line in imports_of(path, known)
            if target in known and target != module
        }
        for module, path in known.items()
    }


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start, targets in edges.items():
        if start in index:
            continue
        work = [(start, iter(targets))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_is_in_a_room() -> None:
    for module in modules():
        room_of(module)


def test_no_module_imports_from_a_room_above_its_own_or_a_sibling() -> None:
    broken = []
    for module, targets in graph().items():
        here = room_of(module)
        for target, line in targets.items():
            there = room_of(target)
            if there != here and LEVEL[there] >= LEVEL[here]:
                broken.append(f"{module}:{line} imports {target} ({here} -> {there})")
    assert not broken, "imports that break the layering rule:\n" + "\n".join(sorted(broken))


def test_there_are_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(edges) == [["a", "b", "c"]]
