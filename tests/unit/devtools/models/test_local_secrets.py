"""devtools.models.local_secrets: which account devtools calls a stack's MLflow as."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from devtools.models import local_secrets
from devtools.stack.project import ComposeProject, Variant


@pytest.fixture
def project(tmp_path: Path) -> ComposeProject:
    local_secrets.folder(tmp_path).mkdir(parents=True)
    (local_secrets.folder(tmp_path) / "mlflow-promoter-password").write_text("from-the-secret\n")
    return ComposeProject(root=tmp_path, name="mlstack")


@pytest.mark.parametrize(
    ("variant", "auth", "account"),
    [(Variant.DEV, False, None), (Variant.DEV, True, "promoter"), (Variant.PROD, False, "promoter")],
)
def test_the_promoter_where_the_stack_has_authentication(
    project: ComposeProject, monkeypatch: pytest.MonkeyPatch, variant: Variant, auth: bool, account: str | None
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    api = local_secrets.mlflow_api(replace(project, variant=variant, auth=auth), "http://127.0.0.1:5000")
    assert api.account == account
    assert api.password == ("from-the-secret" if account else None)


def test_an_account_in_the_environment_wins(project: ComposeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hers")
    api = local_secrets.mlflow_api(replace(project, auth=True), "http://127.0.0.1:5000")
    assert (api.account, api.password) == ("alice", "hers")


def test_the_auth_choice_is_read_from_its_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("docker-compose.yml", "docker-compose.dev.yml"):
        (tmp_path / name).write_text("services: {}\n")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "mine")
    assert ComposeProject.dev(tmp_path).auth is False
    (tmp_path / ".devtools").mkdir()
    (tmp_path / ".devtools" / "auth-mine").touch()
    assert ComposeProject.dev(tmp_path).auth is True
    assert ComposeProject.dev(tmp_path).files[-1].name == "docker-compose.auth.yml"
    assert ComposeProject.prod(tmp_path).auth is False  # the prod file has authentication in itself
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "another")
    assert ComposeProject.dev(tmp_path).auth is False  # per project


def test_the_notebook_credentials_follow_the_training_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import configparser

    monkeypatch.setenv("DEVTOOLS_SIGNING_KEY", str(tmp_path / "no-such-dir" / "key.pem"))
    local_secrets.ensure(tmp_path)
    where = local_secrets.folder(tmp_path)

    def notebook_account() -> tuple[str, str]:
        config = configparser.ConfigParser()
        config.read(where / local_secrets.NOTEBOOK_CREDENTIALS)  # as MLflow's client reads it
        return config["mlflow"]["mlflow_tracking_username"], config["mlflow"]["mlflow_tracking_password"]

    assert notebook_account() == ("training", (where / "mlflow-training-password").read_text())
    (where / "mlflow-training-password").write_text("rotated")
    local_secrets.ensure(tmp_path)
    assert notebook_account() == ("training", "rotated")
