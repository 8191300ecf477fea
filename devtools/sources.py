"""Which files of the checkout are source: what the watcher reacts to and what the remote mirror copies.

Caches, VCS internals, virtual environments and editor temp files are never source, wherever they are.
The stack's data folders (data, models, mlruns, mlartifacts at the checkout's top, which .gitignore
ignores too) are not source either; a package of that name deeper in the tree (services/serving/models)
is, so an edit to it is reloaded and synced like any other.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path

IGNORED_DIRS = frozenset(
    {".git", "__pycache__", ".venv", "venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".devtools",
     "node_modules", ".ipynb_checkpoints", ".idea"}
)  # fmt: skip
# Only at the top of the checkout: where the stack keeps data, runs and artifacts.
DATA_DIRS = frozenset({"data", "models", "mlruns", "mlartifacts"})
# Editor temp and backup files: vim swap and its 4913 probe, emacs locks/autosaves, JetBrains safe-write.
IGNORED_FILES = (
    "*.pyc",
    "*.pyo",
    "*.swp",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",
    "*.tmp",
    "*___jb_*___",
    ".DS_Store",
)


def is_ignored(relative: Path, extra: Iterable[str] = ()) -> bool:
    """Whether `relative` (a path relative to the checkout) is not source; `extra`: a rule's own patterns."""
    if IGNORED_DIRS.intersection(relative.parts[:-1]) or relative.name in IGNORED_DIRS:
        return True
    if relative.parts and relative.parts[0] in DATA_DIRS:
        return True
    patterns = (*IGNORED_FILES, *extra)
    return any(fnmatch.fnmatch(relative.name, p) or fnmatch.fnmatch(relative.as_posix(), p) for p in patterns)
