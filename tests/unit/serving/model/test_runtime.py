"""serving.model.runtime: which runtime answers for a version, from its verdict and SERVING_RUNTIME, and
that ONNX Runtime answers what the pyfunc answers. A real scikit-learn pipeline saved by MLflow, exported
and judged by training's own code (training.accelerate), in a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from testing.training_helpers import require

require("mlflow", "numpy", "pandas", "sklearn", "onnxruntime", "skl2onnx")

import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from contract.accelerated import ACCELERATED_DIR, VERDICT_FILE  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from serving.model.runtime import NotAccelerated, OnnxPredictor, load_predictor  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # noqa: E402  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # noqa: E402  # type: ignore[import-untyped]
from training.accelerate import build_verdict  # noqa: E402

COLUMNS = ["a", "b", "c"]
ROWS = pd.DataFrame(np.random.default_rng(5).normal(size=(40, 3)), columns=COLUMNS)


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A version as serving downloads it: the MLflow model, and the accelerated/ training writes."""
    model = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]).fit(ROWS, ROWS.sum(axis=1) * 3 + 1)
    signature = infer_signature(ROWS, model.predict(ROWS))
    path = tmp_path_factory.mktemp("version") / "model"
    mlflow.sklearn.save_model(model, str(path), signature=signature, input_example=ROWS[:2])
    (path / ACCELERATED_DIR).mkdir()
    verdict = build_verdict(
        model, mlflow.pyfunc.load_model(str(path)), signature, ROWS.to_numpy(), path / ACCELERATED_DIR
    )
    assert verdict["usable"], verdict
    (path / VERDICT_FILE).write_text(json.dumps(verdict))
    return path


def test_a_usable_verdict_is_answered_by_onnx_runtime_with_the_pyfuncs_answers(version_dir: Path) -> None:
    predictor, runtime = load_predictor(version_dir, "auto")
    pyfunc = mlflow.pyfunc.load_model(str(version_dir))

    assert isinstance(predictor, OnnxPredictor)
    assert runtime == {"name": "onnxruntime", "providers": ["CPUExecutionProvider"], "reason": None}
    expected = pyfunc.predict(ROWS)
    answered = predictor.predict(ROWS[COLUMNS[::-1]])  # the signature orders the columns, not the caller
    assert answered.shape == expected.shape == (40,) and answered.dtype == expected.dtype
    np.testing.assert_allclose(answered, expected, rtol=1e-9)
    assert list(predictor.metadata.get_input_schema().input_names()) == COLUMNS
    assert list(predictor.input_example.columns) == COLUMNS  # the smoke test's rows


def test_a_missing_column_is_refused_as_the_pyfunc_refuses_it(version_dir: Path) -> None:
    predictor, _ = load_predictor(version_dir, "auto")

    with pytest.raises(MlflowException, match="missing inputs"):
        predictor.predict(ROWS[["a", "b"]])


def test_pyfunc_is_chosen_by_setting_and_says_so(version_dir: Path) -> None:
    predictor, runtime = load_predictor(version_dir, "pyfunc")

    assert not isinstance(predictor, OnnxPredictor)
    assert runtime == {"name": "pyfunc", "providers": None, "reason": "SERVING_RUNTIME=pyfunc"}


def test_a_refused_verdict_serves_the_pyfunc_with_the_gates_reason_and_the_lean_runtime_refuses_it(
    version_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "model"
    shutil.copytree(version_dir, copy)  # the same model files, another verdict
    verdict = json.loads((copy / VERDICT_FILE).read_text())
    verdict.update(usable=False, reason="3 of 40 values outside the tolerance")
    (copy / VERDICT_FILE).write_text(json.dumps(verdict))

    predictor, runtime = load_predictor(copy, "auto")

    assert not isinstance(predictor, OnnxPredictor)
    assert runtime["name"] == "pyfunc"
    assert runtime["reason"] == "the equivalence gate refused its ONNX export: 3 of 40 values outside the tolerance"
    with pytest.raises(NotAccelerated, match="serves ONNX artifacts only"):
        load_predictor(copy, "onnx")


def test_a_version_without_an_artifact_serves_the_pyfunc_and_says_why(version_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "model"
    shutil.copytree(version_dir, bare, ignore=shutil.ignore_patterns(ACCELERATED_DIR))

    _, runtime = load_predictor(bare, "auto")

    assert runtime["reason"] is not None and runtime["reason"].startswith("no accelerated artifact")
    with pytest.raises(NotAccelerated, match=r"^no accelerated artifact .*\(SERVING_RUNTIME=onnx\)$"):
        load_predictor(bare, "onnx")


def test_a_forked_worker_answers_with_its_own_session(version_dir: Path) -> None:
    """The dev fork-server loads the version in its parent and forks workers: ONNX Runtime's threads do
    not survive a fork, so the parent lets its session go and a worker makes its own."""
    predictor, _ = load_predictor(version_dir, "auto")
    expected = predictor.predict(ROWS)  # the parent's session has run (its thread pool exists)
    predictor.before_fork()  # as the fork-server's parent does once the version passed its smoke test
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: answer, report, and leave without pytest's teardown
        try:
            os.write(writer, json.dumps(predictor.predict(ROWS).tolist()).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as answer:
        answered = json.loads(answer.read())
    os.waitpid(child, 0)

    np.testing.assert_allclose(answered, expected)


@pytest.mark.parametrize(("cpu_max", "expected"), [("max 100000\n", 2), ("100000 100000\n", 1), ("150000 100000", 1)])
def test_onnx_runtime_threads_follow_the_containers_cpu_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu_max: str, expected: int
) -> None:
    from serving.model.runtime import cpu_budget

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    (tmp_path / "cpu.max").write_text(cpu_max)

    assert cpu_budget(tmp_path) == expected
    assert cpu_budget(tmp_path / "no-cgroup") == 2  # no cgroup v2 file: the affinity
