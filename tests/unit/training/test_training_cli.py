"""`python -m training` as a process: fast help, one-line failures and their exit codes."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from training.__main__ import main
from training.errors import EXIT_CODES, EXIT_DATA, EXIT_TRACKING, EXIT_USAGE, TrackingError
from training.tracking import probe

from testing.training_helpers import REPO, SERVICES, Cli, clean_env, require


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


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from training.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['train', '--help'])\n"
        "print(sorted(m for m in ('torch', 'mlflow', 'transformers', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICES, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["pipeline", "train", "seed"])
def test_subcommand_help(offline: Cli, command: str) -> None:
    result = offline.run(command, "--help", timeout=60)
    assert result.returncode == 0
    assert f"usage: python -m training {command}" in result.stdout
    assert "exit codes:" in result.stdout


@pytest.mark.parametrize("command", [[], ["pipeline"], ["train"], ["seed"]])
def test_help_lists_every_exit_code(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])

    assert exited.value.code == 0
    rows = [row.split(maxsplit=1) for row in capsys.readouterr().out.partition("exit codes:\n")[2].splitlines()]
    assert {int(code): meaning for code, meaning in rows} == EXIT_CODES


def test_readme_lists_the_exit_codes_of_errors_py() -> None:
    readme = (REPO / "services" / "training" / "README.md").read_text()
    # | 2 | bad usage, `--device cuda` ... |: the table's rows, markdown quoting aside.
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", readme, flags=re.MULTILINE)

    assert {int(code): meaning.replace("`", "") for code, meaning in rows} == EXIT_CODES


def test_train_help_lists_the_options(offline: Cli) -> None:
    out = offline.run("train", "--help", timeout=60).stdout
    for option in ("--epochs", "--batch-size", "--lr", "--seed", "--device", "--experiment", "--model-name",
                   "--alias", "--promote", "--tracking-uri", "--data-dir"):  # fmt: skip
        assert option in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required"),
        (["train", "--epochs", "0"], "argument --epochs: must be at least 1"),
        (["train", "--lr", "fast"], "argument --lr: invalid positive number value: 'fast'"),
        (["train", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["train", "--seed", "-1"], "argument --seed: must be between 0 and 2**32 - 1"),
        (["train", "--promote", "maybe"], "argument --promote: invalid choice"),
        (["seed", "--alias", "v2"], "argument --alias: invalid alias 'v2'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(offline: Cli, args: list[str], message: str) -> None:
    result = offline.run(*args, timeout=60)
    assert result.returncode == EXIT_USAGE
    assert message in _one_line(result.stderr)


def test_train_without_prepared_data_exits_3(offline: Cli) -> None:
    require("torch", "numpy")
    result = offline.run("train", timeout=120)
    assert result.returncode == EXIT_DATA
    line = _one_line(result.stderr)
    assert f"prepared data not found: {offline.data_dir / 'manifest.json'}" in line
    assert result.stdout == ""


def test_train_with_corrupt_data_exits_3(offline: Cli, data_copy: Path) -> None:
    require("torch")
    (data_copy / "validation.npz").write_bytes(b"truncated")
    result = Cli(offline.tracking_uri, data_copy).run("train", timeout=120)
    assert result.returncode == EXIT_DATA
    assert f"data file corrupt: {data_copy / 'validation.npz'}" in _one_line(result.stderr)


@pytest.mark.needs_no_gpu
def test_device_cuda_without_gpu_exits_2(offline: Cli, prepared_dir: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if torch.cuda.is_available():
        pytest.skip("a GPU is available here")
    result = Cli(offline.tracking_uri, prepared_dir).run("train", "--device", "cuda", timeout=120)
    assert result.returncode == EXIT_USAGE
    line = _one_line(result.stderr)
    assert "--device cuda: CUDA is not available" in line and "--device cpu" in line


@pytest.mark.parametrize("command", ["train", "seed"])
def test_unreachable_mlflow_fails_fast_with_exit_4(offline: Cli, prepared_dir: Path, command: str) -> None:
    require("torch")
    started = time.monotonic()
    result = Cli(offline.tracking_uri, prepared_dir).run(command, timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == EXIT_TRACKING
    line = _one_line(result.stderr)
    assert f"MLflow tracking server unreachable at {offline.tracking_uri}: connection refused" in line
    assert elapsed < 10


def test_debug_shows_the_traceback(offline: Cli) -> None:
    require("torch", "numpy")
    result = offline.run("train", timeout=120, DEVTOOLS_DEBUG="1")
    assert result.returncode == EXIT_DATA
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("python -m training train: error: prepared data not found")


def test_pipeline_cli_then_skip(offline: Cli) -> None:
    require("numpy", "sklearn")
    first = offline.run("pipeline", timeout=120)
    second = offline.run("pipeline", timeout=120)
    forced = offline.run("pipeline", "--force", timeout=120)

    assert first.returncode == second.returncode == forced.returncode == 0
    assert "pipeline: wrote train 1437 rows, validation 360 rows" in first.stdout
    assert "skipped" in second.stdout
    assert "(forced)" in forced.stdout
    assert json.loads((offline.data_dir / "manifest.json").read_text())["splits"]["train"]["rows"] == 1437


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_probe_gives_up_on_a_silent_server(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(TrackingError, match=r"unreachable at .*: no answer within 1s"):
        probe(silent_server, timeout=1.0)
    assert time.monotonic() - started < 5


def test_probe_names_an_unhealthy_server() -> None:
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread

    class Unhealthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Unhealthy)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(TrackingError, match=r"is not healthy: GET /health answered HTTP 503"):
            probe(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def test_probe_skips_local_stores(tmp_path: Path) -> None:
    probe(f"sqlite:///{tmp_path / 'mlflow.db'}")
    probe(str(tmp_path))
