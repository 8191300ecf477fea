"""The prod MLflow image on a real PostgreSQL: schema migrated on first start, runs recorded there."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from testing.stack_harness import PROD_TAG, Postgres, free_port, get_json, wait_for


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, object] = json.loads(response.read())
        return answer


@pytest.fixture(scope="module")
def mlflow_on_postgres(prod_images: str, postgres: Postgres) -> Iterator[str]:
    """The session's prod mlflow image (stack_harness.prod_images), on the session's PostgreSQL."""
    port = free_port()
    # Host networking: the server reaches PostgreSQL on the host's loopback, and answers there.
    container = subprocess.run(
        [
            "docker", "run", "-d", "--network", "host",
            "-e", f"MLFLOW_BACKEND_STORE_URI={postgres.uri}",
            "-e", "MLFLOW_HOST=127.0.0.1",
            "-e", f"MLFLOW_PORT={port}",
            "-e", "MLFLOW_WORKERS=1",
            f"mlstack/mlflow:{PROD_TAG}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(f"{base}/health", timeout=2).status == 200, timeout=120)
        yield base
    finally:
        subprocess.run(["docker", "logs", "--tail", "30", container], check=False)
        subprocess.run(["docker", "rm", "-f", container], check=False, capture_output=True)


def test_schema_is_migrated_on_first_start(mlflow_on_postgres: str, postgres: Postgres) -> None:
    assert postgres.query("SELECT count(*) FROM alembic_version") == "1"
    tables = postgres.query("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'").split(",")
    assert {"experiments", "runs", "metrics", "registered_models", "model_versions"} <= set(tables)


def test_a_run_is_recorded_in_postgres(mlflow_on_postgres: str, postgres: Postgres) -> None:
    api = f"{mlflow_on_postgres}/api/2.0/mlflow"
    experiment_id = _post(f"{api}/experiments/create", {"name": "postgres-check"})["experiment_id"]
    run = _post(f"{api}/runs/create", {"experiment_id": experiment_id, "start_time": 1})["run"]
    run_id = run["info"]["run_id"]  # type: ignore[index]
    _post(f"{api}/runs/log-metric", {"run_id": run_id, "key": "accuracy", "value": 0.93, "timestamp": 2, "step": 0})
    _post(f"{api}/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 3})
    assert postgres.query(f"SELECT status FROM runs WHERE run_uuid = '{run_id}'") == "FINISHED"
    assert postgres.query(f"SELECT value FROM metrics WHERE run_uuid = '{run_id}' AND key = 'accuracy'") == "0.93"
    assert get_json(f"{api}/runs/get?run_id={run_id}")["run"]["data"]["metrics"][0]["value"] == 0.93
