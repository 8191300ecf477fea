"""Running a command inside a service: the terminal and exit code are handed to docker compose."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

from devtools.models.provenance import flags, job_environment
from devtools.stack.project import ComposeProject


def tty_flags() -> list[str]:
    """No TTY unless both ends are terminals: scripts and CI would get garbled output otherwise."""
    return [] if sys.stdin.isatty() and sys.stdout.isatty() else ["-T"]


def strip_separator(args: Sequence[str] | None) -> list[str]:
    """The parser keeps a literal "--" that separates devtools' options from the passed-through ones."""
    args = list(args or [])
    return args[1:] if args[:1] == ["--"] else args


def run_job(
    project: ComposeProject,
    service: str,
    argv: Sequence[str],
    running: bool | None = None,
    *,
    provenance: bool = False,
) -> NoReturn:
    """Run argv in `service`: inside the running container, or a one-off container when it is down
    (`running` when the caller already asked). `provenance`: the job records an MLflow run, and is told
    what made it (devtools.models.provenance).

    Never returns: this process becomes docker compose, so the job's exit code is devtools' exit code.
    """
    running = running if running is not None else service in project.running_services()
    env = job_environment(project, service, running=running) if provenance else {}
    project = project.with_env(**env)
    if running:
        project.exec_("exec", *tty_flags(), *flags(env), service, *argv)
    # A one-off container starts the service's dependencies (MLflow) and replaces its entrypoint.
    project.exec_("run", "--rm", *tty_flags(), *flags(env), "--entrypoint", argv[0], service, *argv[1:])
