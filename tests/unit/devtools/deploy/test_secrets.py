"""devtools.deploy.secrets: which environment variables must be secret references."""

from __future__ import annotations

import pytest

from devtools.deploy.secrets import secret_reason


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("MLFLOW_TRACKING_URI", "http://mlflow:5000", False),
        ("MODEL_NAME", "digits-classifier", False),
        ("MLFLOW_BACKEND_STORE_URI", "postgresql://mlflow:hunter2@db.internal:5432/mlflow", True),
        ("DB", "postgresql+psycopg://u:p@h/db", True),
        ("DB", "postgresql://u@h/db", False),
        ("MLFLOW_FLASK_SERVER_SECRET_KEY", "x", True),
        ("AWS_ACCESS_KEY_ID", "AKIA", True),
        ("GITHUB_TOKEN", "", True),
        ("db_password", "x", True),
        ("SOME_CREDENTIALS", "x", True),
    ],
)
def test_secret_detection(name: str, value: str, secret: bool) -> None:
    assert (secret_reason(name, value) is not None) is secret
