"""devtools lock: every image's requirements and devtools' own, resolved into hash-locked files."""

from __future__ import annotations

from typing import Annotated

import typer


def lock(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Resolve nothing: exit 12 when a lock is missing or its inputs changed since it was resolved "
            "(offline; CI runs it).",
        ),
    ] = False,
    upgrade: Annotated[
        bool,
        typer.Option("--upgrade", help="Take the newest versions the inputs allow, not the locked ones."),
    ] = False,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            metavar="OS/ARCH",
            help="Resolve for these platforms (repeatable; default linux/amd64; linux/arm64 needs torch's CPU "
            "build for arm64: wheelhouse/ or PyTorch's CPU index). --check covers the platforms locks/ holds.",
        ),
    ] = None,
) -> None:
    """Resolve the requirements of every image (serving, training and its dev and CUDA builds, mlflow, the
    AWS stand-in) and of devtools on the host into locks/<name>.<os>-<arch>.txt, every package pinned
    with its hashes. One joint resolution of all of them comes first (locks/stack.*.txt) and constrains
    each lock, so the packages training and serving share have the same versions in both. Images install
    from the locks with hashes required and no resolver; an existing lock keeps its versions unless
    --upgrade. Exit 12 when a lock is stale (--check) or cannot be resolved."""
    from devtools.errors import DevtoolsError, ExitCode
    from devtools.locks import resolve
    from devtools.locks.sets import DEFAULT_PLATFORMS
    from devtools.stack.project import find_root

    root = find_root()
    if check:
        if upgrade:
            raise DevtoolsError("--check resolves nothing; --upgrade with it means nothing", ExitCode.USAGE)
        platforms = list(platform or resolve.present_platforms(root) or DEFAULT_PLATFORMS)
        found = resolve.stale(root, platforms)
        if found:
            names = ", ".join(f"{lock.file} ({why})" for lock, why in found)
            raise DevtoolsError(f"stale locks: {names}; run `devtools lock` and commit locks/", ExitCode.LOCK)
        typer.echo(f"locks match their inputs ({', '.join(platforms)})")
        return
    written = resolve.resolve(
        root, list(platform or DEFAULT_PLATFORMS), upgrade=upgrade, report=lambda line: typer.echo(line, err=True)
    )
    typer.echo(f"{len(written)} locks written in locks/")
