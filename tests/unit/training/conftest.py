"""Fixtures for the training service: a real MLflow server on 127.0.0.1 and prepared data in tmp.

Nothing here imports torch, mlflow or numpy at module level, so collection works (and the tests
skip) in an environment without the training requirements.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.training_helpers import Cli, clean_env, require

SERVER_START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server (sqlite + served artifacts) for the session."""
    require("mlflow")
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
            *("--artifacts-destination", str(root / "artifacts"), "--serve-artifacts"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        cwd=root,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so teardown stops the workers it spawns
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(uri):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (root / "server.log").read_text()[-2000:]
                pytest.fail(f"mlflow server did not become healthy at {uri}:\n{tail}")
            time.sleep(0.5)
        yield uri
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prepared data shared read-only by the training tests; copy it before damaging it."""
    require("numpy", "sklearn")
    from training.data import run_pipeline

    data_dir = tmp_path_factory.mktemp("prepared")
    run_pipeline(data_dir)
    return data_dir


@pytest.fixture
def data_copy(prepared_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(prepared_dir, target)
    return target


@pytest.fixture
def cli(mlflow_server: str, prepared_dir: Path) -> Cli:
    return Cli(tracking_uri=mlflow_server, data_dir=prepared_dir)
