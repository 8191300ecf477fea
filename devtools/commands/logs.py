"""devtools logs: the stack's logs, all services or some, optionally followed."""

from typing import Annotated

import typer

from devtools.stack.project import ComposeProject


def logs(
    services: Annotated[list[str] | None, typer.Argument(help="Services (default: all).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new lines.")] = False,
    tail: Annotated[str, typer.Option("--tail", help="Lines from the end of each log, or 'all'.")] = "all",
) -> None:
    """Show service logs."""
    args = ["logs", "--tail", tail]
    if follow:
        args.append("--follow")
    ComposeProject.dev().run(*args, *(services or []))
