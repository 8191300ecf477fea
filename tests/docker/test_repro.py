"""Locked images and reproducible runs against the real stack: each dev image holds exactly its lock,
training and serving share their common packages, a run records what made it, and `devtools repro
--check` trains it again to the same metrics, refusing what it cannot rebuild with nothing left behind."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from typing import Any

import pytest
from contract import provenance as keys

from testing.locks import normalized, pins
from testing.stack_harness import REPO, Stack, get_json

PLATFORM = "linux-amd64"  # the machines this tier runs on
# What each dev image installed: its locks, in install order (docker/<service>/Dockerfile).
DEV_LOCKS = {"mlflow": ["mlflow"], "serving": ["serving"], "training": ["training", "training-dev"]}


def lock_pins(*names: str) -> dict[str, str]:
    return pins(*(REPO / f"locks/{name}.{PLATFORM}.txt" for name in names))


def image_pins(stack: Stack, service: str) -> dict[str, str]:
    """`pip freeze --all` in the running service, pip itself left out (the base venv's own)."""
    done = stack.compose("exec", "-T", service, "python", "-m", "pip", "freeze", "--all", timeout=120)
    found = {}
    for line in done.stdout.splitlines():
        name, _, version = line.partition("==")
        found[normalized(name)] = version
    found.pop("pip", None)
    return found


@pytest.mark.parametrize("service", sorted(DEV_LOCKS))
def test_each_dev_image_holds_exactly_its_lock(stack: Stack, service: str) -> None:
    assert image_pins(stack, service) == lock_pins(*DEV_LOCKS[service])
    kept = stack.compose("exec", "-T", service, "cat", keys.IMAGE_LOCK, timeout=60).stdout
    expected = "".join((REPO / f"locks/{name}.{PLATFORM}.txt").read_text() for name in DEV_LOCKS[service])
    assert keys.lock_digest(kept) == keys.lock_digest(expected)


def test_training_and_serving_hold_the_same_shared_packages(stack: Stack) -> None:
    training, serving = image_pins(stack, "training"), image_pins(stack, "serving")
    shared = set(training) & set(serving)
    assert {"torch", "numpy", "cloudpickle", "mlflow"} <= shared
    assert {name: training[name] for name in shared} == {name: serving[name] for name in shared}


def _mlflow(stack: Stack, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        stack.url("mlflow", f"/api/2.0/mlflow/{endpoint}"),
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read() or b"{}"))


def _run(stack: Stack, run_id: str) -> dict[str, Any]:
    run = get_json(stack.url("mlflow", f"/api/2.0/mlflow/runs/get?run_id={run_id}"))["run"]
    run["tags"] = {tag["key"]: tag["value"] for tag in run["data"].get("tags", [])}
    run["metrics"] = {metric["key"]: metric["value"] for metric in run["data"].get("metrics", [])}
    return dict(run)


def _recorded_run(stack: Stack, experiment_id: str, tags: dict[str, str]) -> str:
    """A finished run with these tags, as if a job had recorded them."""
    run_id = str(_mlflow(stack, "runs/create", {"experiment_id": experiment_id})["run"]["info"]["run_id"])
    _mlflow(stack, "runs/log-batch", {"run_id": run_id, "tags": [{"key": k, "value": v} for k, v in tags.items()]})
    _mlflow(stack, "runs/update", {"run_id": run_id, "status": "FINISHED"})
    return run_id


def _leftovers(stack: Stack, run_id: str) -> list[str]:
    worktrees = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "list", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout
    left = [line for line in worktrees.splitlines() if line.startswith("worktree ") and "/.devtools/repro/" in line]
    left += [str(path) for path in (REPO / ".devtools/repro").glob("*")] if (REPO / ".devtools/repro").is_dir() else []
    experiment = _run(stack, run_id)["info"]["experiment_id"]
    body = {"experiment_ids": [experiment], "filter": f"tags.`{keys.REPRO_OF}` = '{run_id}'"}
    left += [
        f"run {r['info']['run_id']} {r['info']['status']}" for r in _mlflow(stack, "runs/search", body).get("runs", [])
    ]
    return left


