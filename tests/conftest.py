"""Test tiers: unit (no engine), docker (real engine; --require-docker makes a missing one fail), gpu."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-docker",
        action="store_true",
        default=False,
        help="Fail (instead of skip) docker-tier tests when no Docker engine is reachable. CI sets it.",
    )


def _engine_reachable() -> bool:
    if not shutil.which("docker"):
        return False
    done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, check=False)
    return done.returncode == 0


DOCKER_TIER = Path(__file__).parent / "docker"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(DOCKER_TIER):
            item.add_marker(pytest.mark.docker)
    docker_items = [item for item in items if "docker" in item.keywords]
    if not docker_items or _engine_reachable():
        return
    if config.getoption("--require-docker"):
        raise pytest.UsageError("--require-docker: no Docker engine is reachable (docker version failed)")
    skip = pytest.mark.skip(reason="no Docker engine reachable (pass --require-docker to make this an error)")
    for item in docker_items:
        item.add_marker(skip)
