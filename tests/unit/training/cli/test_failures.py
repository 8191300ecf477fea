"""training.cli.failures: every failure is one line on stderr with its documented exit code, the traceback
only with DEVTOOLS_DEBUG=1, SIGTERM ends a started run FAILED; a failed distributed worker leaves at once.

The exit codes are checked through real processes where the process is the point (its exit status, a
signal, failing before the heavy imports); the messages of the other failures through main() in this
process, which is the same code without an interpreter start per case."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from training.__main__ import main
from training.cli import failures
from training.errors import EXIT_DATA, EXIT_INTERRUPTED, EXIT_TRACKING, EXIT_USAGE

from testing.training_helpers import Cli, require

if TYPE_CHECKING:
    pass


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def offline(tmp_path: Path) -> Cli:
    """A CLI pointed at a port nothing listens on, with no prepared data."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return Cli(tracking_uri=f"http://127.0.0.1:{port}", data_dir=tmp_path / "data")


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class _Exited(Exception):
    pass


def test_train_without_prepared_data_exits_3(offline: Cli) -> None:
    require("torch", "numpy")
    result = offline.run("train", timeout=120)
    assert result.returncode == EXIT_DATA
    line = _one_line(result.stderr)
    assert line == (
        f"python -m training train: error: prepared data not found: {offline.data_dir / 'manifest.json'} is missing "
        "(run `python -m training pipeline`)"
    )
    assert result.stdout == ""


def test_train_with_corrupt_data_exits_3(data_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("torch")
    (data_copy / "validation.npz").write_bytes(b"truncated")
    code, out, err = _main(capsys, "train", "--data-dir", str(data_copy), "--tracking-uri", "http://127.0.0.1:9")
    assert (code, out) == (EXIT_DATA, "")
    assert f"data file corrupt: {data_copy / 'validation.npz'}" in _one_line(err)


@pytest.mark.needs_no_gpu
def test_device_cuda_without_gpu_exits_2(prepared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if torch.cuda.is_available():
        pytest.skip("a GPU is available here")
    code, _, err = _main(capsys, "train", "--device", "cuda", "--data-dir", str(prepared_dir))
    assert code == EXIT_USAGE
    line = _one_line(err)
    assert "--device cuda: CUDA is not available" in line and "--device cpu" in line


def test_unreachable_mlflow_fails_fast_with_exit_4(offline: Cli, prepared_dir: Path) -> None:
    """Before transformers and mlflow are imported: a fresh process answers in seconds."""
    require("torch")
    started = time.monotonic()
    result = Cli(offline.tracking_uri, prepared_dir).run("train", timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == EXIT_TRACKING
    line = _one_line(result.stderr)
    assert f"MLflow tracking server unreachable at {offline.tracking_uri}: connection refused" in line
    assert elapsed < 10


def test_seed_with_mlflow_unreachable_exits_4(
    offline: Cli, prepared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _main(capsys, "seed", "--tracking-uri", offline.tracking_uri, "--data-dir", str(prepared_dir))
    assert code == EXIT_TRACKING
    unreachable = f"MLflow tracking server unreachable at {offline.tracking_uri}: connection refused"
    assert _one_line(err).startswith(f"python -m training seed: error: {unreachable}")


def test_debug_shows_the_traceback(
    offline: Cli, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require("torch", "numpy")
    monkeypatch.setenv("DEVTOOLS_DEBUG", "1")
    code, _, err = _main(capsys, "train", "--data-dir", str(offline.data_dir))
    assert code == EXIT_DATA
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("python -m training train: error: prepared data not found")


@pytest.mark.parametrize(
    ("worker", "code", "immediate"),
    [
        (True, EXIT_INTERRUPTED, True),  # stopped by the launcher: skip the teardown Gloo may abort in
        (True, EXIT_DATA, True),
        (True, 0, False),  # a worker that finished leaves normally (atexit hooks, MLflow's included)
        (False, EXIT_INTERRUPTED, False),  # a plain run is no worker
    ],
)
def test_leave_exits_a_failed_worker_at_once(
    monkeypatch: pytest.MonkeyPatch, worker: bool, code: int, immediate: bool
) -> None:
    def fake_exit(status: int) -> None:
        raise _Exited(status)

    if worker:
        monkeypatch.setenv(failures.WORKER_MARKER, "run-1")
    else:
        monkeypatch.delenv(failures.WORKER_MARKER, raising=False)
    monkeypatch.setattr(os, "_exit", fake_exit)

    with pytest.raises(_Exited if immediate else SystemExit) as exited:
        failures.leave(code)

    assert exited.value.args[0] == code if immediate else exited.value.code == code


def test_a_sigterm_caught_in_a_finalizer_still_stops_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM while a `__del__` runs: its KeyboardInterrupt is raised there, where Python can only print
    it; run_command sends the signal again, so the command still stops (130), with no traceback."""
    import argparse
    import gc
    import signal

    class Finalized:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises KeyboardInterrupt in here
            time.sleep(0.05)

    def handler(args: argparse.Namespace) -> int:
        Finalized()
        gc.collect()
        for _ in range(200):  # the redelivered signal stops this loop
            time.sleep(0.01)
        return 0

    args = argparse.Namespace(command="pipeline", handler=handler, recipe="digits", data_dir="/data")
    assert failures.run_command(args) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "Exception ignored" not in err and "Traceback" not in err
