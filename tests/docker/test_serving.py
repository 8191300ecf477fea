"""Serving against the seeded stack: parity with MLflow's pyfunc, scoring formats, hot swap under load,
a broken version, MLflow outages, and graceful shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from testing.lean_image import build_lean_image
from testing.serving_load import ROWS, LoadClient, post
from testing.stack_harness import PROJECT, REPO, Stack, alias_version, get_json, wait_for

MODEL = "digits-classifier"
ALIAS = "champion"
ONNX_RUNTIME = {"name": "onnxruntime", "providers": ["CPUExecutionProvider"], "reason": None}
LEAN_IMAGE, LEAN_CONTAINER = "mlstack/serving-lean:test", f"{PROJECT}-serving-lean"


def compose(*args: str) -> None:
    files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "docker-compose.dev.yml")]
    subprocess.run(["docker", "compose", "-p", PROJECT, *files, *args], check=True, capture_output=True)


def host_predictions(stack: Stack, version: str) -> list[list[float]]:
    """What MLflow's own pyfunc predicts for ROWS with this version, loaded on the host."""
    code = (
        "import json, sys, mlflow, numpy as np\n"
        f"mlflow.set_tracking_uri('{stack.url('mlflow', '')}')\n"
        f"model = mlflow.pyfunc.load_model('models:/{MODEL}/{version}')\n"
        "print(json.dumps(np.asarray(model.predict(np.asarray(json.loads(sys.argv[1]), dtype=np.float32))).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(ROWS)], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def served_version(stack: Stack) -> str:
    return get_json(stack.url("serving", "/model"))["version"]


@pytest.fixture(scope="module")
def serving(stack: Stack) -> Stack:
    wait_for(lambda: get_json(stack.url("serving", "/ready"))["status"] == "ready", timeout=120)
    wait_for(lambda: served_version(stack) == alias_version(stack), timeout=60)
    return stack


def test_ready_and_model_describe_the_alias_holder(serving: Stack) -> None:
    info = get_json(serving.url("serving", "/model"))
    assert info["name"] == MODEL and info["alias"] == ALIAS
    assert info["version"] == alias_version(serving) and info["run_id"]
    assert get_json(serving.url("serving", "/ready"))["status"] == "ready"


def test_predict_equals_mlflow_pyfunc(serving: Stack) -> None:
    """The seeded version passed its equivalence gate: ONNX Runtime answers, with what the pyfunc answers."""
    import numpy as np

    status, body, headers = post(serving.url("serving", "/predict"), {"inputs": ROWS})
    assert status == 200
    assert get_json(serving.url("serving", "/model"))["runtime"] == ONNX_RUNTIME
    expected = host_predictions(serving, body["model_version"])
    assert np.allclose(body["predictions"], expected, rtol=1e-3, atol=1e-5)  # the gate's own tolerance
    assert headers["X-Model-Version"] == body["model_version"]


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": ROWS},
        {"instances": ROWS},
        {"dataframe_split": {"columns": list(range(64)), "data": ROWS}},
        {"dataframe_records": [dict(enumerate(row)) for row in ROWS]},
    ],
    ids=["inputs", "instances", "dataframe_split", "dataframe_records"],
)
def test_invocations_match_predict_for_each_scoring_format(serving: Stack, body: dict) -> None:  # type: ignore[type-arg]
    import numpy as np

    status, scored, _ = post(serving.url("serving", "/invocations"), body)
    assert status == 200, scored
    _, predicted, _ = post(serving.url("serving", "/predict"), {"inputs": ROWS})
    assert np.allclose(scored["predictions"], predicted["predictions"], atol=1e-6)


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/predict", b"{not json", "application/json"),
        ("/predict", {"inputs": [[1.0, 2.0]]}, "application/json"),
        ("/predict", {"wrong": ROWS}, "application/json"),
        ("/invocations", b"{not json", "application/json"),
        ("/invocations", {"inputs": [[1.0, 2.0]]}, "application/json"),
        ("/invocations", {"bogus": ROWS}, "application/json"),
        ("/invocations", b"x", "application/xml"),
    ],
)
def test_malformed_bodies_are_4xx_with_a_message_never_5xx(
    serving: Stack, path: str, body: Any, content_type: str
) -> None:
    status, answer, _ = post(serving.url("serving", path), body, content_type)
    assert 400 <= status < 500, (status, answer)
    assert answer


