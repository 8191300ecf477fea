"""The production images (`devtools build --target prod`): read-only root, no capabilities, healthy; non-root,
no compiler, no package-manager cache, nothing secret in history or env, OCI labels with the revision."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from testing.stack_harness import PROD_SERVICES, PROD_TAG, wait_for

TAG = PROD_TAG
SERVICES = PROD_SERVICES

# What each image needs writable besides its declared VOLUME (docker run creates an anonymous volume
# for it): a tmpfs at /tmp, its HOME and tempfile's directory. Documented in each Dockerfile's prod stage.
READ_ONLY = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
VOLUMES = {"serving": "/cache", "training": "/data", "mlflow": "/mlflow"}
# Runtime imports, under the same restrictions: the prod venv is pruned (docker/base/prune-venv).
IMPORTS = {
    "serving": "import torch, mlflow.pyfunc, fastapi, uvicorn, prometheus_client, serving.app",
    "training": "import torch, transformers, sklearn, numpy, mlflow, training.train, training.recipes.digits.fitting, "
    "training.recording",
    "mlflow": "import mlflow.server, psycopg, boto3, sqlalchemy",
}

SECRETS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"aws_secret_access_key|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN"),
    re.compile(r"password\s*[=:]", re.IGNORECASE),
    re.compile(r"token", re.IGNORECASE),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials in a URL
]


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def image(service: str) -> str:
    return f"mlstack/{service}:{TAG}"


def inspect(service: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker("image", "inspect", image(service)).stdout)
    return found[0]


def run_read_only(service: str, name: str, *args: str) -> None:
    docker("run", "--detach", "--name", name, *READ_ONLY, image(service), *args)


def health(name: str) -> str:
    state = json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)
    if state["Status"] != "running":
        raise AssertionError(f"{name} is {state['Status']} (exit {state.get('ExitCode')}):\n{logs(name)}")
    return str(state.get("Health", {}).get("Status", "none"))


def logs(name: str) -> str:
    done = docker("logs", "--tail", "60", name, check=False)
    return done.stdout + done.stderr


@pytest.mark.parametrize("service", ["serving", "mlflow"])
def test_server_is_healthy_read_only_without_capabilities(prod_images: str, service: str) -> None:
    name = f"prodimg-{service}-{os.getpid()}"
    try:
        # serving: /health answers without MLflow (nothing listens on the tracking URI it is given).
        run_read_only(service, name)
        wait_for(lambda: health(name) == "healthy", timeout=240, interval=2)
        host_config = json.loads(docker("inspect", "--format", "{{json .HostConfig}}", name).stdout)
        assert host_config["ReadonlyRootfs"] is True and host_config["CapDrop"] == ["ALL"]
        # The root filesystem really is read-only, and the declared volume is writable by the app user.
        assert docker("exec", name, "sh", "-c", "touch /app/probe", check=False).returncode != 0
        docker("exec", name, "sh", "-c", f"touch {VOLUMES[service]}/probe /tmp/probe")
        assert "Read-only file system" not in logs(name)
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


def test_training_job_runs_read_only_without_capabilities(prod_images: str) -> None:
    # The data pipeline writes the prepared data and its manifest into the /data volume.
    done = docker("run", "--rm", *READ_ONLY, image("training"), "pipeline", timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Read-only file system" not in done.stdout + done.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_imports_work_read_only(prod_images: str, service: str) -> None:
    done = docker(
        "run", "--rm", *READ_ONLY, "--entrypoint", "python", image(service), "-c", IMPORTS[service], check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_runs_as_fixed_non_root_user(prod_images: str, service: str) -> None:
    assert inspect(service)["Config"]["User"] == "10001:10001"
    assert docker("run", "--rm", "--entrypoint", "id", image(service), "-u").stdout.strip() == "10001"


@pytest.mark.parametrize("service", SERVICES)
def test_declares_its_writable_volume_and_healthcheck(prod_images: str, service: str) -> None:
    config = inspect(service)["Config"]
    # /tmp too: Fargate's task storage is root-owned unless the image declares the path (deploy/README.md).
    assert {VOLUMES[service], "/tmp"} <= set(config.get("Volumes") or {})
    healthcheck = (config.get("Healthcheck") or {}).get("Test")
    if service == "training":
        assert healthcheck is None  # jobs and a sleeping workspace: nothing to probe
    else:
        assert healthcheck[:2] == ["CMD", "http-ok"]


@pytest.mark.parametrize("service", SERVICES)
def test_no_compiler_or_package_manager_cache(prod_images: str, service: str) -> None:
    # As root, so /root is readable too: no pip cache anywhere, no apt lists or downloaded packages.
    script = (
        "command -v gcc cc c++ g++ clang tcc;"
        "find / -xdev -type d -path '*/.cache/pip' 2>/dev/null;"
        "find /var/lib/apt/lists /var/cache/apt -type f ! -name lock 2>/dev/null | grep -v '/partial/' || true"
    )
    found = docker("run", "--rm", "--user", "0", "--entrypoint", "sh", image(service), "-c", script).stdout
    assert found.strip() == ""


# Files that hold credentials by their name, wherever they are in the image.
SECRET_FILE_NAMES = [
    ".env", "*.env", ".netrc", ".pypirc", ".git-credentials", ".npmrc", "credentials", "htpasswd",
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "*.pem", "*.key", "*.p12", "*.pfx", "config.json",
]  # fmt: skip
# Where a build puts files of its own (COPY from the context, what a RUN step writes for a user): their
# contents are searched too. Elsewhere (Debian's and pip's packages) only names are checked: libraries
# ship words like "token" and test keys of their own.
OWN_FILES = ["/app", "/home", "/root", "/usr/local/bin", "/etc/environment", "/etc/profile.d", "/tmp", "/opt/venv/bin"]
# Public certificate bundles are .pem files with no key in them; Docker's client config is a secret only in a
# home directory; pip's vendored certifi and Debian's ssl folders are certificates, never keys.
NOT_SECRET = re.compile(
    r"(/(site|dist)-packages/.*/cacert\.pem|^/etc/ssl/certs/.*|^/usr/share/.*|/site-packages/.*\.json)$"
)
STRONG_SECRETS = "|".join(
    [
        "AKIA[0-9A-Z]{16}",  # an AWS access key id
        '(aws_secret_access_key|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)[" ]*[=:]',
        "-----BEGIN [A-Z ]*PRIVATE KEY-----",
        "://[^/[:space:]:@]+:[^/[:space:]@]+@",  # credentials in a URL
    ]
)


@pytest.mark.parametrize("service", SERVICES)
def test_nothing_secret_in_history_env_or_files(prod_images: str, service: str) -> None:
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image(service)).stdout
    config = inspect(service)["Config"]
    text = "\n".join([history, *config.get("Env", []), *(config.get("Labels") or {}).values()])
    for pattern in SECRETS:
        assert not pattern.search(text), f"{pattern.pattern} in {image(service)}: {pattern.search(text)}"
    # A secret copied in as a file (a .env or a key beside the source, a credentials file written for a
    # user) shows in no history line: the image's files are searched by name, and its own files by content.
    names = " -o ".join(f"-name '{name}'" for name in SECRET_FILE_NAMES)
    script = (
        f"find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f \\( {names} \\) -print;"
        f"grep -rIlE -- '{STRONG_SECRETS}' {' '.join(OWN_FILES)} 2>/dev/null; true"
    )
    found = docker("run", "--rm", "--user", "0", "--entrypoint", "sh", image(service), "-c", script).stdout
    secret_files = sorted({path for path in found.split() if not NOT_SECRET.search(path)})
    assert secret_files == [], f"files in {image(service)} that hold or look like secrets: {secret_files}"


@pytest.mark.parametrize("service", SERVICES)
def test_oci_labels_carry_the_revision(prod_images: str, service: str) -> None:
    labels = inspect(service)["Config"]["Labels"]
    assert labels["org.opencontainers.image.revision"] == prod_images
    assert labels["org.opencontainers.image.version"] == TAG
    assert labels["org.opencontainers.image.title"] == f"mlstack-{service}"
    assert "org.opencontainers.image.source" in labels
