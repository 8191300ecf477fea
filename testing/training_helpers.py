"""Helpers shared by the training tests (a module, not conftest, so test files can import it): the
training CLI as a real process, a real MLflow tracking server that the test processes of one run share,
and small lookups."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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

SERVER_START_TIMEOUT_S = 180


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


def fresh_python(code: str) -> str:
    """What `code` prints, run by a fresh interpreter as the container runs the package (what a module
    imports is seen only in a process that has imported nothing yet)."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICES, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_mlflow_server(root: Path) -> tuple[str, int]:
    """A real MLflow tracking server (sqlite, served artifacts) in `root`, healthy; (uri, pid). It runs in
    its own session (stop_mlflow_server stops its workers too), not tied to the process that started it."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    # No job runner: its huey consumers are processes that only compete for the CPU with the tests.
    env = clean_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with (root / "server.log").open("w") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "mlflow", "server"),
                *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
                *("--artifacts-destination", str(root / "artifacts"), "--serve-artifacts"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not healthy(uri):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_mlflow_server(uri, process.pid)
            tail = (root / "server.log").read_text()[-2000:]
            pytest.fail(f"mlflow server did not become healthy at {uri}:\n{tail}")
        time.sleep(0.3)
    return uri, process.pid


def stop_mlflow_server(uri: str, pid: int) -> None:
    """SIGTERM to the server's session, SIGKILL if it still answers after 20 s. By its answers, not its
    pid: another process may have started it (and holds its exit status)."""
    for signum, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while healthy(uri) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not healthy(uri):
            return


@contextmanager
def shared_mlflow_server(root: Path) -> Iterator[str]:
    """One server for every test process of a run (pytest-xdist's workers), counted in root/mlflow.json
    under a lock: the first to need it starts it, the last to be done with it stops it."""
    state, lock_path = root / "mlflow.json", root / "mlflow.lock"

    @contextmanager
    def locked() -> Iterator[dict[str, object]]:
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shared: dict[str, object] = json.loads(state.read_text()) if state.exists() else {}
            yield shared
            if shared.get("users"):
                state.write_text(json.dumps(shared))
            else:
                state.unlink(missing_ok=True)

    with locked() as shared:
        if not shared or not healthy(str(shared["uri"])):
            uri, pid = start_mlflow_server(root / f"mlflow-{os.getpid()}")
            shared.update(uri=uri, pid=pid, users=0)
        shared["users"] = int(str(shared["users"])) + 1
        uri = str(shared["uri"])
    try:
        yield uri
    finally:
        with locked() as shared:
            shared["users"] = int(str(shared["users"])) - 1
            if not shared["users"]:
                stop_mlflow_server(uri, int(str(shared["pid"])))


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


def start_nodes(
    cli: Cli,
    count: int,
    experiment: str,
    model: str,
    *,
    epochs: int = 1,
    data_dirs: list[Path] | None = None,
    started: int | None = None,
    **env: str,
) -> list[subprocess.Popen[str]]:
    """`count` nodes' launchers of one `train` job on this machine (only the first `started` of them, when
    given): each `--nnodes COUNT --node-rank R --rdzv-endpoint 127.0.0.1:PORT`, one worker each."""
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = []
    for rank in range(count if started is None else started):
        argv = [
            *("train", "--nnodes", str(count), "--node-rank", str(rank), "--rdzv-endpoint", endpoint),
            *("--rdzv-id", experiment, "--nproc-per-node", "1", "--device", "cpu", "--epochs", str(epochs)),
            *("--experiment", experiment, "--model-name", model, "--promote", "always"),
        ]
        if data_dirs:
            argv += ["--data-dir", str(data_dirs[rank])]
        nodes.append(
            subprocess.Popen(
                [sys.executable, "-m", "training", *argv],
                cwd=SERVICES,
                env=cli.env(**env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return nodes


def finish(nodes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each node, once it is done."""
    outputs = [node.communicate(timeout=300) for node in nodes]
    return [(node.returncode, out, err) for node, (out, err) in zip(nodes, outputs, strict=True)]


@pytest.fixture(scope="session")
def mlflow_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server (sqlite + served artifacts), one for the whole run: pytest-xdist's
    workers share it (their base temp dirs have one parent), as do the conftests that import this."""
    require("mlflow")
    run_root = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker: its base temp is popen-gwN in the run's
        run_root = run_root.parent
    with shared_mlflow_server(run_root) as uri:
        yield uri
