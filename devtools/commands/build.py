"""devtools build: build service images from the `dev` or `prod` targets.

Prod images are tagged with the git revision (or --tag) and labelled with it (OCI labels from the
VCS_REF / VERSION build args). Compose's `build` has no --platform flag; DOCKER_DEFAULT_PLATFORM, which
Compose applies to every service without a `platform:`, is what reaches the engine (checked on engine
20.10 without buildx). The local image store holds one architecture per tag and there is no registry
for a manifest list, so several platforms are built one after another, tagged TAG-ARCH each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Annotated
from urllib.parse import urlsplit

import typer

from devtools import proc
from devtools.compose import ComposeConfig, ComposeProject
from devtools.errors import DevtoolsError, ExitCode
from devtools.revision import TAG, Revision


class Target(str, Enum):
    dev = "dev"
    prod = "prod"


# What docker-compose.yml falls back to without DEVTOOLS_TAG, and what `devtools up` runs.
DEFAULT_TAG = "latest"
# os/arch[/variant], as `docker build --platform` takes it.
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


@dataclass(frozen=True)
class Variant:
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


def variants(tag: str, platforms: Sequence[str]) -> list[Variant]:
    """One platform (or none) keeps the tag as given; several get TAG-ARCH each (linux/arm/v7: TAG-arm-v7),
    since one tag in the local store cannot hold two architectures."""
    if len(platforms) <= 1:
        return [Variant(tag, platforms[0] if platforms else None)]
    return [Variant(f"{tag}-{'-'.join(platform.split('/')[1:])}", platform) for platform in platforms]


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


def build(
    services: Annotated[list[str] | None, typer.Argument(help="Services to build (default: all).")] = None,
    target: Annotated[
        Target, typer.Option("--target", help="dev: the dev stack's images; prod: production.")
    ] = Target.dev,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            metavar="TAG",
            help="prod: the image tag (default: the git revision, `git rev-parse --short HEAD`, with -dirty "
            "when tracked files have uncommitted changes; it also moves `latest`; `latest` outside git).",
        ),
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            metavar="OS/ARCH[,...]",
            help="prod: build for these platforms (repeat or comma-separate). One keeps the tag; several are "
            "built in turn as TAG-ARCH. A foreign architecture needs QEMU (binfmt) and a base image for it "
            "(PYTHON_IMAGE).",
        ),
    ] = None,
) -> None:
    """Build images (their base image first)."""
    from devtools.build_state import BuildState  # hashing is only needed once a build runs
    from devtools.stack import with_build_bases

    if target is Target.dev:
        if tag is not None or platform:
            # The dev images' names are fixed (`:dev` in docker-compose.dev.yml): nothing to tag.
            raise DevtoolsError("--tag and --platform apply to --target prod only", ExitCode.USAGE)
        project = ComposeProject.dev()
        config = project.config()
        config.require(services or [])
        names = with_build_bases(config, services or [])
        project.run("build", *names)
        BuildState(project).record(config, names)
        return

    platforms = split_platforms(platform or [])
    if tag is not None and not TAG.fullmatch(tag):
        raise DevtoolsError(
            f"--tag '{tag}': letters, digits, _ . - (at most 128, not starting with . or -)", ExitCode.USAGE
        )
    for line in build_prod(services or [], tag, platforms):
        typer.echo(line)


def build_prod(services: Sequence[str], tag: str | None, platforms: Sequence[str]) -> list[str]:
    """Builds the prod images of `services` (and their bases) once per platform; returns what it made."""
    from devtools.build_state import BuildState
    from devtools.stack import with_build_bases

    prod = ComposeProject.prod()
    revision = Revision.of(prod.root)
    version = tag or revision.tag or DEFAULT_TAG
    made: list[str] = []

    def project_for(variant: Variant) -> ComposeProject:
        env = {**prod.env, "DEVTOOLS_TAG": variant.tag}
        if variant.platform:
            env["DOCKER_DEFAULT_PLATFORM"] = variant.platform
        return ComposeProject(prod.root, prod.name, prod.files, prod.profiles, env)

    for variant in variants(version, platforms):
        project = project_for(variant)
        config = project.config()
        config.require(services)
        names = with_build_bases(config, services)
        project.run("build", *label_args(version, revision), *names)
        suffix = f" ({variant.platform})" if variant.platform else ""
        made += [f"built {image}{suffix}" for name in names if (image := image_name(config, name))]
        if variant.platform is not None:
            continue  # built for a named platform: never what `up` runs
        if variant.tag != DEFAULT_TAG:
            if tag is not None:
                continue  # an explicit --tag names a release and leaves `latest` alone
            # A build of the checkout is also what `devtools up --prod` and `docker run mlstack/...:latest` find.
            made += [f"tagged {image}" for image in retag(config, names, DEFAULT_TAG)]
            project = project_for(Variant(DEFAULT_TAG, None))
            config = project.config()
        # Recorded against the configuration `up --prod` resolves (tag `latest`), so it finds them fresh.
        BuildState(project).record(config, names)
    return made
