"""The recorded `docker compose config` fixtures are what the live Compose files render today.

The unit tests replay those recordings instead of calling Compose; a Compose file edited without
re-recording would leave them testing a stack that no longer exists. Needs the docker CLI and its
Compose plugin, no engine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testing import compose_fixtures
from testing.compose_fixtures import FIXTURES, RECORDINGS, VERSION_FILE

RECORDER = Path(compose_fixtures.__file__)
RECORD_COMMAND = "python -m testing.compose_fixtures"


def _compose_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


# The devcontainer's default configuration has no docker CLI, and runs this tier.
pytestmark = pytest.mark.skipif(not _compose_answers(), reason="no docker CLI with the Compose plugin")


def test_committed_fixtures_equal_a_fresh_recording(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RECORDER), "--out", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    fresh = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file())
    assert fresh == sorted([VERSION_FILE, *(recording.fixture for recording in RECORDINGS)])
    # The version first: another Compose renders differently, and that is no stale fixture.
    recorded_with = (FIXTURES / VERSION_FILE).read_text().strip()
    rendered_with = (tmp_path / VERSION_FILE).read_text().strip()
    assert rendered_with == recorded_with, (
        f"the fixtures were recorded with Compose {recorded_with}, this is {rendered_with} "
        f"(scripts/provision installs the pinned one); after a deliberate upgrade: {RECORD_COMMAND}"
    )
    stale = [name for name in fresh if (FIXTURES / name).read_bytes() != (tmp_path / name).read_bytes()]
    assert stale == [], f"stale against the Compose files: {', '.join(stale)}; re-record with: {RECORD_COMMAND}"


@pytest.mark.parametrize("variant", ["dev", "prod", "remote", "auth"])
def test_every_secret_file_a_service_is_told_of_is_mounted_in_it(variant: str) -> None:
    """A NAME_FILE=/run/secrets/X in a service's environment with X not mounted makes the image refuse to
    start (mlflow-store, serving's settings): each variant's merged config mounts what it names."""
    import yaml

    config = yaml.safe_load((FIXTURES / f"compose_config_{variant}.yml").read_text())
    for name, service in config["services"].items():
        mounted = {
            str(secret.get("target") or secret["source"]).rsplit("/", 1)[-1] for secret in service.get("secrets", [])
        }
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_FILE") and str(value or "").startswith("/run/secrets/"):
                assert str(value).rsplit("/", 1)[-1] in mounted, f"{variant}: {name}: {key}={value} is not mounted"


def test_the_auth_override_gives_the_dev_stack_productions_authentication() -> None:
    """`up --auth`: each service that takes part in MLflow authentication gets the secrets and secret
    paths the prod stack gives it, MLflow runs the auth app, and the accounts job runs with `up`."""
    import yaml

    def load(variant: str) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load((FIXTURES / f"compose_config_{variant}.yml").read_text())
        return config["services"]

    def secret_side(service: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
        # MLflow's accounts only: the public keys are the signing side's (dev: MODEL_SIGNING_PUBLIC_KEYS).
        mounted = {str(s["source"]) for s in service.get("secrets", []) if str(s["source"]).startswith("mlflow")}
        paths = {k: str(v) for k, v in (service.get("environment") or {}).items() if k.endswith("_FILE") and v}
        return mounted, {k: v for k, v in paths.items() if v.startswith("/run/secrets/mlflow")}

    prod, dev, auth = load("prod"), load("dev"), load("auth")
    for name in ("mlflow", "mlflow-access", "serving", "training", "seed"):
        assert secret_side(auth[name]) == secret_side(prod[name]), name
        if name in dev:  # the dev stack mounts none of MLflow's secrets
            assert secret_side(dev[name]) == (set(), {}), name
    assert auth["mlflow"]["environment"]["MLFLOW_AUTH"] == "basic"
    assert dev["mlflow"]["environment"]["MLFLOW_AUTH"] == "off"
    # The accounts job is in a profile on the dev stack (`config` leaves it out), and runs with --auth.
    assert "profiles" not in auth["mlflow-access"] and "mlflow-access" not in dev
    # Still the dev stack: dev images, and signatures verified only when a public key is given.
    assert auth["serving"]["environment"]["MODEL_SIGNATURE_REQUIRED"] == "0"
    assert auth["training"]["image"].endswith(":dev")
