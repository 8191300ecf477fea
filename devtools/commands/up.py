"""devtools up: build what is missing or stale, start the dev stack, wait until it is healthy."""

import datetime
from dataclasses import replace
from typing import Annotated

import typer

from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.gpu import GpuMode, choose_gpu
from devtools.stack.project import ComposeProject, auth_marker


def up(
    services: Annotated[list[str] | None, typer.Argument(help="Services to start (default: all).")] = None,
    no_build: Annotated[bool, typer.Option("--no-build", help="Never build; use the images there are.")] = False,
    wait_timeout: Annotated[
        int, typer.Option("--wait-timeout", min=1, help="Seconds to wait for every healthcheck to pass.")
    ] = 300,
    gpu: Annotated[
        GpuMode | None,
        typer.Option(
            "--gpu",
            help="Use NVIDIA GPUs: bare --gpu requires them (fails naming the missing layer, starting nothing); "
            "--gpu auto uses them when present.",
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Stay attached: watch files and act per service (Ctrl-C leaves the stack up)."),
    ] = False,
    prod: Annotated[
        bool,
        typer.Option(
            "--prod",
            help="Run docker-compose.yml alone: the prod images (tag DEVTOOLS_TAG, default latest), no bind mounts, "
            "for parity checks. Not with --gpu or --watch.",
        ),
    ] = False,
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="The dev stack with production's MLflow authentication (accounts, least privilege; secrets in "
            ".devtools/secrets/): kept for later commands until --no-auth. The prod stack always has it.",
        ),
    ] = None,
) -> None:
    """Start the dev stack and return once every service with a healthcheck is healthy."""
    from devtools.models import bootstrap, local_secrets, served, store
    from devtools.registry import prebuilt
    from devtools.remote.site import site_of
    from devtools.stack.start import start  # build state and hashing: not needed for --help

    if prod and (gpu is not None or watch):
        # The GPU override and the watch rules are dev-loop layers; a parity check runs the prod file as is.
        given = "--gpu" if gpu is not None else "--watch"
        raise DevtoolsError(f"--prod runs docker-compose.yml alone; it cannot be combined with {given}", ExitCode.USAGE)
    if prod and auth is False:
        raise DevtoolsError(
            "--prod always runs with MLflow authentication; --no-auth is for the dev stack", ExitCode.USAGE
        )
    if prod:
        project = ComposeProject.prod()
    else:
        dev = ComposeProject.dev()
        if auth is not None:
            dev = replace(dev, auth=auth)
        if dev.remote and dev.auth:
            # Compose mounts file secrets from this machine's disk, which an engine elsewhere cannot see.
            raise DevtoolsError(
                "--auth needs a local engine: its secrets are files on this machine "
                "(unset DOCKER_HOST, or `devtools up --no-auth`)",
                ExitCode.USAGE,
            )
        if auth is not None:
            _remember_auth(dev)
        choice = choose_gpu(dev, gpu)
        if choice.note:
            typer.echo(choice.note, err=True)
        project = choice.project
    since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if prod or project.auth:
        made = local_secrets.ensure(project.root)
        if made:
            typer.echo(f"stack secrets made in {local_secrets.folder(project.root)}: {', '.join(made)}", err=True)
    site, source = site_of(project), prebuilt.source_for(project)
    try:
        if prod and (not services or served.SERVICE in services):
            # Serving loads signed versions only: the seeded model is signed before serving is waited for.
            start(project, ["seed"], site=site, source=source, build=not no_build, wait_timeout=wait_timeout)
            said = bootstrap.sign_seeded(project, timeout_s=wait_timeout)
            if said:
                typer.echo(said, err=True)
        urls = start(project, services or [], site=site, source=source, build=not no_build, wait_timeout=wait_timeout)
    except DevtoolsError as exc:
        # MLflow refusing its store (written by a newer MLflow) is the one line worth more than "exited".
        refused = store.refusal(store.said_on_start(project, since)) if "mlflow" in str(exc) else None
        if refused is not None:
            raise refused from exc
        raise
    for line in store.said_on_start(project, since):
        typer.echo(f"mlflow: {line}")  # a migrated store, and the copy kept of it
    typer.echo(f"Stack '{project.name}' is up.")
    if project.auth:
        typer.echo(
            "  MLflow authentication is on (accounts training, serving, promoter; devtools calls it as promoter; the "
            "UI's admin password is in .devtools/secrets/mlflow-admin-password): `devtools up --no-auth` turns it off"
        )
    width = max((len(title) for _, title, _ in urls), default=0)
    for _, title, url in urls:
        typer.echo(f"  {title.ljust(width)}  {url}")
    serving = next((url for name, _, url in urls if name == served.SERVICE), None)
    if serving is not None:
        try:
            typer.echo(served.describe(served.model_status_at(served.origin(serving))))
        except DevtoolsError:
            pass  # it answered /ready for `up --wait`; a hiccup here is not worth failing the start
    if watch:
        from devtools.watch import loop

        loop.run(project, project.config())


def _remember_auth(project: ComposeProject) -> None:
    """Keep the --auth / --no-auth choice for later commands (ComposeProject.load reads the marker)."""
    marker = auth_marker(project.root, project.name)
    if project.auth:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)
