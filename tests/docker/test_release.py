"""`devtools release` against a real OCI Distribution registry (Debian's docker-registry, login required
as ECR requires): the manifest's digests are the registry's own, an interrupted push resumes without
sending its layers again, bad credentials fail cleanly with no manifest, and a release for two
platforms is one image index whose arm64 image, pulled back, runs as aarch64 under QEMU.

The registry is this module's own instance (fresh storage, a free port), so a push really uploads:
the session's main registry (scripts/provision --tests, 127.0.0.1:5001) may hold these layers already."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing import registry_server
from testing.registry_server import USER, RegistryServer
from testing.stack_harness import REPO

SERVICE, REPOSITORY = "mlflow", "mlstack/mlflow"
# scripts/provision's arm64 stand-in for python:3.11-slim where no registry answers (Docker's
# per-architecture name); where one does, python:3.11-slim's own index has arm64 and none is needed.
ARM64_BASE = "arm64v8/python:3.11-slim"


@pytest.fixture(scope="module")
def registry(prod_images: str) -> Iterator[RegistryServer]:
    try:
        with registry_server.running() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


def release_argv(registry: RegistryServer) -> list[str]:
    # --allow-dirty: the suite may run on a tree with edits; the tag then says so, and the test reads it.
    # --allow-vulnerable: this is about the registry; the scan gate has its own test (test_scan.py), and a
    # Debian security update published since the base image was built must not fail this one.
    argv = [sys.executable, "-m", "devtools", "release", SERVICE, "--registry", registry.address]
    return [*argv, "--allow-dirty", "--allow-vulnerable"]


def env_for(config: Path) -> dict[str, str]:
    return {**os.environ, "DOCKER_CONFIG": str(config), "COMPOSE_PROJECT_NAME": "mlstack-release"}


def docker(*args: str, config: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"DOCKER_CONFIG": str(config)} if config else {})}
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def arm64_base_env() -> dict[str, str]:
    """`scripts/provision arm64`, which only this test needs (so a newcomer's provisioning never waits for
    it): QEMU, and where python:3.11-slim cannot be pulled the arm64 stand-in, built once under emulation
    (minutes) and then kept; on a machine that has both it only checks. The environment that builds from it."""
    done = subprocess.run(
        [str(REPO / "scripts" / "provision"), "arm64"], capture_output=True, text=True, timeout=1800, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", ARM64_BASE)
    if labels.returncode == 0 and "devtools.stand-in" in labels.stdout:
        return {"PYTHON_IMAGE_LINUX_ARM64": ARM64_BASE}
    return {}


def manifest_path() -> Path:
    """Where this checkout's release manifest goes (build/release/<revision>[-dirty].json)."""
    from devtools.revision import Revision

    tag = Revision.of(REPO).tag
    assert tag is not None
    return REPO / "build" / "release" / f"{tag}.json"


