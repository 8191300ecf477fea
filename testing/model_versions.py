"""A model version's artifacts on local disk, answering the MLflow calls devtools' signing makes
(devtools.models.signing.sign_version): for the unit tier and the signature benchmark, no server."""

from __future__ import annotations

import shutil
from pathlib import Path


class LocalModelVersion:
    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.tags: dict[str, str] = {}

    def model_version(self, model: str, version: str) -> dict[str, object]:
        return {"source": "models:/m-1", "tags": [{"key": k, "value": v} for k, v in self.tags.items()]}

    def artifact_root(self, source: str) -> str:
        return "root"

    def download_tree(self, root: str, target: Path) -> list[str]:
        shutil.copytree(self.artifacts, target, dirs_exist_ok=True)
        return sorted(str(path.relative_to(target)) for path in target.rglob("*") if path.is_file())

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self.tags[key] = value
