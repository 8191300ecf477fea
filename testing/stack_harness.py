"""Docker tier: the real CLI against a real engine, in an isolated Compose project on its own ports."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = "mlstack-test"
MLFLOW_PORT = 15000
SERVING_PORT = 18080


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]

    def devtools(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "devtools", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"devtools {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def url(self, service: str, path: str) -> str:
        """A published URL on this machine; the ports are the stack's own (MLFLOW_PORT / SERVING_PORT)."""
        if service == "mlflow":
            port = self.env.get("MLFLOW_PORT", str(MLFLOW_PORT))
        else:
            port = self.env.get("SERVING_PORT", str(SERVING_PORT))
        return f"http://127.0.0.1:{port}{path}"

    def compose_argv(self, *args: str, prod: bool = False) -> list[str]:
        """`docker compose ARGS` on this stack's project and files (the prod file alone with prod=True)."""
        files = ["docker-compose.yml"] if prod else ["docker-compose.yml", "docker-compose.dev.yml"]
        argv = ["docker", "compose", "-p", self.env["COMPOSE_PROJECT_NAME"]]
        return [*argv, *(arg for name in files for arg in ("-f", str(REPO / name))), *args]

    def compose(self, *args: str, prod: bool = False, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        argv = self.compose_argv(*args, prod=prod)
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} exited {done.returncode}\n{done.stderr}")
        return done


