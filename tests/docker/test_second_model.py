"""A team's own model through the same path as the demo: the diabetes recipe (scikit-learn, a column
signature) seeded into the stack's MLflow, served by the same serving image and code with only MODEL_NAME
changed, answering /predict and MLflow's four /invocations JSON formats alike, and swapping to a new
version under load with no failed request."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from testing.serving_load import LoadClient, post
from testing.stack_harness import Stack, alias_version, free_port, get_json, wait_for

MODEL = "diabetes-regressor"
COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
# Three patients from scikit-learn's diabetes data (its first rows, as load_diabetes scales them).
ROWS = [
    [0.0381, 0.0507, 0.0617, 0.0219, -0.0442, -0.0348, -0.0434, -0.0026, 0.0199, -0.0176],
    [-0.0019, -0.0446, -0.0515, -0.0263, -0.0084, -0.0192, 0.0744, -0.0395, -0.0683, -0.0922],
    [0.0853, 0.0507, 0.0445, -0.0057, -0.0456, -0.0342, -0.0324, -0.0026, 0.0029, -0.0259],
]
RECORDS = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]


@pytest.fixture(scope="module")
def served(stack: Stack) -> Iterator[str]:
    """The diabetes recipe seeded, and a second serving container (the stack's own image and code) that
    follows diabetes-regressor@champion; its base URL."""
    seeded = stack.devtools("seed", "--recipe", "diabetes", timeout=900)
    assert "seeded:" in seeded.stdout + seeded.stderr or "already seeded" in seeded.stdout + seeded.stderr
    port, name = free_port(), f"{stack.env['COMPOSE_PROJECT_NAME']}-serving-diabetes"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    stack.compose(
        *("run", "--detach", "--no-deps", "--name", name, "--env", f"MODEL_NAME={MODEL}"),
        *("--publish", f"127.0.0.1:{port}:8080", "serving"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get_json(f"{base}/ready")["status"] == "ready", timeout=180)
        yield base
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_the_same_serving_code_serves_the_column_model(served: str) -> None:
    model = get_json(f"{served}/model")
    assert model["name"] == MODEL and model["last_swap_error"] is None
    assert [column["name"] for column in model["signature"]["inputs"]] == COLUMNS
    status, body, headers = post(f"{served}/predict", {"inputs": RECORDS})
    assert status == 200, body
    assert len(body["predictions"]) == 3 and all(isinstance(value, float) for value in body["predictions"])
    assert headers["X-Model-Version"] == body["model_version"] == model["version"]
    # Bad input is a 422 naming the row and the column, as for the demo's tensor model.
    status, body, _ = post(f"{served}/predict", {"inputs": [{**RECORDS[0], "bmi": "heavy"}]})
    assert status == 422 and body.count("bmi") >= 1, body


def test_every_invocations_format_answers_as_predict_does(served: str) -> None:
    _, expected, _ = post(f"{served}/predict", {"inputs": RECORDS})
    bodies = {
        "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        "dataframe_records": {"dataframe_records": RECORDS},
        "instances": {"instances": RECORDS},
        "inputs": {"inputs": RECORDS},
    }
    for name, body in bodies.items():
        status, answer, headers = post(f"{served}/invocations", body)
        assert status == 200, (name, answer)
        assert answer["predictions"] == pytest.approx(expected["predictions"]), name
        assert headers["X-Model-Version"] == expected["model_version"], name


def test_a_new_version_swaps_in_under_load_with_no_failed_request(stack: Stack, served: str) -> None:
    before = get_json(f"{served}/model")["version"]
    with LoadClient(f"{served}/predict", rows=RECORDS) as load:
        time.sleep(2)
        stack.devtools("train", "--", "--recipe", "diabetes", "--promote", "always", timeout=900)
        new = alias_version(stack, MODEL)
        assert new != before
        wait_for(lambda: any(result.version == new for result in load.results[-8:]), timeout=60)
    assert load.failures() == []
    assert {result.version for result in load.results} <= {before, new}
    assert get_json(f"{served}/model")["version"] == new
