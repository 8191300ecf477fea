"""The release manifest: what one `devtools release` pushed, by digest. Written only once every image is
in the registry and its digest was read back, and atomically, so it never points at a half-pushed
release. `deploy render ecs --release FILE` names each image by its `reference` (repo@sha256:...)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devtools.errors import DevtoolsError, ExitCode

SCHEMA = 1
DIRECTORY = Path("build") / "release"  # in the repository; one file per tag


@dataclass(frozen=True)
class ReleasedImage:
    service: str
    repository: str  # as Compose names it: mlstack/serving
    image: str  # the pushed tag: REGISTRY/mlstack/serving:TAG
    digest: str  # sha256:... of the manifest the registry holds
    platforms: list[str]
    scan: dict[str, Any] = field(default_factory=dict)  # devtools.release.scan.ImageScan.as_dict()
    sbom: str = ""  # the CycloneDX SBOM's path, relative to the manifest's directory

    @property
    def reference(self) -> str:
        """REGISTRY/mlstack/serving@sha256:...: immutable, what a deploy should name."""
        return f"{self.image.rsplit(':', 1)[0]}@{self.digest}"


@dataclass(frozen=True)
class Release:
    project: str
    registry: str
    tag: str
    revision: str
    dirty: bool
    images: list[ReleasedImage]

    def by_repository(self) -> dict[str, ReleasedImage]:
        return {image.repository: image for image in self.images}


def path_for(root: Path, tag: str) -> Path:
    return root / DIRECTORY / f"{tag}.json"


def sbom_path(root: Path, tag: str, service: str) -> Path:
    """build/release/<tag>/<service>.cdx.json, beside its manifest."""
    return root / DIRECTORY / tag / f"{service}.cdx.json"


def write(release: Release, path: Path) -> Path:
    data = {"schema": SCHEMA, **asdict(release)}
    for image, entry in zip(release.images, data["images"], strict=True):
        entry["reference"] = image.reference
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: a reader (or a crash) never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)
    return path


def read(path: Path) -> Release:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise DevtoolsError(f"cannot read --release {path}: {exc.strerror}", ExitCode.USAGE) from exc
    except json.JSONDecodeError as exc:
        raise DevtoolsError(f"--release {path}: not JSON ({exc.msg} at line {exc.lineno})", ExitCode.USAGE) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DevtoolsError(
            f"--release {path}: not a devtools release manifest (schema {SCHEMA}); write one with `devtools release`",
            ExitCode.USAGE,
        )
    try:
        images = [
            ReleasedImage(
                service=str(item["service"]),
                repository=str(item["repository"]),
                image=str(item["image"]),
                digest=str(item["digest"]),
                platforms=[str(p) for p in item["platforms"]],
                scan=dict(item.get("scan") or {}),
                sbom=str(item.get("sbom") or ""),
            )
            for item in data["images"]
        ]
        release = Release(
            project=str(data["project"]),
            registry=str(data["registry"]),
            tag=str(data["tag"]),
            revision=str(data["revision"]),
            dirty=bool(data["dirty"]),
            images=images,
        )
    except (KeyError, TypeError) as exc:
        raise DevtoolsError(f"--release {path}: missing or malformed field {exc}", ExitCode.USAGE) from exc
    for image in images:
        if not image.digest.startswith("sha256:") or len(image.digest) != len("sha256:") + 64:
            raise DevtoolsError(f"--release {path}: {image.service} has no sha256 digest", ExitCode.USAGE)
    return release
