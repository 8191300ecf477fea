"""devtools doctor: is this machine ready for the stack? Each check passes or says how to fix it."""

import typer

from devtools.errors import ExitCode
from devtools.stack.project import ComposeProject


def doctor() -> None:
    """Check the docker CLI, daemon, Compose v2, free disk, the stack's ports and (optionally) a GPU."""
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
