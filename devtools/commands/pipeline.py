"""devtools pipeline: prepare the training data (skipped when its inputs are unchanged)."""

from typing import Annotated

import typer

from devtools.stack.jobs import run_job
from devtools.stack.project import ComposeProject


def pipeline(
    force: Annotated[bool, typer.Option("--force", help="Prepare again even if nothing changed.")] = False,
) -> None:
    """Prepare the training data into the data volume, with a manifest."""
    run_job(ComposeProject.dev(), "training", ["python", "-m", "training", "pipeline", *(["--force"] if force else [])])
