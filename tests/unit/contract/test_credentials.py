"""How a container finds its account's password (contract/credentials.py), and the one line a refusal is."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract import credentials


def test_the_accounts_own_secret_becomes_the_mlflow_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    env = {"MLFLOW_TRACKING_USERNAME": "serving", "MLSTACK_SERVING_PASSWORD_FILE": str(secret)}
    assert credentials.apply(env) == "serving"
    assert env["MLFLOW_TRACKING_PASSWORD"] == "s3cret"
    # Another account's secret is never taken (run-local gives every container every name).
    env = {"MLFLOW_TRACKING_USERNAME": "training", "MLSTACK_SERVING_PASSWORD": "not-mine"}
    credentials.apply(env)
    assert "MLFLOW_TRACKING_PASSWORD" not in env


def test_no_account_leaves_the_client_anonymous_and_an_unreadable_secret_says_which() -> None:
    env: dict[str, str] = {}
    assert credentials.apply(env) is None and env == {}
    with pytest.raises(
        credentials.CredentialsError, match="MLSTACK_SERVING_PASSWORD_FILE=/nope: cannot read serving's"
    ):
        credentials.apply({"MLFLOW_TRACKING_USERNAME": "serving", "MLSTACK_SERVING_PASSWORD_FILE": "/nope"})


def test_refusals_name_the_account_and_what_it_lacks() -> None:
    assert credentials.refusal(403, "serving", "set digits@champion to version 2") == (
        "MLflow refused account 'serving' the permission to set digits@champion to version 2 "
        "(403: not granted; docker/mlflow/mlflow-access)"
    )
    assert "wrong or missing password" in credentials.refusal(401, "training", "log")
    assert "no account (MLFLOW_TRACKING_USERNAME unset)" in credentials.refusal(401, None, "log")
