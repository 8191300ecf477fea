"""The contract package: standard library only (devtools and both images import it), and its package
module imports nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import contract

PACKAGE = Path(contract.__file__).parent


def _imported(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, wherever (TYPE_CHECKING blocks and functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_every_module_imports_only_the_standard_library_and_the_contract() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 7
    for module in modules:
        outside = _imported(module) - set(sys.stdlib_module_names) - {"__future__", "contract"}
        assert outside == set(), f"{module.name} imports {sorted(outside)}"


def test_the_package_module_imports_nothing() -> None:
    assert _imported(PACKAGE / "__init__.py") == set()


def test_importing_every_module_loads_no_third_party_package() -> None:
    names = ", ".join(f"contract.{path.stem}" for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__")
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"import {names}\n"
        "loaded = {name.partition('.')[0] for name in set(sys.modules) - before}\n"
        "print(sorted(loaded - set(sys.stdlib_module_names) - {'contract'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
