"""devtools config: the merged Compose configuration devtools runs."""

from typing import Annotated

import typer

from devtools.stack.project import ComposeProject


def config(
    services: Annotated[bool, typer.Option("--services", help="Only list the service names.")] = False,
    prod: Annotated[bool, typer.Option("--prod", help="The production file alone.")] = False,
) -> None:
    """Print the merged, interpolated Compose configuration."""
    project = ComposeProject.prod() if prod else ComposeProject.dev()
    project.run("config", *(["--services"] if services else []))
