"""training.tracking: the fast probe of the tracking server before anything is trained (exit 4 in one
line when it is unreachable or unhealthy), skipped for a local store, which has no server to ask."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from threading import Thread

import pytest
from training.errors import TrackingError
from training.tracking import probe


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_probe_gives_up_on_a_silent_server(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(TrackingError, match=r"unreachable at .*: no answer within 1s"):
        probe(silent_server, timeout=1.0)
    assert time.monotonic() - started < 5


@pytest.fixture
def answering_server() -> Iterator[tuple[str, list[str]]]:
    """A server that answers every GET with 503; (its URI, the paths asked)."""
    asked: list[str] = []

    class Unhealthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Unhealthy)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_probe_names_an_unhealthy_server(answering_server: tuple[str, list[str]]) -> None:
    uri, asked = answering_server
    with pytest.raises(TrackingError, match=r"is not healthy: GET /health answered HTTP 503"):
        probe(uri)
    assert asked == ["/health"]


def test_probe_skips_local_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local store has no server: nothing is asked of the network for it, an HTTP server is asked."""
    opened: list[str] = []
    real_urlopen = urllib.request.urlopen

    def recording_urlopen(url: str, *args: object, **kwargs: object) -> object:
        opened.append(url)
        return real_urlopen(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", recording_urlopen)

    for local in (f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path), f"file://{tmp_path}"):
        assert probe(local) is None
    assert opened == []
    with pytest.raises(TrackingError):
        probe("http://127.0.0.1:9")  # nothing listens there: asked, and refused
    assert opened == ["http://127.0.0.1:9/health"]


def test_a_refused_account_is_one_line_naming_the_account_and_the_action(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.exceptions import MlflowException
    from training.tracking import mlflow_errors

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "training")
    with pytest.raises(TrackingError) as refused, mlflow_errors("http://mlflow:5000", "sign the version"):
        raise MlflowException("API request to endpoint /x failed with error code 403 != 200. Response body: ''")
    assert str(refused.value) == (
        "MLflow refused account 'training' the permission to sign the version (403: not granted; "
        "docker/mlflow/mlflow-access); MLflow at http://mlflow:5000"
    )
    with pytest.raises(TrackingError, match="wrong or missing password"), mlflow_errors("http://m", "log"):
        raise MlflowException("API request to endpoint /x failed with error code 401 != 200.")
