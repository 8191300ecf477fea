"""tests/gpu/check_gpu.py must run from a bare checkout: no devtools install, no typer, no Docker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "gpu" / "check_gpu.py"


def test_gpu_detection_imports_nothing_beyond_the_standard_library() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import devtools.gpu; "
        "heavy = {'typer', 'click', 'yaml', 'docker', 'torch'} & {m.split('.')[0] for m in sys.modules}; "
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_host_only_check_prints_the_host_layers() -> None:
    # -S: no site-packages, so nothing installed (devtools included) is importable, only the checkout.
    done = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), "--host-only"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.startswith("== host layers\n")
    driver_ok = "[ok  ] host driver" in done.stdout
    assert driver_ok or "[FAIL] host driver" in done.stdout
    assert "[ -- ] Docker engine       not checked (host checks only)" in done.stdout
    if not driver_ok:
        assert done.returncode == 1 and done.stdout.rstrip().endswith("no usable GPU: first failing layer: host driver")
