"""devtools scan: what in the prod images is fixable (pending Debian security updates; Python advisories
where a source is reachable), checked for real, never made up."""

from __future__ import annotations

from typing import Annotated

import typer

from devtools.errors import DevtoolsError, ExitCode


def scan(
    services: Annotated[
        list[str] | None, typer.Argument(help="Services whose prod images to scan (default: all).")
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag", metavar="TAG", help="The images' tag (default: the revision `build --target prod` gives)."
        ),
    ] = None,
    image: Annotated[
        list[str] | None, typer.Option("--image", metavar="REF", help="Scan this image instead (repeatable).")
    ] = None,
) -> None:
    """Report each image's OS packages with a pending Debian security update (asked of the Debian
    security archive by apt, in a throwaway container of the image) and whether a Python advisory
    source is reachable from here (this machine has none: OSV and PyPI's JSON API do not answer; CI's
    Trivy step scans Python packages). One line per image.

    Exit codes: 0 when nothing is fixable; 10 when something is (`release` refuses to push such an
    image without --allow-vulnerable); 2 for an image that is not built.
    """
    from devtools.release import publish
    from devtools.release import scan as scanner
    from devtools.revision import Revision
    from devtools.stack.project import ComposeProject

    if image:
        if services or tag:
            raise DevtoolsError("--image replaces SERVICE and --tag: give one or the other", ExitCode.USAGE)
        targets = list(image)
    else:
        project = ComposeProject.prod()
        chosen = tag or Revision.of(project.root).tag or "latest"
        config = project.with_env(DEVTOOLS_TAG=chosen).config()
        targets = [f"{repository}:{chosen}" for repository in publish.deployable(config, services or [])]
    note = scanner.python_advisories_note()
    results = [scanner.scan(target, note) for target in targets]
    for result in results:
        print(result.summary(), flush=True)
    fixable = sum(result.fixable for result in results)
    if fixable:
        raise DevtoolsError(f"{fixable} fixable findings in {len(targets)} images", ExitCode.VULNERABLE)
