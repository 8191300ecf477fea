"""devtools restore: bring back the dev stack's MLflow state from a `devtools backup` archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def restore(
    archive: Annotated[Path, typer.Argument(metavar="ARCHIVE", help="A `devtools backup` archive.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Restore over a store that has runs, after saving it as a backup beside ARCHIVE."
        ),
    ] = False,
) -> None:
    """Restore the dev stack's MLflow store from ARCHIVE: MLflow is stopped meanwhile and started again
    (a backup from an older MLflow is migrated on start, after a copy). Exit 15 when the store is not
    empty (without --replace) or the backup comes from a newer MLflow: nothing is changed."""
    from devtools.models import store
    from devtools.stack.project import ComposeProject

    typer.echo(store.restore(ComposeProject.dev(), archive, replace=replace))
