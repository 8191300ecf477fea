"""GPU tier: tests/gpu/check_gpu.py on a real NVIDIA machine (skipped unless `nvidia-smi -L` works)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("check_gpu.py")


def _nvidia_smi_lists_a_gpu() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "GPU 0:" in done.stdout


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _nvidia_smi_lists_a_gpu(), reason="no NVIDIA GPU: `nvidia-smi -L` does not list one"),
]


def _check(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_host_layers_pass() -> None:
    done = _check("--host-only", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[ok  ] host driver" in done.stdout
    assert "[ok  ] driver CUDA" in done.stdout
    assert "GPU: " in done.stdout and "driver: " in done.stdout


def test_training_steps_run_on_cuda_with_cpu_timing_beside() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    if torch.version.cuda is None:
        pytest.skip(f"torch {torch.__version__} is a CPU build; install the CUDA build (pip install torch==2.13.0)")
    done = _check("--steps", "30", "--no-ddp", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "device: cuda" in done.stdout
    assert "steps/s on cuda:" in done.stdout and "steps/s on cpu:" in done.stdout


def test_data_parallel_job_runs_one_process_per_gpu() -> None:
    torch = pytest.importorskip("torch")
    for module in ("transformers", "mlflow", "sklearn"):
        pytest.importorskip(module)
    if torch.version.cuda is None:
        pytest.skip(f"torch {torch.__version__} is a CPU build; install the CUDA build (pip install torch==2.13.0)")
    done = _check("--steps", "5", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    ddp = done.stdout.split("== data-parallel job", 1)[1]
    assert "--nproc-per-node gpu --device cuda" in ddp
    gpus = torch.cuda.device_count()
    processes = f" processes={gpus} " if gpus > 1 else " alias="
    assert " device=cuda" in ddp and processes in ddp, ddp
