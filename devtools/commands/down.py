"""devtools down: stop and remove the stack's containers and network (and volumes with -v)."""

from typing import Annotated

import typer

from devtools.compose import ComposeProject


def down(
    volumes: Annotated[
        bool, typer.Option("--volumes", "-v", help="Also delete the named volumes (MLflow runs, models).")
    ] = False,
) -> None:
    """Stop the stack and remove its containers and network."""
    args = ["down", "--remove-orphans"]
    if volumes:
        args.append("--volumes")
    ComposeProject.dev().run(*args)
