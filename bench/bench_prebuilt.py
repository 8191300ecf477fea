"""Cold start from the team registry (issue 15), as a new teammate or a CI runner meets it: an engine
with no image and no build cache of the project, a fresh copy of the checkout.

1. `devtools up` to all healthy: prebuilt path (DEVTOOLS_REGISTRY set: every image pulled) vs build
   path (no registry: every image built). Target: prebuilt <= 60 s and <= 0.3x the build path.
2. One requirement changed (a line added to services/serving/requirements.txt), `devtools build
   serving`: registry-cached (unchanged layers, torch's among them, from the registry's :dev images)
   vs local-only (every layer built).

The registry is a fresh Distribution instance with login (testing/registry_server.py), filled
first by `devtools release --dev` from the checkout. Each measured path starts from the same empty
state: the project's images removed and `docker builder prune -af` (so this benchmark also empties
the engine's build cache: the next build of anything starts cold). The base image python:3.11-slim
stays (it is provisioning's, not the project's). One run of each: each takes minutes.

    .venv/bin/python bench/bench_prebuilt.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testing import registry_server  # noqa: E402  (after the path it lives on)
from testing.stack_harness import copy_checkout, free_port  # noqa: E402

PREFIX = "mlstack-coldbench"
SERVICES = ["base", "mlflow", "serving", "training"]


def sh(*argv: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 3600) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout + done.stderr


def empty_engine() -> None:
    """None of the benchmark's images, no build cache: what a new machine has (its base image aside)."""
    tags = [f"{PREFIX}/{service}:{tag}" for service in SERVICES for tag in ("dev", "latest")]
    subprocess.run(["docker", "image", "rm", "--force", *tags], capture_output=True)
    subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, check=True)


def checkout(root: Path) -> Path:
    copy_checkout(root)
    return root


def main() -> int:
    base_env = {
        **os.environ,
        "DEVTOOLS_IMAGE_PREFIX": PREFIX,
        "COMPOSE_PROJECT_NAME": PREFIX,
        "MLFLOW_PORT": str(free_port()),
        "SERVING_PORT": str(free_port()),
    }
    base_env.pop("DEVTOOLS_ROOT", None)
    devtools = [sys.executable, "-m", "devtools"]
    with registry_server.running() as server, tempfile.TemporaryDirectory(prefix="coldbench-") as tmp:
        registry_env = {**base_env, "DEVTOOLS_REGISTRY": server.address, "DOCKER_CONFIG": str(server.docker_config)}
        local_env = {k: v for k, v in base_env.items() if k != "DEVTOOLS_REGISTRY"}
        publisher = checkout(Path(tmp) / "publisher")
        publish_s, _ = sh(*devtools, "release", "--dev", env=registry_env, cwd=publisher)
        print(f"published the dev images in {publish_s:.1f}s (cold build and push)", flush=True)

        results: dict[str, float] = {}
        for name, env in (("prebuilt", registry_env), ("build", local_env)):
            fresh = checkout(Path(tmp) / f"up-{name}")
            empty_engine()
            results[f"up {name}"], output = sh(*devtools, "up", env=env, cwd=fresh)
            pulled = output.count(": pulled ")
            print(f"up, {name} path: {results[f'up {name}']:.1f}s to all healthy ({pulled} images pulled)", flush=True)
            sh(*devtools, "down", "-v", env=env, cwd=fresh)

        for name, env in (("registry-cached", registry_env), ("local-only", local_env)):
            fresh = checkout(Path(tmp) / f"change-{name}")
            requirements = fresh / "services" / "serving" / "requirements.txt"
            requirements.write_text(requirements.read_text() + "# one requirement changed\n")
            empty_engine()
            results[name], _ = sh(*devtools, "build", "serving", env=env, cwd=fresh)
            print(f"serving requirement changed, {name} rebuild: {results[name]:.1f}s", flush=True)
        empty_engine()

    ratio = results["up prebuilt"] / results["up build"]
    ok = results["up prebuilt"] <= 60 and ratio <= 0.3
    change = results["registry-cached"] / results["local-only"]
    print(
        f"cold up: prebuilt {results['up prebuilt']:.1f}s vs build {results['up build']:.1f}s, ratio {ratio:.2f}x "
        f"(target <= 60 s and <= 0.3x) {'PASS' if ok else 'FAIL'}; requirement change: registry-cached "
        f"{results['registry-cached']:.1f}s vs local-only {results['local-only']:.1f}s, ratio {change:.2f}x"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
