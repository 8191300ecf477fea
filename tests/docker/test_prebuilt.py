"""Prebuilt images from the team registry, against a real Distribution registry (login required):
a fresh copy of the checkout comes up from it without a build step; a lock change rebuilds
from that layer on; with the registry stopped, `up` builds locally and says why. And the progress
view: a compact live view in a pseudo-terminal, plain lines elsewhere, the full log with -v.

Isolated: the module's own registry (fresh storage), its own image names (DEVTOOLS_IMAGE_PREFIX),
Compose project and port. The images are the smallest two with a requirements file: base and mlflow
(`devtools up mlflow`). The full stack, and a requirements change of serving with and without the
registry's cache, are timed in bench/bench_prebuilt.py.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing import registry_server
from testing.registry_server import RegistryServer
from testing.stack_harness import copy_checkout, free_port

PREFIX = "mlstack-prebuilt"
IMAGES = [f"{PREFIX}/base:latest", f"{PREFIX}/mlflow:dev"]
BUILDKIT_STEP = re.compile(r"^#\d+ ", re.M)  # a line of BuildKit's plain log


@dataclass(frozen=True)
class Checkout:
    root: Path
    env: dict[str, str]

    def devtools(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devtools", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def remove_images(*names: str) -> None:
    subprocess.run(["docker", "image", "rm", "--force", *names], capture_output=True, check=False)


def fresh_checkout(tmp: Path, registry: RegistryServer, mlflow_port: int) -> Checkout:
    """A new folder with the checkout's files, no build state, and none of the module's images."""
    copy_checkout(tmp)
    remove_images(*IMAGES)
    env = {
        **os.environ,
        "DEVTOOLS_REGISTRY": registry.address,
        "DOCKER_CONFIG": str(registry.docker_config),
        "DEVTOOLS_IMAGE_PREFIX": PREFIX,
        "COMPOSE_PROJECT_NAME": PREFIX,
        "MLFLOW_PORT": str(mlflow_port),
    }
    env.pop("DEVTOOLS_ROOT", None)
    return Checkout(tmp, env)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """The registry, with base and mlflow published by `devtools release --dev` from a checkout copy."""
    try:
        with registry_server.running() as server:
            publisher = fresh_checkout(tmp_path_factory.mktemp("publisher"), server, free_port())
            done = publisher.devtools("release", "--dev", "mlflow")
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            assert "published 2 dev images" in done.stdout, done.stdout
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        remove_images(*IMAGES)


def labels_of(image: str) -> dict[str, str]:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout) or {})


def test_a_fresh_checkout_comes_up_from_the_registry_without_building(registry: RegistryServer, tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path, registry, free_port())
    try:
        up = checkout.devtools("up", "mlflow")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        said = up.stderr
        for service in ("base", "mlflow"):
            assert re.search(
                rf"^{service}: pulled {re.escape(registry.address)}/{PREFIX}/{service}@sha256:", said, re.M
            ), said
        assert "building" not in said and not BUILDKIT_STEP.search(said + up.stdout)  # no build step at all
        # The pulled image is the one published for these inputs: its fingerprint label says so.
        state = json.loads((tmp_path / ".devtools" / "build-state.json").read_text())
        mlflow_fingerprint = next(v for k, v in state["fingerprints"].items() if k.endswith(":mlflow"))
        assert labels_of(f"{PREFIX}/mlflow:dev")["devtools.fingerprint"] == mlflow_fingerprint
        ps = checkout.devtools("ps")
        row = next(line for line in ps.stdout.splitlines() if line.startswith("mlflow "))
        assert "running" in row and f"pulled from {registry.address} (sha256:" in row
    finally:
        checkout.devtools("down", "-v")


def test_a_lock_change_rebuilds_from_that_layer_on(registry: RegistryServer, tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path, registry, free_port())
    lock = tmp_path / "locks" / "mlflow.linux-amd64.txt"  # what the image installs from (`devtools lock`)
    # Unique per run: the engine's build cache may hold an earlier run's change (a warm machine). A line of
    # its own counts in the fingerprint (only the resolver's notes do not), as a changed pin would.
    lock.write_text(lock.read_text() + f"# a change to the lock {uuid.uuid4()}\n")
    try:
        up = checkout.devtools("-v", "up", "mlflow")  # -v: BuildKit's full log, to read the steps
        log = up.stdout + up.stderr
        assert up.returncode == 0, log[-4000:]
        assert re.search(r"^base: pulled ", up.stderr, re.M), up.stderr  # unchanged: from the registry
        # mlflow: the registry's image is the cache; the build starts at the changed file.
        imported = re.search(rf"#(\d+) \[mlflow\] importing cache manifest from {re.escape(registry.address)}/", log)
        assert imported and not re.search(rf"^#{imported.group(1)} ERROR", log, re.M), log[-4000:]
        copy = re.search(r"#(\d+) \[mlflow deps 1/2\] COPY locks/mlflow\.linux-", log)
        install = re.search(r"#(\d+) \[mlflow deps 2/2\] RUN .*install-locked", log)
        assert copy and install, log[-4000:]
        for step in (copy.group(1), install.group(1)):
            assert not re.search(rf"^#{step} CACHED", log, re.M)  # rebuilt: the layer that changed, and on
        assert re.search(r"#\d+ \[mlflow base 1/\d\] FROM ", log)
    finally:
        checkout.devtools("down", "-v")


def pty_output(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What argv writes to a terminal (a pseudo-terminal as its stdout and stderr)."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(argv, cwd=cwd, env={**env, "TERM": "xterm"}, stdout=terminal, stderr=terminal)
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the terminal closed: the child is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    assert child.wait(timeout=600) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


def test_build_progress_is_compact_in_a_terminal_and_plain_lines_elsewhere(
    registry: RegistryServer, tmp_path: Path
) -> None:
    checkout = fresh_checkout(tmp_path, registry, free_port())
    probe = tmp_path / "docker" / "base" / "http-ok"
    argv = [sys.executable, "-m", "devtools", "build", "base"]

    probe.write_text(probe.read_text() + f"# terminal {uuid.uuid4()}\n")  # a step that really runs: COPY, and on
    shown = pty_output(argv, tmp_path, checkout.env)
    assert "\x1b[" in shown  # redrawn in place
    lines = [line for line in shown.replace("\r", "").split("\n") if line.strip()]
    assert len(lines) <= 12 and not BUILDKIT_STEP.search(shown.replace("\x1b[", "")), shown
    assert "built (4 steps" in shown

    probe.write_text(probe.read_text() + f"# plain {uuid.uuid4()}\n")
    plain = checkout.devtools("build", "base")
    assert plain.returncode == 0, plain.stderr
    assert "\x1b[" not in plain.stderr and not BUILDKIT_STEP.search(plain.stderr + plain.stdout)
    said = plain.stderr.strip().splitlines()
    assert said and all(line.startswith("base: ") for line in said), said
    assert said[-1].startswith("base: built (4 steps") and any("building: [3/4] COPY" in line for line in said)

    probe.write_text(probe.read_text() + f"# verbose {uuid.uuid4()}\n")
    verbose = checkout.devtools("-v", "build", "base")
    assert verbose.returncode == 0 and BUILDKIT_STEP.search(verbose.stdout + verbose.stderr)  # the full log


def test_with_the_registry_stopped_up_builds_and_says_why(registry: RegistryServer, tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path, registry, free_port())
    registry.stop()  # the module's last test: nothing after it needs the registry
    try:
        up = checkout.devtools("up", "mlflow")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        notes = [line for line in up.stderr.splitlines() if line.startswith("prebuilt images:")]
        assert notes == [f"prebuilt images: {registry.address} unreachable (" + notes[0].split(" (", 1)[1]], up.stderr
        assert notes[0].endswith("; building locally")
        assert re.search(r"^mlflow: built \(", up.stderr, re.M), up.stderr
        ps = checkout.devtools("ps")
        assert "built here" in next(line for line in ps.stdout.splitlines() if line.startswith("mlflow "))
    finally:
        checkout.devtools("down", "-v")
