"""Helpers shared by the training tests (a module, not conftest, so test files can import it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # mlflow stays out of module level: collection works without it
    from mlflow import MlflowClient
    from mlflow.entities import Run

REPO = Path(__file__).resolve().parents[1]
SERVICES = REPO / "services"
# The package is services/training, imported as `training` (in the container: /app/training):
# pyproject's pytest `pythonpath` puts services/ on sys.path.


def require(*modules: str) -> None:
    """Skip the calling module when the training requirements are not installed."""
    for module in modules:
        reason = f"{module} is not installed (pip install -r services/training/requirements*.txt)"
        pytest.importorskip(module, reason=reason)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def runs_of(client: MlflowClient, experiment: str) -> list[Run]:
    """Every run of the experiment, which must exist."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return list(client.search_runs([found.experiment_id]))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a `python -m training` subprocess: no inherited MLflow or debug settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "TRAINING_")) and k not in ("DEVTOOLS_DEBUG", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(SERVICES)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Cli:
    """Runs `python -m training ...` as a real process, the way the container does."""

    tracking_uri: str
    data_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment the container gives a job: this tracking server and data directory."""
        return clean_env(MLFLOW_TRACKING_URI=self.tracking_uri, TRAINING_DATA_DIR=str(self.data_dir), **extra)

    def run(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "training", *args],
            cwd=SERVICES,  # like the container: cwd /app holds the package
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def interrupt_training(
        self, args: Sequence[str], act: Callable[[subprocess.Popen[str]], None], epochs: int = 200
    ) -> tuple[int, str]:
        """Start `train ARGS --epochs N`, call act(process) once epoch 1 is done; (exit code, stderr)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "training", "train", "--epochs", str(epochs), *args],
            cwd=SERVICES,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Its own process group, so act() can Ctrl-C the job as a terminal would (killpg); Ctrl-C
            # restored in case this runs as a background job, which inherits SIGINT ignored.
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            assert process.stderr is not None
            for line in process.stderr:
                if line.startswith(f"epoch 1/{epochs}"):
                    break
            act(process)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the workers too: they share its group
                process.wait()
        return process.returncode, err
