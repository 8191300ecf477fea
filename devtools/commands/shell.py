"""devtools shell: a shell (or a command) inside a running service, handed over to docker compose exec."""

from typing import Annotated

import typer

from devtools.errors import DevtoolsError, ExitCode
from devtools.jobs.run import strip_separator, tty_flags
from devtools.stack.project import ComposeProject

# bash where the image has it, sh otherwise.
DEFAULT_SHELL = ("sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash -l || exec sh")


def shell(
    service: Annotated[str, typer.Argument(help="A running service, e.g. training.")],
    command: Annotated[list[str] | None, typer.Argument(help="Command to run instead of a shell (after --).")] = None,
) -> None:
    """Open a shell in SERVICE, or run `devtools shell SERVICE -- CMD ...`."""
    project = ComposeProject.dev()
    if service not in project.running_services():
        project.config().require([service])
        raise DevtoolsError(
            f"service '{service}' is not running; start it with 'devtools up {service}'", ExitCode.NOT_RUNNING
        )
    project.exec_("exec", *tty_flags(), service, *(strip_separator(command) or DEFAULT_SHELL))
