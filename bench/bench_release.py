"""Release time: `devtools release` of every deployed image to an empty registry (cold: every layer
uploaded) and again with nothing changed (the baseline: no layer uploaded), same run; then the image
sizes per platform, local (uncompressed) and in the registry (compressed layers).

The registry is a fresh Distribution instance with login (testing/registry_server.py), so the
cold push really uploads. Builds are warm (run `devtools build --target prod` first): this measures
the push, not the build; with --platform the first release also builds what is missing for the other
platform (under QEMU), and the warm one is the baseline it is compared with.

    .venv/bin/python bench/bench_release.py [--platform linux/amd64,linux/arm64] [SERVICE...]

Where no registry answers, PYTHON_IMAGE_LINUX_ARM64=arm64v8/python:3.11-slim (scripts/provision's
stand-in) and, as PyTorch's CPU index is not reachable here for aarch64,
SERVING_TORCH_VARIANT=cuda TORCH_VARIANT=cuda (PyPI's aarch64 torch is a CUDA build).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testing import registry_server  # noqa: E402  (after the path it lives on)


def release(server: registry_server.RegistryServer, extra: list[str]) -> tuple[float, str]:
    env = {**os.environ, "DOCKER_CONFIG": str(server.docker_config)}
    argv = [
        sys.executable,
        "-m",
        "devtools",
        "release",
        "--registry",
        server.address,
        "--allow-dirty",
        "--allow-vulnerable",
        *extra,
    ]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"release failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return elapsed, done.stdout


def pushed_layers(output: str) -> int:
    return sum(1 for line in output.splitlines() if line.rstrip().endswith(": Pushed"))


def registry_size(server: registry_server.RegistryServer, repository: str, digest: str) -> int:
    request = urllib.request.Request(
        f"http://{server.address}/v2/{repository}/manifests/{digest}",
        headers={"Accept": registry_server.MANIFEST_ACCEPT},
    )
    token = base64.b64encode(f"{registry_server.USER}:{registry_server.PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        manifest = json.loads(answer.read())
    return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in manifest["layers"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", help="e.g. linux/amd64,linux/arm64 (default: the engine's own)")
    parser.add_argument("services", nargs="*", help="default: every deployed image")
    args = parser.parse_args()
    extra = [*args.services, *(["--platform", args.platform] if args.platform else [])]
    with registry_server.running() as server:
        cold_s, cold = release(server, extra)
        warm_s, warm = release(server, extra)
        manifest_line = next(line for line in cold.splitlines() if line.startswith("released "))
        manifest = json.loads((REPO / manifest_line.rsplit(" in ", 1)[1]).read_text())
        print(
            f"release: cold {cold_s:.1f}s ({pushed_layers(cold)} layers uploaded), nothing changed {warm_s:.1f}s "
            f"({pushed_layers(warm)} layers uploaded); ratio {warm_s / cold_s:.2f}x"
        )
        for image in manifest["images"]:
            for variant in image["variants"]:
                pushed = (
                    image["image"]
                    if len(image["variants"]) == 1
                    else f"{image['image']}-{variant['platform'].split('/')[1]}"
                )
                local = subprocess.run(
                    ["docker", "image", "inspect", "--format", "{{.Size}}", pushed],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                compressed = registry_size(server, image["repository"], variant["digest"])
                print(
                    f"  {image['service']} {variant['platform']}: local {int(local) / 1e6:.0f} MB, "
                    f"in the registry {compressed / 1e6:.0f} MB compressed"
                )
    return 0 if pushed_layers(warm) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
