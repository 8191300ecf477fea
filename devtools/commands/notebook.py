"""devtools notebook: JupyterLab on the stack (the training image's kernel, MLflow preset), or one
notebook run headless."""

from pathlib import Path
from typing import Annotated

import typer


def notebook(
    run: Annotated[
        Path | None,
        typer.Option(
            "--run",
            metavar="NOTEBOOK",
            help="Run NOTEBOOK (a .ipynb in the checkout) headless in a fresh kernel and exit: 0 when every cell "
            "ran, 1 when a cell raised, 7 when the kernel died or a cell timed out. The file is not changed.",
        ),
    ] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the JupyterLab server (`down` stops it too).")] = False,
) -> None:
    """Start JupyterLab (or find the one running) and print its URL with the token. The kernel is the
    training image's Python; MLFLOW_TRACKING_URI and SERVING_URL point at the stack, services/ is
    importable, and notebooks are saved in your checkout. Port: NOTEBOOK_PORT (8888)."""
    from devtools.notebook import lab as lab
    from devtools.stack.project import ComposeProject

    project = ComposeProject.dev()
    if stop:
        typer.echo("notebook: stopped" if lab.stop(project) else "notebook: not running")
        return
    if run is not None:
        lab.execute(project, run, lambda line: typer.echo(line, err=True))
        return
    started = lab.start(project)
    typer.echo(f"JupyterLab: {started.url}")
    typer.echo(
        f"  files: the checkout ({started.root_dir}); kernel: the training image, MLflow at http://mlflow:5000, "
        "services/ importable"
    )
    typer.echo("  headless: devtools notebook --run notebooks/explore.ipynb; stop: devtools notebook --stop")
