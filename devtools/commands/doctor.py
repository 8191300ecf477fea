"""devtools doctor: is this machine ready for the stack? Each check passes or says how to fix it."""

import typer

from devtools.compose import ComposeProject
from devtools.errors import ExitCode


def doctor() -> None:
    """Check the docker CLI, daemon, Compose v2, free disk and the stack's ports."""
    from devtools import checks  # sockets and probes: not needed for --help

    results = checks.run_all(ComposeProject.dev)
    width = max(len(check.name) for check in results)
    for check in results:
        mark = "ok  " if check.ok else "FAIL"
        typer.echo(f"[{mark}] {check.name.ljust(width)}  {check.detail}")
        if not check.ok and check.fix:
            typer.echo(f"       {' ' * width}  fix: {check.fix}")
    if not all(check.ok for check in results):
        raise typer.Exit(int(ExitCode.FAILURE))
