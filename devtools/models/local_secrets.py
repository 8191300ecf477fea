"""The secret files of the prod stack and of `up --auth` (docker-compose.yml `secrets:`), made with random
values on first use.

They live in .devtools/secrets/ (mode 0700: no other host user reads them; never committed) and reach
containers as Compose file secrets under /run/secrets/, so no value is in an image, a Compose file, a
container's configuration (`docker inspect`) or a log line. A file is 0644 because the bind mount keeps
its mode and the containers' users (10001, the dev UID) must read it; the folder is what guards them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from contract import credentials

from devtools.models import signing
from devtools.models.mlflow_api import MlflowApi
from devtools.stack.project import ComposeProject, Variant

FOLDER = Path(".devtools/secrets")
# docker-compose.yml's secrets, by file name (the public keys file is signing's).
RANDOM = (
    "mlflow-admin-password",
    "mlflow-flask-secret-key",
    "mlflow-training-password",
    "mlflow-serving-password",
    "mlflow-promoter-password",
)
# `up --auth`'s notebook: the training account as MLflow's client reads it from ~/.mlflow/credentials
# (a Jupyter kernel runs no code of ours that could read a *_FILE), made from training's password.
NOTEBOOK_CREDENTIALS = "mlflow-notebook-credentials"
PROMOTER = "promoter"  # the account devtools calls the prod stack's MLflow as (docker/mlflow/mlflow-access)


def folder(root: Path) -> Path:
    return root / FOLDER


def ensure(root: Path) -> list[str]:
    """Every secret file the prod stack mounts, made where missing; what was made, by name."""
    where = folder(root)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    where.chmod(0o700)
    made = []
    for name in RANDOM:
        path = where / name
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o644)
            made.append(name)
    password = (where / "mlflow-training-password").read_text().strip()
    notebook = f"[mlflow]\nmlflow_tracking_username = training\nmlflow_tracking_password = {password}\n"
    path = where / NOTEBOOK_CREDENTIALS
    if not path.exists() or path.read_text() != notebook:  # follows a changed training password
        path.write_text(notebook)
        path.chmod(0o644)
    key = signing.ensure_key(root)
    if key is not None:
        made.append(f"promotion key {key}")
    return made


def promoter_password(root: Path) -> str | None:
    path = folder(root) / "mlflow-promoter-password"
    return path.read_text().strip() if path.exists() else None


def mlflow_api(project: ComposeProject, url: str) -> MlflowApi:
    """The stack's MLflow as devtools calls it: as MLFLOW_TRACKING_USERNAME / _PASSWORD when set (the
    team's own account), else as the promoter (its local secret) on the prod stack and on a dev stack
    started with `up --auth`, else anonymously (the dev stack has no authentication unless asked)."""
    account, password = os.environ.get(credentials.USERNAME), os.environ.get(credentials.PASSWORD)
    if account:
        return MlflowApi(url, account=account, password=password or "")
    if project.variant is Variant.PROD or project.auth:
        return MlflowApi(url, account=PROMOTER, password=promoter_password(project.root) or "")
    return MlflowApi(url)
