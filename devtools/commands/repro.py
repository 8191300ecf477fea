"""devtools repro: train again under the conditions a run recorded, as a new run tagged with it."""

from __future__ import annotations

from typing import Annotated

import typer


def repro(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The MLflow run to reproduce.")],
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare the new run's metrics with the original's: equal within 1e-6, else exit 14 and name "
            "the conditions (image, lock, data, hardware) that differed.",
        ),
    ] = False,
) -> None:
    """Reproduce a run from what it recorded: its image (here by id, or pulled by its registry digest), its
    commit in a git worktree with its diff applied, its data (refused when the digest differs), its
    parameters and seeds. The new run is tagged provenance.repro_of=RUN_ID; it registers a version but
    never moves an alias.

    Exit 13 when the run cannot be rebuilt (no such run, no provenance, the image, commit or diff is not to
    be had), 14 when --check finds a metric that differs; a failed job exits with its own code (3: the data
    changed). Nothing is left behind: no worktree, no run left RUNNING.
    """
    from devtools.errors import DevtoolsError, ExitCode
    from devtools.jobs import repro as reproduction
    from devtools.models import local_secrets, mlflow_api, served
    from devtools.stack.project import ComposeProject

    project = ComposeProject.dev()
    if project.remote:
        raise DevtoolsError(
            "repro runs on a local engine: it mounts a worktree of this checkout (unset DOCKER_HOST / DOCKER_CONTEXT)",
            ExitCode.USAGE,
        )
    api = local_secrets.mlflow_api(project, served.published(served.origins(project), mlflow_api.SERVICE))
    recorded = reproduction.find(api, run_id)
    again = reproduction.reproduce(project, api, recorded, typer.echo)
    typer.echo(f"repro: run {again.run_id} reproduces {run_id} ({again.status.lower()})")
    if not check:
        return
    result = reproduction.compare(recorded.run, again)
    for name in sorted({*recorded.run.metrics, *again.metrics}):
        before, after = recorded.run.metrics.get(name), again.metrics.get(name)
        verdict = "differs" if name in result.differing_metrics else "same"
        typer.echo(f"  {name:<24} {_number(before):>14} {_number(after):>14}  {verdict}")
    if result.matches:
        typer.echo(f"repro --check: every metric matches within {reproduction.TOLERANCE:g}")
        return
    for key, (was, now) in result.differing_conditions.items():
        typer.echo(f"  differed: {key}: {was} -> {now}")
    why = ", ".join(result.differing_conditions) or "no recorded condition (image, lock, data, hardware) differed"
    raise DevtoolsError(
        f"repro --check: {len(result.differing_metrics)} metric(s) differ beyond {reproduction.TOLERANCE:g} "
        f"({', '.join(result.differing_metrics)}); conditions that differed: {why}",
        ExitCode.REPRO_MISMATCH,
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.8g}"
