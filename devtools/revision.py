"""The checkout's git revision, as prod images are tagged and labelled with it (build, deploy render)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devtools import proc
from devtools.errors import DevtoolsError

# Docker's tag grammar: up to 128 of [A-Za-z0-9_.-], not starting with . or -.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIRTY_SUFFIX = "-dirty"


@dataclass(frozen=True)
class Revision:
    """The short commit and whether tracked files differ from it; commit None outside git (a source
    tarball, a repository without commits), with `why` saying so."""

    commit: str | None
    dirty: bool = False
    why: str = ""

    @property
    def tag(self) -> str | None:
        """The default image tag: the commit, marked `-dirty` when the tree has uncommitted changes, so an
        image built from edits never passes for the commit (what `git describe --dirty` does)."""
        if self.commit is None:
            return None
        return self.commit + DIRTY_SUFFIX if self.dirty else self.commit

    @classmethod
    def of(cls, root: Path) -> Revision:
        # No .git at or above the root: nothing to ask, and no process started (and no git error shown).
        if not any((directory / ".git").exists() for directory in (root, *root.parents)):
            return cls(None, why=f"{root} is not in a git checkout")
        try:
            done = proc.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture=True, check=False)
        except DevtoolsError as exc:  # no git program
            return cls(None, why=exc.message)
        commit = done.stdout.strip()
        if done.returncode != 0 or not TAG.fullmatch(commit):
            lines = done.stderr.strip().splitlines()
            return cls(None, why=lines[-1] if lines else f"git rev-parse exit code {done.returncode}")
        # Untracked files are left out: editor and tool leftovers would mark every build dirty.
        status = proc.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture=True, check=False
        )
        return cls(commit, dirty=status.returncode == 0 and bool(status.stdout.strip()))
