"""devtools train: train in the training container against the stack's MLflow."""

from typing import Annotated

import typer

from devtools.compose import ComposeProject
from devtools.jobs import run_job, strip_separator


def train(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="Passed to `python -m training train` (e.g. --epochs 5 --promote never)."),
    ] = None,
) -> None:
    """Train a model, log it to MLflow and register a new version; exits with the job's code."""
    run_job(ComposeProject.dev(), "training", ["python", "-m", "training", "train", *strip_separator(args)])
