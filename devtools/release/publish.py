"""`devtools release`: build the prod targets of the current commit, push them to the team registry as
`<registry>/<repository>:<revision>`, read each digest back from the registry, write the manifest.

The docker CLI does the pushing (its credential store, its resumable layer uploads: a rerun after an
interrupted push sends only the layers the registry lacks) and, for several platforms, joins the
per-platform images in one image index (`docker manifest create/push`: engine 20.10 has no buildx).
Every digest is read back from the registry through the engine. The manifest is written last, so a
failed or interrupted release leaves none behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.engine import inspect
from devtools.errors import DevtoolsError, ExitCode
from devtools.registry import endpoint
from devtools.registry.push import Pusher
from devtools.release import manifest, sbom, scan
from devtools.release.manifest import PlatformImage, Release, ReleasedImage
from devtools.revision import Revision
from devtools.stack import images
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import build_base_images
from devtools.stack.project import ComposeProject

Report = Callable[[str], None]


@dataclass(frozen=True)
class LocalImage:
    """One built image of a release: a service's image for one platform, under its local tag."""

    repository: str
    service: str
    tag: str  # local and pushed tag: TAG, or TAG-ARCH when several platforms are released
    platform: str  # os/arch as the built image says

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


def deployable(config: ComposeConfig, services: Sequence[str]) -> dict[str, str]:
    """Repository -> the service that builds it: every image production runs, or the images of `services`; a
    build-only base image only when named (a team may publish it to build FROM)."""
    config.require(services)
    bases = build_base_images(config.services)
    found: dict[str, str] = {}
    for name, service in config.services.items():
        image = service.get("image")
        if not isinstance(image, str) or "build" not in service:
            continue
        if (services and name not in services) or (not services and image in bases):
            continue
        found.setdefault(image.rsplit(":", 1)[0], name)
    if not found:
        raise DevtoolsError(f"nothing to release among {', '.join(services)}: no deployable image", ExitCode.USAGE)
    return found


def release(
    services: Sequence[str],
    *,
    registry_option: str | None,
    allow_dirty: bool,
    allow_vulnerable: bool = False,
    platforms: Sequence[str] = (),
    report: Report,
) -> tuple[Release, Path]:
    """Build, scan, push and record. `platforms`: none builds the engine's own; several push one image
    index per service, its members tagged TAG-ARCH beside it."""
    target = endpoint.resolve(registry_option)
    project = ComposeProject.prod()
    revision = Revision.of(project.root)
    if revision.commit is None or revision.tag is None:
        raise DevtoolsError(f"cannot release without a git revision: {revision.why}", ExitCode.USAGE)
    if revision.dirty and not allow_dirty:
        raise DevtoolsError(
            "tracked files have uncommitted changes: commit them, or pass --allow-dirty "
            f"(the images are then tagged {revision.tag})",
            ExitCode.USAGE,
        )
    tag = revision.tag
    config = project.with_env(DEVTOOLS_TAG=tag).config()
    repositories = deployable(config, services)
    for_platforms = f" for {', '.join(platforms)}" if platforms else ""
    report(f"release {tag}: building the prod images of {', '.join(repositories.values())}{for_platforms}")
    for line in images.build_prod(list(repositories.values()), tag, platforms):
        report(line)
    built = [
        LocalImage(repository, service, image_set.tag, _platform(f"{repository}:{image_set.tag}", image_set.platform))
        for repository, service in repositories.items()
        for image_set in images.image_sets(tag, platforms)
    ]
    scans = _gate(built, allow_vulnerable, report)
    sboms = {image.name: _sbom(project.root, tag, image, report) for image in built}
    pusher = Pusher(target, aftermath="nothing was released (a rerun resumes)", again="release again")
    released = []
    for repository, service in repositories.items():
        variants = [
            PlatformImage(image.platform, _push(pusher, image, report), sboms[image.name], scans[image.name])
            for image in built
            if image.repository == repository
        ]
        name = f"{target}/{repository}:{tag}"
        if len(variants) == 1:
            digest = variants[0].digest  # the pushed image is the release tag itself
        else:
            members = [f"{target}/{image.name}" for image in built if image.repository == repository]
            digest = pusher.push_index(name, members, [variant.platform for variant in variants])
            report(
                f"{service}: {name.rsplit(':', 1)[0]}@{digest} (image index: {', '.join(v.platform for v in variants)})"
            )
        released.append(ReleasedImage(service, repository, name, digest, variants))
    path = manifest.path_for(project.root, tag)
    result = manifest.with_earlier(Release(project.name, target, tag, revision.commit, revision.dirty, released), path)
    return result, manifest.write(result, path)


def _platform(local: str, requested: str | None) -> str:
    """The built image's os/arch; a build that came out for another platform than asked is refused
    (it would be published under the wrong name in the index)."""
    facts = inspect.image(local)
    if facts is None:
        raise DevtoolsError(f"{local} is not on this engine after its build", ExitCode.BUILD_FAILED)
    built = facts.platform
    if requested is not None and built != requested:
        raise DevtoolsError(
            f"{local} was built for {built}, not {requested}: this engine cannot build {requested} "
            "(engine 20.10 or newer with BuildKit, QEMU for a foreign architecture)",
            ExitCode.BUILD_FAILED,
        )
    return built


def _sbom(root: Path, tag: str, image: LocalImage, report: Report) -> str:
    """Writes the image's CycloneDX SBOM; returns its path relative to the release manifest."""
    path = manifest.sbom_path(root, tag, image.service, image.platform)
    count = sbom.write(image.name, sbom.inventory(image.name), path)
    report(
        f"sbom: {image.service} ({image.platform}): {count} components (OS packages, Python environment) in {path.name}"
    )
    return str(path.relative_to(manifest.path_for(root, tag).parent))


def _gate(built: Sequence[LocalImage], allow_vulnerable: bool, report: Report) -> dict[str, dict[str, object]]:
    """Scans every image before anything is pushed; fixable findings stop the release (exit 10).
    Returns each image's scan record, by local name."""
    python_note = scan.python_advisories_note()
    results = {image.name: scan.scan(image.name, python_note) for image in built}
    for result in results.values():
        report(f"scan: {result.summary()}")
    vulnerable = [result for result in results.values() if result.fixable]
    if vulnerable and not allow_vulnerable:
        worst = max(vulnerable, key=lambda result: result.fixable)
        raise DevtoolsError(
            f"{worst.image}: {worst.fixable} OS packages have a pending Debian security update "
            f"({', '.join(update.line() for update in worst.os_updates[:3])}); nothing was pushed. Rebuild on a "
            "fresh base (`docker pull python:3.11-slim`; the stand-in: scripts/provision) and release again, "
            "or pass --allow-vulnerable",
            ExitCode.VULNERABLE,
        )
    return {name: result.as_dict() for name, result in results.items()}


def _push(pusher: Pusher, image: LocalImage, report: Report) -> str:
    """Pushes one image; returns its digest, once the registry answers the same one."""
    remote = f"{pusher.target}/{image.name}"
    report(f"{image.service}: pushing {remote}")
    pushed = pusher.push(image.name, remote)
    report(f"{image.service}: {remote.rsplit(':', 1)[0]}@{pushed} ({image.platform})")
    return pushed