@pytest.fixture(scope="module")
def original(stack: Stack) -> dict[str, Any]:
    done = stack.devtools(
        "train", "--", "--epochs", "1", "--promote", "never", "--run-name", "to-reproduce", timeout=600
    )
    run_id = re.search(r"run_id=(\w+)", done.stdout)
    assert run_id, done.stdout
    return _run(stack, run_id[1])


def test_a_run_records_its_image_lock_source_and_data(stack: Stack, original: dict[str, Any]) -> None:
    tags = original["tags"]
    container = stack.compose("ps", "-q", "training").stdout.strip()
    image_id = subprocess.run(
        ["docker", "inspect", "--format", "{{.Image}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert tags[keys.IMAGE_ID] == image_id
    expected = "".join((REPO / f"locks/{name}.{PLATFORM}.txt").read_text() for name in DEV_LOCKS["training"])
    assert tags[keys.LOCK_SHA256] == keys.lock_digest(expected)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert tags[keys.GIT_COMMIT] == head and tags[keys.GIT_DIRTY] in ("true", "false")
    assert len(tags[keys.DATA_DIGEST]) == 64 and tags[keys.WORLD_SIZE] == "1"
    assert original["inputs"]["dataset_inputs"][0]["dataset"]["digest"] == tags[keys.DATA_DIGEST][:32]


def test_repro_check_trains_the_same_metrics_as_a_new_tagged_run(stack: Stack, original: dict[str, Any]) -> None:
    run_id = original["info"]["run_id"]
    done = stack.devtools("repro", run_id, "--check", timeout=600)
    assert "every metric matches within 1e-06" in done.stdout, done.stdout
    again = re.search(r"repro: run (\w+) reproduces", done.stdout)
    assert again, done.stdout
    reproduced = _run(stack, again[1])
    assert reproduced["info"]["status"] == "FINISHED"
    assert reproduced["tags"][keys.REPRO_OF] == run_id
    for key in (keys.IMAGE_ID, keys.LOCK_SHA256, keys.GIT_COMMIT, keys.DATA_DIGEST, keys.COMMAND):
        assert reproduced["tags"][key] == original["tags"][key], key
    assert set(reproduced["metrics"]) == set(original["metrics"]) and original["metrics"]
    for name, value in original["metrics"].items():
        assert abs(reproduced["metrics"][name] - value) <= 1e-6, name
    # never moves an alias: the reproduction's version is nobody's
    assert reproduced["tags"]["alias_moved"] == "false"
    assert _leftovers(stack, run_id) == [f"run {again[1]} FINISHED"]


def test_repro_refuses_what_it_cannot_rebuild_in_one_line(stack: Stack, original: dict[str, Any]) -> None:
    experiment = original["info"]["experiment_id"]
    clean = {**original["tags"], keys.GIT_DIRTY: "false", keys.GIT_DIFF: keys.DIFF_NONE}
    cases = {
        "no such run": ("0" * 32, 13, "has no run"),
        "no provenance": (_recorded_run(stack, experiment, {"mlflow.runName": "bare"}), 13, "does not record"),
        "an image no one has": (
            _recorded_run(stack, experiment, {**clean, keys.IMAGE_ID: "sha256:" + "0" * 64}),
            13,
            "is not on this engine",
        ),
        "a commit not here": (
            _recorded_run(stack, experiment, {**clean, keys.GIT_COMMIT: "f" * 40}),
            13,
            "is not in this checkout",
        ),
        "other data": (
            _recorded_run(stack, experiment, {**clean, keys.DATA_DIGEST: "0" * 64}),
            3,  # the training job's own code for data
            "the reproduction of",
        ),
    }
    for case, (run_id, code, said) in cases.items():
        done = stack.devtools("repro", run_id, check=False, timeout=600)
        last = done.stderr.strip().splitlines()[-1:]
        assert done.returncode == code and said in " ".join(last), (case, done.returncode, done.stderr[-1500:])
        assert "Traceback" not in done.stderr, case
        if run_id != "0" * 32:
            assert _leftovers(stack, run_id) == [], case
    assert "not the reproduced run's 000000000000" in done.stderr  # the data case: training said why
