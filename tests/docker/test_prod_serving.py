"""The production stack (`devtools up --prod`: the images ECS runs, docker-compose.yml alone) behaves as
one server per container: one alias decision for the whole container, /metrics that counts every
request, labels that are route templates, and a SIGTERM under load that loses no in-flight request."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import testing
from testing.serving_load import LoadClient
from testing.stack_harness import (
    PROD_TAG,
    Stack,
    alias_version,
    as_account,
    basic_auth,
    free_port,
    get_json,
    http_status,
    local_secret,
    mlflow_auth,
    wait_for,
)

PROJECT = "mlstack-prodserve"
IN_NETWORK_LOAD = Path(testing.__file__).with_name("in_network_load.py")
STOPPED = "serving stopped:"
SECRET_FILES = (
    "mlflow-admin-password",
    "mlflow-flask-secret-key",
    "mlflow-training-password",
    "mlflow-serving-password",
    "mlflow-promoter-password",
)  # serving's last log line (services/serving/metrics.py log_totals)


@pytest.fixture(scope="module")
def prod(prod_images: str) -> Iterator[Stack]:
    """The prod stack on its own project and ports, seeded by its own seed job, polling the alias fast."""
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "DEVTOOLS_TAG": PROD_TAG,
        "MLFLOW_PORT": str(free_port()),
        "SERVING_PORT": str(free_port()),
        "MODEL_POLL_INTERVAL_S": "0.5",
    }
    stack = Stack(env)
    stack.devtools("down", "--prod", "-v", check=False)
    stack.devtools("up", "--prod", "--no-build", "--wait-timeout", "600")
    # MLflow has authentication here: the tests (and devtools) call it as the promoter.
    yield as_account(stack, "promoter", local_secret("mlflow-promoter-password"))
    stack.devtools("down", "--prod", "-v", check=False)


def train_unsigned(stack: Stack) -> str:
    """A new version under the alias, trained and registered by the prod training image (its account)."""
    before = alias_version(stack)
    job = ["exec", "-T", "training", "python", "-m", "training", "train", "--epochs", "1", "--promote", "always"]
    stack.compose(*job, prod=True, timeout=600)
    new = alias_version(stack)
    assert new is not None and new != before, f"the alias stayed on version {before} after `train --promote always`"
    return new


def train_new_champion(stack: Stack) -> str:
    """A new version under the alias, signed by the promotion path (`devtools sign`)."""
    new = train_unsigned(stack)
    stack.devtools("sign", new, "--prod")
    return new


def move_alias(stack: Stack, version: str) -> None:
    """@champion to `version`, through MLflow's API as the stack's account (the promoter)."""
    alias = {"name": "digits-classifier", "alias": "champion", "version": version}
    url = stack.url("mlflow", "/api/2.0/mlflow/registered-models/alias")
    assert http_status(url, "POST", alias, mlflow_auth(stack)) == 200


def model_status(stack: Stack) -> dict[str, Any]:
    return dict(get_json(stack.url("serving", "/model")))


def post_json(url: str, body: dict[str, Any], stack: Stack) -> Any:
    headers = {"Content-Type": "application/json", **basic_auth(mlflow_auth(stack))}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def requests_counted(stack: Stack, endpoint: str) -> float:
    """serving_requests_total for one route template, summed over status codes."""
    text = urllib.request.urlopen(stack.url("serving", "/metrics"), timeout=10).read().decode()
    pattern = re.compile(rf'^serving_requests_total\{{endpoint="{re.escape(endpoint)}",status="\d+"\}} (\S+)$', re.M)
    return sum(float(value) for value in pattern.findall(text))


def test_the_prod_image_runs_one_server_process(prod: Stack) -> None:
    """One uvicorn process: no worker processes beside PID 1, each with its own model and registry."""
    processes = prod.compose("top", "serving", prod=True).stdout
    servers = [line for line in processes.splitlines() if "python -m serving" in line]
    # uvicorn's workers are multiprocessing children: `python -c from multiprocessing.spawn import ...`.
    workers = [line for line in processes.splitlines() if "multiprocessing" in line]
    assert len(servers) == 1 and workers == [], processes
    assert get_json(prod.url("serving", "/model"))["version"] == alias_version(prod)


def test_swap_under_load_is_one_decision_and_metrics_count_every_request(prod: Stack) -> None:
    endpoint = "/invocations"
    counted_before = requests_counted(prod, endpoint)
    swaps = []
    with LoadClient(prod.url("serving", endpoint), threads=4) as load:
        for _ in range(2):
            old = get_json(prod.url("serving", "/model"))["version"]
            new = train_new_champion(prod)
            wait_for(lambda new=new: any(r.version == new for r in load.results[-8:]), timeout=30)
            swaps.append((old, new))
    assert load.failures() == [], load.failures()[:5]
    assert len(load.results) > 50
    for old, new in swaps:
        stale = load.stale_after(old, new)
        assert stale == [], f"{len(stale)} answers from v{old} after the first from v{new}"
    assert {r.version for r in load.results} <= {version for swap in swaps for version in swap}
    # Every request the client sent, and no other, under the route's template.
    assert requests_counted(prod, endpoint) - counted_before == len(load.results)


def test_unknown_paths_share_one_label(prod: Stack) -> None:
    for path in ("/no-such-route", "/no-such-route/123"):
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(prod.url("serving", path), timeout=10)
        assert answer.value.code == 404
    text = urllib.request.urlopen(prod.url("serving", "/metrics"), timeout=10).read().decode()
    assert "no-such-route" not in text
    assert 'serving_requests_total{endpoint="unmatched",status="404"}' in text


def test_anonymous_requests_are_refused_and_health_stays_open(prod: Stack) -> None:
    assert http_status(prod.url("mlflow", "/health")) == 200  # the load balancer's check
    assert http_status(prod.url("mlflow", "/")) == 401  # the UI
    assert http_status(prod.url("mlflow", "/api/2.0/mlflow/experiments/search"), "POST", {"max_results": 1}) == 401
    wrong = ("promoter", "not-the-password")
    assert http_status(prod.url("mlflow", "/api/2.0/mlflow/registered-models/search"), auth=wrong) == 401


def test_serving_account_reads_but_cannot_register_or_move_an_alias(prod: Stack) -> None:
    serving = ("serving", local_secret("mlflow-serving-password"))
    model, version = "digits-classifier", alias_version(prod)
    alias_url = prod.url("mlflow", "/api/2.0/mlflow/registered-models/alias")
    assert http_status(f"{alias_url}?name={model}&alias=champion", auth=serving) == 200
    body = {"name": model, "alias": "champion", "version": version}
    assert http_status(alias_url, "POST", body, auth=serving) == 403
    create = prod.url("mlflow", "/api/2.0/mlflow/model-versions/create")
    assert http_status(create, "POST", {"name": model, "source": "models:/m-x"}, auth=serving) == 403
    # devtools says which account lacked which permission, in one line, with exit 16.
    refused = as_account(prod, *serving).devtools("sign", str(version), "--prod", check=False)
    assert refused.returncode == 16, refused.stderr
    assert "MLflow refused account 'serving' the permission to" in refused.stderr and "Traceback" not in refused.stderr


def test_a_version_aliased_without_the_promotion_key_is_refused_under_load(prod: Stack) -> None:
    """Training's account can move the alias (MLflow cannot tell registering from promoting), but cannot
    sign: serving keeps the signed version, says why, counts it, and no request fails. Signed, it swaps."""
    before = model_status(prod)["version"]
    with LoadClient(prod.url("serving", "/invocations"), threads=4) as load:
        new = train_unsigned(prod)
        status = wait_for(lambda: (s := model_status(prod))["last_swap_error_version"] == new and s, timeout=30)
        assert status["version"] == before and "not signed" in status["last_swap_error"], status
        assert status["signed"]["mode"] == "required" and status["signed"]["signed_by"], status
        metrics = urllib.request.urlopen(prod.url("serving", "/metrics"), timeout=10).read().decode()
        assert re.search(r"^serving_model_signature_refusals_total [1-9]", metrics, re.M), metrics[-500:]
        prod.devtools("sign", new, "--prod")
        wait_for(lambda: any(r.version == new for r in load.results[-8:]), timeout=30)
    assert load.failures() == [], load.failures()[:5]
    assert load.stale_after(before, new) == []


def test_an_artifact_changed_in_the_store_after_signing_is_refused(prod: Stack) -> None:
    before = model_status(prod)["version"]
    # Registered without moving the alias, so serving does not look at it until the file has changed.
    job = ["exec", "-T", "training", "python", "-m", "training", "train", "--epochs", "1", "--promote", "never"]
    prod.compose(*job, prod=True, timeout=600)
    registered = get_json(
        prod.url("mlflow", "/api/2.0/mlflow/registered-models/get?name=digits-classifier"), auth=mlflow_auth(prod)
    )["registered_model"]
    new = str(max(int(v["version"]) for v in registered["latest_versions"]))
    assert new != before
    prod.devtools("sign", new, "--prod")
    # The version's MLmodel, changed where MLflow keeps it (the volume), after the signature was made.
    run_id = get_json(
        prod.url("mlflow", f"/api/2.0/mlflow/model-versions/get?name=digits-classifier&version={new}"),
        auth=mlflow_auth(prod),
    )["model_version"]["run_id"]
    script = (
        "import glob; p = [f for f in glob.glob('/mlflow/artifacts/**/MLmodel', recursive=True) "
        f"if '{run_id}' in open(f).read()]; open(p[0], 'a').write('# changed')"
    )
    prod.compose("exec", "-T", "mlflow", "python", "-c", script, prod=True)
    move_alias(prod, new)
    status = wait_for(
        lambda: "changed after signing: MLmodel" in ((s := model_status(prod))["last_swap_error"] or "") and s,
        timeout=60,
    )
    assert status["version"] == before and status["last_swap_error_version"] == new, status


def test_a_key_rotation_serves_versions_signed_with_either_key(prod: Stack) -> None:
    """`sign --new-key`: the new key signs from now on, the old one stays trusted, and serving (recreated
    by the command to read the new list) serves versions signed with either during the overlap."""
    old_version = model_status(prod)["version"]
    old_key = model_status(prod)["signed"]["signed_by"]
    # The alias back on the version serving answers with: a serving that starts while the alias holds a
    # refused version (the test before left one there) has nothing to serve, and is rightly not ready.
    move_alias(prod, old_version)
    rotated = prod.devtools("sign", "--new-key", "--prod")
    new_key = re.search(r"new promotion key (\S+)", rotated.stdout)
    assert new_key and f"the old key {old_key} stays trusted" in rotated.stdout, rotated.stdout
    assert "serving recreated" in rotated.stdout
    new_version = train_new_champion(prod)  # signed with the new key
    status = wait_for(lambda: (s := model_status(prod))["version"] == new_version and s, timeout=60)
    assert status["signed"]["signed_by"] == new_key.group(1), status
    # Back to the version the old key signed: still trusted, so served.
    move_alias(prod, old_version)
    status = wait_for(lambda: (s := model_status(prod))["version"] == old_version and s, timeout=60)
    assert status["signed"]["signed_by"] == old_key, status


def test_no_secret_value_in_configuration_images_or_runs(prod: Stack) -> None:
    values = [local_secret(name) for name in SECRET_FILES]
    containers = prod.compose("ps", "-aq", prod=True).stdout.split()
    inspected = subprocess.run(["docker", "inspect", *containers], capture_output=True, text=True, check=True).stdout
    images = [f"mlstack/{name}:{PROD_TAG}" for name in ("mlflow", "serving", "training")]
    history = "".join(
        subprocess.run(["docker", "history", "--no-trunc", image], capture_output=True, text=True, check=True).stdout
        for image in images
    )
    experiments = post_json(prod.url("mlflow", "/api/2.0/mlflow/experiments/search"), {"max_results": 100}, prod)
    ids = [experiment["experiment_id"] for experiment in experiments["experiments"]]
    runs = json.dumps(post_json(prod.url("mlflow", "/api/2.0/mlflow/runs/search"), {"experiment_ids": ids}, prod))
    assert '"params"' in runs  # the training runs, their params included, are what is searched
    for value in values:
        assert value not in inspected and value not in history and value not in runs
    # The promotion key never enters a container: no mount of it, nothing naming it in their environment.
    assert "promotion-key" not in inspected and "DEVTOOLS_SIGNING_KEY" not in inspected


def test_sigterm_under_load_loses_no_in_flight_request(prod: Stack) -> None:
    """SIGTERM (what ECS and `docker stop` send) while requests are in flight: uvicorn stops accepting and
    answers every request it had accepted before it exits. The load runs inside the Compose network
    (in_network_load.py says why); this test runs last, and leaves serving stopped.

    In flight means seen by the server: the server's own count at exit (its last log line) is compared
    with what the client received. A connection the kernel queued but the server never took (the
    listener closes at SIGTERM) is reset: no request of it reached the server, and on ECS none arrives,
    since the load balancer deregisters a task before ECS stops it."""
    endpoint = "/invocations"
    container = prod.compose("ps", "-q", "serving", prod=True).stdout.strip()
    answered_before = requests_counted(prod, endpoint)
    argv = prod.compose_argv(
        "exec", "-T", "training", "python", "-", "http://serving:8080/invocations", "8", "6", prod=True
    )
    with IN_NETWORK_LOAD.open() as script:
        client = subprocess.Popen(argv, env=prod.env, stdin=script, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # the load is running: requests are in flight at every moment
        subprocess.run(["docker", "kill", "--signal", "TERM", container], check=True, capture_output=True)
        waited = subprocess.run(["docker", "wait", container], capture_output=True, text=True, timeout=30)
        output, _ = client.communicate(timeout=60)
    finally:
        client.kill()
    assert waited.stdout.strip() == "0", f"serving exited {waited.stdout.strip()} after SIGTERM (not graceful)"
    counts = json.loads(output.strip().splitlines()[-1])["counts"]
    assert counts.get("ok", 0) > 20 and counts.get("not accepted", 0) > 0, counts  # the stop came mid-load
    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True).stderr
    last_word = [line.split(STOPPED, 1)[1] for line in logs.splitlines() if STOPPED in line]
    assert last_word, f"serving did not log its totals at exit:\n{logs[-2000:]}"
    stopped = json.loads(last_word[-1])
    assert stopped["in_progress"] == 0
    served = stopped["requests"][endpoint]
    assert set(served) == {"200"}, served  # every request the server saw was answered 200
    # Every request the server answered during the load reached the client: none lost in flight.
    assert served["200"] - answered_before == counts["ok"], (served, answered_before, counts)
    # What else the client may see is a connection closed before the server read a request from it: one
    # the listener queued and dropped (reset), or one uvicorn had accepted but read nothing from when it
    # began to stop (it closes idle connections: FIN, then the client's request draws a reset, which
    # Linux reports as EPIPE once the FIN is in, and http.client as RemoteDisconnected if it reads the FIN
    # first). The count above is what proves that none of them carried a request the server saw.
    closed_unread = ("ConnectionResetError", "BrokenPipeError", "RemoteDisconnected")
    errors = {outcome: n for outcome, n in counts.items() if outcome not in ("ok", "not accepted")}
    assert all(outcome.split(":")[1].strip() in closed_unread for outcome in errors), errors
