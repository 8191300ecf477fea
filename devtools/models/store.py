"""The dev stack's MLflow state (its SQLite store and proxied artifacts, the `mlflow-data` volume) saved
to one archive and brought back: `devtools backup` / `devtools restore`. The work is the mlflow image's
own `mlflow-store` (docker/mlflow/mlflow-store: the store's format and schema are its business), run in
a one-off container of the mlflow service with the archive's folder mounted.

The one-off runs as root: it bridges a host folder and a volume whose owners differ (a root host's
files, the image's user's store); mlflow-store hands the archive to the host user and a restored store
to the store's owner.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from devtools.errors import DevtoolsError, ExitCode
from devtools.stack.project import ComposeProject

SERVICE = "mlflow"
MOUNT = "/backup"
OWNER_ENV = "MLFLOW_STORE_ARCHIVE_OWNER"
DEFAULT_FOLDER = "backups"  # in the checkout; git ignores it
REFUSED = 3  # mlflow-store's exit code for a refusal (a newer store, a store not empty)


def default_archive(root: Path) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / DEFAULT_FOLDER / f"mlflow-{stamp}.tar.gz"


def backup(project: ComposeProject, archive: Path) -> str:
    """Saves the store into `archive`; mlflow-store's one line."""
    return _store(project, archive.resolve(), "backup")


def restore(project: ComposeProject, archive: Path, *, replace: bool) -> str:
    """Brings `archive` back: MLflow is stopped meanwhile and started again (it migrates an older
    backup on start, after a copy); mlflow-store's one line."""
    archive = archive.resolve()
    if not archive.is_file():
        raise DevtoolsError(
            f"no archive {archive} (`devtools backup` writes them into {DEFAULT_FOLDER}/)", ExitCode.USAGE
        )
    was_running = SERVICE in project.running_services()
    if was_running:
        project.run("stop", SERVICE, capture=True)
    try:
        said = _store(project, archive, "restore", *(["--replace"] if replace else []))
    finally:
        if was_running:  # as it was, restored or not
            project.run("up", "--detach", "--wait", "--no-deps", SERVICE, capture=True)
    return said


def _store(project: ComposeProject, archive: Path, action: str, *more: str) -> str:
    if project.remote:
        raise DevtoolsError(
            f"{action} works with a local engine: it mounts a folder of this machine "
            "(unset DOCKER_HOST / DOCKER_CONTEXT)",
            ExitCode.USAGE,
        )
    archive.parent.mkdir(parents=True, exist_ok=True)
    done = project.with_env(**{OWNER_ENV: f"{os.getuid()}:{os.getgid()}"}).run(
        "run", "--rm", "--no-deps", "-T", "--user", "0:0", "-e", OWNER_ENV, "-v", f"{archive.parent}:{MOUNT}",
        "--entrypoint", "mlflow-store", SERVICE, action, f"{MOUNT}/{archive.name}", *more,
        capture=True, check=False,
    )  # fmt: skip
    said = [
        line.removeprefix("mlflow-store: ") for line in done.stderr.splitlines() if line.startswith("mlflow-store: ")
    ]
    if done.returncode != 0:
        reason = said[-1] if said else (done.stderr.strip().splitlines() or ["no message"])[-1]
        code = ExitCode.STORE_REFUSED if done.returncode == REFUSED else ExitCode.FAILURE
        raise DevtoolsError(f"{action}: {reason.replace(MOUNT + '/', str(archive.parent) + '/')}", code)
    return "\n".join(line.replace(MOUNT + "/", str(archive.parent) + "/") for line in said)


def said_on_start(project: ComposeProject, since: str) -> list[str]:
    """What mlflow-store said when the MLflow container started since `since` (RFC 3339): a migration
    (with the copy it kept), or why it refused the store."""
    done = project.run("logs", "--no-log-prefix", "--since", since, SERVICE, capture=True, check=False)
    lines = f"{done.stdout}\n{done.stderr}".splitlines()
    return [line.split("mlflow-store: ", 1)[1] for line in lines if "mlflow-store: " in line]


def refusal(said: list[str]) -> DevtoolsError | None:
    """The error for an MLflow that refused its store on start, when it did."""
    refused = [line for line in said if "is not touched" in line or "run the migration task" in line]
    return DevtoolsError(f"mlflow: {refused[-1]}", ExitCode.STORE_REFUSED) if refused else None
