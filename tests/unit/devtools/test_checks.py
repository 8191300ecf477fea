from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from devtools.fixes import parse_version
from testing.cli_harness import FakeDocker

VERSION = ["docker", "version", "--format", "{{json .}}"]
CLIENT = '"Client":{"Version":"28.2.2","ApiVersion":"1.50"}'


def _healthy(docker: FakeDocker) -> None:
    docker.respond(
        lambda a: a == VERSION, stdout="{" + CLIENT + ',"Server":{"Version":"20.10.24","ApiVersion":"1.41"}}\n'
    )
    docker.respond(lambda a: a[:3] == ["docker", "compose", "version"], stdout="2.40.3\n")
    docker.respond(lambda a: a[:2] == ["docker", "info"], stdout='{"DockerRootDir":"/nonexistent-docker-root"}\n')


@pytest.fixture
def which_docker(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}" if name == "docker" else None)
    # This machine's own disk is not the test's to judge: the engine's disk is ample unless a test says.
    monkeypatch.setattr("shutil.disk_usage", lambda path: SimpleNamespace(free=400 * 2**30))


def test_all_checks_pass(docker: FakeDocker, cli, which_docker, monkeypatch) -> None:
    _healthy(docker)
    monkeypatch.setattr("devtools.checks._port_free", lambda port: True)
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "[ok  ] Compose v2" in result.stdout and "2.40.3" in result.stdout
    assert "[ok  ] docker CLI" in result.stdout and "28.2.2" in result.stdout
    assert "[ok  ] Docker daemon" in result.stdout and "20.10.24 (API 1.41)" in result.stdout
    assert "[ok  ] port 5000" in result.stdout and "[ok  ] port 8080" in result.stdout


def test_each_engine_question_is_asked_once(docker: FakeDocker, cli, which_docker, monkeypatch) -> None:
    """doctor and GPU detection share the engine's facts: no docker question twice in one run."""
    _healthy(docker)
    monkeypatch.setattr("devtools.checks._port_free", lambda port: True)
    assert cli("doctor").exit_code == 0
    engine_calls = [call for call in docker.calls if call[:2] != ["docker", "compose"] or "version" in call]
    assert len(engine_calls) == len({tuple(call) for call in engine_calls}), engine_calls
    assert VERSION in engine_calls and ["docker", "compose", "version", "--short"] in engine_calls


def test_daemon_down_fails_with_the_fix(docker: FakeDocker, cli, which_docker) -> None:
    _healthy(docker)
    docker.respond(
        lambda a: a == VERSION,
        stdout="{" + CLIENT + ',"Server":null}\n',
        stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
        returncode=1,
    )
    result = cli("doctor")
    assert result.exit_code == 1
    assert "[FAIL] Docker daemon" in result.stdout and "fix: start Docker" in result.stdout
    assert "[ok  ] docker CLI" in result.stdout and "28.2.2" in result.stdout  # the client still answered
    assert "port 5000" not in result.stdout  # ports are only checked against a reachable engine


def test_compose_v1_only(docker: FakeDocker, cli, monkeypatch) -> None:
    _healthy(docker)
    monkeypatch.setattr(
        "shutil.which", lambda name: f"/usr/bin/{name}" if name in ("docker", "docker-compose") else None
    )
    docker.respond(
        lambda a: a[:3] == ["docker", "compose", "version"],
        stderr="docker: unknown command: docker compose\n",
        returncode=1,
    )
    result = cli("doctor")
    assert result.exit_code == 1
    assert "only Compose v1 ('docker-compose') found" in result.stdout


def test_compose_too_old(docker: FakeDocker, cli, which_docker) -> None:
    _healthy(docker)
    docker.respond(lambda a: a[:3] == ["docker", "compose", "version"], stdout="v2.12.2\n")
    result = cli("doctor")
    assert result.exit_code == 1 and "2.12.2 is older than 2.20" in result.stdout


def test_port_held_by_this_stack_passes_held_by_other_fails(docker: FakeDocker, cli, which_docker, monkeypatch) -> None:
    _healthy(docker)
    monkeypatch.setattr("devtools.checks._port_free", lambda port: False)
    docker.respond_to(
        ["ps"],
        stdout='{"Service":"mlflow","Publishers":[{"URL":"127.0.0.1","TargetPort":5000,"PublishedPort":5000}]}\n',
    )
    result = cli("doctor")
    assert result.exit_code == 1
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "[ok ] port 5000 held by this stack (mlstack)" in lines
    assert "[FAIL] port 8080 in use by another process" in lines


def test_real_port_probe_sees_a_listener() -> None:
    from devtools.checks import _port_free

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert _port_free(sock.getsockname()[1]) is False


@pytest.mark.parametrize(
    ("text", "version"), [("2.40.3", (2, 40, 3)), ("v2.20.2-desktop.1", (2, 20, 2)), ("junk", None)]
)
def test_parse_compose_version(text: str, version) -> None:
    assert parse_version(text) == version
