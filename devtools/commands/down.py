"""devtools down: stop and remove the stack's containers and network (and volumes with -v)."""

from dataclasses import replace
from typing import Annotated

import typer

from devtools.stack.project import ComposeProject


def down(
    volumes: Annotated[
        bool, typer.Option("--volumes", "-v", help="Also delete the named volumes (MLflow runs, models).")
    ] = False,
    prod: Annotated[
        bool, typer.Option("--prod", help="The stack `devtools up --prod` started (docker-compose.yml alone).")
    ] = False,
) -> None:
    """Stop the stack and remove its containers and network."""
    args = ["down", "--remove-orphans"]
    if volumes:
        args.append("--volumes")
    from devtools.remote.site import site_of

    # Every profile: a service whose profile is off now (the accounts job after `up --no-auth`, the
    # notebook) is neither active nor an orphan, and Compose would leave its container behind.
    project = replace(ComposeProject.prod() if prod else ComposeProject.dev(), profiles=("*",))
    site_of(project).close(project)  # a remote engine's SSH tunnel; nothing on this machine's engine
    # Compose removes the volumes of the files it is given: the prod stack's are not in the dev files.
    project.run(*args)
