"""Which images are stale: a content fingerprint of each service's build inputs, kept per project.

Compose only builds images that are missing; `--build` rebuilds everything. devtools rebuilds exactly
the services whose inputs changed since devtools last built them. The inputs are the paths a service
lists under `x-devtools.build-inputs` (the Dockerfile alone when it lists none), hashed by content, so
a `git checkout` that only touches mtimes does not trigger a build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from devtools.stack.config import ComposeConfig
from devtools.stack.project import ComposeProject

_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def _files_under(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        if child.is_file() and not _SKIP_DIRS.intersection(child.parts) and child.suffix not in _SKIP_SUFFIXES:
            yield child


def build_inputs(root: Path, service: dict[str, Any]) -> list[Path]:
    build = service["build"]
    context = Path(build.get("context", root))
    listed = service.get("x-devtools", {}).get("build-inputs")
    if isinstance(listed, dict):
        listed = listed.get(build.get("target", ""), listed.get("default"))
    if listed:
        return [root / p for p in listed]
    return [context / build.get("dockerfile", "Dockerfile")]


def fingerprint(root: Path, service: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    # Target, args and base image are inputs too: switching dev -> prod must not look fresh.
    digest.update(json.dumps({k: v for k, v in service["build"].items() if k != "context"}, sort_keys=True).encode())
    for top in build_inputs(root, service):
        for file in _files_under(top):
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


class BuildState:
    def __init__(self, project: ComposeProject) -> None:
        self.path = project.root / ".devtools" / "build-state.json"
        self._key_prefix = f"{project.name}:{'+'.join(f.name for f in project.files)}:"
        self.root = project.root
        try:
            self._recorded: dict[str, str] = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            self._recorded = {}

    def stale(self, config: ComposeConfig, names: Iterable[str]) -> list[str]:
        """Services among `names` with a build section whose inputs changed since the last record."""
        return [
            name
            for name in names
            if "build" in config.services[name]
            and self._recorded.get(self._key_prefix + name) != fingerprint(self.root, config.services[name])
        ]

    def record(self, config: ComposeConfig, names: Sequence[str]) -> None:
        for name in names:
            if "build" in config.services[name]:
                self._recorded[self._key_prefix + name] = fingerprint(self.root, config.services[name])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self._recorded, indent=1, sort_keys=True))
