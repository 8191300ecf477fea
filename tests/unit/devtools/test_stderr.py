"""devtools.stderr: docker's and Compose's stderr -> one actionable line and its documented exit code."""

from __future__ import annotations

import pytest

from devtools import proc
from devtools.errors import DevtoolsError
from testing.cli_harness import FIXTURES, FakeDocker


@pytest.mark.parametrize(
    ("fixture", "code", "says"),
    [
        ("daemon_down.txt", 3, "the Docker daemon is not reachable at unix:///var/run/docker.sock"),
        ("daemon_permission.txt", 3, "no permission to use the Docker daemon"),
        (
            "ssh_unreachable.txt",  # DOCKER_HOST=ssh://root@127.0.0.1:1 docker compose ps
            3,
            "the Docker engine's host 127.0.0.1:1 is not reachable over SSH (Connection refused); check that it is up "
            "and that `ssh -p 1 127.0.0.1 docker version` works",
        ),
        ("compose_missing.txt", 3, "Compose v2"),
        ("unknown_service.txt", 4, "unknown service 'nosuch'"),
        ("not_running.txt", 8, "service 'serving' is not running"),
        ("port_in_use.txt", 5, "port 5000 on 127.0.0.1 is already in use"),
        ("port_allocated.txt", 5, "port 8080 on 127.0.0.1 is already in use"),
        ("build_bad_target.txt", 6, "build failed: the Dockerfile has no stage 'nosuchstage'"),
        (
            "build_failed.txt",
            6,
            "build failed: '/bin/sh -c pip install this-package-does-not-exist-xyz' ended with exit code: 1",
        ),
        (
            "build_no_qemu.txt",  # an arm64 build with no emulator registered (binfmt_misc handler off)
            6,
            "build failed: the engine cannot run programs of the target platform (/bin/sh: exec format error); "
            "register QEMU",
        ),
        (
            "build_base_unreachable.txt",  # an arm64 build of FROM python:3.11-slim with no registry reachable
            6,
            "build failed: the image docker.io/library/python:3.11-slim could not be fetched (no such host); "
            "pull it where a registry answers, or build from a local image: PYTHON_IMAGE, or "
            "PYTHON_IMAGE_<OS>_<ARCH>",
        ),
        (
            "disk_full.txt",  # a pull onto a full engine disk, as a CI run's test_remote met it
            1,
            "the Docker engine's disk is full (no space left on device); free space, e.g. 'docker system prune'",
        ),
        ("unhealthy.txt", 7, "container ctxtest-sick-1 did not become healthy"),
        ("oneshot_failed.txt", 7, "the one-shot service 'seed' failed with exit code 4; see 'devtools logs seed'"),
    ],
)
def test_recorded_stderr_becomes_one_actionable_line(
    docker: FakeDocker, cli, fixture: str, code: int, says: str
) -> None:
    docker.respond_to(["up"], stderr=(FIXTURES / "stderr" / fixture).read_text(), returncode=1)
    result = cli("up", "--no-build")
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("devtools: ") and says in lines[0]
    assert "Traceback" not in result.output


def test_only_compose_v1_is_named(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/docker-compose" if name == "docker-compose" else None)
    error = proc.classify(("docker", "compose"), 1, (FIXTURES / "stderr" / "compose_missing.txt").read_text())
    assert error.code == 3 and "only Compose v1" in error.message


def test_unknown_failure_keeps_what_docker_said(docker: FakeDocker, cli) -> None:
    docker.respond_to(["up"], stderr="something odd\nError response from daemon: disk quota exceeded\n", returncode=17)
    result = cli("up", "--no-build")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("failed with exit code 17: Error response from daemon: disk quota exceeded")


def test_missing_docker_cli_inside_a_container_says_run_it_on_the_host(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("devtools.stderr._inside_container", lambda: True)
    with pytest.raises(DevtoolsError) as caught:
        proc.run(["docker", "ps"], capture=True)
    assert caught.value.code == 3 and "run this devtools command on the host" in caught.value.message


def test_missing_docker_cli(monkeypatch) -> None:
    monkeypatch.setattr("devtools.stderr._inside_container", lambda: False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DevtoolsError) as caught:
        proc.run(["docker", "version"], capture=True)
    assert caught.value.code == 3 and "docker CLI was not found" in caught.value.message
