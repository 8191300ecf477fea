"""devtools build: build service images from the `dev` or `prod` targets (devtools.stack.images builds)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from devtools.errors import DevtoolsError, ExitCode


class Target(str, Enum):
    DEV = "dev"
    PROD = "prod"


def build(
    services: Annotated[list[str] | None, typer.Argument(help="Services to build (default: all).")] = None,
    target: Annotated[
        Target, typer.Option("--target", help="dev: the dev stack's images; prod: production.")
    ] = Target.DEV,
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
    from devtools.stack import images  # hashing and git: only once a build runs

    if target is Target.DEV:
        if tag is not None or platform:
            # The dev images' names are fixed (`:dev` in docker-compose.dev.yml): nothing to tag.
            raise DevtoolsError("--tag and --platform apply to --target prod only", ExitCode.USAGE)
        images.build_dev(services or [])
        return
    for line in images.build_prod(services or [], tag, images.split_platforms(platform or [])):
        typer.echo(line)
