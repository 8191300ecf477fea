"""training.promotion: which alias a new version takes per --promote, against a real MLflow registry. The
versions are registered from runs created here (a run's metric is all the rule reads); that a training
goes through the rule: tests/unit/training/test_recording.py."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from testing.training_helpers import require, unique

require("mlflow")

from training.config import TrainConfig  # noqa: E402
from training.promotion import promote  # noqa: E402

if TYPE_CHECKING:
    from mlflow import MlflowClient

METRIC = "val_accuracy"


class Registry:
    """One registered model whose versions are registered from runs with a given metric."""

    def __init__(self, client: MlflowClient, tracking_uri: str) -> None:
        self.client = client
        self.config = TrainConfig(data_dir=None, tracking_uri=tracking_uri, model_name=unique("promote"))  # type: ignore[arg-type]
        self._experiment = client.create_experiment(unique("promote"))
        client.create_registered_model(self.config.model_name)

    def version(self, score: float | None) -> str:
        run = self.client.create_run(self._experiment)
        if score is not None:
            self.client.log_metric(run.info.run_id, METRIC, score)
        self.client.set_terminated(run.info.run_id)
        source = f"runs:/{run.info.run_id}/model"
        return str(self.client.create_model_version(self.config.model_name, source, run.info.run_id).version)

    def promote(self, score: float, **overrides: str) -> tuple[bool, str]:
        """A new version scoring `score`, promoted per `overrides` (promote=, alias=, challenger_alias=)."""
        return promote(self.client, replace(self.config, **overrides), METRIC, self.version(score), score)  # type: ignore[arg-type]

    def aliases(self) -> dict[str, str]:
        return dict(self.client.get_registered_model(self.config.model_name).aliases)


@pytest.fixture
def registry(client: MlflowClient, mlflow_server: str) -> Registry:
    return Registry(client, mlflow_server)


def test_auto_moves_the_alias_only_for_a_strictly_better_score(registry: Registry) -> None:
    assert registry.promote(0.80) == (True, "no version held 'champion'")
    assert registry.aliases() == {"champion": "1"}
    assert registry.promote(0.70) == (False, "v1 keeps it at 0.8000")
    assert registry.promote(0.80) == (False, "v1 keeps it at 0.8000")  # as good is not better
    assert registry.aliases() == {"champion": "1"}
    assert registry.promote(0.90) == (True, "beat v1 at 0.8000")
    assert registry.aliases() == {"champion": "4"}


def test_always_and_never_ignore_the_score(registry: Registry) -> None:
    registry.promote(0.90)
    assert registry.promote(0.10, promote="always") == (True, "--promote always")
    assert registry.aliases() == {"champion": "2"}
    assert registry.promote(0.99, promote="never") == (False, "--promote never")
    assert registry.aliases() == {"champion": "2"}


def test_a_holder_without_the_metric_gives_way(registry: Registry) -> None:
    unscored = registry.version(None)
    registry.client.set_registered_model_alias(registry.config.model_name, "champion", unscored)
    assert registry.promote(0.10) == (True, f"v{unscored} has no {METRIC} to compare")


def test_every_version_is_tagged_with_its_score(registry: Registry) -> None:
    registry.promote(0.123456789, promote="never")
    assert registry.client.get_model_version(registry.config.model_name, "1").tags[METRIC] == "0.123457"


def test_a_challenger_takes_its_own_alias_and_the_champion_stays(registry: Registry) -> None:
    assert registry.promote(0.5, promote="challenger") == (
        True,
        "--promote challenger: serving compares it with @champion",
    )
    assert registry.aliases() == {"challenger": "1"}  # no champion yet: none is set
    registry.promote(0.9)
    registry.promote(0.1, promote="challenger")
    assert registry.aliases() == {"champion": "2", "challenger": "3"}
    # A newer challenger, under another alias: the champion still does not move.
    moved = registry.promote(0.2, promote="challenger", challenger_alias="candidate", alias="champion")
    assert moved == (True, "--promote challenger: serving compares it with @champion")
    assert registry.aliases() == {"champion": "2", "challenger": "3", "candidate": "4"}


def test_devtools_promote_moves_the_aliases_training_set_on_a_real_mlflow(registry: Registry) -> None:
    # devtools speaks MLflow's REST API without mlflow: the requests it sends, checked by the real server.
    mlflow_api = pytest.importorskip("devtools.models.mlflow_api")
    from devtools.errors import DevtoolsError
    from devtools.models.judging import Pair
    from devtools.models.promotion import move_champion

    name = registry.config.model_name
    registry.promote(0.8)
    registry.promote(0.7, promote="challenger")
    api = mlflow_api.MlflowApi(registry.config.tracking_uri)
    assert api.aliases(name) == {"champion": "1", "challenger": "2"}
    assert api.aliases(unique("no-model")) == {}

    compared = Pair(name, "champion", "challenger", "1", "2")
    assert move_champion(api, compared) == "1"

    assert registry.aliases() == {"champion": "2"}
    assert api.aliases(name) == {"champion": "2"}
    with pytest.raises(DevtoolsError, match="moved since serving compared") as refused:
        move_champion(api, compared)  # the challenger alias is gone now
    assert refused.value.code == 11
    with pytest.raises(DevtoolsError, match=r"refused to set .* HTTP 4") as failed:
        api.set_alias(name, "champion", "999")
    assert failed.value.code == 1
