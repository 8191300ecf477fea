"""The one error type a user can act on, and the exit codes the CLI documents (README: Exit codes)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # a docker / compose command failed for a reason not listed below
    USAGE = 2  # bad arguments (the CLI parser's own code)
    DOCKER_UNAVAILABLE = 3  # no docker CLI, daemon not reachable, or no Compose v2
    UNKNOWN_SERVICE = 4
    PORT_IN_USE = 5
    BUILD_FAILED = 6
    UNHEALTHY = 7  # a service did not become healthy in time, or exited
    NOT_RUNNING = 8  # the command needs a running service (shell)
    REGISTRY = 9  # the image registry is unreachable, refused the login, or answered another digest
    VULNERABLE = 10  # `scan` found fixable findings (`release` refuses them without --allow-vulnerable)
    PROMOTE_REFUSED = 11  # `promote`: no challenger, no data, a threshold failed, or the aliases moved meanwhile
    LOCK = 12  # `lock`: a lock does not match its inputs (--check), or its inputs cannot be resolved
    REPRO = 13  # `repro`: no such run, no provenance, the image, commit or diff is not to be had
    REPRO_MISMATCH = 14  # `repro --check`: a metric differs from the reproduced run's by more than 1e-6
    STORE_REFUSED = 15  # `restore`: a backup from a newer MLflow, or a store not empty without --replace
    ACCESS_DENIED = 16  # MLflow refused the account: a wrong password (401) or a permission not granted (403)
    SIGNING = 17  # `sign`, `promote`: no promotion key, a key that does not load, a version that cannot be signed
    INTERNAL = 70  # a bug in devtools (EX_SOFTWARE)
    INTERRUPTED = 130


class DevtoolsError(Exception):
    """Something the user can fix: shown as one line on stderr, the process exits with `code`."""

    # An ExitCode, or a job's own exit code passed through (`devtools train --nodes`: the training job's).
    def __init__(self, message: str, code: int = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message
