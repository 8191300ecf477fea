"""Errors that end a command with a one-line message and a documented exit code.

Exit codes: 0 ok, 1 training failed (or an unexpected error), 2 bad usage or device,
3 data problem, 4 MLflow unreachable or failing, 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_TRAINING = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_TRACKING = 4
EXIT_INTERRUPTED = 130


class TrainingError(Exception):
    """A failure the user can act on; the message is printed as one line."""

    exit_code: int = EXIT_TRAINING


class UsageError(TrainingError):
    exit_code = EXIT_USAGE


class DataError(TrainingError):
    exit_code = EXIT_DATA


class TrackingError(TrainingError):
    exit_code = EXIT_TRACKING


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message into one line."""
    return " ".join(str(text).split())


class WorkerFailed(TrainingError):
    """A worker of a distributed job failed; the job exits with that worker's code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
