"""Errors that end a command with a one-line message and a documented exit code.

EXIT_CODES below is the one table of exit codes: `--help` prints it, the README repeats it (a unit test
keeps the two equal).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_TRAINING = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_TRACKING = 4
EXIT_PEERS = 5
EXIT_INTERRUPTED = 130

# A worker of a distributed job killed by signal N makes the job exit 128 + N, the way a shell
# reports it (training.distributed.launch); those codes are not fixed, so they are not listed here.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: 'success (including "already seeded" and a skipped pipeline)',
    EXIT_TRAINING: "training failed (diverged, or an unexpected error)",
    EXIT_USAGE: "bad usage (an unknown recipe, a recipe's signature serving cannot type), --device cuda without "
    "a usable GPU or for a CPU recipe, or more processes than GPUs or than the recipe trains in",
    EXIT_DATA: "prepared data missing, corrupt, unwritable or prepared for another recipe",
    EXIT_TRACKING: "MLflow tracking server unreachable or failing",
    EXIT_PEERS: "a multi-node job's nodes did not all join (rendezvous timed out), or one left",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM); a started run is marked FAILED",
}


def exit_code_table() -> str:
    """EXIT_CODES as the `exit codes:` section of --help."""
    rows = "".join(f"  {code:<4} {meaning}\n" for code, meaning in EXIT_CODES.items())
    return f"exit codes:\n{rows}"


class TrainingError(Exception):
    """A failure the user can act on; the message is printed as one line."""

    exit_code: int = EXIT_TRAINING


class UsageError(TrainingError):
    exit_code = EXIT_USAGE


class DataError(TrainingError):
    exit_code = EXIT_DATA


class TrackingError(TrainingError):
    exit_code = EXIT_TRACKING


class PeersError(TrainingError):
    exit_code = EXIT_PEERS


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message into one line."""
    return " ".join(str(text).split())


class WorkerFailed(TrainingError):
    """A worker of a distributed job failed; the job exits with that worker's code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
