"""devtools seed: the demo experiment and registered model (what `up` does on first start)."""

from typing import Annotated

import typer

from devtools.stack.jobs import run_job
from devtools.stack.project import ComposeProject


def seed(
    force: Annotated[bool, typer.Option("--force", help="Seed again: a new run, version and alias.")] = False,
) -> None:
    """Seed MLflow; does nothing when it is already seeded, unless --force."""
    run_job(ComposeProject.dev(), "training", ["python", "-m", "training", "seed", *(["--force"] if force else [])])
