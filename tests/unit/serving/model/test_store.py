"""serving.model.store.ModelStore.resolve_alias: the version an alias names, with what made it."""

from __future__ import annotations

from types import SimpleNamespace

from contract import provenance as keys
from serving.model.store import ModelStore
from serving.settings import Settings


class Registry:
    """MlflowClient's get_model_version_by_alias, as a registry with one version answers it."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags

    def get_model_version_by_alias(self, name: str, alias: str) -> SimpleNamespace:
        return SimpleNamespace(version=4, run_id="r4", source="models:/m/4", tags=self.tags)


def store_with(tags: dict[str, str]) -> ModelStore:
    store = ModelStore.__new__(ModelStore)  # no MLflow client: the registry below answers
    store.settings = Settings.from_env()
    store.client = Registry(tags)  # type: ignore[assignment]
    return store


def test_the_version_s_provenance_tags_come_along_and_nothing_else() -> None:
    tags = {
        keys.IMAGE_ID: "sha256:" + "1" * 64,
        keys.GIT_COMMIT: "2" * 40,
        "val_accuracy": "0.9",
        keys.DATA_DIGEST: "x",
    }
    target = store_with(tags).resolve_alias("champion")
    assert (target.version, target.run_id) == ("4", "r4")
    assert target.provenance == {keys.IMAGE_ID: "sha256:" + "1" * 64, keys.GIT_COMMIT: "2" * 40}


def test_a_version_from_before_provenance_has_none() -> None:
    assert store_with({}).resolve_alias("champion").provenance == {}
