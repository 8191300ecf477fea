#!/usr/bin/env python3
"""GPU check for a bare NVIDIA machine, in one go: no Docker, no network, no installed devtools, just this
checkout and the machine's own torch (a CUDA build; another torch, transformers or Python than the
images pin is fine).

1. The detection layers of `devtools gpu`, the engine asked too: a machine without Docker gets its
   missing engine named in its layer, not a crash.
2. A few training steps of the real model (services/training) on the device `--device` picks, timed
   against the same steps on CPU.
3. The training CLI as a job runs it, against a throwaway local MLflow store (sqlite): the data
   pipeline, one process, then what `devtools train --gpus` runs (DDP over NCCL, one process per GPU;
   2 Gloo processes on CPU); each registers a version.
4. The registered model loaded as serving loads it (serving.model.store: the alias resolved, the
   artifacts copied, mlflow.pyfunc) and asked for predictions.

Each step's outcome, time and evidence go to one JSON report (--report). Steps 3-4 need mlflow and
scikit-learn (pip install -r services/training/requirements.txt; offline: from a wheelhouse brought
along). With --device cpu every step but the CUDA ones runs, on any machine (the unit tier does it).

Exit 0 when every step passed (and, unless --device cpu, on CUDA with the host driver passing); 1
otherwise; 2 when torch or transformers is missing.
Usage: python tests/gpu/check_gpu.py [--device auto|cpu|cuda] [--steps N] [--host-only] [--no-ddp] [--report F]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[2]
for path in (REPO, REPO / "services"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from devtools.gpu.layers import Status  # noqa: E402  (needs the repo on sys.path first)
from devtools.gpu.probes import collect  # noqa: E402
from devtools.gpu.report import GpuReport, assess, render  # noqa: E402

if TYPE_CHECKING:
    import torch

BATCH_SIZE = 64
HOST_LAYERS = ("driver", "wsl2", "cuda")
WARMUP_STEPS = 3


@dataclass
class Report:
    """What the check found, step by step: written as one JSON file."""

    path: Path
    steps: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, ok: bool, seconds: float, detail: str) -> bool:
        self.steps.append({"step": name, "ok": ok, "seconds": round(seconds, 2), "detail": detail})
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({seconds:.1f} s): {detail}")
        return ok

    def write(self, passed: bool) -> None:
        self.path.write_text(json.dumps({"passed": passed, **self.facts, "steps": self.steps}, indent=2) + "\n")
        print(f"report: {self.path}")


def host_report() -> GpuReport:
    """Every layer, the engine asked too: no Docker here is a layer that says so, not an error."""
    return assess(collect(engine=True))


def training_data() -> tuple[torch.Tensor, torch.Tensor, str]:
    """The digits data when scikit-learn is there, else random pixels of the same shape."""
    import torch

    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError:
        generator = torch.Generator().manual_seed(0)
        features = torch.randint(0, 17, (1797, 64), generator=generator).float()
        return features, torch.randint(0, 10, (1797,), generator=generator), "random 8x8 pixels"
    x, y = load_digits(return_X_y=True)
    return torch.from_numpy(x).float(), torch.from_numpy(y).long(), "scikit-learn digits"


def steps_per_second(device: torch.device, steps: int, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Train the real model (training.recipes.digits.model) for `steps` AdamW steps on `device`; steps per second."""
    import torch
    from torch.nn import functional
    from training.recipes.digits.fitting import seed_everything
    from training.recipes.digits.model import DigitsClassifier, ModelSpec

    seed_everything(0, device)
    model = DigitsClassifier(ModelSpec()).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x, y = features.to(device), labels.to(device)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).to(device)

    def step(index: int) -> torch.Tensor:
        start = (index * BATCH_SIZE) % (len(x) - BATCH_SIZE)
        batch = order[start : start + BATCH_SIZE]
        loss = functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return loss.detach()

    for index in range(WARMUP_STEPS):
        step(index)
    _sync(device)
    started = time.perf_counter()
    for index in range(steps):
        loss = step(WARMUP_STEPS + index)
    _sync(device)
    elapsed = time.perf_counter() - started
    if not torch.isfinite(loss):
        raise SystemExit(f"training diverged on {device}: loss {loss.item()}")
    return steps / elapsed


def training_jobs(device: torch.device, report: Report, *, ddp: bool) -> bool:
    """The training CLI as a job runs it, into a throwaway sqlite MLflow store: the pipeline, one
    process, then DDP; then the registered model loaded as serving loads it. True when all passed."""
    missing = [name for name in ("mlflow", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:
        return report.step(
            "training jobs",
            False,
            0.0,
            f"{', '.join(missing)} not installed (pip install -r services/training/requirements.txt)",
        )
    with tempfile.TemporaryDirectory(prefix="check-gpu-") as workdir:
        data = str(Path(workdir) / "data")
        tracking = f"sqlite:///{workdir}/mlflow.db"
        common = ["--data-dir", data, "--tracking-uri", tracking, "--experiment", "check-gpu"]
        common += ["--model-name", "check-gpu-model", "--promote", "always", "--epochs", "1", "--device", device.type]
        jobs = [("pipeline", ["pipeline", "--data-dir", data]), ("one process", ["train", *common])]
        if ddp:
            processes = "gpu" if device.type == "cuda" else "2"
            jobs.append((f"DDP ({processes} processes)", ["train", "--nproc-per-node", processes, *common]))
        env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
        for name, args in jobs:
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "training", *args], cwd=workdir, env=env, capture_output=True, text=True
            )
            said = [line for line in (done.stdout + done.stderr).strip().splitlines() if not line.startswith("epoch ")]
            detail = f"python -m training {' '.join(args[:3])} ...: exit {done.returncode}; {said[-1] if said else ''}"
            if not report.step(name, done.returncode == 0, time.perf_counter() - started, detail):
                return False
        return serve_registered(tracking, Path(workdir) / "cache", report)


