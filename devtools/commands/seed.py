"""devtools seed: the demo experiment and registered model (what `up` does on first start)."""

from typing import Annotated

import typer

from devtools.jobs.run import run_job
from devtools.stack.project import ComposeProject

# Which model recipe (services/training/recipes): digits (the demo) unless TRAINING_RECIPE says otherwise.
RECIPE_OPTION = typer.Option(
    "--recipe",
    metavar="NAME",
    help="The model recipe (services/training/recipes: digits, diabetes, or your own); default: "
    "TRAINING_RECIPE in the training container, else digits.",
)


def recipe_args(recipe: str | None) -> list[str]:
    return ["--recipe", recipe] if recipe else []


def seed(
    force: Annotated[bool, typer.Option("--force", help="Seed again: a new run, version and alias.")] = False,
    recipe: Annotated[str | None, RECIPE_OPTION] = None,
) -> None:
    """Seed MLflow (the recipe's experiment, a finished run, its model @champion); does nothing when it is
    already seeded, unless --force."""
    argv = ["python", "-m", "training", "seed", *recipe_args(recipe), *(["--force"] if force else [])]
    run_job(ComposeProject.dev(), "training", argv, provenance=True)
