"""devtools backup: the dev stack's MLflow state (runs, models, aliases, artifacts) as one archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def backup(
    archive: Annotated[
        Path | None,
        typer.Argument(metavar="[ARCHIVE]", help="Where to write it (default: backups/mlflow-<UTC time>.tar.gz)."),
    ] = None,
) -> None:
    """Save the dev stack's MLflow store (its SQLite database, copied consistently while the server runs,
    and the proxied artifacts) as one .tar.gz with a manifest (MLflow version, schema revision).
    `devtools restore ARCHIVE` brings it back."""
    from devtools.models import store
    from devtools.stack.project import ComposeProject

    project = ComposeProject.dev()
    typer.echo(store.backup(project, archive or store.default_archive(project.root)))
