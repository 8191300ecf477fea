"""How a container finds its MLflow account's password: the secret MLSTACK_<ACCOUNT>_PASSWORD, where
ACCOUNT is MLFLOW_TRACKING_USERNAME (training, serving, promoter: docker/mlflow/mlflow-access), given as
the value itself (ECS injects secrets so) or as MLSTACK_<ACCOUNT>_PASSWORD_FILE, a file holding it
(Compose's secrets, /run/secrets/...). One name per account, so a deployment that runs several accounts'
containers side by side (`deploy run-local`) never mixes them up.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

USERNAME = "MLFLOW_TRACKING_USERNAME"
PASSWORD = "MLFLOW_TRACKING_PASSWORD"  # what the MLflow client reads


class CredentialsError(RuntimeError):
    """The account's secret is named but cannot be read; the message says which file."""


def password_variable(account: str) -> str:
    return f"MLSTACK_{account.upper()}_PASSWORD"


def apply(env: MutableMapping[str, str] = os.environ) -> str | None:
    """Set MLFLOW_TRACKING_PASSWORD from the account's secret, once per process, before MLflow is called.
    The account's name, or None when the container has no account (authentication off)."""
    account = env.get(USERNAME, "").strip()
    if not account or env.get(PASSWORD):
        return account or None
    name = password_variable(account)
    value = env.get(name, "")
    path = env.get(f"{name}_FILE", "")
    if not value and path:
        try:
            with open(path, encoding="utf-8") as file:
                value = file.read().strip()
        except OSError as exc:
            raise CredentialsError(f"{name}_FILE={path}: cannot read {account}'s password ({exc.strerror})") from None
    if value:
        env[PASSWORD] = value
    return account


def refusal(status: int, account: str | None, action: str) -> str:
    """The one line for a 401 or 403 from MLflow: which account, and what it lacks."""
    who = f"account {account!r}" if account else "no account (MLFLOW_TRACKING_USERNAME unset)"
    if status == 401:
        return f"MLflow refused {who}: wrong or missing password, or the account was removed ({action})"
    return f"MLflow refused {who} the permission to {action} (403: not granted; docker/mlflow/mlflow-access)"
