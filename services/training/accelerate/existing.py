"""`python -m training compile VERSION`: the accelerated artifact for a version registered before
training made one (or again, with --force), from the registry's own copy of the model.

The model comes back through its pyfunc (`get_raw_model()`: the scikit-learn pipeline, or the torch
program as a module), the gate's rows from the recipe's prepared validation split. A signed version is
refused: new files in its artifacts would no longer match its signature, and serving refuses a version
whose signature does not verify (sign after compiling, never before).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract.accelerated import RUNTIME_TAG, tag_text
from contract.signing import SIGNATURE_TAG

from training.accelerate import accelerate_version
from training.accelerate.gate import configured_tolerance
from training.errors import UsageError
from training.tracking import mlflow_errors


@dataclass(frozen=True)
class CompileRequest:
    model_name: str
    version: str
    recipe: str
    data_dir: Path
    tracking_uri: str
    force: bool = False


def compile_existing(request: CompileRequest) -> str:
    """Record version `request.version`'s accelerated artifact; the one-line summary."""
    import os

    import mlflow
    import mlflow.pyfunc
    from mlflow import MlflowClient

    from training.data import load_prepared

    tolerance = configured_tolerance(os.environ)
    validation = load_prepared(request.data_dir, request.recipe).validation  # DataError (exit 3) first
    name, number = request.model_name, request.version
    mlflow.set_tracking_uri(request.tracking_uri)
    client = MlflowClient(request.tracking_uri)
    with mlflow_errors(request.tracking_uri, f"read version {number} of {name!r}"):
        version = client.get_model_version(name, number)
    tags = dict(version.tags or {})
    if tags.get(SIGNATURE_TAG):
        raise UsageError(
            f"version {number} of {name} is signed: new artifacts would break its signature, and serving refuses "
            "a version whose signature does not verify; train a new version (it is compiled before it is signed)"
        )
    if tags.get(RUNTIME_TAG) and not request.force:
        raise UsageError(
            f"version {number} of {name} already has its verdict ({tags[RUNTIME_TAG]}): --force to redo it"
        )
    # MLflow 3 registers a logged model by its URI (models:/m-...); the client leaves model_id unset.
    source = str(version.source)
    model_id = getattr(version, "model_id", None) or (
        source[len("models:/") :] if source.startswith("models:/m-") else None
    )
    if not model_id:
        raise UsageError(f"version {number} of {name} is not an MLflow 3 logged model (source {version.source})")
    with mlflow_errors(request.tracking_uri, f"compile version {number} of {name!r}"):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{number}")
        verdict = accelerate_version(
            pyfunc.get_raw_model(), pyfunc, model_id, validation.x, client, name, number, tolerance
        )
    return f"compiled: model={name} version={number} {tag_text(verdict)}"
