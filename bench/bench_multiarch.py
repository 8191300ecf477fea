"""ARM64 image builds on an x86_64 machine under QEMU user emulation, timed step by step.

1. QEMU: `scripts/provision ensure_qemu` (qemu-user-static + binfmt_misc; not part of provisioning).
2. An arm64 stand-in for python:3.11-slim where no registry is reachable: `debootstrap --arch=arm64`,
   then a Dockerfile `FROM scratch` + `ADD rootfs.tar /` built for linux/arm64 (engine 20.10 ignores
   `docker import --platform`). Tagged mlstack/python-arm64-standin:3.11-slim, so the amd64
   python:3.11-slim that every other build uses is untouched. Skipped when the image exists.
3. `devtools build --target prod --platform linux/arm64 --tag TAG base`, then `... serving`
   (PYTHON_IMAGE points at the stand-in), each checked with `docker run --platform linux/arm64 ... uname -m`.

The serving build is stopped after --serving-timeout (default 25 min) and reported as far as it got.
torch for aarch64: `install-torch cpu` takes `torch==X+cpu` from PyTorch's CPU index (PyPI's aarch64
torch 2.13.0 is a CUDA 13 build). Where that index is unreachable, `--serving-torch-variant cuda`
measures the build with PyPI's aarch64 torch and its CUDA wheels instead.

Needs root (apt-get, binfmt_misc, debootstrap). Writes logs to bench/out/. Run from the repository:
    .venv/bin/python bench/bench_multiarch.py [--serving-torch-variant cuda]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
STANDIN = "mlstack/python-arm64-standin:3.11-slim"
PLATFORM = "linux/arm64"
ROOTFS_CACHE = (
    Path(os.environ.get("DEVTOOLS_PROVISION_CACHE", "/var/cache/devtools-provision")) / "rootfs-bookworm-arm64"
)
# What scripts/provision's amd64 stand-in carries, so images built on either behave the same.
STANDIN_DOCKERFILE = """\
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8 \\
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
"""


@dataclass
class Step:
    name: str
    seconds: float
    outcome: str


def run(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path | None = None, timeout: float | None = None
) -> tuple[int | None, float]:
    """Runs argv (output to `log` when given); returns (exit code or None on timeout, seconds)."""
    start = time.perf_counter()
    sink = log.open("w") if log else subprocess.DEVNULL
    try:
        # Own process group: on timeout the whole tree (devtools -> docker compose) is interrupted, which
        # cancels the BuildKit session, so the build stops in the engine too.
        child = subprocess.Popen(
            list(argv), env=dict(env) if env else None, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code: int | None = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGINT)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            code = None
    finally:
        if log:
            sink.close()  # type: ignore[union-attr]
    return code, time.perf_counter() - start


def check(argv: Sequence[str]) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout.strip()


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def architecture(name: str) -> str:
    return check(["docker", "image", "inspect", "--format", "{{.Architecture}}", name])


def uname_in(image: str) -> str:
    return check(["docker", "run", "--rm", "--platform", PLATFORM, "--entrypoint", "uname", image, "-m"])


def build_standin(steps: list[Step]) -> None:
    if image_exists(STANDIN) and architecture(STANDIN) == "arm64":
        steps.append(Step("arm64 python stand-in", 0.0, f"present ({STANDIN})"))
        return
    if not (ROOTFS_CACHE / "usr/bin/python3").exists():
        if not shutil.which("debootstrap"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True, capture_output=True)
        shutil.rmtree(ROOTFS_CACHE, ignore_errors=True)
        ROOTFS_CACHE.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            "debootstrap", "--arch=arm64", "--variant=minbase",
            "--include=python3,python3-pip,python3-venv,ca-certificates", "bookworm", str(ROOTFS_CACHE),
        ]  # fmt: skip
        code, seconds = run(argv, log=OUT / "multiarch-debootstrap.log")
        steps.append(Step("debootstrap --arch=arm64", seconds, "ok" if code == 0 else f"failed ({code})"))
        if code != 0:
            raise SystemExit(f"debootstrap failed; see {OUT / 'multiarch-debootstrap.log'}")
    # The same adjustments scripts/provision makes to the amd64 stand-in.
    for marker in ROOTFS_CACHE.glob("usr/lib/python3.*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for link, target in (("usr/bin/python", "python3"), ("usr/bin/pip", "pip3")):
        path = ROOTFS_CACHE / link
        path.unlink(missing_ok=True)
        path.symlink_to(target)
    ca = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    if ca.is_file():
        shutil.copy(ca, ROOTFS_CACHE / "etc/ssl/certs/ca-certificates.crt")
    for leftover in [*ROOTFS_CACHE.glob("var/cache/apt/archives/*.deb"), *ROOTFS_CACHE.glob("var/lib/apt/lists/*")]:
        if leftover.is_file():
            leftover.unlink()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arm64-standin-") as tmp:
        subprocess.run(["tar", "-C", str(ROOTFS_CACHE), "-cf", f"{tmp}/rootfs.tar", "."], check=True)
        Path(tmp, "Dockerfile").write_text(STANDIN_DOCKERFILE)
        # The classic builder honours --platform for FROM scratch (no buildx here); the image says arm64.
        subprocess.run(["docker", "build", "--platform", PLATFORM, "-t", STANDIN, tmp], check=True, capture_output=True)
    steps.append(Step("arm64 python stand-in image", time.perf_counter() - start, architecture(STANDIN)))


def last_steps(log: Path, count: int = 3) -> str:
    """The last BuildKit steps started, from the plain progress output (`#N [stage n/m] STEP`)."""
    started = re.findall(r"^#\d+ \[([^\]]+)\] (.*)$", log.read_text(errors="replace"), flags=re.M)
    return "; ".join(f"[{stage}] {step[:90]}" for stage, step in started[-count:]) or "no step started"


def build(service: str, tag: str, env: Mapping[str, str], timeout: float, steps: list[Step]) -> bool:
    log = OUT / f"multiarch-{service}.log"
    argv = [
        sys.executable,
        "-m",
        "devtools",
        "build",
        "--target",
        "prod",
        "--platform",
        PLATFORM,
        "--tag",
        tag,
        service,
    ]
    code, seconds = run(argv, env=env, log=log, timeout=timeout)
    image = f"mlstack/{service}:{tag}"
    if code == 0:
        machine = uname_in(image)
        steps.append(Step(f"{service} image (linux/arm64)", seconds, f"ok, {architecture(image)}, uname -m {machine}"))
        return machine == "aarch64"
    why = f"stopped after {timeout / 60:.0f} min" if code is None else f"failed (exit {code})"
    steps.append(Step(f"{service} image (linux/arm64)", seconds, f"{why}; last steps: {last_steps(log)}; log {log}"))
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="arm64-bench", help="tag of the arm64 images (default: arm64-bench)")
    parser.add_argument("--serving-timeout", type=float, default=25 * 60, help="seconds (default: 1500)")
    parser.add_argument("--serving-torch-variant", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--skip-serving", action="store_true")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []

    code, seconds = run([str(REPO / "scripts" / "provision"), "ensure_qemu"], log=OUT / "multiarch-qemu.log")
    steps.append(Step("QEMU (scripts/provision ensure_qemu)", seconds, "ok" if code == 0 else f"failed ({code})"))
    if code != 0:
        print(f"ensure_qemu failed; see {OUT / 'multiarch-qemu.log'}", file=sys.stderr)
        return 1
    amd64_python_before = architecture("python:3.11-slim") if image_exists("python:3.11-slim") else None
    build_standin(steps)

    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": os.environ.get("COMPOSE_PROJECT_NAME", "mlstack-arm64bench"),
        "PYTHON_IMAGE": STANDIN,
        "SERVING_TORCH_VARIANT": args.serving_torch_variant,
    }
    ok = build("base", args.tag, env, 30 * 60, steps)
    if ok and not args.skip_serving:
        ok = build("serving", args.tag, env, args.serving_timeout, steps)
    if amd64_python_before is not None:
        after = architecture("python:3.11-slim")
        steps.append(Step("python:3.11-slim untouched", 0.0, f"{amd64_python_before} -> {after}"))
        ok = ok and after == amd64_python_before

    width = max(len(step.name) for step in steps)
    host = f"{os.uname().machine}, {os.cpu_count()} CPUs"
    print(f"ARM64 under QEMU on {host}; serving torch variant {args.serving_torch_variant}:")
    for step in steps:
        print(f"  {step.name.ljust(width)}  {step.seconds / 60:6.1f} min  {step.outcome}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
