"""devtools pipeline: prepare the training data (skipped when its inputs are unchanged)."""

from typing import Annotated

import typer

from devtools.commands.seed import RECIPE_OPTION, recipe_args
from devtools.jobs.run import run_job
from devtools.stack.project import ComposeProject


def pipeline(
    force: Annotated[bool, typer.Option("--force", help="Prepare again even if nothing changed.")] = False,
    recipe: Annotated[str | None, RECIPE_OPTION] = None,
) -> None:
    """Prepare the training data into the data volume, with a manifest."""
    argv = ["python", "-m", "training", "pipeline", *recipe_args(recipe), *(["--force"] if force else [])]
    run_job(ComposeProject.dev(), "training", argv)
