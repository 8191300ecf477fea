"""A real moto server (moto's HTTP server mode) on 127.0.0.1: the real boto3 client talks to it over
HTTP as it talks to AWS, so request shapes, pagination, waiters and error responses are real."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

_START_TIMEOUT_S = 60


@dataclass(frozen=True)
class MotoServer:
    url: str

    def reset(self) -> None:
        """Forget every resource (moto's own reset API): each test starts from an empty account."""
        self._post("/moto-api/reset", b"")

    def enforce_iam(self, enforced: bool) -> None:
        """Check every request's signature and IAM policy (moto's reset-auth API); off is moto's default."""
        self._post("/moto-api/reset-auth", b"0" if enforced else b"inf")

    def _post(self, path: str, body: bytes) -> None:
        # Not form-encoded (urllib's default): moto reads the raw body, which Werkzeug leaves empty for forms.
        request = urllib.request.Request(
            self.url + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def free_port() -> int:
    """A port nothing listens on (right now): for the server, and for an unreachable endpoint."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(env: Mapping[str, str]) -> Iterator[MotoServer]:
    """`python -m moto.server` on 127.0.0.1 and a free port, with `env` added to its environment."""
    port = free_port()
    # Werkzeug logs every request: to a file, as a full pipe would block the server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
        try:
            _wait_until_listening(port, process, log)
            yield MotoServer(f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"moto server exited with {process.returncode}: {log.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server not listening on 127.0.0.1:{port} after {_START_TIMEOUT_S} s")
