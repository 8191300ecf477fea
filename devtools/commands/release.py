"""devtools release: the prod images of this commit, pushed to the team registry, recorded by digest."""

from __future__ import annotations

from typing import Annotated

import typer

from devtools.errors import DevtoolsError, ExitCode


def release(
    services: Annotated[
        list[str] | None,
        typer.Argument(
            help="Services to release (default: every deployed image; name a build-only base to publish it too)."
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            metavar="HOST[:PORT][/PATH]",
            help="The team registry (default: DEVTOOLS_REGISTRY; ECR: ACCOUNT.dkr.ecr.REGION.amazonaws.com).",
        ),
    ] = None,
    allow_dirty: Annotated[
        bool,
        typer.Option("--allow-dirty", help="Release a tree with uncommitted changes, tagged <revision>-dirty."),
    ] = False,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            metavar="OS/ARCH[,...]",
            help="Release for these platforms (repeat or comma-separate): several push one image index per service, "
            "its per-platform images tagged TAG-ARCH beside it. Default: the engine's own. A foreign architecture "
            "builds under QEMU; where no registry answers, PYTHON_IMAGE_<OS>_<ARCH> names its base image.",
        ),
    ] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Publish the dev stack's images instead, for `devtools up` (and the devcontainer) to pull: each "
            "as REGISTRY/<repository>:dev-<fingerprint of its build inputs> and as :dev, the build cache the "
            "Compose files name. Built for UID/GID 1000.",
        ),
    ] = False,
    allow_vulnerable: Annotated[
        bool,
        typer.Option(
            "--allow-vulnerable",
            help="Push even when `devtools scan` finds fixable findings (recorded in the manifest).",
        ),
    ] = False,
) -> None:
    """Build the prod images of the current commit, push them as REGISTRY/<repository>:<revision>, and
    write the release manifest (build/release/<revision>.json: service, tag, digest, and per platform
    its image's digest, CycloneDX SBOM and scan result). With --platform linux/amd64,linux/arm64 each
    service's tag is one image index holding both.

    `devtools deploy render TARGET --release build/release/<revision>.json` then names every image by
    digest (repo@sha256:...), so a deploy is immutable. Pushing uses the docker CLI's login (`docker
    login REGISTRY`; ECR: `aws ecr get-login-password | docker login ...`); a rerun after a failure
    pushes only the layers the registry lacks. The manifest is written only once every image is in
    the registry with the digest the engine pushed. Before any push, each image is scanned (`devtools
    scan`): a pending Debian security update stops the release unless --allow-vulnerable; the result
    is recorded per image in the manifest.

    Exit codes: 2 for a dirty tree without --allow-dirty, no registry or a bad one, a malformed
    --platform; 6 when a build fails (a platform this engine cannot build: no QEMU, no base image for
    it); 9 when the registry is unreachable, refuses the login or the push, or holds another digest;
    10 when the scan finds something fixable.
    """
    from devtools.registry import endpoint
    from devtools.release import publish
    from devtools.stack import images
    from devtools.stack.project import find_root

    if dev:
        if platform or allow_dirty or allow_vulnerable:
            raise DevtoolsError(
                "--dev publishes the dev images by the fingerprint of their inputs: no --platform, --allow-dirty "
                "or --allow-vulnerable",
                ExitCode.USAGE,
            )
        from devtools.progress import Board
        from devtools.registry import prebuilt

        target = endpoint.resolve(registry)
        with Board() as board:
            lines = prebuilt.publish(target, services or [], board)
        for line in lines:
            print(line)
        print(
            f"published {len(lines)} dev images to {target}: `devtools up` with DEVTOOLS_REGISTRY={target} pulls them"
        )
        return

    def report(line: str) -> None:
        print(line, flush=True)

    result, path = publish.release(
        services or [],
        registry_option=registry,
        allow_dirty=allow_dirty,
        allow_vulnerable=allow_vulnerable,
        platforms=images.split_platforms(platform or []),
        report=report,
    )
    shown = path.relative_to(find_root()) if path.is_relative_to(find_root()) else path
    platforms = sorted({platform for image in result.images for platform in image.platforms})
    print(
        f"released {result.tag} to {result.registry}: {len(result.images)} images by digest "
        f"({', '.join(platforms)}) in {shown}"
    )
