"""`train --promote challenger` against a real MLflow server: the new version takes the challenger's
alias, the champion's stays where it was, and a challenger alias equal to the champion's is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from testing.training_helpers import Cli, require, unique

require("torch", "transformers", "mlflow", "numpy", "sklearn")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from training.__main__ import main  # noqa: E402
from training.config import DEFAULT_CHALLENGER_ALIAS, TrainConfig  # noqa: E402
from training.errors import EXIT_USAGE, UsageError  # noqa: E402
from training.train import train  # noqa: E402


@pytest.fixture(scope="module")
def config(mlflow_server: str, prepared_dir: Path) -> TrainConfig:
    return TrainConfig(
        data_dir=prepared_dir,
        tracking_uri=mlflow_server,
        epochs=1,
        seed=7,
        device="cpu",
        experiment=unique("challenger"),
        model_name=unique("challenger"),
        progress=False,
    )


@pytest.fixture(scope="module")
def client(mlflow_server: str) -> MlflowClient:
    mlflow.set_tracking_uri(mlflow_server)
    return MlflowClient(mlflow_server)


def test_challenger_takes_its_own_alias_and_the_champion_stays(config: TrainConfig, client: MlflowClient) -> None:
    champion = train(config)
    assert champion is not None and champion.alias_moved

    challenger = train(replace(config, promote="challenger", seed=8))

    assert challenger is not None and challenger.version == str(int(champion.version) + 1)
    aliases = client.get_registered_model(config.model_name).aliases
    assert aliases == {"champion": champion.version, "challenger": challenger.version}
    assert (challenger.alias, challenger.alias_moved) == ("challenger", True)
    assert challenger.reason == "--promote challenger: serving compares it with @champion"
    assert challenger.summary().endswith(
        "alias=challenger alias_moved=yes (--promote challenger: serving compares it with @champion)"
    )
    tags = client.get_run(challenger.run_id).data.tags
    assert (tags["alias"], tags["alias_moved"], tags["model_version"]) == ("challenger", "true", challenger.version)

    # A newer challenger replaces the previous one; the champion still does not move.
    again = train(replace(config, promote="challenger", seed=9, challenger_alias="candidate"))
    assert again is not None
    aliases = client.get_registered_model(config.model_name).aliases
    assert aliases == {"champion": champion.version, "challenger": challenger.version, "candidate": again.version}


def test_challenger_without_a_champion_leaves_the_champion_unset(config: TrainConfig, client: MlflowClient) -> None:
    name = unique("nochamp")
    result = train(replace(config, model_name=name, promote="challenger"))

    assert result is not None
    assert client.get_registered_model(name).aliases == {"challenger": result.version}


def test_train_cli_promote_challenger_prints_the_alias_it_set(
    config: TrainConfig, client: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("cli")
    code = main(
        ["train", "--epochs", "1", "--device", "cpu", "--experiment", config.experiment, "--model-name", name,
         "--promote", "challenger", "--tracking-uri", config.tracking_uri, "--data-dir", str(config.data_dir)]
    )  # fmt: skip

    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and f"model={name} version=1 " in out[0]
    assert out[0].endswith(
        "alias=challenger alias_moved=yes (--promote challenger: serving compares it with @champion)"
    )
    assert client.get_registered_model(name).aliases == {"challenger": "1"}


def test_a_challenger_alias_equal_to_the_alias_is_refused(config: TrainConfig, tmp_path: Path) -> None:
    # Refused before anything is read or trained: no data, no server needed.
    cli = Cli(tracking_uri="http://127.0.0.1:9", data_dir=tmp_path / "no-data")
    result = cli.run("train", "--promote", "challenger", "--alias", "best", "--challenger-alias", "best", timeout=60)

    assert result.returncode == EXIT_USAGE and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "python -m training train: error: --promote challenger: --challenger-alias is 'best', the same as --alias; "
        "the challenger needs an alias of its own (default: challenger)"
    ]
    with pytest.raises(UsageError, match="the same as --alias"):
        train(replace(config, promote="challenger", challenger_alias="champion"))


def test_a_bad_challenger_alias_is_a_usage_error(tmp_path: Path) -> None:
    cli = Cli(tracking_uri="http://127.0.0.1:9", data_dir=tmp_path / "no-data")
    result = cli.run("train", "--promote", "challenger", "--challenger-alias", "v3", timeout=60)

    assert result.returncode == EXIT_USAGE
    assert "argument --challenger-alias: invalid alias 'v3'" in result.stderr


def test_serving_follows_the_challenger_alias_training_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODEL_CHALLENGER_ALIAS", raising=False)
    from serving.settings import Settings  # services/ is on sys.path (pyproject: pythonpath)

    assert Settings.from_env().challenger_alias == DEFAULT_CHALLENGER_ALIAS


def test_devtools_promote_moves_the_aliases_training_set_on_a_real_mlflow(
    config: TrainConfig, client: MlflowClient
) -> None:
    # devtools speaks MLflow's REST API without mlflow: the requests it sends, checked by the real server.
    mlflow_api = pytest.importorskip("devtools.models.mlflow_api")
    from devtools.errors import DevtoolsError
    from devtools.models.judging import Pair
    from devtools.models.promotion import move_champion

    name = unique("promote")
    champion = train(replace(config, model_name=name))
    challenger = train(replace(config, model_name=name, promote="challenger", seed=8))
    assert champion is not None and challenger is not None
    api = mlflow_api.MlflowApi(config.tracking_uri)
    assert api.aliases(name) == {"champion": champion.version, "challenger": challenger.version}
    assert api.aliases(unique("no-model")) == {}

    compared = Pair(name, "champion", "challenger", champion.version, challenger.version)
    assert move_champion(api, compared) == champion.version

    assert client.get_registered_model(name).aliases == {"champion": challenger.version}
    assert api.aliases(name) == {"champion": challenger.version}
    with pytest.raises(DevtoolsError, match="moved since serving compared") as refused:
        move_champion(api, compared)  # the challenger alias is gone now
    assert refused.value.code == 11
    with pytest.raises(DevtoolsError, match=r"refused to set .* HTTP 4") as failed:
        api.set_alias(name, "champion", "999")
    assert failed.value.code == 1
