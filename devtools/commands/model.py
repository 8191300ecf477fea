"""devtools model: what serving serves (model, alias, version), and the last swap it refused."""

from __future__ import annotations

from typing import Annotated

import typer


def model(
    json_output: Annotated[bool, typer.Option("--json", help="Print serving's /model answer as JSON.")] = False,
) -> None:
    """Show the model version serving answers with, the alias it follows, the challenger it compares
    with it (if any), and the last swap error (a newer version it refused: failed to load or to pass its
    smoke test). Exit 8 when serving does not answer."""
    import json

    from devtools.models import served
    from devtools.stack.project import ComposeProject

    status = served.model_status(ComposeProject.dev())
    if json_output:
        typer.echo(json.dumps(status, indent=2))
        return
    typer.echo(served.describe(status))
    for detail in (served.answered_by(status.get("runtime")), served.made_by(status.get("provenance"))):
        if detail:
            typer.echo(f"  {detail}")
    challenger = served.describe_challenger(status)
    if challenger:
        typer.echo(challenger)
    error = status.get("last_swap_error")
    where = f" (version {status.get('last_swap_error_version')})" if error else ""
    typer.echo(f"last swap error{where}: {error or 'none'}")
