"""tests/gpu/check_gpu.py must run from a bare checkout: no devtools install, no typer, no Docker."""

from __future__ import annotations

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
def test_host_only_check_without_a_driver_fails_at_the_host_driver() -> None:
    # -S: no site-packages, so nothing installed (devtools included) is importable, only the checkout.
    done = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), "--host-only"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("== host layers\n")
    assert "[FAIL] host driver" in done.stdout
    assert "[ -- ] Docker engine       not checked (host checks only)" in done.stdout
    assert done.stdout.rstrip().endswith("no usable GPU: first failing layer: host driver")
