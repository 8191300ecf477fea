"""A throwaway OCI Distribution registry (Debian's docker-registry, htpasswd login as ECR requires) on a
free loopback port with fresh storage, and a DOCKER_CONFIG logged in to it. Shared by
tests/docker/test_release.py and bench/bench_release.py: a push to it really uploads, where the
session's main registry (scripts/provision --tests, 127.0.0.1:5001) may already hold every layer."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "release-test", "release-test-password"
# Every manifest type: with only the image type, the registry answers an index's linux/amd64 member instead.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@dataclass(frozen=True)
class RegistryServer:
    address: str
    docker_config: Path  # a DOCKER_CONFIG logged in to it
    storage: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stops the server before the end of its block (a test of what happens without it)."""
        self.process.terminate()
        self.process.wait(timeout=10)

    def digest(self, repository: str, tag: str) -> str:
        """What the registry answers for the tag (Docker-Content-Digest), over the Distribution API."""
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{tag}", method="HEAD", headers={"Accept": MANIFEST_ACCEPT}
        )
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as answer:
            return str(answer.headers["Docker-Content-Digest"])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running() -> Iterator[RegistryServer]:
    server, htpasswd = shutil.which("docker-registry"), shutil.which("htpasswd")
    if not server or not htpasswd:
        raise RuntimeError("docker-registry and htpasswd are not installed: run scripts/provision --tests")
    root = Path(tempfile.mkdtemp(prefix="mlstack-registry-"))
    hashed = subprocess.run([htpasswd, "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True).stdout
    (root / "htpasswd").write_text(hashed)
    address = f"127.0.0.1:{_free_port()}"
    (root / "config.yml").write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}\nauth:\n  htpasswd:\n    realm: test\n    path: {root / 'htpasswd'}\n"
    )
    process = subprocess.Popen(
        [server, "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    config = root / "docker-config"
    config.mkdir()
    try:
        deadline = time.monotonic() + 30
        while _status(f"http://{address}/v2/") != 401:  # up, and login required
            if time.monotonic() > deadline:
                raise RuntimeError(f"the registry did not answer on {address}")
            time.sleep(0.2)
        login = ["docker", "--config", str(config), "login", "-u", USER, "--password-stdin", address]
        subprocess.run(login, input=PASSWORD, capture_output=True, text=True, check=True)
        yield RegistryServer(address, config, root / "data", process)
    finally:
        process.terminate()  # a no-op when stopped already
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