def get_json(url: str, timeout: float = 10, auth: tuple[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=basic_auth(auth))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def http_status(
    url: str, method: str = "GET", body: dict[str, Any] | None = None, auth: tuple[str, str] | None = None
) -> int:
    """The HTTP status `url` answers (an error status too, not raised), optionally with a JSON body and
    basic auth."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **basic_auth(auth)}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def basic_auth(auth: tuple[str, str] | None) -> dict[str, str]:
    if auth is None:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()}


def mlflow_auth(stack: Stack) -> tuple[str, str] | None:
    """The account a stack's tests call its MLflow as (the prod stack has authentication): the env's."""
    account = stack.env.get("MLFLOW_TRACKING_USERNAME")
    return (account, stack.env.get("MLFLOW_TRACKING_PASSWORD", "")) if account else None


def local_secret(name: str) -> str:
    """A prod stack secret `devtools up --prod` made (.devtools/secrets/NAME)."""
    return (REPO / ".devtools" / "secrets" / name).read_text().strip()


def as_account(stack: Stack, account: str, password: str) -> Stack:
    """The same stack, its MLflow called as `account` by the tests and by devtools."""
    return Stack({**stack.env, "MLFLOW_TRACKING_USERNAME": account, "MLFLOW_TRACKING_PASSWORD": password})


def alias_version(stack: Stack, model: str = "digits-classifier", alias: str = "champion") -> str | None:
    """The version MLflow's registry says model@alias points at; None when no version holds the alias
    (MLflow answers 400 for a missing alias, 404 for a missing model)."""
    query = urllib.parse.urlencode({"name": model, "alias": alias})
    try:
        found = get_json(
            stack.url("mlflow", f"/api/2.0/mlflow/registered-models/alias?{query}"), auth=mlflow_auth(stack)
        )
    except urllib.error.HTTPError as error:
        if error.code in (400, 404):
            return None
        raise
    return str(found["model_version"]["version"])


def wait_for(predicate: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def project_resources() -> dict[str, list[str]]:
    """Containers, networks and volumes labelled with the test project (docker SDK)."""
    import docker

    client = docker.from_env()
    label = {"label": f"com.docker.compose.project={PROJECT}"}
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters=label)],
        "networks": [n.name for n in client.networks.list(filters=label)],
        "volumes": [v.name for v in client.volumes.list(filters=label)],
    }


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    return {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "MLFLOW_PORT": str(MLFLOW_PORT),
        "SERVING_PORT": str(SERVING_PORT),
    }


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str]) -> Iterator[Stack]:
    """`devtools up` once for the session, shared by every module that needs the dev stack. At the end
    of the session, `devtools down -v` must leave nothing of the project: a container, network or volume
    left over fails the session (an error in this fixture's teardown)."""
    running = Stack(stack_env)
    running.devtools("down", "-v", check=False)
    up = running.devtools("up", "--wait-timeout", "600")
    running_stack_output[:] = [up.stdout]
    yield running
    had_volumes = bool(project_resources()["volumes"])
    down = running.devtools("down", "-v", check=False)
    left = project_resources()
    assert down.returncode == 0, f"devtools down -v exited {down.returncode}\n{down.stdout}\n{down.stderr}"
    assert left == {"containers": [], "networks": [], "volumes": []}, f"devtools down -v left {left}"
    # Nothing left proves something only if there was something: the stack's named volumes.
    assert had_volumes, "the stack had no volumes before `devtools down -v`"


running_stack_output: list[str] = []


# The prod images, built once for the session under their own tag (the build neither moves `latest`
# nor touches the dev stack): tests/docker/test_prod_images.py and test_prod_serving.py share them.
PROD_TAG = "prod-test"
PROD_SERVICES = ["serving", "training", "mlflow"]


def git_revision() -> str:
    """What devtools labels the images with: the short commit, or the Dockerfiles' default outside git."""
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


@pytest.fixture(scope="session")
def prod_images() -> Iterator[str]:
    """Builds the prod images; yields the revision they were built from (read first: HEAD may move later)."""
    revision = git_revision()
    builder = Stack({**os.environ, "COMPOSE_PROJECT_NAME": "mlstack-prodimg"})
    # A cold build installs every dependency (torch included); warm, it only relabels.
    builder.devtools("build", "--target", "prod", "--tag", PROD_TAG, *PROD_SERVICES, timeout=3600)
    yield revision
    # Only the tags this session made; the layers stay shared with the other tags.
    names = [f"mlstack/{name}:{PROD_TAG}" for name in ["base", *PROD_SERVICES]]
    subprocess.run(["docker", "image", "rm", *names], capture_output=True, check=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    import shutil

    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class Postgres:
    bin_dir: Path
    port: int
    as_user: tuple[str, ...]

    @property
    def uri(self) -> str:
        return f"postgresql://mlflow:mlflow@127.0.0.1:{self.port}/mlflow"

    def query(self, sql: str) -> str:
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "mlflow",
                "-d",
                "mlflow",
                "-tAc",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": "mlflow"},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[Postgres]:
    """A real PostgreSQL server (Debian's binaries) on 127.0.0.1, with a password-protected `mlflow` db."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL server binaries not installed (Debian: apt-get install postgresql)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message)
        pytest.skip(message)
    import shutil
    import tempfile

    # Not under pytest's tmp dir: that is private to root, and the server may run as another user.
    root = Path(tempfile.mkdtemp(prefix="mlstack-pg-"))
    data, pwfile = root / "data", root / "pw"
    pwfile.write_text("mlflow\n")
    # initdb refuses to run as root; CI runs as root, so the server runs as Debian's postgres user.
    as_user: tuple[str, ...] = ("runuser", "-u", "postgres", "--") if os.getuid() == 0 else ()
    if as_user:
        subprocess.run(["chown", "-R", "postgres:postgres", str(root)], check=True)
    run = lambda *argv: subprocess.run([*as_user, *argv], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "mlflow", "--auth=scram-sha-256", f"--pwfile={pwfile}")
    port = free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root}"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
    server = Postgres(bin_dir, port, as_user)
    try:
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow", "mlflow"],
            env={**os.environ, "PGPASSWORD": "mlflow"},
            check=True,
            capture_output=True,
        )
        yield server
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)


def checkout_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files, plus wheelhouse/ whole: the training build
    bind-mounts it, and the same wheels keep BuildKit's cache of the torch layer valid."""
    done = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO}: {done.stderr.decode().strip()}")
    files = {name for name in done.stdout.decode().split("\0") if name and (REPO / name).is_file()}
    files |= {str(path.relative_to(REPO)) for path in (REPO / "wheelhouse").glob("*") if path.is_file()}
    return sorted(files)


def copy_checkout(dest: Path) -> set[Path]:
    """Copies the checkout to dest; returns the wheels it hard-linked instead (read-only build inputs,
    hundreds of MB), which keep their owner. Everything else is a real copy: nothing done in the
    copy (a devcontainer, a fresh clone's builds) may reach the checkout under test. Like a clone,
    but with the working tree's changes: the code under test."""
    linked: set[Path] = set()
    for name in checkout_files():
        source, target = REPO / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.startswith("wheelhouse/") and name.endswith(".whl"):
            try:
                os.link(source, target)
                linked.add(target)
                continue
            except OSError:
                pass
        shutil.copy2(source, target)
    return linked


def nvidia_gpu_here() -> bool:
    """`nvidia-smi -L` lists a GPU: tests that assume a GPU-less host skip themselves then."""
    if not shutil.which("nvidia-smi"):
        return False
    done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "GPU 0:" in done.stdout
