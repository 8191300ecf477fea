"""What to do about a burst of file changes: pure decisions, driven by a clock and paths.

- Debouncing: a burst (an editor's save dance, a `git checkout` touching 1,000 files) becomes one
  batch once the tree has been quiet for `quiet_s` (`burst_quiet_s` once the batch holds
  `burst_files` paths), or `max_wait_s` after the first change.
- Ignores: caches, VCS internals, data and editor temp files never trigger anything.
- Content, not events: a file whose content is unchanged (a touch, or a container rewriting the same
  bytes into a bind mount) does nothing; dependency files (rebuild rules) are compared ignoring
  whitespace and comments, so a reformat does not rebuild.
- Coalescing: at most one action of each kind per service per batch; a rebuild supersedes the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.sources import is_ignored
from devtools.watch.rules import PRECEDENCE, Action, ServiceWatch, WatchRule


def digest(path: Path, *, dependency: bool) -> str | None:
    """A short content hash; None for a missing file. For dependency files (requirements, Dockerfiles,
    pyproject) whitespace and whole-line comments are not content: they change nothing that gets built."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None
    if dependency:
        lines = (b" ".join(line.split()) for line in data.splitlines())
        data = b"\n".join(line for line in lines if line and not line.startswith(b"#"))
    return hashlib.sha256(data).hexdigest()[:8]


@dataclass
class Debouncer:
    quiet_s: float = 0.05
    max_wait_s: float = 5.0
    # A save touches a few files at once; a checkout, formatter or code generator touches many, with
    # pauses between writes longer than quiet_s on a busy machine (1,000 files split in two here).
    # Once a batch looks like such a burst, wait longer for it to end: one action, not several.
    burst_files: int = 20
    burst_quiet_s: float = 0.5
    _pending: set[Path] = field(default_factory=set)
    _first: float | None = None
    _last: float = 0.0

    def add(self, path: Path, now: float) -> None:
        self._pending.add(path)
        self._first = now if self._first is None else self._first
        self._last = now

    def first_change_at(self) -> float | None:
        return self._first

    def due(self, now: float) -> bool:
        if self._first is None:
            return False
        quiet = self.burst_quiet_s if len(self._pending) >= self.burst_files else self.quiet_s
        return now - self._last >= quiet or now - self._first >= self.max_wait_s

    def take(self) -> set[Path]:
        batch, self._pending, self._first = self._pending, set(), None
        return batch


@dataclass(frozen=True)
class Planned:
    service: str
    action: Action
    reason: str
    rules: tuple[WatchRule, ...]
    paths: tuple[Path, ...]

    def line(self) -> str:
        return f"{self.service}: {self.reason} -> {self.action.value}"


@dataclass
class Planner:
    root: Path
    watches: dict[str, ServiceWatch]
    _hashes: dict[Path, str | None] = field(default_factory=dict)

    def _is_dependency(self, path: Path) -> bool:
        return any(r.action is Action.REBUILD and r.matches(path) for w in self.watches.values() for r in w.rules)

    def prime(self) -> None:
        """Record the current content of every watched file, so the first real change is measured from it."""
        for watch in self.watches.values():
            for rule in watch.rules:
                files = [rule.path] if rule.path.is_file() else (p for p in rule.path.rglob("*") if p.is_file())
                for file in files:
                    if not is_ignored(file.relative_to(self.root), rule.ignore):
                        self._hashes[file] = digest(file, dependency=self._is_dependency(file))

    def plan(self, batch: Iterable[Path]) -> tuple[list[Planned], list[str]]:
        changed, notes = self.changes(batch)
        return self.plan_changes(changed), notes

    def changes(self, batch: Iterable[Path]) -> tuple[dict[Path, tuple[str | None, str | None]], list[str]]:
        """The files of a batch whose content changed (or that appeared or went): path -> (old, new)
        hashes, None for a missing file; and notes on the batch."""
        batch = set(batch)
        notes = []
        git = [p for p in batch if p.is_relative_to(self.root / ".git")]
        if any(p.name == "HEAD" or "refs" in p.parts for p in git) and len(batch) > 1:
            notes.append(f"git: branch switch or checkout ({len(batch) - len(git)} files changed) -> coalesced")
        changed: dict[Path, tuple[str | None, str | None]] = {}
        for path in sorted(batch):
            if not path.is_relative_to(self.root) or is_ignored(path.relative_to(self.root)):
                continue
            new = digest(path, dependency=self._is_dependency(path))
            old = self._hashes.get(path)
            if new == old:
                continue  # touched, or rewritten with the same content
            self._hashes[path] = new
            changed[path] = (old, new)
        return changed, notes

    def plan_changes(self, changed: dict[Path, tuple[str | None, str | None]]) -> list[Planned]:
        return self._plan_services(changed)

    def replan(self, paths: Iterable[Path]) -> list[Planned]:
        """The actions for files already seen changed, whose actions were put off (a remote engine
        that could not be reached took them only now)."""
        return self._plan_services({path: (None, self._hashes.get(path)) for path in paths})

    def _plan_services(self, changed: dict[Path, tuple[str | None, str | None]]) -> list[Planned]:
        planned = []
        for service, watch in self.watches.items():
            hits: dict[Action, tuple[list[WatchRule], list[Path]]] = {}
            for path in changed:
                relative = path.relative_to(self.root)
                matching = [r for r in watch.rules if r.matches(path) and not is_ignored(relative, r.ignore)]
                # An x-devtools rule on a path overrides Compose's rules for the same path.
                if any(r.from_extension for r in matching):
                    matching = [r for r in matching if r.from_extension]
                for rule in matching:
                    rules, paths = hits.setdefault(rule.action, ([], []))
                    rules.append(rule)
                    paths.append(path)
            if Action.REBUILD in hits:
                hits = {Action.REBUILD: hits[Action.REBUILD]}
            for action in sorted(hits, key=lambda a: -PRECEDENCE[a]):
                rules, paths = hits[action]
                unique = tuple(dict.fromkeys(paths))
                planned.append(
                    Planned(service, action, self._reason(unique, changed), tuple(dict.fromkeys(rules)), unique)
                )
        return planned

    def _reason(self, paths: tuple[Path, ...], changed: dict[Path, tuple[str | None, str | None]]) -> str:
        if len(paths) == 1:
            old, new = changed[paths[0]]
            what = paths[0].relative_to(self.root).as_posix()
            if new is None:
                return f"{what} deleted"
            return f"{what} changed ({old or 'new'} -> {new})"
        names = ", ".join(p.name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
        return f"{len(paths)} files changed ({names})"
