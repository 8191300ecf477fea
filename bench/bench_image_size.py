"""Image sizes: the prod serving image against a naive single-stage one (target: prod at most half),
and every prod image's size.

The naive image (bench/naive/Dockerfile) is what a team writes first: build-essential, apt lists and
pip's cache left in, torch from PyPI (the CUDA build on Linux x86_64). `--like-for-like` also builds it
with the prod image's CPU torch, served from wheelhouse/ over a local HTTP wheel server (so the wheel
is not copied into a layer): the difference that remains is the image's own hygiene, not torch's build.

    .venv/bin/python bench/bench_image_size.py [--tag latest] [--like-for-like] [--keep]

The prod images are built with `devtools build --target prod --tag TAG` first (--no-build: measure the
ones there are). The naive images are removed afterwards unless --keep: the CUDA one is many GB.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import ipaddress
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAIVE = "mlstack-bench/serving-naive"
PROD_SERVICES = ["base", "mlflow", "serving", "training"]
TARGET_RATIO = 0.5
NAIVE_AS_WRITTEN = "as first written (PyPI torch)"
MB = 1_000_000  # docker's units: its "1.9GB" is 1.9e9 bytes


@dataclass(frozen=True)
class Built:
    image: str
    size: int
    seconds: float


def size_of(image: str) -> int:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"no image {image}: {done.stderr.strip()}")
    return int(done.stdout.strip())


def big_layers(image: str, at_least: int = 20 * MB) -> list[tuple[int, str]]:
    """(size, instruction) of the layers above `at_least`, in build order."""
    lines = subprocess.run(
        ["docker", "history", "--no-trunc", "--human=false", "--format", "{{json .}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    layers = [(int(row["Size"]), re.sub(r"\s+", " ", row["CreatedBy"])) for row in map(json.loads, lines)]
    return [(size, created) for size, created in reversed(layers) if size >= at_least]


def torch_pin() -> str:
    text = (REPO / "services/training/requirements-torch.txt").read_text()
    match = re.search(r"^torch==(\S+)", text, flags=re.M)
    if not match:
        raise SystemExit("no torch== pin in services/training/requirements-torch.txt")
    return match.group(1)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # one line per request otherwise
        pass


@contextmanager
def wheel_server() -> Iterator[str]:
    """Serves wheelhouse/ on the default bridge's gateway, which the classic builder's RUN steps reach."""
    ipam = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    # Engine 20.10 may list only the subnet; its gateway is then the subnet's first address (docker0).
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    handler = functools.partial(_QuietHandler, directory=str(REPO / "wheelhouse"))
    server = http.server.ThreadingHTTPServer((gateway, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{gateway}:{server.server_address[1]}/"
    finally:
        server.shutdown()


def build_naive(tag: str, pip_extra_args: str = "") -> Built:
    image = f"{NAIVE}:{tag}"
    argv = ["docker", "build", "-f", "bench/naive/Dockerfile", "-t", image]
    if pip_extra_args:
        argv += ["--build-arg", f"PIP_EXTRA_ARGS={pip_extra_args}"]
    start = time.perf_counter()
    # The classic builder (no buildx here), as the team's first `docker build .` would run.
    done = subprocess.run([*argv, "."], cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"naive build failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return Built(image, size_of(image), seconds)


def build_prod(tag: str) -> float:
    start = time.perf_counter()
    argv = [sys.executable, "-m", "devtools", "build", "--target", "prod", "--tag", tag]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"devtools build --target prod failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def report(prod: Built, naive: list[tuple[str, Built]], others: Sequence[Built]) -> bool:
    print("prod images (devtools build --target prod):")
    for built in others:
        print(f"  {built.image:<34} {built.size / MB:8.0f} MB")
    ok = True
    for label, built in naive:
        ratio = prod.size / built.size
        if label == NAIVE_AS_WRITTEN:
            ok = ratio <= TARGET_RATIO
            verdict = f"(target <= {TARGET_RATIO}) {'PASS' if ok else 'FAIL'}"
        else:
            verdict = "(for information: what the image's own hygiene saves)"
        print(
            f"serving size: prod {prod.size / MB:.0f} MB vs naive, {label}, {built.size / MB:.0f} MB: "
            f"ratio {ratio:.2f} {verdict} [naive build {built.seconds / 60:.1f} min]"
        )
        for size, created in big_layers(built.image):
            print(f"    {size / MB:8.0f} MB  {created[:110] or '(python:3.11-slim)'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="latest", help="the prod images' tag (default: latest)")
    parser.add_argument("--no-build", action="store_true", help="measure the prod images there are")
    parser.add_argument("--like-for-like", action="store_true", help="also build the naive image with CPU torch")
    parser.add_argument("--keep", action="store_true", help="keep the naive images")
    args = parser.parse_args(argv)

    if not args.no_build:
        print(f"prod build: {build_prod(args.tag) / 60:.1f} min")
    others = [Built(f"mlstack/{name}:{args.tag}", size_of(f"mlstack/{name}:{args.tag}"), 0.0) for name in PROD_SERVICES]
    prod = next(built for built in others if built.image.startswith("mlstack/serving:"))
    naive: list[tuple[str, Built]] = []
    try:
        naive.append((NAIVE_AS_WRITTEN, build_naive("pypi-torch")))
        if args.like_for_like:
            with wheel_server() as url:
                host = url.split("/")[2].split(":")[0]
                extra = f"--find-links {url} --trusted-host {host} torch=={torch_pin()}+cpu"
                naive.append(("same CPU torch as prod", build_naive("cpu-torch", extra)))
        ok = report(prod, naive, others)
    finally:
        if not args.keep:
            images = [f"{NAIVE}:pypi-torch", f"{NAIVE}:cpu-torch"]
            subprocess.run(["docker", "image", "rm", *images], capture_output=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
