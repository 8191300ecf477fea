"""The devcontainer (.devcontainer/) through the real Dev Containers CLI against the real engine.

The CLI runs as a non-root host user, as on an engineer's machine: as root (CI) the CLI would map the
container's dev user to UID 0, and the ownership check below would prove nothing. So, as root, the
test creates that user (`devc`, in the Docker socket's group) and gives it its own copy of the
checkout. The stack runs in its own Compose project with its own image names and ports, and is
removed at the end with the images the test built.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devtools.engine.facts import Engine
from devtools.stack.project import BASE_FILE, DEFAULT_PROJECT_NAME, DEV_FILE, GPU_FILE
from testing.stack_harness import copy_checkout

REPO = Path(__file__).resolve().parents[2]
PROJECT = "mlstack-devc"
IMAGE_PREFIX = "mlstack-devc"
USER = "devc"
PREFERRED_UID = 1234  # not 1000, the UID the dev images are built with: the CLI must remap it
CLI_PACKAGE = REPO / ".devtools/node/lib/node_modules/@devcontainers/cli"
WORKSPACE_FILES = (BASE_FILE, DEV_FILE, ".devcontainer/compose.workspace.yml")
UP_TIMEOUT_S = 900
DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"  # the docker CLI's, with no DOCKER_HOST and no context


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _engine_socket() -> Path:
    """The engine's socket: DOCKER_HOST's, else the docker context's (rootless, Docker Desktop), else the default.

    The CLI user joins the socket's group and the docker-socket variant mounts the socket, so an engine
    behind tcp:// or ssh:// cannot run this module: a skip on a laptop, a failure under --require-docker
    (tests/conftest.py turns every skip there into one).
    """
    endpoint = Engine().endpoint or DEFAULT_ENDPOINT
    if not endpoint.startswith("unix://"):
        pytest.skip(f"the Docker engine is at {endpoint}: the devcontainer tests need a local engine's unix:// socket")
    return Path(endpoint.removeprefix("unix://"))


def _host_user(engine_socket: Path) -> pwd.struct_passwd:
    """The non-root user the CLI runs as: this one, or (as root) `devc`, created if missing."""
    if os.getuid() != 0:
        return pwd.getpwuid(os.getuid())
    socket_gid = str(engine_socket.stat().st_gid)
    try:
        user = pwd.getpwnam(USER)
    except KeyError:
        uid_taken = any(entry.pw_uid == PREFERRED_UID for entry in pwd.getpwall())
        uid_args = [] if uid_taken else ["--uid", str(PREFERRED_UID)]
        subprocess.run(["useradd", "--create-home", "--user-group", *uid_args, USER], check=True)
        user = pwd.getpwnam(USER)
    # The Docker socket's group, by number: it may have no name here (a socket from elsewhere).
    subprocess.run(["usermod", "--append", "--groups", socket_gid, USER], check=True, capture_output=True)
    return user


def _give_to(root: Path, user: pwd.struct_passwd, keep: set[Path]) -> None:
    for directory, _, filenames in os.walk(root):
        os.chown(directory, user.pw_uid, user.pw_gid)
        for name in filenames:
            path = Path(directory, name)
            if path not in keep and not path.is_symlink():
                os.chown(path, user.pw_uid, user.pw_gid)


@dataclass(frozen=True)
class DevcontainerRun:
    """Runs the Dev Containers CLI (and other commands) as the host user, in the copied checkout."""

    user: pwd.struct_passwd
    workspace: Path
    cli: Path
    env: dict[str, str]
    containers: list[str] = field(default_factory=list)  # every primary container `up` reported

    def command(self, argv: Sequence[str], *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        if os.getuid() == 0:
            argv = [
                "runuser",
                "-u",
                self.user.pw_name,
                "--",
                "env",
                "-i",
                *(f"{k}={v}" for k, v in self.env.items()),
                *argv,
            ]
            env = None
        else:
            env = self.env
        return subprocess.run(
            argv, cwd=self.workspace, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def devcontainer(
        self, subcommand: str, *args: str, config: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """`devcontainer SUBCOMMAND --workspace-folder ... [--config ...] ARGS...` (ARGS last: for
        `exec` they are the command)."""
        argv = ["node", str(self.cli), subcommand, "--workspace-folder", str(self.workspace)]
        if config:
            argv += ["--config", str(self.workspace / config)]
        return self.command([*argv, *args], timeout=timeout)

    def exec(self, *argv: str, config: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`devcontainer exec`: as the remoteUser, in the workspace folder, with the container's env."""
        return self.devcontainer("exec", *argv, config=config, timeout=timeout)

    def up(self, *args: str, config: str | None = None) -> dict[str, Any]:
        done = self.devcontainer("up", *args, config=config, timeout=UP_TIMEOUT_S)
        assert done.returncode == 0, _explain(done)
        outcome = _outcome(done)
        self.containers.append(outcome["containerId"])
        return outcome


