"""A fresh prod stack's one exception to "a human signs what is served": the version the seed job
registered into an empty store (the model's only version) is signed with the local promotion key, so
`up --prod` and `deploy run-local` serve the demo. Any later version needs `devtools sign` or `promote`.
"""

from __future__ import annotations

import time

from contract.aliases import CHAMPION

from devtools.errors import DevtoolsError, ExitCode
from devtools.models import local_secrets, served, signing
from devtools.models.mlflow_api import MlflowApi
from devtools.stack.project import ComposeProject

SEED = "seed"
POLL_S = 0.5


def sign_seeded(project: ComposeProject, model: str | None = None, timeout_s: float = 300) -> str | None:
    """Once the seed job has finished (`up --wait seed` returns when it started), sign the champion when
    it is the model's first and only version and unsigned; what was done."""
    _await_exit(project, SEED, timeout_s)
    url = served.published(served.origins(project), "mlflow")
    return sign_first_version(local_secrets.mlflow_api(project, url), project, model)


def sign_first_version(api: MlflowApi, project: ComposeProject, model: str | None = None) -> str | None:
    name = served.model_name(model)
    aliases = api.aliases(name)
    version = aliases.get(CHAMPION)
    if version != "1":  # not a freshly seeded store: signing is the promotion path's
        return None
    # A failed read (401, MLflow gone) is the caller's one line: never read as "unsigned" or "signed".
    if signing.is_signed(api, name, version):
        return None
    key = signing.sign_version(api, name, version, signing.key_path(project.root))
    return f"signed the seeded {name} version {version} with the local promotion key {key}"


def _await_exit(project: ComposeProject, service: str, timeout_s: float) -> None:
    """Until the one-off `service` has exited; UNHEALTHY when it failed or runs past `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = [row for row in project.containers() if row.get("Service") == service]
        if rows and all(str(row.get("State")) == "exited" for row in rows):
            code = max(int(row.get("ExitCode") or 0) for row in rows)
            if code != 0:
                raise DevtoolsError(f"{service} exited {code}: `devtools logs {service}` says why", ExitCode.UNHEALTHY)
            return
        if time.monotonic() > deadline:
            raise DevtoolsError(f"{service} still runs after {timeout_s:g} s", ExitCode.UNHEALTHY)
        time.sleep(POLL_S)
