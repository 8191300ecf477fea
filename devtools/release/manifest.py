"""The release manifest: what one `devtools release` pushed, by digest. Written only once every image is
in the registry and its digest was read back, and atomically, so it never points at a half-pushed
release. `deploy render TARGET --release FILE` names each image by its `reference` (repo@sha256:...).

An image released for several platforms is an image index: `digest` is the index's, and each platform's
own image (its digest, SBOM and scan) is one of its `variants`; for one platform the two digests are
the same."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from devtools.errors import DevtoolsError, ExitCode
from devtools.registry.push import DIGEST

SCHEMA = 2  # 2: per-platform variants (1 had one platform, its sbom and scan beside the digest)
DIRECTORY = Path("build") / "release"  # in the repository; one file per tag


@dataclass(frozen=True)
class PlatformImage:
    platform: str  # os/arch, as the image's config says: linux/arm64
    digest: str  # sha256:... of this platform's image manifest
    sbom: str = ""  # the CycloneDX SBOM's path, relative to the manifest's directory
    scan: dict[str, Any] = field(default_factory=dict)  # devtools.release.scan.ImageScan.as_dict()


@dataclass(frozen=True)
class ReleasedImage:
    service: str
    repository: str  # as Compose names it: mlstack/serving
    image: str  # the pushed tag: REGISTRY/mlstack/serving:TAG
    digest: str  # sha256:... of what the tag names in the registry: the image index for several platforms
    variants: list[PlatformImage]

    @property
    def platforms(self) -> list[str]:
        return [variant.platform for variant in self.variants]

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


def sbom_path(root: Path, tag: str, service: str, platform: str) -> Path:
    """build/release/<tag>/<service>.<os>-<arch>.cdx.json, beside its manifest."""
    return root / DIRECTORY / tag / f"{service}.{platform.replace('/', '-')}.cdx.json"


def write(release: Release, path: Path) -> Path:
    data = {"schema": SCHEMA, **asdict(release)}
    for image, entry in zip(release.images, data["images"], strict=True):
        entry["reference"] = image.reference
        entry["platforms"] = image.platforms  # for a reader's eye (and jq); read back from the variants
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: a reader (or a crash) never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)
    return path


def with_earlier(release: Release, path: Path) -> Release:
    """`release` plus the images an earlier release of the same revision to the same registry recorded
    in `path` for other repositories: the manifest of a tag lists every image released for it, so
    `devtools release base` after `devtools release` keeps what `deploy render TARGET --release` needs.
    An unreadable or foreign earlier file is replaced."""
    if not path.exists():
        return release
    try:
        earlier = read(path)
    except DevtoolsError:
        return release
    if (earlier.registry, earlier.revision, earlier.dirty) != (release.registry, release.revision, release.dirty):
        return release
    fresh = {image.repository for image in release.images}
    kept = [image for image in earlier.images if image.repository not in fresh]
    return replace(release, images=[*kept, *release.images])


def read(path: Path) -> Release:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise DevtoolsError(f"cannot read --release {path}: {exc.strerror}", ExitCode.USAGE) from exc
    except json.JSONDecodeError as exc:
        raise DevtoolsError(f"--release {path}: not JSON ({exc.msg} at line {exc.lineno})", ExitCode.USAGE) from exc
    if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
        raise DevtoolsError(
            f"--release {path}: not a devtools release manifest (schema {SCHEMA}); write one with `devtools release`",
            ExitCode.USAGE,
        )
    if data["schema"] != SCHEMA:
        raise DevtoolsError(
            f"--release {path}: written by another devtools (schema {data['schema']}, this one reads {SCHEMA}); "
            "release again with this one",
            ExitCode.USAGE,
        )
    try:
        images = [
            ReleasedImage(
                service=str(item["service"]),
                repository=str(item["repository"]),
                image=str(item["image"]),
                digest=str(item["digest"]),
                variants=[
                    PlatformImage(
                        platform=str(variant["platform"]),
                        digest=str(variant["digest"]),
                        sbom=str(variant.get("sbom") or ""),
                        scan=dict(variant.get("scan") or {}),
                    )
                    for variant in item["variants"]
                ],
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
        for digest in (image.digest, *(variant.digest for variant in image.variants)):
            if not DIGEST.fullmatch(digest):
                raise DevtoolsError(f"--release {path}: {image.service} has no sha256 digest", ExitCode.USAGE)
        if not image.variants:
            raise DevtoolsError(f"--release {path}: {image.service} names no platform", ExitCode.USAGE)
    return release