def test_hot_swap_under_load_has_no_failed_request(serving: Stack) -> None:
    poll_s, load_budget_s = 2.0, 30.0
    versions_seen: list[str] = [served_version(serving)]
    swap_delays = []
    with LoadClient(serving.url("serving", "/predict")) as load:
        for _ in range(2):
            before = alias_version(serving)
            assert served_version(serving) == before  # the fixture's (or the previous round's) swap is done
            serving.devtools("train", "--", "--epochs", "1", "--promote", "always", timeout=600)
            moved_at, new = time.monotonic(), alias_version(serving)
            # --promote always moves the alias to the version training just registered: a different one.
            assert new != before, f"the alias stayed on version {before} after `train --promote always`"
            versions_seen.append(new)
            wait_for(lambda new=new: any(r.version == new for r in load.results[-8:]), timeout=poll_s + load_budget_s)
            first = min(r.ended for r in load.results if r.version == new and r.status == 200)
            swap_delays.append(first - moved_at)
            # Swapped for good: /model and a new request (its header and its body) name the new version.
            assert served_version(serving) == new
            status, body, headers = post(serving.url("serving", "/predict"), {"inputs": ROWS})
            assert status == 200, body
            assert headers["X-Model-Version"] == body["model_version"] == new
    assert load.failures() == []
    assert len(load.results) > 20
    # Every answer came whole from one of the versions the alias held: no mix, no stranger.
    assert {r.version for r in load.results} <= set(versions_seen)
    assert all(delay < poll_s + load_budget_s for delay in swap_delays), swap_delays


def _train_exec(stack: Stack, *env: str) -> str:
    """Train one epoch in the training container with `env` (NAME=VALUE) and move the alias: the version."""
    environment = [arg for pair in env for arg in ("-e", pair)]
    compose("exec", "-T", *environment, "training", "python", "-m", "training", "train", "--epochs", "1",
            "--promote", "always")  # fmt: skip
    return alias_version(stack)


