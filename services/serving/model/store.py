"""Resolving `models:/<name>@<alias>`, with a local artifact cache keyed by model version."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.provenance import VERSION_TAGS
from contract.signing import SIGNATURE_TAG

from serving.model.runtime import load_predictor
from serving.model.signature import Verifier
from serving.model.slot import LoadedModel
from serving.settings import Settings

_COMPLETE = ".complete"


@dataclass(frozen=True)
class AliasTarget:
    version: str
    run_id: str
    source: str
    alias: str = ""
    provenance: dict[str, str] = field(default_factory=dict)  # the version's contract.provenance tags
    signature: str | None = None  # the version's signature bundle (contract.signing.SIGNATURE_TAG)


class AliasNotSet(LookupError):
    """The registry answered that no version holds the alias (never set, or removed)."""


class ModelStore:
    def __init__(self, settings: Settings) -> None:
        from mlflow import MlflowClient

        self.settings = settings
        self.client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
        self.verifier = Verifier(list(settings.signing_public_keys), settings.signature_required)

    def resolve_alias(self, alias: str | None = None) -> AliasTarget:
        """The version `alias` (default: the champion's) points at; AliasNotSet when none does."""
        from mlflow.exceptions import MlflowException

        alias = alias or self.settings.model_alias
        try:
            mv = self.client.get_model_version_by_alias(self.settings.model_name, alias)
        except MlflowException as error:
            # The registry answered: no such alias (or model). Anything else (unreachable) propagates.
            if error.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST") and "not found" in str(error):
                raise AliasNotSet(f"no version of {self.settings.model_name} holds @{alias}") from error
            raise
        tags = dict(mv.tags or {})
        return AliasTarget(
            version=str(mv.version),
            run_id=str(mv.run_id),
            source=str(mv.source),
            alias=alias,
            provenance={key: str(tags[key]) for key in VERSION_TAGS if key in tags},
            signature=str(tags[SIGNATURE_TAG]) if tags.get(SIGNATURE_TAG) else None,
        )

    def local_copy(self, target: AliasTarget) -> Path:
        """The version's artifacts on local disk, downloaded once: a restart does not download again."""
        import mlflow

        cached = self.settings.cache_dir / self.settings.model_name / target.version
        if (cached / _COMPLETE).exists():
            return cached
        self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
        # Download next to the cache and rename, so a crash mid-download never leaves a half copy.
        staging = Path(tempfile.mkdtemp(dir=self.settings.cache_dir, prefix=".download-"))
        try:
            uri = f"models:/{self.settings.model_name}/{target.version}"
            mlflow.set_tracking_uri(self.settings.tracking_uri)
            path = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging)))
            (path / _COMPLETE).touch()
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(cached, ignore_errors=True)
            path.rename(cached)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cached

    def load(self, target: AliasTarget) -> LoadedModel:
        path = self.local_copy(target)
        # Before anything unpickles it: loading a model runs code from its artifacts (and the verdict
        # that picks the runtime is one of them).
        signed_by = self.verifier.check(path, self.settings.model_name, target.version, target.signature)
        predictor, runtime = load_predictor(path, self.settings.runtime)
        return LoadedModel(
            name=self.settings.model_name,
            version=target.version,
            alias=target.alias or self.settings.model_alias,
            run_id=target.run_id,
            predictor=predictor,
            input_example=_input_example(predictor, path),
            provenance=dict(target.provenance),
            signed_by=signed_by,
            runtime=runtime,
        )


def _input_example(predictor: Any, path: Path) -> Any:
    try:
        return predictor.input_example
    except Exception:
        from mlflow.models import Model

        return Model.load(str(path)).load_input_example(str(path))
