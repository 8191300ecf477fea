"""The code's layers point one way: no import cycle in devtools/ or services/ (imports inside
functions count: they only postpone a cycle to run time), and nothing below the command layer
imports devtools.commands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Package folder -> the name it is imported under (services/ is on sys.path in the containers).
PACKAGES = {REPO / "devtools": "devtools", REPO / "services/training": "training", REPO / "services/serving": "serving"}
COMMAND_LAYER = ("devtools.commands", "devtools.cli")


def _modules() -> dict[str, Path]:
    modules = {}
    for folder, name in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [name, *path.relative_to(folder).with_suffix("").parts]
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `module` imports anywhere in its body, as the names they are known by."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        # A module's own package (its __init__) is not an edge: importing a.b always runs a/__init__.
        if name and name != module and not module.startswith(name + "."):
            found.add(name)
    return found


GRAPH = {module: _imported(module, path, _modules()) for module, path in _modules().items()}


def _cycle_through(start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, trail = stack.pop()
        for target in GRAPH[module]:
            if target == start:
                return [*trail, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*trail, target]))
    return None


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_cycle(module: str) -> None:
    assert _cycle_through(module) is None, " -> ".join(_cycle_through(module) or [])


def test_only_the_command_layer_imports_commands() -> None:
    offenders = {
        module: sorted(target for target in targets if target.startswith("devtools.commands"))
        for module, targets in GRAPH.items()
        if not module.startswith(COMMAND_LAYER)
    }
    assert {module: targets for module, targets in offenders.items() if targets} == {}


def test_the_checker_sees_function_level_imports() -> None:
    """The graph counts imports inside functions: devtools.commands.up imports the stack lazily."""
    assert "devtools.stack.start" in GRAPH["devtools.commands.up"]