@pytest.fixture(scope="module")
def lean(serving: Stack) -> Iterator[str]:
    """The lean serving image (target lean: no torch, ONNX Runtime only) following the same alias on the
    stack's network: its base URL."""
    base = json.loads(serving.compose("config", "--format", "json").stdout)["services"]["base"]["image"]
    build_lean_image(LEAN_IMAGE, base)
    mlflow = subprocess.run(
        ["docker", "compose", "-p", PROJECT, "ps", "-q", "mlflow"], capture_output=True, text=True, check=True
    ).stdout.strip()
    network = subprocess.run(
        ["docker", "inspect", "--format", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}", mlflow],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(["docker", "rm", "-f", LEAN_CONTAINER], capture_output=True, check=False)
    subprocess.run(
        ["docker", "run", "-d", "--name", LEAN_CONTAINER, "--network", network, "--read-only", "--cap-drop", "ALL",
         "-e", "MLFLOW_TRACKING_URI=http://mlflow:5000", "-e", "MODEL_POLL_INTERVAL_S=0.5",
         "-p", "127.0.0.1::8080", LEAN_IMAGE],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    try:
        port = (
            subprocess.run(["docker", "port", LEAN_CONTAINER, "8080/tcp"], capture_output=True, text=True, check=True)
            .stdout.split(":")[-1]
            .strip()
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: get_json(f"{url}/model")["version"] == alias_version(serving), timeout=120)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", LEAN_CONTAINER], capture_output=True, check=False)


def lean_model_refusing(url: str) -> dict[str, Any] | None:
    """The lean server's /model once it has refused a version; None before."""
    model: dict[str, Any] = get_json(f"{url}/model")
    return model if model["last_swap_error"] else None


def test_swaps_between_a_compiled_and_an_uncompiled_version_under_load_fail_no_request(
    serving: Stack, lean: str
) -> None:
    """A version whose ONNX export fails the gate (a zero tolerance: float32 graphs never match the
    pyfunc bit for bit) is answered by its pyfunc, /model saying why; the next one, which passes, by ONNX
    Runtime; no request fails across either swap, and each answer names the version that gave it. The
    lean image refuses the first (it has no pyfunc runtime) and keeps serving what it served, then takes
    the second."""
    import numpy as np

    before = served_version(serving)
    assert get_json(f"{lean}/model")["runtime"] == ONNX_RUNTIME
    with LoadClient(serving.url("serving", "/predict")) as load:
        refused = _train_exec(serving, "TRAINING_ONNX_RTOL=0", "TRAINING_ONNX_ATOL=0")
        wait_for(lambda: served_version(serving) == refused, timeout=60)
        uncompiled = get_json(serving.url("serving", "/model"))["runtime"]
        status, by_pyfunc, _ = post(serving.url("serving", "/predict"), {"inputs": ROWS})
        lean_refused = wait_for(lambda: lean_model_refusing(lean), timeout=60)
        lean_status, by_lean, _ = post(f"{lean}/predict", {"inputs": ROWS})
        compiled = _train_exec(serving)
        wait_for(lambda: served_version(serving) == compiled, timeout=60)
        wait_for(lambda: any(r.version == compiled for r in load.results[-8:]), timeout=30)
    wait_for(lambda: get_json(f"{lean}/model")["version"] == compiled, timeout=60)
    assert lean_refused["version"] == before and lean_refused["last_swap_error_version"] == refused
    assert lean_refused["last_swap_error"].startswith(
        f"version {refused} not swapped in: NotAccelerated: the equivalence gate refused its ONNX export: "
    )
    assert lean_refused["last_swap_error"].endswith("this image serves ONNX artifacts only (SERVING_RUNTIME=onnx)")
    assert lean_status == 200 and by_lean["model_version"] == before  # still serving what it served
    assert get_json(f"{lean}/model")["runtime"] == ONNX_RUNTIME
    assert uncompiled["name"] == "pyfunc" and uncompiled["providers"] is None
    assert uncompiled["reason"].startswith("the equivalence gate refused its ONNX export: "), uncompiled
    assert "outside the tolerance (rtol 0, atol 0" in uncompiled["reason"]
    assert status == 200 and by_pyfunc["model_version"] == refused
    assert np.allclose(by_pyfunc["predictions"], host_predictions(serving, refused), atol=1e-6)
    assert get_json(serving.url("serving", "/model"))["runtime"] == ONNX_RUNTIME
    assert load.failures() == []
    assert {before, refused, compiled} >= {r.version for r in load.results} >= {refused, compiled}


def _register_broken_version(stack: Stack) -> str:
    """A version whose artifacts are not a loadable model, under the alias."""
    code = (
        "import mlflow, tempfile, pathlib\n"
        "from mlflow import MlflowClient\n"
        f"mlflow.set_tracking_uri('{stack.url('mlflow', '')}')\n"
        "mlflow.set_experiment('broken-versions')\n"
        "with mlflow.start_run() as run:\n"
        "    d = pathlib.Path(tempfile.mkdtemp()) / 'model'; d.mkdir()\n"
        "    (d / 'MLmodel').write_text('flavors: {python_function: {loader_module: nosuch.module}}\\n')\n"
        "    mlflow.log_artifacts(str(d), 'model')\n"
        f"mv = MlflowClient().create_model_version('{MODEL}', f'runs:/{{run.info.run_id}}/model', run.info.run_id)\n"
        f"MlflowClient().set_registered_model_alias('{MODEL}', '{ALIAS}', mv.version)\n"
        "print(mv.version)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def _set_alias(stack: Stack, version: str) -> None:
    code = (
        "from mlflow import MlflowClient\n"
        f"MlflowClient('{stack.url('mlflow', '')}').set_registered_model_alias('{MODEL}', '{ALIAS}', '{version}')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)


def test_broken_version_keeps_the_old_model_serving(serving: Stack) -> None:
    good = served_version(serving)
    broken = _register_broken_version(serving)
    try:
        with LoadClient(serving.url("serving", "/predict"), threads=2) as load:
            info = wait_for(
                lambda: (i := get_json(serving.url("serving", "/model")))["last_swap_error"] and i, timeout=30
            )
        assert info["version"] == good
        assert info["last_swap_error_version"] == broken
        assert f"version {broken}" in info["last_swap_error"]
        assert load.failures() == [] and {r.version for r in load.results} == {good}
        metrics = urllib.request.urlopen(serving.url("serving", "/metrics"), timeout=10).read().decode()
        failures = [line for line in metrics.splitlines() if line.startswith("serving_model_swap_failures_total ")]
        assert failures and float(failures[0].split()[1]) >= 1
    finally:
        _set_alias(serving, good)


def test_mlflow_outage_keeps_serving_and_swaps_resume(serving: Stack) -> None:
    before = served_version(serving)
    compose("stop", "mlflow")
    try:
        with LoadClient(serving.url("serving", "/predict"), threads=2) as load:
            time.sleep(6)  # several poll intervals without MLflow
        assert load.failures() == [] and len(load.results) > 5
        assert get_json(serving.url("serving", "/ready"))["status"] == "ready"
    finally:
        compose("start", "mlflow")
        wait_for(lambda: urllib.request.urlopen(serving.url("mlflow", "/health"), timeout=2).status == 200, timeout=120)
    serving.devtools("train", "--", "--epochs", "1", "--promote", "always", timeout=600)
    new = alias_version(serving)
    assert new != before
    wait_for(lambda: served_version(serving) == new, timeout=60)


@pytest.fixture
def restart_serving_after(serving: Stack) -> Iterator[None]:
    yield
    serving.devtools("up", "serving")


def _in_progress(stack: Stack) -> float:
    text = urllib.request.urlopen(stack.url("serving", "/metrics"), timeout=10).read().decode()
    line = next(line for line in text.splitlines() if line.startswith("serving_requests_in_progress "))
    return float(line.split()[1])


def test_stop_during_a_burst_completes_in_flight_requests(serving: Stack, restart_serving_after: None) -> None:
    burst = 12
    # The largest request (4096 rows): slow to answer, so all of the burst is in flight at the stop.
    body = json.dumps({"inputs": [ROWS[i % len(ROWS)] for i in range(4096)]}).encode()
    outcomes: list[tuple[int, str]] = []

    def one() -> None:
        try:
            status, _, _ = post(serving.url("serving", "/predict"), body, timeout=60)
            outcomes.append((status, ""))
        except Exception as error:
            outcomes.append((0, repr(error)))

    with ThreadPoolExecutor(max_workers=burst) as pool:
        for _ in range(burst):
            pool.submit(one)
        # Stop only once the server is handling every request of the burst (the scrape itself is one more);
        # a connection still waiting in the kernel's backlog is not in flight.
        wait_for(lambda: _in_progress(serving) >= burst + 1, timeout=30, interval=0.02)
        compose("stop", "serving")
    assert len(outcomes) == burst
    assert all(status == 200 for status, _ in outcomes), outcomes