def _explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout (tail)\n{done.stdout[-4000:]}\n--- stderr (tail)\n{done.stderr[-6000:]}"


def _outcome(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON result line `devcontainer up` prints last on stdout."""
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, _explain(done)
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _compose_down(run: DevcontainerRun) -> None:
    argv = ["docker", "compose", "--project-directory", str(run.workspace), "-p", PROJECT]
    for name in WORKSPACE_FILES:
        argv += ["-f", str(run.workspace / name)]
    subprocess.run(
        [*argv, "down", "-v", "--remove-orphans"], env={**os.environ, **run.env}, capture_output=True, check=False
    )


def _remove_test_images(extra: set[str]) -> None:
    """Only what this test built: its own image prefix and the CLI's `-uid` images for its workspace."""
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference={IMAGE_PREFIX}/*"],
        capture_output=True,
        text=True,
        check=False,
    )
    names = {line for line in listed.stdout.split() if line} | extra
    if names:
        subprocess.run(["docker", "image", "rm", "--force", *sorted(names)], capture_output=True, check=False)


@pytest.fixture(scope="module")
def run(request: pytest.FixtureRequest) -> Iterator[DevcontainerRun]:
    node = shutil.which("node")
    if not (CLI_PACKAGE / "devcontainer.js").is_file() or node is None:
        what = "node (Node.js >= 20)" if node is None else f"the Dev Containers CLI in {CLI_PACKAGE}"
        message = f"{what} is missing: run scripts/provision --tests"
        if request.config.getoption("--require-docker"):
            pytest.fail(message)
        pytest.skip(message)
    engine_socket = _engine_socket()  # before anything is created: a skip here leaves nothing behind
    user = _host_user(engine_socket)
    # Not under pytest's tmp dir: that is private to root, and the CLI runs as the host user.
    root = Path(tempfile.mkdtemp(prefix="mlstack-devc-"))
    workspace, cli, cli_tmp = root / "checkout", root / "devcontainers-cli", root / "tmp"
    linked = copy_checkout(workspace)
    # The CLI's own copy: the checkout it came from may sit where the host user cannot read (/root).
    shutil.copytree(CLI_PACKAGE, cli, symlinks=True)
    cli_tmp.mkdir()
    if os.getuid() == 0:
        _give_to(root, user, keep=linked)
    # The workspace copy is a fresh repository, so postCreateCommand's `pre-commit install` has a .git.
    env = {
        "PATH": os.pathsep.join([str(Path(node).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": user.pw_dir,
        "TMPDIR": str(cli_tmp),  # the CLI's generated Compose files go here and leave with it
        "COMPOSE_PROJECT_NAME": PROJECT,
        "DEVTOOLS_IMAGE_PREFIX": IMAGE_PREFIX,
        "MLFLOW_PORT": str(_free_port()),
        "SERVING_PORT": str(_free_port()),
        "COMPOSE_BAKE": "false",
        "DOCKER_GID": str(engine_socket.stat().st_gid),  # for the docker-socket variant only
        # Explicit: the host user has its own HOME, so not the docker context this engine came from.
        "DOCKER_HOST": f"unix://{engine_socket}",
    }
    devc = DevcontainerRun(user, workspace, cli / "devcontainer.js", env)
    devc.command(["git", "init", "--quiet"])
    _compose_down(devc)
    try:
        yield devc
    finally:
        # The CLI's `-uid` image (its name derives from the workspace path), read off the containers.
        images: set[str] = set()
        for container_id in devc.containers:
            inspect = subprocess.run(
                ["docker", "inspect", "--format", "{{.Config.Image}}", container_id],
                capture_output=True,
                text=True,
                check=False,
            )
            if inspect.returncode == 0 and inspect.stdout.strip().startswith("vsc-"):
                images.add(inspect.stdout.strip())
        _compose_down(devc)
        _remove_test_images(images)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def up(run: DevcontainerRun) -> dict[str, Any]:
    """`devcontainer up` once for the module (the default configuration)."""
    return run.up()


def test_up_starts_the_stack_in_one_compose_project(run: DevcontainerRun, up: dict[str, Any]) -> None:
    assert up["outcome"] == "success"
    assert up["composeProjectName"] == PROJECT
    assert (up["remoteUser"], up["remoteWorkspaceFolder"]) == ("dev", "/workspace")
    # devtools on the host sees the devcontainer's containers: one project, one stack. `up` waits for
    # what training depends on (mlflow healthy); serving, which nothing waits for, may still be starting.
    deadline = time.monotonic() + 180
    while True:
        ps = subprocess.run(
            [sys.executable, "-m", "devtools", "ps"],
            cwd=REPO,
            env={**os.environ, **run.env, "DEVTOOLS_ROOT": str(run.workspace)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert ps.returncode == 0, _explain(ps)
        states = {line.split()[0]: line.split()[1:] for line in ps.stdout.splitlines()[1:] if line.strip()}
        if states.get("serving", [])[:2] != ["running", "starting"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert states["training"][0] == "running", ps.stdout
    assert states["mlflow"][:2] == ["running", "healthy"], ps.stdout
    assert states["serving"][:2] == ["running", "healthy"], ps.stdout


def test_without_compose_project_name_the_devcontainer_uses_devtools_project() -> None:
    """The CLI falls back to the Compose file's top-level `name:`, which is devtools' default."""
    config = json.loads((REPO / ".devcontainer/devcontainer.json").read_text())
    files = [(REPO / ".devcontainer" / name).resolve() for name in config["dockerComposeFile"]]
    assert files[:2] == [REPO / BASE_FILE, REPO / DEV_FILE]  # the files `devtools up` merges, in its order
    env = {k: v for k, v in os.environ.items() if k != "COMPOSE_PROJECT_NAME"}
    argv = ["docker", "compose", *(arg for file in files for arg in ("-f", str(file))), "config", "--format", "json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, _explain(done)
    assert json.loads(done.stdout)["name"] == DEFAULT_PROJECT_NAME


def test_devtools_runs_inside_and_explains_the_missing_engine(run: DevcontainerRun, up: dict[str, Any]) -> None:
    helped = run.exec("devtools", "--help")
    assert helped.returncode == 0, _explain(helped)
    assert "Usage" in helped.stdout
    # No Docker socket in the default configuration: one line, exit code 3 (docker unavailable).
    ps = run.exec("devtools", "ps")
    assert ps.returncode == 3, _explain(ps)
    assert "the docker CLI is not available inside this container; run this devtools command on the host" in ps.stderr


def test_training_cli_and_services_by_name(run: DevcontainerRun, up: dict[str, Any]) -> None:
    helped = run.exec("python", "-m", "training", "--help")
    assert helped.returncode == 0, _explain(helped)
    assert "usage: python -m training" in helped.stdout
    probe = (
        "import os, urllib.request, mlflow\n"
        "assert os.environ['MLFLOW_TRACKING_URI'] == 'http://mlflow:5000', os.environ['MLFLOW_TRACKING_URI']\n"
        "print('experiments', sorted(e.name for e in mlflow.MlflowClient().search_experiments()))\n"
        "with urllib.request.urlopen(os.environ['SERVING_URL'] + '/health', timeout=10) as response:\n"
        "    print('serving', response.status)\n"
    )
    done = run.exec("python", "-c", probe)
    assert done.returncode == 0, _explain(done)
    assert "experiments [" in done.stdout and "'Default'" in done.stdout, done.stdout
    assert "serving 200" in done.stdout, done.stdout


def test_mlflow_and_serving_answer_on_the_workspace_containers_own_ports(
    run: DevcontainerRun, up: dict[str, Any]
) -> None:
    """What Codespaces forwards (`"forwardPorts": [5000, 8080]`: it cannot forward another service's
    ports) must answer inside the workspace container on localhost."""
    config = json.loads((REPO / ".devcontainer/devcontainer.json").read_text())
    assert config["forwardPorts"] == [5000, 8080]
    probe = (
        "import urllib.request\n"
        "for port, path in ((5000, '/health'), (8080, '/health')):\n"
        "    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=10) as answer:\n"
        "        print(port, answer.status, answer.read()[:40])\n"
    )
    done = run.exec("python", "-c", probe)
    assert done.returncode == 0, _explain(done)
    assert "5000 200 b'OK'" in done.stdout and "8080 200 " in done.stdout, done.stdout


def test_unit_tests_run_inside(run: DevcontainerRun, up: dict[str, Any]) -> None:
    """The image's pytest collects the whole unit tier (every test module imports, with the image's
    packages) and runs two representative tests: one of devtools' CLI, one of training (torch, mlflow).
    The tier itself runs on the host (.ci/run): here it only has to be runnable."""
    collected = run.exec("bash", "-c", "pytest -q -p no:cacheprovider --collect-only tests/unit")
    assert collected.returncode == 0, _explain(collected)
    ids = [line for line in collected.stdout.splitlines() if line.startswith("tests/unit/") and "::" in line]
    devtools_test = next(i for i in ids if not i.startswith(("tests/unit/training/", "tests/unit/serving/")))
    training = [i for i in ids if i.startswith("tests/unit/training/")]
    training_test = next((i for i in training if "_cli" in i.split("::")[0]), training[0])  # the CLI's: quick
    done = run.exec("pytest", "-q", "-p", "no:cacheprovider", "-rs", devtools_test, training_test)
    assert done.returncode == 0, _explain(done)
    assert re.search(r"^2 passed", done.stdout.splitlines()[-1]), done.stdout[-3000:]  # run, none skipped


def test_files_created_inside_belong_to_the_host_user(run: DevcontainerRun, up: dict[str, Any]) -> None:
    ids = run.exec("id", "-u")
    assert ids.stdout.strip() == str(run.user.pw_uid), _explain(ids)  # dev was remapped from 1000
    touched = run.exec("bash", "-c", "mkdir -p made-in-devcontainer && touch made-in-devcontainer/file")
    assert touched.returncode == 0, _explain(touched)
    for path in (run.workspace / "made-in-devcontainer", run.workspace / "made-in-devcontainer/file"):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (run.user.pw_uid, run.user.pw_gid), path
    # postCreateCommand ran as that user too: the pre-commit hook it installed is the user's.
    hook = run.workspace / ".git/hooks/pre-commit"
    assert hook.stat().st_uid == run.user.pw_uid and hook.stat().st_mode & stat.S_IXUSR


def test_gpu_configuration_reads(run: DevcontainerRun, up: dict[str, Any]) -> None:
    """No GPU needed: the CLI resolves the configuration and the merged Compose files (GPU override
    included). After `up`: resolving the merged configuration inspects the base image training builds on."""
    config = ".devcontainer/gpu/devcontainer.json"
    done = run.devcontainer("read-configuration", "--include-merged-configuration", config=config)
    assert done.returncode == 0, _explain(done)
    result = json.loads(done.stdout)
    assert f"../../{GPU_FILE}" in result["configuration"]["dockerComposeFile"]
    assert result["mergedConfiguration"]["service"] == "training"


def test_docker_socket_variant_gives_devtools_the_engine(run: DevcontainerRun, up: dict[str, Any]) -> None:
    """The opt-in configuration: the host's socket, the docker CLI in the image, the workspace at its host path.

    Last in this module: it replaces the training container of the default configuration.
    """
    config = ".devcontainer/docker-socket/devcontainer.json"
    outcome = run.up("--remove-existing-container", config=config)
    assert outcome["remoteWorkspaceFolder"] == str(run.workspace)
    ps = run.exec("devtools", "ps", config=config)
    assert ps.returncode == 0, _explain(ps)
    assert any(line.split()[:2] == ["serving", "running"] for line in ps.stdout.splitlines()), ps.stdout
