#!/usr/bin/env python3
"""GPU tier check for a bare NVIDIA machine: no Docker, no installed devtools, just this checkout.

1. The host layers of `devtools gpu` (driver, WSL2, driver CUDA vs the training image's CUDA).
2. A few training steps of the real model (services/training) on the device `--device auto` picks,
   timed against the same steps on CPU.
3. What `devtools train --gpus` runs: `python -m training train --nproc-per-node gpu --device cuda`
   (DDP over NCCL, one process per GPU; 2 Gloo processes on CPU) for one epoch, recording into a
   throwaway local MLflow store (needs mlflow and scikit-learn; skipped without them or --no-ddp).

Exit 0 when the host driver passes and the steps (and the DDP job) ran on CUDA; 1 otherwise; 2 when
torch or transformers is missing. Usage: python tests/gpu/check_gpu.py [--steps N] [--host-only] [--no-ddp]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
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
WARMUP_STEPS = 3


def host_report() -> GpuReport:
    return assess(collect(engine=False))


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
    """Train the real model (training.model) for `steps` AdamW steps on `device`; steps per second."""
    import torch
    from torch.nn import functional
    from training.fitting import seed_everything
    from training.model import DigitsClassifier, ModelSpec

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


def ddp_job(device: torch.device) -> bool:
    """Prepare the data and train one epoch data-parallel through the training CLI; True when it passed."""
    missing = [name for name in ("mlflow", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed (pip install -r services/training/requirements.txt)")
        return device.type != "cuda"
    processes = "gpu" if device.type == "cuda" else "2"
    with tempfile.TemporaryDirectory(prefix="check-gpu-ddp-") as workdir:
        data = str(Path(workdir) / "data")
        # A local sqlite store: no tracking server needed, artifacts land in the throwaway directory.
        tracking = f"sqlite:///{workdir}/mlflow.db"
        env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
        steps = [
            ["pipeline", "--data-dir", data],
            [
                *("train", "--nproc-per-node", processes, "--device", device.type, "--epochs", "1"),
                *("--data-dir", data, "--tracking-uri", tracking, "--experiment", "check-gpu"),
            ],
        ]
        for args in steps:
            print("$ python -m training " + " ".join(args))
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "training", *args], cwd=workdir, env=env, capture_output=True, text=True
            )
            lines = (done.stdout + done.stderr).strip().splitlines()
            print("\n".join(line for line in lines if not line.startswith("epoch ")))
            print(f"exit {done.returncode} in {time.perf_counter() - started:.1f} s")
            if done.returncode != 0:
                return False
    return True


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed training steps per device (default 50)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="as `train --device`")
    parser.add_argument("--host-only", action="store_true", help="only the host layers; no torch needed")
    parser.add_argument("--no-ddp", action="store_true", help="skip the data-parallel training job")
    args = parser.parse_args(argv)

    report = host_report()
    print("== host layers")
    for line in render(report):
        print(line)
    driver_ok = report.layer("driver").status is Status.OK
    for gpu in report.gpus:
        print(f"GPU: {gpu.name}, {gpu.memory_mib} MiB, compute capability {gpu.compute_capability or '?'}")
    if report.gpus:
        print(f"driver: {report.gpus[0].driver}, newest CUDA it runs: {report.cuda_version or '?'}")
    if args.host_only:
        return 0 if report.usable and driver_ok else 1

    try:
        import torch
        from training.distributed import resolve_device
    except ImportError as exc:
        print(f"cannot run the training step: {exc} (pip install -r services/training/requirements*.txt)")
        return 2
    print(f"== training step (services/training, --device {args.device})")
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none (CPU build)'}")
    print(f"device: {device.type}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    features, labels, source = training_data()
    print(f"data: {source}, batch {BATCH_SIZE}, {args.steps} timed steps after {WARMUP_STEPS} warm-up steps")
    rates: dict[str, Any] = {device.type: steps_per_second(device, args.steps, features, labels)}
    if device.type != "cpu":
        rates["cpu"] = steps_per_second(torch.device("cpu"), args.steps, features, labels)
    for name, rate in rates.items():
        threads = f", {torch.get_num_threads()} thread(s)" if name == "cpu" else ""
        print(f"steps/s on {name}: {rate:.1f}{threads}")
    if "cuda" in rates:
        print(f"speed-up cuda/cpu: {rates['cuda'] / rates['cpu']:.1f}x")
    ddp_ok = True
    if not args.no_ddp:
        print(f"== data-parallel job (what `devtools train --gpus` runs), on {device.type}")
        ddp_ok = ddp_job(device)
    return 0 if driver_ok and device.type == "cuda" and ddp_ok else 1


if __name__ == "__main__":
    # Deterministic cuBLAS (training.distributed sets it too, but only before CUDA starts).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    sys.exit(main())
