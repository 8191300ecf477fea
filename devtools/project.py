"""Where the stack lives: the repository root and the host identity the dev images follow."""

from __future__ import annotations

import os
from pathlib import Path

from devtools.errors import DevtoolsError

BASE_FILE = "docker-compose.yml"
DEV_FILE = "docker-compose.dev.yml"
GPU_FILE = "docker-compose.gpu.yml"

# Compose resolves the project name from -p, then COMPOSE_PROJECT_NAME, then `name:` in the file.
# devtools always passes -p, so a devcontainer (which reads `name:`) and the CLI share containers,
# and tests can isolate themselves with COMPOSE_PROJECT_NAME.
DEFAULT_PROJECT_NAME = "mlstack"

# Used when the host user is root: a dev user with UID 0 would defeat the non-root dev images.
FALLBACK_UID = 1000


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` holding both Compose files; DEVTOOLS_ROOT wins."""
    if override := os.environ.get("DEVTOOLS_ROOT"):
        root = Path(override).resolve()
        if not (root / BASE_FILE).is_file():
            raise DevtoolsError(f"DEVTOOLS_ROOT={override} has no {BASE_FILE}")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / BASE_FILE).is_file() and (candidate / DEV_FILE).is_file():
            return candidate
    # An editable install knows where its checkout is, so devtools works from any directory.
    package_checkout = Path(__file__).resolve().parent.parent
    if (package_checkout / BASE_FILE).is_file() and (package_checkout / DEV_FILE).is_file():
        return package_checkout
    raise DevtoolsError(
        f"no {BASE_FILE} + {DEV_FILE} found here or above; run devtools inside the repository (or set DEVTOOLS_ROOT)"
    )


def project_name() -> str:
    return os.environ.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT_NAME


def host_ids() -> tuple[int, int]:
    """UID/GID the dev images give their user, so files written into bind mounts stay the engineer's."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        return FALLBACK_UID, FALLBACK_UID
    return uid, gid
