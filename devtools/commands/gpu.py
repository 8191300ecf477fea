"""devtools gpu: can the stack's containers use an NVIDIA GPU? One line per layer, each failure with its fix."""

from typing import Annotated

import typer

from devtools.errors import ExitCode


def gpu(
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    smoke: Annotated[
        bool,
        typer.Option(
            "--smoke/--no-smoke",
            help="Finish with 'docker run --gpus all' on a local image (never pulled) when nothing else fails.",
        ),
    ] = True,
) -> None:
    """Check the NVIDIA driver, WSL2, the container toolkit, Compose, the driver's CUDA, and a GPU container.

    Exits 0 when a GPU is usable, 1 when a layer rules it out.
    """
    from devtools import gpu as detection  # probes and parsing: not needed for --help

    report = detection.detect(smoke=smoke)
    if json_output:
        typer.echo(report.to_json())
    else:
        for line in detection.render(report):
            typer.echo(line)
    if not report.usable:
        raise typer.Exit(int(ExitCode.FAILURE))
