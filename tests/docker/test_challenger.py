"""A challenger on live traffic, on the real stack: serving follows @champion and @challenger of
digits-classifier. Shadow: the agreement serving reports equals the one computed offline on the same
inputs, and a deliberately slow challenger never costs a client its answer (the counts add up). Canary:
the share answered by the challenger over 5,000 requests is the target's within 2 points, a key is
sticky. `devtools promote` refuses on the figures, then moves @champion under load with no failed
request. The registry's aliases are put back as they were at the end, whatever happened."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from testing.serving_load import LoadClient, post
from testing.stack_harness import Stack, alias_version, free_port, get_json, wait_for

MODEL = "digits-classifier"
ALIAS_API = "/api/2.0/mlflow/registered-models/alias"
CANARY_SHARE = 0.25

# A challenger that takes 50 ms a request and always answers class 9: registered as a version of the demo
# model with its signature, from code (MLflow's models-from-code), by a script run in the training container.
SLOW_CHALLENGER = '''
import pathlib, mlflow, numpy as np
code = pathlib.Path("/tmp/slow_challenger.py")
code.write_text("""
import time
import mlflow
import numpy as np

class Slow(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        time.sleep(0.05)
        return np.tile(np.arange(10, dtype=np.float32), (len(np.asarray(model_input)), 1))

mlflow.models.set_model(Slow())
""")
signature = mlflow.pyfunc.load_model("models:/digits-classifier@champion").metadata.signature
mlflow.set_experiment("challenger-test")
with mlflow.start_run(run_name="slow-challenger"):
    info = mlflow.pyfunc.log_model(
        name="model", python_model=str(code), signature=signature,
        input_example=np.zeros((2, 64), dtype=np.float32), registered_model_name="digits-classifier",
    )
print("VERSION", info.registered_model_version)
'''

# The offline answer: both versions loaded in the serving image, as serving loads them, on the same
# requests (the same rows in the same batches), compared by top class.
OFFLINE_AGREEMENT = """
import json, sys, numpy as np, mlflow.pyfunc
batches, champion, challenger = json.load(sys.stdin)
load = lambda version: mlflow.pyfunc.load_model(f"models:/digits-classifier/{version}", model_config={"device": "cpu"})
a, b = load(champion), load(challenger)
agreed = sum(int((np.asarray(a.predict(np.asarray(rows, dtype=np.float32))).argmax(1)
                  == np.asarray(b.predict(np.asarray(rows, dtype=np.float32))).argmax(1)).sum()) for rows in batches)
print("AGREED", agreed)
"""


def mlflow_api(stack: Stack, method: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        stack.url("mlflow", ALIAS_API),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def set_alias(stack: Stack, alias: str, version: str | None) -> None:
    if version is None:
        if alias_version(stack, MODEL, alias) is not None:
            mlflow_api(stack, "DELETE", {"name": MODEL, "alias": alias})
        return
    mlflow_api(stack, "POST", {"name": MODEL, "alias": alias, "version": version})


def in_container(stack: Stack, service: str, script: str, stdin: str = "") -> str:
    argv = stack.compose_argv("exec", "-T", service, "python", "-c", script)
    done = subprocess.run(argv, env=stack.env, input=stdin, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def serving_follows(base: str, version: str | None) -> bool:
    return get_json(f"{base}/model")["challenger"]["version"] == version


@pytest.fixture(scope="module")
def versions(stack: Stack) -> Iterator[dict[str, str]]:
    """The champion as found, a real challenger (`train --promote challenger`, 2 epochs: a weaker model
    that disagrees on some inputs) and the slow one; the aliases are put back afterwards."""
    champion = alias_version(stack, MODEL, "champion")
    assert champion is not None
    trained = stack.devtools("train", "--", "--promote", "challenger", "--epochs", "2", timeout=900)
    assert "alias=challenger alias_moved=yes" in trained.stdout + trained.stderr, trained.stdout + trained.stderr
    challenger = alias_version(stack, MODEL, "challenger")
    assert challenger is not None and challenger != champion
    assert alias_version(stack, MODEL, "champion") == champion  # --promote challenger leaves the champion alone
    slow = in_container(stack, "training", SLOW_CHALLENGER).split("VERSION")[-1].strip()
    set_alias(stack, "challenger", challenger)  # logging the slow model did not move it
    try:
        yield {"champion": champion, "challenger": challenger, "slow": slow}
    finally:
        set_alias(stack, "champion", champion)
        set_alias(stack, "challenger", None)


def _rows(count: int, start: int) -> list[list[float]]:
    """Real 8x8 digits (scikit-learn's bundled set, the demo's data): a weaker model disagrees on some."""
    from sklearn.datasets import load_digits

    return [[float(v) for v in row] for row in load_digits().data[start : start + count]]


def test_shadow_agreement_equals_the_offline_one(stack: Stack, versions: dict[str, str]) -> None:
    base = stack.url("serving", "")
    wait_for(lambda: serving_follows(base, versions["challenger"]), timeout=120)
    before = get_json(f"{base}/comparison")
    batches = [_rows(8, 8 * batch) for batch in range(40)]
    for rows in batches:
        status, body, headers = post(f"{base}/predict", {"inputs": rows})
        assert status == 200 and headers["X-Model-Version"] == versions["champion"], body
    sent = sum(len(rows) for rows in batches)
    figures = wait_for(
        lambda: (f := get_json(f"{base}/comparison"))["compared"] - before["compared"] == sent and f, timeout=60
    )
    assert figures["kind"] == "classification" and figures["challenger"]["errors"] == before["challenger"]["errors"]
    offline = in_container(
        stack, "serving", OFFLINE_AGREEMENT, json.dumps([batches, versions["champion"], versions["challenger"]])
    )
    assert figures["agreed"] - before["agreed"] == int(offline.split("AGREED")[-1])
    assert 0 < figures["agreed"] < figures["compared"]  # a weaker model: some, not all, answers agree


def test_a_slow_challenger_in_shadow_never_reaches_a_client(stack: Stack, versions: dict[str, str]) -> None:
    base = stack.url("serving", "")
    set_alias(stack, "challenger", versions["slow"])
    try:
        wait_for(lambda: serving_follows(base, versions["slow"]), timeout=120)
        with LoadClient(f"{base}/predict", rows=_rows(5, 0)) as load:
            time.sleep(8)
        assert load.failures() == [] and {r.version for r in load.results} == {versions["champion"]}

        def adds_up() -> dict[str, Any] | None:
            # Every copy of an answered request is scored, dropped, or still queued (or being scored).
            f = get_json(f"{base}/comparison")
            seen = f["challenger"]["requests"] + f["shadow_dropped"] + f["shadow_queued"]
            return f if seen == f["champion"]["requests"] and f["challenger"]["version"] == versions["slow"] else None

        figures = wait_for(adds_up, timeout=60)
        assert figures["champion"]["requests"] >= len(load.results)
        assert figures["shadow_dropped"] > 0  # 50 ms a copy could not keep up: copies dropped, not requests
        assert figures["challenger"]["p50_ms"] >= 50
    finally:
        set_alias(stack, "challenger", versions["challenger"])


@pytest.fixture(scope="module")
def canary(stack: Stack, versions: dict[str, str]) -> Iterator[str]:
    """A second serving container (the stack's image and code) in canary mode at CANARY_SHARE."""
    port, name = free_port(), f"{stack.env['COMPOSE_PROJECT_NAME']}-serving-canary"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    stack.compose(
        *("run", "--detach", "--no-deps", "--name", name),
        *("--env", "MODEL_CHALLENGER_MODE=canary", "--env", f"MODEL_CANARY_SHARE={CANARY_SHARE}"),
        *("--publish", f"127.0.0.1:{port}:8080", "serving"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: serving_follows(base, versions["challenger"]), timeout=180)
        yield base
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_canary_answers_its_share_and_a_key_sticks(canary: str, versions: dict[str, str]) -> None:
    row = {"inputs": _rows(1, 7)}  # one row a request: 5,000 draws

    def version(_: int) -> str:
        status, body, headers = post(f"{canary}/predict", row)
        assert status == 200, body
        return str(headers["X-Model-Version"])

    with ThreadPoolExecutor(8) as pool:
        answered = list(pool.map(version, range(5000)))
    assert set(answered) == {versions["champion"], versions["challenger"]}
    share = answered.count(versions["challenger"]) / len(answered)
    assert abs(share - CANARY_SHARE) <= 0.02, share
    figures = get_json(f"{canary}/comparison")
    assert figures["mode"] == "canary" and figures["challenger"]["routed"] is True
    assert figures["challenger"]["requests"] + figures["champion"]["requests"] >= 5000
    for key in ("client-1", "client-2", "client-3"):
        seen = set()
        for _ in range(20):
            request = urllib.request.Request(
                f"{canary}/predict",
                data=json.dumps(row).encode(),
                headers={"Content-Type": "application/json", "X-Canary-Key": key},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                seen.add(answer.headers["X-Model-Version"])
        assert len(seen) == 1, (key, seen)


def test_promote_refuses_on_the_figures_then_moves_the_champion_under_load(
    stack: Stack, versions: dict[str, str]
) -> None:
    base = stack.url("serving", "")
    wait_for(lambda: serving_follows(base, versions["challenger"]), timeout=120)
    with LoadClient(f"{base}/predict", rows=_rows(40, 500)) as load:
        wait_for(lambda: get_json(f"{base}/comparison")["compared"] >= 200, timeout=120)
        refused = stack.devtools("promote", "--min-requests", "20", check=False)
        assert refused.returncode == 11, refused.stdout + refused.stderr
        assert "not promoted" in refused.stderr and "agreement" in refused.stdout + refused.stderr
        assert alias_version(stack, MODEL, "champion") == versions["champion"]
        promoted = stack.devtools("promote", "--force", check=False)
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        wait_for(lambda: any(r.version == versions["challenger"] for r in load.results[-8:]), timeout=60)
    assert load.failures() == []
    assert {r.version for r in load.results} == {versions["champion"], versions["challenger"]}
    assert alias_version(stack, MODEL, "champion") == versions["challenger"]
    assert alias_version(stack, MODEL, "challenger") is None
    # The challenger's own watcher lets go of it at its next poll.
    model = wait_for(lambda: (m := get_json(f"{base}/model"))["challenger"]["version"] is None and m, timeout=30)
    assert model["version"] == versions["challenger"]
    assert "holds @challenger" in model["challenger"]["state_reason"]
