"""The dev stack's MLflow store across MLflow versions, on the shared stack: a store written by MLflow 3.10
comes up migrated with a copy beside it and nothing lost; a store from a newer MLflow is refused
untouched; `devtools backup` then `devtools restore` into an empty volume gives back the same runs and
aliases. The stack's own store is saved first and restored last, so the tests after these find it as
it was."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.stack_harness import REPO, Stack, get_json

FIXTURES = REPO / "tests/docker/fixtures"
OLD_REVISION = "1b5f0d9ad7c1"  # MLflow 3.10's


def in_volume(stack: Stack, script: str, timeout: float = 120) -> str:
    """A shell script as root in a one-off mlflow container: the store's volume at /mlflow, the fixtures at /fx."""
    done = stack.compose(
        "run", "--rm", "--no-deps", "-T", "--user", "0:0", "-v", f"{FIXTURES}:/fx:ro", "--entrypoint", "sh",
        "mlflow", "-c", script, timeout=timeout,
    )  # fmt: skip
    return done.stdout


def api(stack: Stack, endpoint: str, body: dict[str, Any] | None = None, **params: str) -> dict[str, Any]:
    url = stack.url("mlflow", f"/api/2.0/mlflow/{endpoint}")
    if body is None:
        return dict(get_json(f"{url}?{urllib.parse.urlencode(params)}"))
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def state(stack: Stack) -> dict[str, Any]:
    """Every run (id, status, metrics, params) and every registered model's aliases."""
    experiments = api(stack, "experiments/search", {"max_results": 1000}).get("experiments", [])
    ids = [experiment["experiment_id"] for experiment in experiments]
    runs = api(stack, "runs/search", {"experiment_ids": ids, "max_results": 1000}).get("runs", []) if ids else []
    models = api(stack, "registered-models/search", max_results="1000").get("registered_models", [])
    return {
        "runs": sorted(
            (
                run["info"]["run_id"],
                run["info"]["status"],
                tuple(sorted((m["key"], m["value"]) for m in run["data"].get("metrics", []))),
                tuple(sorted((p["key"], p["value"]) for p in run["data"].get("params", []))),
            )
            for run in runs
        ),
        "aliases": sorted(
            (model["name"], alias["alias"], alias["version"]) for model in models for alias in model.get("aliases", [])
        ),
    }


@pytest.fixture(scope="module")
def saved(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The stack's store as one archive, and what it held; restored over whatever the tests left."""
    archive = tmp_path_factory.mktemp("backups") / "stack.tar.gz"
    before = state(stack)
    done = stack.devtools("backup", str(archive))
    assert done.stdout.startswith("saved the store") and archive.is_file(), done.stdout
    yield archive, before
    stack.devtools("restore", str(archive), "--replace", timeout=300)
    assert state(stack) == before


def test_a_store_written_by_an_older_mlflow_comes_up_migrated_with_nothing_lost(
    stack: Stack, saved: tuple[Path, dict[str, Any]]
) -> None:
    stack.compose("stop", "mlflow")
    # as the server's user would have left it: owned by the volume's owner
    in_volume(stack, "rm -rf /mlflow/* && tar -xzf /fx/mlflow-3.10-store.tar.gz -C /mlflow "
              "&& chown -R $(stat -c %u:%g /mlflow) /mlflow")  # fmt: skip
    done = stack.devtools("up", "mlflow", timeout=300)
    said = [line for line in done.stdout.splitlines() if line.startswith("mlflow: ")]
    assert len(said) == 1 and f"migrated the store from schema revision {OLD_REVISION}" in said[0], done.stdout
    assert f"mlflow.db.{OLD_REVISION}." in said[0]
    kept = in_volume(stack, f"ls /mlflow/ | grep -c '^mlflow.db.{OLD_REVISION}\\..*\\.backup$'").strip()
    assert kept == "1"

    experiment = api(stack, "experiments/get-by-name", experiment_name="legacy")["experiment"]
    (run,) = api(stack, "runs/search", {"experiment_ids": [experiment["experiment_id"]]})["runs"]
    assert run["info"]["status"] == "FINISHED"
    assert [p for p in run["data"]["params"] if p["key"] == "lr"] == [{"key": "lr", "value": "0.1"}]
    history = api(stack, "metrics/get-history", run_id=run["info"]["run_id"], metric_key="accuracy")["metrics"]
    assert [(m["step"], m["value"]) for m in history] == [(0, 0.5), (1, 0.75)]
    assert (
        api(stack, "registered-models/alias", name="legacy-model", alias="champion")["model_version"]["version"] == "1"
    )
    query = urllib.parse.urlencode({"run_uuid": run["info"]["run_id"], "path": "notes/hello.txt"})
    with urllib.request.urlopen(stack.url("mlflow", f"/get-artifact?{query}"), timeout=10) as answer:
        assert answer.read().decode().startswith("hello from mlflow 3.10")


def test_a_store_from_a_newer_mlflow_is_refused_untouched(stack: Stack, saved: tuple[Path, dict[str, Any]]) -> None:
    stack.compose("stop", "mlflow")
    newer = "update alembic_version set version_num = 'ffffffffffff'"
    before = in_volume(
        stack,
        f'python -c "import sqlite3; c = sqlite3.connect(\'/mlflow/mlflow.db\'); c.execute(\\"{newer}\\"); c.commit()" '
        "&& sha256sum /mlflow/mlflow.db && ls /mlflow",
    )
    done = stack.devtools("up", "mlflow", check=False, timeout=300)
    assert done.returncode == 15, (done.returncode, done.stderr[-2000:])
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("devtools: mlflow: the store is at schema revision ffffffffffff") and "not touched" in line
    assert in_volume(stack, "sha256sum /mlflow/mlflow.db && ls /mlflow") == before


def test_backup_then_restore_into_an_empty_volume_gives_the_same_runs_and_aliases(
    stack: Stack, saved: tuple[Path, dict[str, Any]]
) -> None:
    archive, before = saved
    stack.compose("stop", "mlflow")
    in_volume(stack, "rm -rf /mlflow/* /mlflow/.[!.]*; ls -A /mlflow | wc -l")
    done = stack.devtools("restore", str(archive), timeout=300)
    assert done.stdout.startswith("restored the store saved by MLflow"), done.stdout
    stack.devtools("up", "mlflow", timeout=300)
    assert state(stack) == before and before["aliases"]
    again = stack.devtools("restore", str(archive), check=False, timeout=300)
    assert again.returncode == 15 and "--replace" in again.stderr  # runs there: nothing changed
    assert state(stack) == before
