"""MLflow helpers: a fast reachability probe, error mapping and alias lookup.

mlflow is imported inside the functions that use it: train and seed probe the server before mlflow
is imported (seconds), so an unreachable one fails fast, and `probe` needs no mlflow installed.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from contract import credentials

from training.errors import TrackingError, one_line

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

PROBE_TIMEOUT_S = 5.0


def configure_client() -> None:
    """Bound MLflow's HTTP retries (default: 7 retries with backoff, minutes) unless the user set them."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    try:
        credentials.apply()  # the account's password from its secret (contract/credentials.py)
    except credentials.CredentialsError as exc:
        raise TrackingError(str(exc)) from None


def probe(uri: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast with TrackingError when an HTTP tracking server does not answer /health."""
    if urlparse(uri).scheme not in ("http", "https"):
        return  # a local store (file:, sqlite:) needs no server
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        raise TrackingError(f"MLflow at {uri} is not healthy: GET /health answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TrackingError(
            f"MLflow tracking server unreachable at {uri}: {_reason(exc, uri, timeout)} "
            "(is it running? check --tracking-uri / MLFLOW_TRACKING_URI)"
        ) from exc


def _reason(exc: BaseException, uri: str, timeout: float) -> str:
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve host {urlparse(uri).hostname!r}"
    if isinstance(cause, TimeoutError):
        return f"no answer within {timeout:g}s"
    return one_line(cause)


@contextmanager
def mlflow_errors(uri: str, action: str) -> Iterator[None]:
    """Turn MLflow client and HTTP failures into a one-line TrackingError."""
    import requests
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, requests.RequestException) as exc:
        message = exc.message if isinstance(exc, MlflowException) else str(exc)
        status = _http_status(exc, message)
        if status in (401, 403):
            refused = credentials.refusal(status, os.environ.get(credentials.USERNAME), action)
            raise TrackingError(f"{refused}; MLflow at {uri}") from exc
        raise TrackingError(f"MLflow at {uri} failed to {action}: {one_line(message)[:300]}") from exc


def _http_status(exc: Exception, message: str) -> int | None:
    """The HTTP status of a refused call: the response's, or the one MLflow's REST client names."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return int(response.status_code)
    match = re.search(r"\b(401|403)\b", message)
    return int(match.group(1)) if match else None


def alias_holder(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version the alias points at, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = model.aliases.get(alias)
    return None if version is None else client.get_model_version(name, str(version))


def run_metric(client: MlflowClient, run_id: str | None, key: str) -> float | None:
    """The latest value of a run's metric, or None when the run or the metric is gone."""
    from mlflow.exceptions import MlflowException

    if not run_id:
        return None
    try:
        return client.get_run(run_id).data.metrics.get(key)
    except MlflowException:
        return None
