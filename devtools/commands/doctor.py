"""devtools doctor: is this machine ready for the stack? Each check passes or says how to fix it."""

from typing import Annotated

import typer

from devtools.errors import ExitCode
from devtools.stack.project import ComposeProject


def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the docker CLI, daemon, Compose v2, free disk, the stack's ports, prebuilt images and
    (optionally) a GPU. Exits 1 when a check fails."""
    from devtools import checks  # sockets and probes: not needed for --help

    results = checks.run_all(ComposeProject.dev)
    if json_output:
        import json
        from dataclasses import asdict

        ok = all(check.ok for check in results)
        typer.echo(json.dumps({"ok": ok, "checks": [asdict(check) for check in results]}, indent=2))
        if not ok:
            raise typer.Exit(int(ExitCode.FAILURE))
        return
    width = max(len(check.name) for check in results)
    for check in results:
        mark = "ok  " if check.ok else "FAIL"
        typer.echo(f"[{mark}] {check.name.ljust(width)}  {check.detail}")
        if not check.ok and check.fix:
            typer.echo(f"       {' ' * width}  fix: {check.fix}")
    if not all(check.ok for check in results):
        raise typer.Exit(int(ExitCode.FAILURE))
