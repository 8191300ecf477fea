"""Building the lean serving image (docker/serving/Dockerfile, target lean) for the tests and the bench.

Through Compose, as every image of the project is built: its Dockerfiles use BuildKit's cache and bind
mounts, which the engine's own builder (`docker build` without buildx, as on this machine) cannot run.
The lean image is not a service of the stack, so a one-service Compose file is written for the build.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_lean_image(image: str, base_image: str, timeout: float = 900) -> None:
    """Build the lean target as `image` on `base_image` (the base the stack's images were built on)."""
    service = {
        "image": image,
        "build": {
            "context": str(REPO),
            "dockerfile": "docker/serving/Dockerfile",
            "target": "lean",
            "args": {"BASE_IMAGE": base_image},
        },
    }
    with tempfile.TemporaryDirectory(prefix="lean-image-") as scratch:
        compose_file = Path(scratch) / "compose.json"  # JSON is YAML: Compose reads it
        compose_file.write_text(json.dumps({"services": {"serving-lean": service}}))
        done = subprocess.run(
            ["docker", "compose", "-p", "mlstack-lean-build", "-f", str(compose_file), "build", "serving-lean"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"building {image} failed:\n{done.stderr[-3000:]}")
