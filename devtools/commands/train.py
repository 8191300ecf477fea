"""devtools train: train in the training container against the stack's MLflow (on GPUs with --gpus)."""

from typing import Annotated

import typer

from devtools.jobs.run import run_job, strip_separator
from devtools.stack.gpu import ALL_GPUS, GpuMode, choose_gpu, require_running_gpus
from devtools.stack.project import ComposeProject


def _gpu_count(value: str | None) -> str | None:
    if value is None or value == ALL_GPUS:
        return value
    if not value.isdigit() or int(value) < 1:
        raise typer.BadParameter(f"expected a number of GPUs (1 or more) or '{ALL_GPUS}', got {value!r}")
    return str(int(value))


def train(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="Passed to `python -m training train` (e.g. --epochs 5 --promote never)."),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(
            "--gpus",
            metavar="N|all",
            callback=_gpu_count,
            help="Data-parallel training (DDP, as torchrun starts it) on N GPUs, one process each; bare --gpus "
            "or 'all' = every GPU the container sees. Adds `--nproc-per-node N --device cuda` to the job. "
            "When training is not running, a one-off container gets the GPUs (detection first, as up --gpu).",
        ),
    ] = None,
    nodes: Annotated[
        int,
        typer.Option(
            "--nodes",
            min=1,
            metavar="M",
            help="One job over M nodes (torchrun --nnodes, c10d rendezvous on node 0): here M training "
            "containers on the stack's network, each with --gpus N processes (1 without). Rank 0 records one "
            "run; a node that fails stops the job on every node.",
        ),
    ] = 1,
) -> None:
    """Train a model, log it to MLflow and register a new version; exits with the job's code."""
    project = ComposeProject.dev()
    job = ["python", "-m", "training", "train"]
    running = "training" in project.running_services() and nodes == 1
    if gpus is not None:
        job += ["--nproc-per-node", gpus, "--device", "cuda"]  # ALL_GPUS as the training image takes it
        if running:
            require_running_gpus(project, "training", "--gpus")
        else:
            choice = choose_gpu(project, GpuMode.REQUIRE, "--gpus")
            if choice.note:
                typer.echo(choice.note, err=True)
            project = choice.project
    if nodes > 1:
        from devtools.jobs import nodes as multi_node
        from devtools.models import local_secrets, mlflow_api, served
        from devtools.models.provenance import job_environment

        # MLflow as this machine reaches it (a remote engine's through the SSH tunnel): a node that dies
        # with rank 0 leaves a run that only devtools can end.
        url = served.origins(project).get(mlflow_api.SERVICE)
        env = job_environment(project, "training", running=False)
        code = multi_node.run_nodes(
            project.with_env(**env),
            nodes,
            [*job, *strip_separator(args)],
            mlflow=local_secrets.mlflow_api(project, url) if url else None,
            report=typer.echo,
            passed=sorted(env),
        )
        raise typer.Exit(code)
    run_job(project, "training", [*job, *strip_separator(args)], running=running, provenance=True)
