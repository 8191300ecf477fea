"""A fresh prod stack's one exception to "a human signs what is served": the version the seed job
registered into an empty store (the model's only version) is signed with the local promotion key, so
`up --prod` and `deploy run-local` serve the demo. Any later version needs `devtools sign` or `promote`.
"""

from __future__ import annotations

import os

from devtools.errors import DevtoolsError
from devtools.models import local_secrets, served, signing
from devtools.models.mlflow_api import MlflowApi
from devtools.stack.project import ComposeProject

DEFAULT_MODEL = "digits-classifier"


def sign_seeded(project: ComposeProject, model: str | None = None) -> str | None:
    """Sign the champion when it is the model's first and only version and unsigned; what was done."""
    url = served.published(served.origins(project), "mlflow")
    return sign_first_version(local_secrets.mlflow_api(project, url), project, model)


def sign_first_version(api: MlflowApi, project: ComposeProject, model: str | None = None) -> str | None:
    name = model or os.environ.get("MODEL_NAME") or DEFAULT_MODEL
    aliases = api.aliases(name)
    version = aliases.get("champion")
    if version != "1":  # not a freshly seeded store: signing is the promotion path's
        return None
    try:
        if signing.is_signed(api, name, version):
            return None
    except DevtoolsError:
        return None
    key = signing.sign_version(api, name, version, signing.key_path(project.root))
    return f"signed the seeded {name} version {version} with the local promotion key {key}"
