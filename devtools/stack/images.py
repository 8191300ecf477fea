"""Building the stack's images: dev images for the dev stack, prod images tagged and labelled.

Prod images are tagged with the git revision (or --tag) and labelled with it (OCI labels from the
VCS_REF / VERSION build args). Compose's `build` has no --platform flag; DOCKER_DEFAULT_PLATFORM, which
Compose applies to every service without a `platform:`, is what reaches the engine (checked on engine
20.10 without buildx). The local image store holds one architecture per tag, so several platforms are
built one after another, tagged TAG-ARCH each (`devtools release` joins them in one image index).

The base image of a platform is python:3.11-slim, whose registry index holds every architecture.
Where no registry can be reached, PYTHON_IMAGE_<OS>_<ARCH> (PYTHON_IMAGE_LINUX_ARM64) names a local
image to build that platform from instead: scripts/provision builds such a stand-in under Docker's
per-architecture name, arm64v8/python:3.11-slim.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from devtools import proc
from devtools.errors import DevtoolsError, ExitCode
from devtools.revision import TAG, Revision
from devtools.stack.build_state import BuildState
from devtools.stack.config import ComposeConfig
from devtools.stack.graph import with_build_bases
from devtools.stack.project import ComposeProject

# What docker-compose.yml falls back to without DEVTOOLS_TAG, and what `devtools up` runs.
DEFAULT_TAG = "latest"
# os/arch[/variant], as `docker build --platform` takes it.
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


@dataclass(frozen=True)
class ImageSet:
    """One image set to build: the tag its images get and the platform to build for (None: the engine's)."""

    tag: str
    platform: str | None


def split_platforms(values: Sequence[str]) -> list[str]:
    """Repeated --platform and comma-separated lists are the same thing; order kept, duplicates dropped."""
    platforms: list[str] = []
    for item in (part.strip() for value in values for part in value.split(",")):
        if not item:
            continue
        if not _PLATFORM.fullmatch(item):
            raise DevtoolsError(
                f"--platform '{item}': expected OS/ARCH like linux/amd64 or linux/arm64", ExitCode.USAGE
            )
        if item not in platforms:
            platforms.append(item)
    return platforms


def image_sets(tag: str, platforms: Sequence[str]) -> list[ImageSet]:
    """One platform (or none) keeps the tag as given; several get TAG-ARCH each (linux/arm/v7: TAG-arm-v7),
    since one tag in the local store cannot hold two architectures."""
    if len(platforms) <= 1:
        return [ImageSet(tag, platforms[0] if platforms else None)]
    return [ImageSet(f"{tag}-{'-'.join(platform.split('/')[1:])}", platform) for platform in platforms]


def base_image_variable(platform: str) -> str:
    """linux/arm64 -> PYTHON_IMAGE_LINUX_ARM64: the per-platform override of the base image."""
    return "PYTHON_IMAGE_" + re.sub(r"[^A-Z0-9]", "_", platform.upper())


def platform_env(platform: str) -> dict[str, str]:
    """What a build for `platform` adds to Compose's environment: the platform, and its base image
    where PYTHON_IMAGE_<OS>_<ARCH> names one."""
    base = os.environ.get(base_image_variable(platform), "").strip()
    return {"DOCKER_DEFAULT_PLATFORM": platform, **({"PYTHON_IMAGE": base} if base else {})}


def source_url() -> str | None:
    """SOURCE_URL from the environment (CI sets it), refused when it carries credentials: build args are
    readable by anyone with the image (`docker history`, `docker inspect`)."""
    url = os.environ.get("SOURCE_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise DevtoolsError(
            "SOURCE_URL holds credentials; build args end up in the image's history (use the URL without user:token@)",
            ExitCode.USAGE,
        )
    return url


def label_args(version: str, revision: Revision) -> list[str]:
    """--build-arg for the OCI labels; values equal to the Dockerfiles' defaults are left out."""
    args = {
        "VERSION": version if version != DEFAULT_TAG else None,
        "VCS_REF": revision.commit,
        "SOURCE_URL": source_url(),
    }
    return [flag for key, value in args.items() if value for flag in ("--build-arg", f"{key}={value}")]


def build_dev(services: Sequence[str]) -> list[str]:
    """Builds the dev images of `services` and their bases; returns the services built."""
    project = ComposeProject.dev()
    config = project.config()
    config.require(services)
    names = with_build_bases(config, services)
    project.build(*names)
    BuildState(project).record(config, names)
    return names


def image_name(config: ComposeConfig, service: str) -> str | None:
    image = config.services[service].get("image")
    return image if isinstance(image, str) else None


def retag(config: ComposeConfig, services: Sequence[str], tag: str) -> list[str]:
    """`docker tag` each built image to `tag` as well; returns the new names."""
    tagged = []
    for service in services:
        image = image_name(config, service)
        if image is None or ":" not in image.rsplit("/", 1)[-1]:
            continue
        target = f"{image.rsplit(':', 1)[0]}:{tag}"
        proc.run(["docker", "tag", image, target], capture=True)
        tagged.append(target)
    return tagged


def build_prod(services: Sequence[str], tag: str | None, platforms: Sequence[str]) -> list[str]:
    """Builds the prod images of `services` (and their bases) once per platform; returns what it made."""
    if tag is not None and not TAG.fullmatch(tag):
        raise DevtoolsError(
            f"--tag '{tag}': letters, digits, _ . - (at most 128, not starting with . or -)", ExitCode.USAGE
        )
    prod = ComposeProject.prod()
    revision = Revision.of(prod.root)
    version = tag or revision.tag or DEFAULT_TAG
    made: list[str] = []

    def project_for(image_set: ImageSet) -> ComposeProject:
        platform = platform_env(image_set.platform) if image_set.platform else {}
        return prod.with_env(DEVTOOLS_TAG=image_set.tag, **platform)

    for image_set in image_sets(version, platforms):
        project = project_for(image_set)
        config = project.config()
        config.require(services)
        names = with_build_bases(config, services)
        project.build(*label_args(version, revision), *names)
        suffix = f" ({image_set.platform})" if image_set.platform else ""
        made += [f"built {image}{suffix}" for name in names if (image := image_name(config, name))]
        if image_set.platform is not None:
            continue  # built for a named platform: never what `up` runs
        if image_set.tag != DEFAULT_TAG:
            if tag is not None:
                continue  # an explicit --tag names a release and leaves `latest` alone
            # A build of the checkout is also what `devtools up --prod` and `docker run mlstack/...:latest` find.
            made += [f"tagged {image}" for image in retag(config, names, DEFAULT_TAG)]
            project = project_for(ImageSet(DEFAULT_TAG, None))
            config = project.config()
        # Recorded against the configuration `up --prod` resolves (tag `latest`), so it finds them fresh.
        BuildState(project).record(config, names)
    return made