def serve_registered(tracking: str, cache: Path, report: Report) -> bool:
    """What serving does with a new version: resolve the alias, copy the artifacts, load them as a
    pyfunc model, predict (serving.model.store)."""
    started = time.perf_counter()
    try:
        import numpy as np
        from serving.model.store import ModelStore
        from serving.settings import Settings
        from training.recipes.digits import DigitsRecipe

        settings = Settings(
            model_name="check-gpu-model",
            model_alias="champion",
            tracking_uri=tracking,
            poll_interval_s=1.0,
            cache_dir=cache,
            retry_initial_s=1.0,
            retry_max_s=1.0,
        )
        store = ModelStore(settings)
        target = store.resolve_alias()
        loaded = store.load(target)
        source = DigitsRecipe().source()
        rows, labels = source.x, source.y
        scores = np.asarray(loaded.predictor.predict(rows[:8]))  # one score per class, as /predict answers
    except Exception as exc:  # an import, a store or a model problem: said in the report, not a traceback
        return report.step("serving load", False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    ok = scores.shape == (8, 10)
    right = int((scores.argmax(axis=1) == labels[:8]).sum()) if ok else 0
    detail = (
        f"version {target.version} loaded as serving loads it; scores {scores.shape} ({right}/8 right after one epoch)"
    )
    return report.step("serving load", ok, time.perf_counter() - started, detail)


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed training steps per device (default 50)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="as `train --device`")
    parser.add_argument("--host-only", action="store_true", help="only the detection layers; no torch needed")
    parser.add_argument("--no-ddp", action="store_true", help="skip the data-parallel job")
    parser.add_argument("--report", type=Path, default=Path("gpu-check-report.json"), help="(default: %(default)s)")
    args = parser.parse_args(argv)
    report = Report(args.report)

    started = time.perf_counter()
    layers = host_report()
    print("== detection layers")
    for line in render(layers):
        print(line)
    driver_ok = layers.layer("driver").status is Status.OK
    report.facts["layers"] = layers.to_dict()
    for gpu in layers.gpus:
        print(f"GPU: {gpu.name}, {gpu.memory_mib} MiB, compute capability {gpu.compute_capability or '?'}")
    if layers.gpus:
        print(f"driver: {layers.gpus[0].driver}, newest CUDA it runs: {layers.cuda_version or '?'}")
    engine = layers.layer("docker")
    report.step("detection", True, time.perf_counter() - started, f"driver {layers.layer('driver').status.value}; "
                f"engine: {engine.evidence}")  # fmt: skip
    if args.host_only:
        # The host's own layers: a bare node (or a container) has no engine by design; its layer says so.
        passed = driver_ok and all(layers.layer(name).status is not Status.MISSING for name in HOST_LAYERS)
        report.write(passed)
        return 0 if passed else 1

    try:
        import torch
        from training.devices import resolve_device
    except ImportError as exc:
        report.step("torch", False, 0.0, f"{exc} (pip install -r services/training/requirements*.txt)")
        report.write(False)
        return 2
    print(f"== training steps (services/training, --device {args.device})")
    device = resolve_device(args.device)
    report.facts["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda, "device": device.type,
                             "python": sys.version.split()[0]}  # fmt: skip
    print(f"torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none (CPU build)'}")
    print(f"device: {device.type}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    features, labels, source = training_data()
    rates: dict[str, Any] = {}
    for target in [device] + ([torch.device("cpu")] if device.type != "cpu" else []):
        began = time.perf_counter()
        rates[target.type] = steps_per_second(target, args.steps, features, labels)
        report.step(f"steps on {target.type}", True, time.perf_counter() - began,
                    f"{rates[target.type]:.1f} steps/s, {source}, batch {BATCH_SIZE}")  # fmt: skip
    if "cuda" in rates:
        print(f"speed-up cuda/cpu: {rates['cuda'] / rates['cpu']:.1f}x")
    print(f"== the training CLI as jobs run it, then serving's load, on {device.type}")
    jobs_ok = training_jobs(device, report, ddp=not args.no_ddp)
    on_gpu = device.type == "cuda" and driver_ok
    passed = jobs_ok and (on_gpu or args.device == "cpu")
    report.write(passed)
    return 0 if passed else 1


if __name__ == "__main__":
    # Deterministic cuBLAS (training.devices sets it too, but only before CUDA starts).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    sys.exit(main())
