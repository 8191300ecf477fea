"""The dev loop on a remote engine over SSH (testing/remote_engine.py: a second dockerd that cannot
see this checkout, reached as ssh://root@127.0.0.1:PORT, whose host name is not this machine's).

In order, on one stack: `devtools up` brings it up there with the seeded model, images pulled from the
team registry and the source synced into volumes, and its URLs answer on this machine through an
SSH tunnel; `shell`, `logs` and `train` work as locally; an edit to the serving app goes live; the
SSH link is cut and restored with edits and a deletion in between, and none is lost; a requirements
change rebuilds serving on the remote engine; `down -v` leaves nothing there and closes the tunnel.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing import remote_engine
from testing.remote_engine import RemoteEngine
from testing.stack_harness import copy_checkout, free_port, get_json, wait_for

PROJECT = "mlstack-remote"
REGISTRY = "127.0.0.1:5001"  # scripts/provision --tests starts it; this machine's docker CLI is logged in to it
HEALTH = re.compile(r'        return \{"status": "ok".*\}')


@dataclass(frozen=True)
class RemoteStack:
    engine: RemoteEngine
    root: Path  # this test's copy of the checkout (the remote engine cannot see it)
    env: dict[str, str]

    def devtools(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devtools", *args], cwd=self.root, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def url(self, service: str, path: str) -> str:
        port = self.env["MLFLOW_PORT"] if service == "mlflow" else self.env["SERVING_PORT"]
        return f"http://127.0.0.1:{port}{path}"

    def container(self, service: str) -> str:
        labels = [f"label=com.docker.compose.project={PROJECT}", f"label=com.docker.compose.service={service}"]
        return self.engine.docker("ps", "-q", *(f for label in labels for f in ("--filter", label))).stdout.strip()

    def in_serving(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.engine.docker("exec", self.container("serving"), *argv)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteStack]:
    checkout = tmp_path_factory.mktemp("remote-checkout")
    copy_checkout(checkout)
    # The dev images, published for the remote engine to pull (what CI on main does for a team).
    published = subprocess.run(
        [sys.executable, "-m", "devtools", "release", "--dev", "--registry", REGISTRY],
        cwd=checkout, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert published.returncode == 0, published.stdout[-2000:] + published.stderr[-3000:]
    try:
        with remote_engine.running() as engine:
            env = {
                **engine.env,
                "COMPOSE_PROJECT_NAME": PROJECT,
                "MLFLOW_PORT": str(free_port()),
                "SERVING_PORT": str(free_port()),
                "DEVTOOLS_REGISTRY": REGISTRY,
            }
            env.pop("DEVTOOLS_ROOT", None)
            stack = RemoteStack(engine, checkout, env)
            try:
                yield stack
            finally:
                stack.devtools("down", "-v")
    except RuntimeError as exc:
        pytest.fail(str(exc))


def test_up_runs_the_stack_there_and_its_urls_answer_here(remote: RemoteStack) -> None:
    up = remote.devtools("up", "--wait-timeout", "600")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    assert f"Serving API docs  http://127.0.0.1:{remote.env['SERVING_PORT']}/docs" in up.stdout
    assert re.search(r"^serving source: synced \d+ files into mlstack-remote_serving-src", up.stderr, re.M)
    # The URLs this machine prints answer here, through the tunnel, with the seeded model.
    ready = get_json(remote.url("serving", "/ready"))
    assert ready["status"] == "ready" and ready["model"] == "digits-classifier"
    with urllib.request.urlopen(remote.url("mlflow", "/health"), timeout=10) as answer:
        assert answer.status == 200 and answer.read().strip() == b"OK"
    # Nothing of the checkout is bind-mounted there: the source is in volumes.
    mounts = remote.engine.docker("inspect", "--format", "{{json .Mounts}}", remote.container("serving")).stdout
    assert '"Type":"bind"' not in mounts and "mlstack-remote_serving-src" in mounts
    ps = remote.devtools("ps")
    forwards = [line for line in ps.stdout.splitlines() if "->" in line and "ssh pid" in line]
    assert len(forwards) == 2 and all("root@127.0.0.1:" in line for line in forwards), ps.stdout


def test_shell_logs_and_train_work_as_locally(remote: RemoteStack) -> None:
    shell = remote.devtools(
        "shell", "training", "--", "python", "-c", "import training, socket; print(socket.gethostname())"
    )
    assert shell.returncode == 0 and shell.stdout.strip(), shell.stderr
    logs = remote.devtools("logs", "serving", "--tail", "20")
    assert logs.returncode == 0 and "serving" in logs.stdout
    served = get_json(remote.url("serving", "/model"))["version"]
    train = remote.devtools("train", "--", "--epochs", "1", "--promote", "always", timeout=1200)
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-2000:]
    # The new version is registered on the remote MLflow, and serving (there) swaps to it.
    wait_for(lambda: get_json(remote.url("serving", "/model"))["version"] != served, timeout=120)
    failing = remote.devtools("train", "--", "--epochs", "not-a-number")
    assert failing.returncode == 2  # the job's own exit code, as locally


class Watcher:
    def __init__(self, stack: RemoteStack, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "watch"],
            cwd=stack.root,
            env=stack.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        wait_for(lambda: "watching" in self.log.read_text(), timeout=60)

    def lines(self, pattern: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if re.search(pattern, line)]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def watcher(remote: RemoteStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watcher]:
    running = Watcher(remote, tmp_path_factory.mktemp("remote-watch") / "watch.log")
    try:
        yield running
    finally:
        running.stop()


def set_health(remote: RemoteStack, marker: str) -> None:
    app = remote.root / "services" / "serving" / "app.py"
    app.write_text(HEALTH.sub(f'        return {{"status": "ok", "probe": "{marker}"}}', app.read_text()))


def probe(remote: RemoteStack) -> str:
    try:
        return str(get_json(remote.url("serving", "/health"), timeout=3).get("probe"))
    except OSError:
        return ""


def test_an_edit_goes_live_in_the_same_container(remote: RemoteStack, watcher: Watcher) -> None:
    before = remote.container("serving")
    marker = uuid.uuid4().hex[:8]
    set_health(remote, marker)
    wait_for(lambda: probe(remote) == marker, timeout=30, interval=0.1)
    assert remote.container("serving") == before  # synced and reloaded, not recreated
    assert watcher.lines(r"^serving: synced 1 changed, 0 removed")


def test_edits_made_while_the_link_is_down_all_arrive(remote: RemoteStack, watcher: Watcher) -> None:
    folder = remote.root / "services" / "serving"
    doomed = folder / "_remote_doomed.py"
    doomed.write_text("GONE = False\n")
    wait_for(lambda: remote.in_serving("test", "-f", "/app/serving/_remote_doomed.py").returncode == 0, timeout=30)

    remote.engine.cut()
    try:
        marker = uuid.uuid4().hex[:8]
        set_health(remote, marker)
        (folder / "_remote_new.py").write_text("ARRIVED = True\n")
        doomed.unlink()
        wait_for(lambda: watcher.lines(r"engine link lost"), timeout=60)
    finally:
        remote.engine.restore()
    wait_for(lambda: watcher.lines(r"engine link back"), timeout=90)
    wait_for(lambda: probe(remote) == marker, timeout=60, interval=0.2)
    assert remote.in_serving("cat", "/app/serving/_remote_new.py").stdout == "ARRIVED = True\n"
    assert remote.in_serving("test", "-e", "/app/serving/_remote_doomed.py").returncode == 1  # deleted there too
    (folder / "_remote_new.py").unlink()


# The rebuild installs serving's whole lock again on the remote engine (torch included): minutes.
@pytest.mark.timeout(900)
def test_a_requirements_change_rebuilds_on_the_remote_engine(remote: RemoteStack, watcher: Watcher) -> None:
    requirements = remote.root / "services" / "serving" / "requirements.txt"
    # A package serving's lock does not hold yet (six, for one, comes with python-dateutil already).
    requirements.write_text(requirements.read_text() + "tomli-w==1.2.*\n")
    relocked = remote.devtools("lock", timeout=300)  # as a developer does: the image installs from its lock
    assert relocked.returncode == 0, relocked.stderr
    wait_for(lambda: watcher.lines(r"^serving: (ok|FAILED).*rebuilt"), timeout=1200, interval=2)
    assert watcher.lines(r"^serving: ok .*rebuilt and recreated")
    wait_for(lambda: get_json(remote.url("serving", "/ready"))["status"] == "ready", timeout=180)
    installed = "from importlib.metadata import version; print(version('tomli-w'))"
    assert remote.in_serving("python", "-c", installed).stdout.startswith("1.2")
    assert probe(remote)  # the synced source survived the recreation (it lives in the volume)


def test_the_gpu_report_is_about_the_remote_host(remote: RemoteStack) -> None:
    done = remote.devtools("gpu", "--json", "--no-smoke")
    report = json.loads(done.stdout)
    assert report["host"] == remote.engine.endpoint.removeprefix("ssh://")  # asked over SSH, and says so
    driver = next(layer for layer in report["layers"] if layer["name"] == "driver")
    assert driver["status"] == "missing" and done.returncode == 1  # that box has no NVIDIA driver
    docker = next(layer for layer in report["layers"] if layer["name"] == "docker")
    assert f"on {report['host']} (over SSH)" in docker["evidence"]


def test_down_leaves_nothing_there_and_closes_the_tunnel(remote: RemoteStack) -> None:
    down = remote.devtools("down", "-v")
    assert down.returncode == 0, down.stderr[-2000:]
    label = f"label=com.docker.compose.project={PROJECT}"
    assert remote.engine.docker("ps", "-aq", "--filter", label).stdout.strip() == ""
    assert remote.engine.docker("volume", "ls", "-q", "--filter", label).stdout.strip() == ""
    assert not (remote.root / ".devtools" / f"forward-{PROJECT}.json").exists()
    with pytest.raises(OSError):
        get_json(remote.url("serving", "/ready"), timeout=3)


def test_an_unreachable_ssh_host_is_one_line_and_exit_3(tmp_path: Path) -> None:
    copy_checkout(tmp_path)
    env = {**os.environ, "DOCKER_HOST": f"ssh://root@127.0.0.1:{free_port()}"}
    done = subprocess.run(
        [sys.executable, "-m", "devtools", "up"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"devtools: the Docker engine's host 127.0.0.1:{env['DOCKER_HOST'].rsplit(':', 1)[1]} is not reachable over "
        f"SSH (Connection refused); check that it is up and that `ssh -p {env['DOCKER_HOST'].rsplit(':', 1)[1]} "
        "127.0.0.1 docker version` works (DOCKER_HOST or `docker context use`)"
    ]
