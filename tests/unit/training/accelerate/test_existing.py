"""`python -m training compile VERSION` against a real MLflow server: a version registered without an
accelerated artifact gets one from the registry's own copy of the model (scikit-learn's pipeline, the
digits' torch program), and what must not be rewritten is refused (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.training_helpers import require, unique

require("torch", "mlflow", "numpy", "sklearn", "onnxruntime", "skl2onnx")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training.__main__ import main  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.errors import EXIT_USAGE  # noqa: E402
from training.recording import TrainResult  # noqa: E402

TAG = "mlstack.accelerated"


def verdict_of(name: str, version: str, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=str(tmp_path)))
    return json.loads((local / "accelerated" / "onnx.json").read_text())  # type: ignore[no-any-return]


def register_uncompiled(tracking_uri: str, diabetes_dir: Path) -> str:
    """A diabetes pipeline registered the way a version was before training compiled: no accelerated/."""
    import pandas as pd
    from sklearn.linear_model import Ridge  # type: ignore[import-untyped]
    from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]
    from training.data import load_prepared
    from training.recipes import recipe_named

    recipe, data = recipe_named("diabetes"), load_prepared(diabetes_dir, "diabetes")
    frame = pd.DataFrame(data.train.x, columns=data.manifest["features"]["names"])
    model = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]).fit(frame, data.train.y)
    name = unique("diabetes-before")
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run():
        recipe.log_model(
            model, signature=recipe.signature(data), input_example=recipe.input_example(data), model_name=name
        )
    return name


@pytest.fixture(scope="module")
def uncompiled(mlflow_server: str, diabetes_dir: Path) -> str:
    return register_uncompiled(mlflow_server, diabetes_dir)


def test_a_version_without_an_artifact_is_compiled_then_not_twice(
    uncompiled: str, mlflow_server: str, diabetes_dir: Path, client: MlflowClient, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    argv = ["compile", "1", "--recipe", "diabetes", "--model-name", uncompiled, "--data-dir", str(diabetes_dir),
            "--tracking-uri", mlflow_server]  # fmt: skip
    assert TAG not in client.get_model_version(uncompiled, "1").tags

    assert main(argv) == 0

    assert capsys.readouterr().out.startswith(f"compiled: model={uncompiled} version=1 onnx: usable (")
    verdict = verdict_of(uncompiled, "1", tmp_path)
    assert verdict["usable"] and verdict["exporter"].startswith("skl2onnx ")
    assert client.get_model_version(uncompiled, "1").tags[TAG].startswith("onnx: usable (")
    assert main(argv) == EXIT_USAGE
    assert "already has its verdict (onnx: usable (" in capsys.readouterr().err


def test_the_digits_torch_program_compiles_from_the_registry(
    digits_trained: TrainResult, digits_config: TrainConfig, tmp_path: Path
) -> None:
    """The registry's copy of the ViT is a torch.export program (pt2), loaded back as a graph module."""
    argv = ["compile", digits_trained.version, "--force", "--model-name", digits_config.model_name,
            "--data-dir", str(digits_config.data_dir), "--tracking-uri", digits_config.tracking_uri]  # fmt: skip

    assert main(argv) == 0

    verdict = verdict_of(digits_config.model_name, digits_trained.version, tmp_path)
    assert verdict["usable"] and verdict["top_class_agreement"] == 1.0, verdict


def test_a_signed_version_is_refused(
    mlflow_server: str, diabetes_dir: Path, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = register_uncompiled(mlflow_server, diabetes_dir)
    client.set_model_version_tag(signed, "1", "mlstack.signature", "{}")

    code = main(["compile", "1", "--recipe", "diabetes", "--model-name", signed, "--data-dir", str(diabetes_dir),
                 "--tracking-uri", mlflow_server])  # fmt: skip

    assert code == EXIT_USAGE
    assert "is signed: new artifacts would break its signature" in capsys.readouterr().err
    assert "accelerated" not in {f.path for f in client.list_logged_model_artifacts(
        client.get_model_version(signed, "1").source.removeprefix("models:/"))}  # fmt: skip
