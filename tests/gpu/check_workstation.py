#!/usr/bin/env python3
"""GPU check for a full GPU workstation, in one go: Docker Engine with the NVIDIA Container Toolkit.

1. `scripts/provision` (the engine, Compose, the project in .venv).
2. `devtools gpu --json`: every detection layer, the smoke container included, must pass.
3. `devtools up --gpu`: the stack with the GPU override, which builds the CUDA variants of the images.
4. The GPU tier inside the CUDA training image (not against the host's .venv, whose torch is the
   CPU build): `pytest tests/gpu --require-gpu` in a one-off training container with the GPUs and
   the checkout mounted, so a GPU test that would skip fails instead.
5. `devtools train --gpus all -- --epochs 1`: data-parallel training on every GPU, into the stack.

Every step's command, exit code, time and last lines go to one JSON report (--report); a failed step
stops the check (what follows needs it). Exit 0 when every step passed, 1 otherwise. Steps 3-5 pull
nothing from a registry but build CUDA torch (several GB) on the first run.
Usage: python tests/gpu/check_workstation.py [--report F] [--skip-provision]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_S = 1800
_TAIL_LINES = 15


@dataclass(frozen=True)
class Step:
    name: str
    argv: tuple[str, ...]
    check: Callable[[str], str | None] = lambda output: None  # a reason the output fails, or None


@dataclass(frozen=True)
class Ran:
    returncode: int
    output: str


Runner = Callable[[Sequence[str]], Ran]


def gpu_report_usable(output: str) -> str | None:
    try:
        report = json.loads(output[output.index("{") :])
    except ValueError:
        return "devtools gpu --json printed no report"
    if not report.get("usable"):
        return f"no usable GPU: first failing layer {report.get('missing_layer')}"
    return None


def steps(skip_provision: bool) -> list[Step]:
    devtools = str(REPO / ".venv" / "bin" / "devtools")
    compose = [
        "docker", "compose", "--project-directory", str(REPO),
        *("-f", "docker-compose.yml", "-f", "docker-compose.dev.yml", "-f", "docker-compose.gpu.yml"),
        *("-f", ".devcontainer/compose.workspace.yml"),
    ]  # fmt: skip
    found = [
        Step("devtools gpu --json", (devtools, "gpu", "--json"), gpu_report_usable),
        Step("devtools up --gpu", (devtools, "up", "--gpu", "--wait-timeout", "900")),
        Step(
            "GPU tier in the CUDA training image",
            (
                *compose,
                "run",
                "--rm",
                "--no-deps",
                "--workdir",
                "/workspace",
                "--entrypoint",
                "python",
                "training",
                "-m",
                "pytest",
                "tests/gpu",
                "--require-gpu",
                "-q",
                "-p",
                "no:cacheprovider",
            ),
        ),
        Step("devtools train --gpus all", (devtools, "train", "--gpus", "all", "--", "--epochs", "1")),
    ]
    return found if skip_provision else [Step("scripts/provision", (str(REPO / "scripts" / "provision"),)), *found]


def run_step(argv: Sequence[str]) -> Ran:
    try:
        done = subprocess.run(list(argv), cwd=REPO, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        return Ran(124, f"{exc.output or ''}\nstopped after {STEP_TIMEOUT_S} s")
    except FileNotFoundError as exc:
        return Ran(127, str(exc))
    return Ran(done.returncode, done.stdout + done.stderr)


def check(plan: Sequence[Step], runner: Runner, report_path: Path) -> bool:
    results = []
    passed = True
    for step in plan:
        if not passed:
            results.append({"step": step.name, "ok": None, "detail": "not run: an earlier step failed"})
            continue
        started = time.monotonic()
        ran = runner(step.argv)
        seconds = round(time.monotonic() - started, 1)
        reason = f"exit {ran.returncode}" if ran.returncode != 0 else step.check(ran.output)
        passed = reason is None
        tail = ran.output.strip().splitlines()[-_TAIL_LINES:]
        results.append(
            {
                "step": step.name,
                "ok": passed,
                "seconds": seconds,
                "command": list(step.argv),
                "why": reason,
                "tail": tail,
            }
        )
        print(f"{'ok  ' if passed else 'FAIL'} {step.name} ({seconds} s){': ' + reason if reason else ''}", flush=True)
    report_path.write_text(json.dumps({"passed": passed, "steps": results}, indent=2) + "\n")
    print(f"report: {report_path}")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path("gpu-workstation-report.json"))
    parser.add_argument("--skip-provision", action="store_true", help="the machine is provisioned already")
    args = parser.parse_args(argv)
    os.environ.setdefault("DEVTOOLS_IMAGE_PREFIX", "mlstack")
    return 0 if check(steps(args.skip_provision), run_step, args.report) else 1


if __name__ == "__main__":
    sys.exit(main())
