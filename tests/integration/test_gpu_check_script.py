"""tests/gpu/check_gpu.py must run from a bare checkout: no devtools install, no typer, no Docker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "gpu" / "check_gpu.py"


def _nvidia_driver_signs() -> list[str]:
    """Anything the host-driver layer could take for an NVIDIA driver; looked for here, not through the
    detection under test. With none, the verdict is certain: no driver."""
    signs = [path for path in ("/proc/driver/nvidia/version", "/usr/lib/wsl/lib/nvidia-smi") if Path(path).exists()]
    signs += sorted(str(path) for path in Path("/dev").glob("nvidia*"))
    return [*signs, "nvidia-smi on PATH"] if shutil.which("nvidia-smi") else signs


NVIDIA_DRIVER_SIGNS = _nvidia_driver_signs()


def test_gpu_detection_imports_nothing_beyond_the_standard_library() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import devtools.gpu; "
        "heavy = {'typer', 'click', 'yaml', 'docker', 'torch'} & {m.split('.')[0] for m in sys.modules}; "
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# The unit tier runs without a GPU; on a machine with a driver, tests/gpu/test_gpu_check.py expects exit 0.
@pytest.mark.needs_no_gpu
@pytest.mark.skipif(
    bool(NVIDIA_DRIVER_SIGNS), reason=f"an NVIDIA driver may be here ({', '.join(NVIDIA_DRIVER_SIGNS)}): see tests/gpu"
)
def test_host_only_check_on_a_bare_machine_names_the_missing_engine(tmp_path: Path) -> None:
    # -S: no site-packages, so nothing installed (devtools included) is importable, only the checkout;
    # PATH without docker: a bare GPU node has no engine, and its layer must say so, not crash.
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), "--host-only", "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("== detection layers\n")
    assert "[FAIL] host driver" in done.stdout
    assert re.search(r"^\[FAIL\] Docker engine +.*docker CLI", done.stdout, re.M), done.stdout
    written = json.loads(report.read_text())
    assert written["passed"] is False and written["steps"][0]["step"] == "detection"
    assert "docker CLI" in written["steps"][0]["detail"]


def test_the_whole_check_runs_on_cpu_but_for_the_cuda_parts(tmp_path: Path) -> None:
    """Every step a bare GPU node runs, on this CPU machine: the layers, training steps, the pipeline,
    one process, DDP (2 Gloo processes), and the registered model loaded as serving loads it."""
    pytest.importorskip("torch")
    pytest.importorskip("mlflow")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--steps", "3", "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = json.loads(report.read_text())
    assert written["passed"] is True and written["torch"]["device"] == "cpu"
    assert [step["step"] for step in written["steps"]] == [
        "detection", "steps on cpu", "pipeline", "one process", "DDP (2 processes)", "serving load",
    ]  # fmt: skip
    assert all(step["ok"] for step in written["steps"])
    assert "scores (8, 10)" in written["steps"][-1]["detail"]
