"""Seeding and training against the real stack: what a newcomer's first `devtools up` lands on."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.parse

from testing.stack_harness import Stack, get_json

EXPERIMENT = "demo"
MODEL = "digits-classifier"
ALIAS = "champion"


def _api(stack: Stack, path: str, **params: object) -> dict:
    query = urllib.parse.urlencode(params)
    return get_json(stack.url("mlflow", f"/api/2.0/mlflow/{path}?{query}"))


def _runs(stack: Stack) -> list[dict]:  # type: ignore[type-arg]
    """runs/search is POST-only in MLflow's REST API."""
    import json
    import urllib.request

    experiment = _api(stack, "experiments/get-by-name", experiment_name=EXPERIMENT)["experiment"]
    body = json.dumps({"experiment_ids": [experiment["experiment_id"]], "max_results": 1000}).encode()
    request = urllib.request.Request(
        stack.url("mlflow", "/api/2.0/mlflow/runs/search"), body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return list(json.loads(response.read()).get("runs", []))


def _counts(stack: Stack) -> tuple[int, int]:
    runs = _runs(stack)
    versions = _api(stack, "model-versions/search", filter=f"name='{MODEL}'", max_results=1000).get(
        "model_versions", []
    )
    return len(runs), len(versions)


def test_seeded_experiment_has_a_finished_run_with_metrics_params_artifacts(stack: Stack) -> None:
    runs = _runs(stack)
    finished = [run for run in runs if run["info"]["status"] == "FINISHED"]
    assert finished
    run = finished[0]
    assert {m["key"] for m in run["data"]["metrics"]} >= {"val_accuracy"}
    assert run["data"].get("params")
    artifacts = _api(stack, "artifacts/list", run_id=run["info"]["run_id"]).get("files", [])
    assert artifacts, "the seeded run should carry artifacts"


def test_alias_points_at_a_version_that_loads_and_predicts(stack: Stack) -> None:
    version = _api(stack, "registered-models/alias", name=MODEL, alias=ALIAS)["model_version"]
    assert version["status"] == "READY"
    # Load on the host, through the stack's artifact proxy, exactly as a notebook would.
    code = (
        "import mlflow, numpy as np\n"
        f"mlflow.set_tracking_uri('{stack.url('mlflow', '')}')\n"
        f"model = mlflow.pyfunc.load_model('models:/{MODEL}@{ALIAS}')\n"
        "out = model.predict(np.zeros((3, 64), dtype=np.float32))\n"
        "print(np.asarray(out).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "(3, 10)"


def test_second_up_seeds_nothing_more(stack: Stack) -> None:
    before = _counts(stack)
    stack.devtools("up")
    assert _counts(stack) == before


def test_seed_is_idempotent_and_force_reseeds(stack: Stack) -> None:
    runs, versions = _counts(stack)
    again = stack.devtools("seed")
    assert "already seeded" in (again.stdout + again.stderr)
    assert _counts(stack) == (runs, versions)
    stack.devtools("seed", "--force", timeout=300)
    assert _counts(stack) == (runs + 1, versions + 1)


def test_train_registers_a_new_version(stack: Stack) -> None:
    _, versions = _counts(stack)
    done = stack.devtools("train", "--", "--epochs", "1", "--promote", "never", timeout=600)
    assert done.returncode == 0
    assert _counts(stack)[1] == versions + 1


def test_ddp_training_in_the_container_registers_one_version(stack: Stack) -> None:
    # What `devtools train --gpus 2` runs, on CPU: two workers over Gloo inside the training container.
    _, versions = _counts(stack)
    done = stack.devtools(
        "train", "--", "--nproc-per-node", "2", "--device", "cpu", "--epochs", "1", "--promote", "never", timeout=600
    )
    summary = done.stdout.strip().splitlines()
    assert len(summary) == 1 and " device=cpu processes=2 " in summary[0], done.stdout
    assert _counts(stack)[1] == versions + 1


def test_train_gpus_without_gpu_fails_naming_the_reason(stack: Stack) -> None:
    # The stack runs (on CPU): the running training container has no GPU reservation.
    done = stack.devtools("train", "--gpus", "2", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "devtools: --gpus: the running training container has no GPUs (the stack was started without --gpu); "
        "restart it with `devtools up --gpu`"
    ]


def test_train_on_cuda_without_gpu_fails_fast_with_one_line(stack: Stack) -> None:
    done = stack.devtools("train", "--", "--device", "cuda", check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0].lower()


def test_train_with_mlflow_unreachable_fails_fast(stack: Stack) -> None:
    start = time.monotonic()
    done = stack.devtools(
        "shell", "training", "--", "env", "MLFLOW_TRACKING_URI=http://nowhere.invalid:5000",
        "python", "-m", "training", "train", check=False,
    )  # fmt: skip
    assert done.returncode == 4
    assert time.monotonic() - start < 30
    assert "Traceback" not in done.stderr


def test_corrupt_data_fails_with_the_file_named(stack: Stack) -> None:
    stack.devtools("pipeline")
    stack.devtools("shell", "training", "--", "sh", "-c", "for f in /data/*.npz; do echo garbage > $f; done")
    done = stack.devtools("train", "--", "--epochs", "1", check=False)
    assert done.returncode == 3
    assert ".npz" in done.stderr
    stack.devtools("pipeline", "--force")