def test_an_interrupted_release_resumes_and_records_the_registrys_digests(registry: RegistryServer) -> None:
    written = manifest_path()
    written.unlink(missing_ok=True)
    # Interrupted while it uploads: Ctrl-C (SIGINT to the process group, as a terminal sends it).
    first = subprocess.Popen(
        release_argv(registry),
        cwd=REPO,
        env=env_for(registry.docker_config),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # As from a terminal: Ctrl-C is not ignored, even when this test runs in a background job (which
        # starts with SIGINT ignored, and Python then leaves it so in its children).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert first.stdout is not None
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.rstrip().endswith(": Pushed"):  # at least one layer is in the registry
            break
    os.killpg(first.pid, signal.SIGINT)
    rest, _ = first.communicate(timeout=120)
    assert first.returncode == 130, "".join(seen) + rest
    assert not written.exists(), "an interrupted release left a manifest behind"

    done = subprocess.run(
        release_argv(registry),
        cwd=REPO,
        env=env_for(registry.docker_config),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Layer already exists" in done.stdout  # the layers of the first try were not sent again
    release = json.loads(written.read_text())
    [image] = release["images"]
    assert image["image"] == f"{registry.address}/{REPOSITORY}:{release['tag']}"
    assert image["digest"] == registry.digest(REPOSITORY, release["tag"])
    assert image["reference"] == f"{registry.address}/{REPOSITORY}@{image['digest']}"
    assert image["platforms"] == ["linux/amd64"]
    [variant] = image["variants"]  # one platform: its image is the release's
    assert variant["platform"] == "linux/amd64" and variant["digest"] == image["digest"]
    # The CycloneDX SBOM: the image's Debian packages and its Python environment, by purl.
    sbom = json.loads((written.parent / variant["sbom"]).read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["metadata"]["component"]["type"] == "container"
    purls = [component["purl"] for component in sbom["components"]]
    assert any(purl.startswith("pkg:deb/debian/libc6@") for purl in purls)
    assert any(purl.startswith("pkg:pypi/mlflow@") for purl in purls)
    # The scan gate's record: what it checked, and that it could not check Python packages here.
    assert variant["scan"]["os"].startswith("Debian") and variant["scan"]["python"]

    again = subprocess.run(
        release_argv(registry),
        cwd=REPO,
        env=env_for(registry.docker_config),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0
    assert ": Pushed" not in again.stdout  # nothing changed: no layer uploaded
    assert json.loads(written.read_text())["images"][0]["digest"] == image["digest"]


def test_refused_credentials_fail_in_one_line_and_release_nothing(registry: RegistryServer, tmp_path: Path) -> None:
    wrong = base64.b64encode(f"{USER}:wrong".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.address: {"auth": wrong}}}))
    written = manifest_path()
    before = written.stat().st_mtime if written.exists() else None
    done = subprocess.run(
        release_argv(registry), cwd=REPO, env=env_for(tmp_path), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 9, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"devtools: push of {registry.address}/{REPOSITORY}:") and "refused the credentials" in last
    assert f"docker login {registry.address}" in last and "Traceback" not in done.stderr
    assert (written.stat().st_mtime if written.exists() else None) == before


def test_a_two_platform_release_is_one_index_whose_arm64_image_runs_under_qemu(
    registry: RegistryServer, arm64_base_env: dict[str, str]
) -> None:
    # The base image: the smallest of the stack's, and every other image's first layers.
    argv = [sys.executable, "-m", "devtools", "release", "base", "--registry", registry.address]
    argv += ["--platform", "linux/amd64,linux/arm64", "--allow-dirty", "--allow-vulnerable"]
    env = {**env_for(registry.docker_config), **arm64_base_env}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    release = json.loads(manifest_path().read_text())
    [image] = [entry for entry in release["images"] if entry["service"] == "base"]
    tag = release["tag"]
    # One tag, one image index: its digest is the registry's, and so is each platform's image's.
    assert image["image"] == f"{registry.address}/mlstack/base:{tag}"
    assert image["digest"] == registry.digest("mlstack/base", tag)
    assert image["platforms"] == ["linux/amd64", "linux/arm64"]
    variants = {variant["platform"]: variant for variant in image["variants"]}
    for platform, variant in variants.items():
        assert variant["digest"] == registry.digest("mlstack/base", f"{tag}-{platform.split('/')[1]}")
        assert variant["digest"] != image["digest"]
        sbom = json.loads((manifest_path().parent / variant["sbom"]).read_text())
        libc = next(c["purl"] for c in sbom["components"] if c["purl"].startswith("pkg:deb/debian/libc6@"))
        assert f"arch={platform.split('/')[1]}" in libc  # each SBOM is its own platform's packages
    # Pulled back by the index's digest for arm64 (the local copy removed first), it runs as aarch64.
    docker("rmi", f"{registry.address}/mlstack/base:{tag}-arm64", f"mlstack/base:{tag}-arm64")
    pulled = docker("pull", "--platform", "linux/arm64", image["reference"], config=registry.docker_config)
    assert pulled.returncode == 0, pulled.stderr
    machine = docker("run", "--rm", "--platform", "linux/arm64", "--entrypoint", "uname", image["reference"], "-m")
    assert machine.returncode == 0 and machine.stdout.strip() == "aarch64", machine.stderr
    native = f"{registry.address}/mlstack/base@{variants['linux/amd64']['digest']}"
    assert docker("pull", native, config=registry.docker_config).returncode == 0
    assert docker("run", "--rm", "--entrypoint", "uname", native, "-m").stdout.strip() == "x86_64"
