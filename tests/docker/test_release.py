"""`devtools release` against a real OCI Distribution registry (Debian's docker-registry, login required
as ECR requires): the manifest's digests are the registry's own, an interrupted push resumes without
sending its layers again, and bad credentials fail cleanly with no manifest.

The registry is this module's own instance (fresh storage, a free port), so a push really uploads:
the session's main registry (scripts/provision, 127.0.0.1:5001) may hold these layers already."""

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
import registry_server
from registry_server import USER, RegistryServer
from stack_harness import REPO

SERVICE, REPOSITORY = "mlflow", "mlstack/mlflow"


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
    # The CycloneDX SBOM: the image's Debian packages and its Python environment, by purl.
    sbom = json.loads((written.parent / image["sbom"]).read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["metadata"]["component"]["type"] == "container"
    purls = [component["purl"] for component in sbom["components"]]
    assert any(purl.startswith("pkg:deb/debian/libc6@") for purl in purls)
    assert any(purl.startswith("pkg:pypi/mlflow@") for purl in purls)
    # The scan gate's record: what it checked, and that it could not check Python packages here.
    assert image["scan"]["os"].startswith("Debian") and image["scan"]["python"]

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
