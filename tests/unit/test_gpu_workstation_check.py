"""tests/gpu/check_workstation.py on recorded outputs: the steps a GPU workstation runs, in order, and the
one report; a failed step stops the rest. (The real thing needs an NVIDIA GPU and its toolkit.)"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "gpu" / "check_workstation.py"
spec = importlib.util.spec_from_file_location("check_workstation", SCRIPT)
assert spec is not None and spec.loader is not None
workstation = importlib.util.module_from_spec(spec)
sys.modules["check_workstation"] = workstation
spec.loader.exec_module(workstation)

USABLE = {"usable": True, "missing_layer": None, "host": "this machine", "layers": []}
UNUSABLE = {"usable": False, "missing_layer": "toolkit", "host": "this machine", "layers": []}


def replay(outputs: dict[str, tuple[int, str]]) -> tuple[list[list[str]], object]:
    seen: list[list[str]] = []

    def runner(argv: Sequence[str]) -> object:
        seen.append(list(argv))
        key = next(name for name in outputs if name in " ".join(argv))
        return workstation.Ran(*outputs[key])

    return seen, runner


def test_every_step_runs_in_order_into_one_report(tmp_path: Path) -> None:
    seen, runner = replay(
        {
            "provision": (0, "[provision] ready"),
            "gpu --json": (0, json.dumps(USABLE)),
            "up --gpu": (0, "Stack 'mlstack' is up."),
            "pytest": (0, "3 passed in 61.0s"),
            "train --gpus": (0, "trained: run_id=... version=2"),
        }
    )
    report = tmp_path / "report.json"
    assert workstation.check(workstation.steps(skip_provision=False), runner, report)
    assert [argv[1] if argv[0].endswith("devtools") else Path(argv[0]).name for argv in seen[:3]] == [
        "provision", "gpu", "up",
    ]  # fmt: skip
    tier = seen[3]
    assert "docker-compose.gpu.yml" in tier and "--require-gpu" in tier and tier[tier.index("run") + 1 :][:2] == [
        "--rm", "--no-deps",
    ]  # fmt: skip
    written = json.loads(report.read_text())
    assert written["passed"] and [step["step"] for step in written["steps"]] == [
        "scripts/provision", "devtools gpu --json", "devtools up --gpu", "GPU tier in the CUDA training image",
        "devtools train --gpus all",
    ]  # fmt: skip


def test_an_unusable_gpu_fails_that_step_and_runs_nothing_after_it(tmp_path: Path) -> None:
    seen, runner = replay({"gpu --json": (1, json.dumps(UNUSABLE))})
    report = tmp_path / "report.json"
    assert not workstation.check(workstation.steps(skip_provision=True), runner, report)
    assert len(seen) == 1
    steps = json.loads(report.read_text())["steps"]
    assert steps[0]["ok"] is False and steps[0]["why"] == "exit 1"
    assert [step["ok"] for step in steps[1:]] == [None, None, None]
    assert workstation.gpu_report_usable(json.dumps(UNUSABLE)) == "no usable GPU: first failing layer toolkit"
