"""`devtools up --auth`: the dev stack with production's MLflow authentication, on the session's dev
stack (it is put back open at the end). Anonymous requests are refused; serving, training and devtools
itself each reach MLflow as their own account, and the choice holds for the commands after `up`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from testing.stack_harness import (
    PROJECT,
    REPO,
    Stack,
    alias_version,
    as_account,
    get_json,
    http_status,
    local_secret,
    mlflow_auth,
    wait_for,
)

PROBE_MODEL = "dev-auth-probe"  # its own registered model: the other modules' counts are untouched
MARKER = REPO / ".devtools" / f"auth-{PROJECT}"


@pytest.fixture(scope="module")
def authed(stack: Stack) -> Iterator[tuple[Stack, str]]:
    """The dev stack restarted with --auth; (the stack called as the promoter, what `up` printed)."""
    done = stack.devtools("up", "--auth", "--no-build", "--wait-timeout", "600")
    yield as_account(stack, "promoter", local_secret("mlflow-promoter-password")), done.stdout
    if MARKER.exists():  # a test failed before turning it off: the next modules expect the open stack
        stack.devtools("up", "--no-auth", "--no-build", "--wait-timeout", "600", check=False)
        MARKER.unlink(missing_ok=True)


def test_anonymous_requests_are_refused_and_health_stays_open(authed: tuple[Stack, str]) -> None:
    stack, said = authed
    assert "MLflow authentication is on" in said and MARKER.exists()
    assert http_status(stack.url("mlflow", "/api/2.0/mlflow/experiments/search?max_results=1")) == 401
    assert http_status(stack.url("mlflow", "/")) == 401  # the UI too
    assert http_status(stack.url("mlflow", "/health")) == 200


def test_serving_follows_the_champion_as_its_own_account(authed: tuple[Stack, str]) -> None:
    stack, _ = authed
    champion = alias_version(stack)
    assert champion is not None
    model = wait_for(lambda: get_json(stack.url("serving", "/model")), timeout=120)
    assert str(model["version"]) == champion
    # Its password reached it as a file: the container's configuration holds the path, not the value.
    inspected = stack.compose("ps", "-q", "serving").stdout.strip()
    inspect = subprocess.run(["docker", "inspect", inspected], capture_output=True, text=True, check=True)
    config = json.loads(inspect.stdout)[0]["Config"]["Env"]
    assert "MLSTACK_SERVING_PASSWORD_FILE=/run/secrets/mlflow-serving-password" in config
    assert not any(local_secret("mlflow-serving-password") in entry for entry in config)


def test_train_registers_as_training_and_devtools_signs_as_the_promoter(authed: tuple[Stack, str]) -> None:
    stack, _ = authed
    # Later commands keep the choice: train (the training account, in its container) and sign (devtools
    # on the host, as the promoter) are run without any flag.
    trained = stack.devtools(
        "train", "--", "--epochs", "1", "--promote", "never", "--model-name", PROBE_MODEL, timeout=900
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    query = f"/api/2.0/mlflow/registered-models/get?name={PROBE_MODEL}"
    assert http_status(stack.url("mlflow", query)) == 401  # anonymous: refused even to read what training wrote
    latest = get_json(stack.url("mlflow", query), auth=mlflow_auth(stack))["registered_model"]["latest_versions"]
    version = str(max(int(v["version"]) for v in latest))
    signed = stack.devtools("sign", version, "--model", PROBE_MODEL)
    assert f"signed: {PROBE_MODEL} version {version}" in signed.stdout
    # Serving's account may read models, not change them: 403, one line naming it, exit 16.
    as_serving = as_account(stack, "serving", local_secret("mlflow-serving-password"))
    refused = as_serving.devtools("sign", version, "--model", PROBE_MODEL, check=False)
    assert refused.returncode == 16, refused.stderr
    assert "'serving'" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_no_auth_opens_the_dev_stack_again(authed: tuple[Stack, str]) -> None:
    stack, _ = authed
    stack.devtools("up", "--no-auth", "--no-build", "--wait-timeout", "600")
    assert not MARKER.exists()
    assert http_status(stack.url("mlflow", "/api/2.0/mlflow/experiments/search?max_results=1")) == 200
    wait_for(lambda: get_json(stack.url("serving", "/ready"))["status"] == "ready", timeout=120)
