"""Which images are stale: a content fingerprint of each service's build inputs, kept per project.

Compose only builds images that are missing; `--build` rebuilds everything. devtools rebuilds exactly
the services whose inputs changed since devtools last built them. The inputs are the paths a service
lists under `x-devtools.build-inputs` (the Dockerfile alone when it lists none), hashed by content, so
a `git checkout` that only touches mtimes does not trigger a build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.provenance import lock_content

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


# Build settings that never change what is built: where it is built from on disk, where cached
# layers may come from, metadata. Left out, so the fingerprint is the same on every machine and with
# or without a team registry (prebuilt images are found by it: devtools.registry.prebuilt).
_NOT_CONTENT = frozenset({"context", "cache_from", "cache_to", "labels"})


def build_settings(service: dict[str, Any]) -> dict[str, Any]:
    """The parts of a service's build section that decide the image: target, Dockerfile, args (less
    BuildKit's own switches, e.g. BUILDKIT_INLINE_CACHE)."""
    settings = {key: value for key, value in service["build"].items() if key not in _NOT_CONTENT}
    if isinstance(settings.get("args"), dict):
        settings["args"] = {k: v for k, v in settings["args"].items() if not k.startswith("BUILDKIT_")}
    return settings


def fingerprint(root: Path, service: dict[str, Any]) -> str:
    """One image's build inputs by content: the same fingerprint is the same image (the prebuilt tag)."""
    digest = hashlib.sha256()
    # Target, args and base image are inputs too: switching dev -> prod must not look fresh.
    digest.update(json.dumps(build_settings(service), sort_keys=True).encode())
    for top in build_inputs(root, service):
        for file in _files_under(top):
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(_content(file, root))
            digest.update(b"\0")
    return digest.hexdigest()


def _content(file: Path, root: Path) -> bytes:
    """A lock (locks/, `devtools lock`) counts without the notes its resolver writes (contract.provenance):
    a relock that changed another image's packages rewrites those in every lock, and must not make this
    image stale or change its prebuilt tag. Its pins and hashes count, and so does any other line."""
    data = file.read_bytes()
    if file.relative_to(root).parts[:1] != ("locks",):
        return data
    return lock_content(data.decode()).encode()


BUILT_HERE = "built here"


class BuildState:
    """.devtools/build-state.json: per project and Compose files, each service image's fingerprint when
    devtools last built or pulled it, and where it came from (`ps` shows it)."""

    def __init__(self, project: ComposeProject) -> None:
        self.path = project.root / ".devtools" / "build-state.json"
        self._key_prefix = f"{project.name}:{'+'.join(f.name for f in project.files)}:"
        self.root = project.root
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        # Before sources were kept, the file was the fingerprints alone.
        self._recorded: dict[str, str] = data.get("fingerprints", data) if "fingerprints" in data else data
        self._sources: dict[str, str] = data.get("sources", {}) if "fingerprints" in data else {}

    def stale(self, config: ComposeConfig, names: Iterable[str]) -> list[str]:
        """Services among `names` with a build section whose inputs changed since the last record."""
        return [
            name
            for name in names
            if "build" in config.services[name]
            and self._recorded.get(self._key_prefix + name) != fingerprint(self.root, config.services[name])
        ]

    def source(self, image: str) -> str | None:
        """Where an image devtools built or pulled came from: BUILT_HERE or the registry's reference by
        digest (by image: services that share one, like seed and training, share its source)."""
        return self._sources.get(self._key_prefix + image)

    def record(self, config: ComposeConfig, names: Sequence[str], source: str | Mapping[str, str] = BUILT_HERE) -> None:
        """`source`: one for every name, or per name (pulled images: their references)."""
        for name in names:
            service = config.services[name]
            if "build" in service:
                self._recorded[self._key_prefix + name] = fingerprint(self.root, service)
                self._sources[self._key_prefix + str(service.get("image"))] = (
                    source if isinstance(source, str) else source[name]
                )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"fingerprints": self._recorded, "sources": self._sources}
        self.path.write_text(json.dumps(data, indent=1, sort_keys=True))


@dataclass(frozen=True)
class Wanted:
    """A service's image as this checkout would build it."""

    service: str
    image: str  # the local name: mlstack/serving:dev
    fingerprint: str  # of its build inputs (build_state.fingerprint)

    @property
    def repository(self) -> str:
        return self.image.rsplit(":", 1)[0]


def wanted(project: ComposeProject, config: ComposeConfig, services: Sequence[str]) -> list[Wanted]:
    """The services among `services` that build an image, with what they would build."""
    found = []
    for name in services:
        service = config.services[name]
        image = service.get("image")
        if "build" in service and isinstance(image, str):
            found.append(Wanted(name, image, fingerprint(project.root, service)))
    return found
